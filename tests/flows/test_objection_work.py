"""The staff's objection work page over HTTP: acceptance with its routing
(platform or department, and the Art. 40 clock of a revoked decision), the
verifier's claim and the three outcomes with the record page's correction
history; every wrong persona refused and bad input refused with nothing
changed."""

import re

import pytest
from django.db import connection
from viewflow.workflow.models import Task

from flows.cases.review import preliminary_review_claim
from flows.models import CaseStatus, ObjectionCase
from flows.objections.services import objection_accept, objection_correct, verification_claim
from records.models import CreditRecord, RecordCorrection, RecordStatus
from records.services import records_ingest
from repair_flow.models import Role
from sla.clocks import clocks_for
from tests.conftest import make_user
from tests.flows.conftest import local
from tests.flows.test_concurrency import ORDERS, race
from tests.flows.test_objections import filed

pytestmark = pytest.mark.django_db

TASKS = "/cases/tasks/"
BASIS = "《山东省社会信用条例》第三十九条"


def work(case, action: str = "") -> str:
    return f"/cases/objections/{case.pk}/work/" + (f"{action}/" if action else "")


def text(response) -> str:
    return response.content.decode()


def queue_rows(response) -> dict[int, str]:
    """The queue's rows: case id -> the row's HTML."""
    assert response.status_code == 200
    return {
        int(pk): row
        for pk, row in re.findall(r'<tr data-case="(\d+)"[^>]*>(.*?)</tr>', text(response), re.S)
    }


def accepted_over_http(client_for, applicant, record, officer, scope, **kwargs) -> ObjectionCase:
    case = filed(applicant, record, **kwargs)
    client = client_for(officer)
    assert client.post(work(case, "claim")).status_code == 302
    response = client.post(work(case, "accept"), {"scope": scope})
    assert response.status_code == 302 and response["Location"] == work(case)
    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED and case.scope == scope
    return case


def verifying(applicant, record, officer, verifier, scope) -> ObjectionCase:
    case = filed(applicant, record)
    preliminary_review_claim(officer=officer, case=case)
    objection_accept(officer=officer, case=case, scope=scope)
    return verification_claim(user=verifier, case=case)


class TestRouting:
    def test_the_officer_reviews_an_objection_on_its_own_page(
        self, client_for, applicant, record, officer
    ):
        case = filed(applicant, record, grounds=("error", "duplicate"))
        rows = queue_rows(client_for(officer).get(TASKS))
        assert f'href="{work(case)}"' in rows[case.pk]
        assert 'data-kind="objection"' in rows[case.pk] and "异议" in rows[case.pk]
        assert f'action="{work(case, "claim")}"' in rows[case.pk]
        client_for(officer).post(work(case, "claim"))
        page = text(client_for(officer).get(work(case)))
        assert "信息有误、重复公示" in page
        assert "罚款金额登记错误" in page
        signed = '<span class="signed-block">法定代表人：张伟</span> · 于 2026-11-16 10:00 承诺'
        assert signed in page
        assert "平台自行核查" in page and "认定单位核实" in page
        assert 'name="scope"' in page and "3 个工作日" in page and "7 个工作日" in page
        # The objection's notice offers its own materials only.
        assert 'name="item_evidence"' in page and 'name="item_identity_document"' in page
        assert 'name="item_performance_proof"' not in page
        assert 'name="item_power_of_attorney"' not in page  # not filed by an agent
        assert "5000.00" in page  # the record's current values

    def test_accepting_needs_a_scope(self, client_for, applicant, record, officer):
        case = filed(applicant, record)
        client = client_for(officer)
        client.post(work(case, "claim"))
        response = client.post(work(case, "accept"), {})
        assert response.status_code == 400
        assert "请选择核查方式" in text(response)
        case.refresh_from_db()
        record.refresh_from_db()
        assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW
        assert record.status == RecordStatus.PUBLISHED

    def test_platform_scope_goes_to_the_officers_queue_on_three_days(
        self, client_for, applicant, record, officer, reviewer
    ):
        case = accepted_over_http(client_for, applicant, record, officer, "platform")
        record.refresh_from_db()
        assert record.status == RecordStatus.UNDER_OBJECTION
        # Shandong Social Credit Regulation Art. 39: own scope, 3 working days.
        assert local(clocks_for(case).get(stage="objection_own").due_at) == "2026-11-19 17:00"
        rows = queue_rows(client_for(officer).get(TASKS, {"stage": "verification"}))
        assert "2026-11-19 17:00" in rows[case.pk] and "异议核查" in rows[case.pk]
        assert case.pk not in queue_rows(client_for(reviewer).get(TASKS))

    def test_department_scope_goes_to_that_departments_reviewers_on_seven_days(
        self, client_for, applicant, record, officer, reviewer, other_reviewer
    ):
        case = accepted_over_http(client_for, applicant, record, officer, "department")
        # Shandong Social Credit Regulation Art. 39: another unit checks, 7 working days.
        assert local(clocks_for(case).get(stage="objection_other").due_at) == "2026-11-25 17:00"
        rows = queue_rows(client_for(reviewer).get(TASKS))
        assert "2026-11-25 17:00" in rows[case.pk]
        assert case.pk not in queue_rows(client_for(other_reviewer).get(TASKS))
        assert case.pk not in queue_rows(client_for(officer).get(TASKS))
        page = text(client_for(reviewer).get(work(case)))
        assert f'action="{work(case, "claim")}"' in page

    def test_a_revoked_decision_runs_on_the_three_day_change_clock(
        self, client_for, applicant, record, officer, reviewer
    ):
        case = filed(applicant, record, grounds=("decision_revoked",))
        client_for(officer).post(work(case, "claim"))
        assert "第四十条" in text(client_for(officer).get(work(case)))
        client_for(officer).post(work(case, "accept"), {"scope": "department"})
        # Shandong Social Credit Regulation Art. 40: 3 working days whoever checks.
        case.refresh_from_db()
        assert local(clocks_for(case).get(stage="record_change").due_at) == "2026-11-19 17:00"
        assert not clocks_for(case).filter(stage="objection_other").exists()
        rows = queue_rows(client_for(reviewer).get(TASKS))
        assert "2026-11-19 17:00" in rows[case.pk]


class TestOutcomes:
    def test_the_reviewer_corrects_and_the_record_page_shows_the_diff(
        self, client_for, applicant, record, officer, reviewer
    ):
        case = accepted_over_http(client_for, applicant, record, officer, "department")
        client = client_for(reviewer)
        assert client.post(work(case, "claim")).status_code == 302
        page = text(client.get(work(case)))
        assert 'name="new_fine_amount"' in page and 'name="new_penalty_types"' in page
        response = client.post(
            work(case, "correct"),
            {
                "new_fine_amount": "500.00",
                "new_penalty_types": ["fine"],  # as it was: not sent as a change
                "new_decision_date": "",
                "new_severity": "",
                "new_facts": "",
                "evidence": "处罚决定书原件",
                "reason_other": "登记金额与决定书不一致",
                "basis": BASIS,
            },
        )
        assert response.status_code == 302
        case.refresh_from_db()
        record.refresh_from_db()
        assert case.status == CaseStatus.CORRECTED
        assert str(record.fine_amount) == "500.00" and record.status == RecordStatus.PUBLISHED
        correction = RecordCorrection.objects.get(record=record)
        assert [c["field"] for c in correction.changes] == ["fine_amount"]
        for viewer in (reviewer, officer, applicant):
            page = text(client_for(viewer).get(f"/records/{record.pk}/"))
            assert "更正历史" in page
            assert '<span class="old">5000.00</span> → <span class="new">500.00</span>' in page
            assert "处罚决定书原件" in page and case.number in page and "陈静" in page
            assert "公示中" in page

    def test_a_correction_of_several_fields(self, client_for, applicant, record, officer, reviewer):
        case = accepted_over_http(client_for, applicant, record, officer, "department")
        client = client_for(reviewer)
        client.post(work(case, "claim"))
        response = client.post(
            work(case, "correct"),
            {
                "new_penalty_types": ["warning", "fine"],
                "new_severity": "minor",
                "new_decision_date": "2026-01-10",
                "evidence": "处罚决定书原件",
                "reason_other": "登记内容与决定书不一致",
                "basis": BASIS,
            },
        )
        assert response.status_code == 302, _errors(response)
        record.refresh_from_db()
        assert sorted(record.penalty_types) == ["fine", "warning"]
        assert record.severity == "minor" and record.decision_date.isoformat() == "2026-01-10"
        page = text(client_for(applicant).get(f"/records/{record.pk}/"))
        assert '<span class="old">一般</span> → <span class="new">轻微</span>' in page
        assert (
            '<span class="new">警告、罚款</span>' in page
            or '<span class="new">罚款、警告</span>' in page
        )

    def test_the_officer_deletes_a_record(self, client_for, applicant, record, officer):
        case = accepted_over_http(client_for, applicant, record, officer, "platform")
        client = client_for(officer)
        client.post(work(case, "claim"))
        response = client.post(
            work(case, "delete"),
            {"evidence": "复议决定书", "reason_other": "处罚决定已被撤销", "basis": BASIS},
        )
        assert response.status_code == 302
        record.refresh_from_db()
        case.refresh_from_db()
        assert case.status == CaseStatus.DELETED and record.status == RecordStatus.DELETED
        assert case.evidence == "复议决定书"

    def test_the_officer_maintains_and_the_record_gets_its_status_back(
        self, client_for, applicant, record, officer
    ):
        case = accepted_over_http(client_for, applicant, record, officer, "platform")
        client = client_for(officer)
        client.post(work(case, "claim"))
        page = text(client.get(work(case)))
        assert "经核查，该记录与处罚决定书内容一致" in page
        response = client.post(
            work(case, "maintain"), {"reason_accurate": "1", "reason_other": "", "basis": BASIS}
        )
        assert response.status_code == 302
        record.refresh_from_db()
        case.refresh_from_db()
        assert case.status == CaseStatus.MAINTAINED and record.status == RecordStatus.PUBLISHED
        assert case.decision_reasons == ["经核查，该记录与处罚决定书内容一致"]
        assert not RecordCorrection.objects.exists()

    def test_maintaining_needs_a_reason(self, client_for, applicant, record, officer):
        case = accepted_over_http(client_for, applicant, record, officer, "platform")
        client = client_for(officer)
        client.post(work(case, "claim"))
        response = client.post(work(case, "maintain"), {"basis": BASIS})
        assert response.status_code == 400
        case.refresh_from_db()
        assert case.status == CaseStatus.IN_VERIFICATION


def _errors(response) -> list[str]:
    return re.findall(r"<li>([^<]*)</li>", text(response))


class TestRefused:
    def test_another_departments_reviewer_cannot_see_or_claim(
        self, client_for, applicant, record, officer, reviewer, other_reviewer
    ):
        case = accepted_over_http(client_for, applicant, record, officer, "department")
        client = client_for(other_reviewer)
        assert client.get(work(case)).status_code == 404
        assert client.post(work(case, "claim")).status_code == 404
        case.refresh_from_db()
        assert case.status == CaseStatus.ACCEPTED and case.verifier is None

    def test_an_officer_cannot_claim_a_department_check(
        self, client_for, applicant, record, officer, reviewer
    ):
        case = accepted_over_http(client_for, applicant, record, officer, "department")
        client = client_for(officer)
        assert 'work/claim/"' not in text(client.get(work(case)))
        response = client.post(work(case, "claim"))
        assert response.status_code == 403
        assert "只有" in text(response) and "审核人员可以核查本异议" in text(response)
        case.refresh_from_db()
        assert case.status == CaseStatus.ACCEPTED

    def test_a_reviewer_cannot_claim_a_platform_check(
        self, client_for, applicant, record, officer, reviewer
    ):
        case = accepted_over_http(client_for, applicant, record, officer, "platform")
        client = client_for(reviewer)
        assert 'work/claim/"' not in text(client.get(work(case)))
        response = client.post(work(case, "claim"))
        assert response.status_code == 403 and "本异议由平台工作人员核查" in text(response)
        case.refresh_from_db()
        assert case.status == CaseStatus.ACCEPTED

    def test_the_applicant_is_refused_the_staff_pages(self, client_for, applicant, record, officer):
        case = accepted_over_http(client_for, applicant, record, officer, "platform")
        client = client_for(applicant)
        assert client.get(work(case)).status_code == 403
        for action in ("claim", "correct", "delete", "maintain"):
            assert client.post(work(case, action)).status_code == 403
        case.refresh_from_db()
        assert case.status == CaseStatus.ACCEPTED

    def test_a_second_verifier_is_refused(self, client_for, applicant, record, officer):
        second = make_user("officer2", Role.OFFICER, first_name="周强")
        case = verifying(applicant, record, officer, officer, "platform")
        client = client_for(second)
        response = client.post(work(case, "claim"))
        assert response.status_code == 400 and "已由 刘洋 领取核查" in text(response)
        page = text(client.get(work(case)))
        assert 'work/correct/"' not in page
        response = client.post(
            work(case, "correct"),
            {"new_fine_amount": "1.00", "evidence": "x", "reason_other": "x", "basis": BASIS},
        )
        assert response.status_code == 403 and "只有领取本异议核查的人员" in text(response)
        record.refresh_from_db()
        case.refresh_from_db()
        assert str(record.fine_amount) == "5000.00" and case.verifier == officer

    def test_a_repair_url_does_not_open_an_objection(self, client_for, applicant, record, officer):
        case = filed(applicant, record)
        # The objection's id is no repair case's id: the repair page knows nothing of it.
        assert client_for(officer).get(f"/cases/{case.pk}/work/").status_code == 404


class TestBadInput:
    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("new_decision_date", "2026-02-30", "处罚决定日期：“2026-02-30”不是真实的日期"),
            (
                "new_severity",
                "extreme",
                "严重程度：应为 minor（轻微）、general（一般）或 serious（严重）",
            ),
            ("new_fine_amount", "-3", "罚款金额不能为负数"),
        ],
    )
    def test_an_invalid_value_is_refused_with_the_fields_message(
        self, client_for, applicant, record, officer, reviewer, field, value, message
    ):
        case = verifying(applicant, record, officer, reviewer, "department")
        before = CreditRecord.objects.values().get(pk=record.pk)
        response = client_for(reviewer).post(
            work(case, "correct"),
            {field: value, "evidence": "决定书", "reason_other": "有误", "basis": BASIS},
        )
        assert response.status_code == 400
        assert message in text(response)
        assert CreditRecord.objects.values().get(pk=record.pk) == before
        case.refresh_from_db()
        assert case.status == CaseStatus.IN_VERIFICATION
        assert not RecordCorrection.objects.exists()

    def test_a_correction_that_changes_nothing_is_refused(
        self, client_for, applicant, record, officer, reviewer
    ):
        case = verifying(applicant, record, officer, reviewer, "department")
        response = client_for(reviewer).post(
            work(case, "correct"),
            {
                "new_fine_amount": "5000.00",  # the value it has
                "new_penalty_types": ["fine"],
                "evidence": "决定书",
                "reason_other": "有误",
                "basis": BASIS,
            },
        )
        assert response.status_code == 400 and "没有需要更正的项" in text(response)
        case.refresh_from_db()
        assert case.status == CaseStatus.IN_VERIFICATION
        assert not RecordCorrection.objects.exists()


def test_release_puts_the_check_back_in_its_queue(client_for, applicant, record, officer):
    case = verifying(applicant, record, officer, officer, "platform")
    response = client_for(officer).post(work(case, "release"))
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED and case.verifier is None
    assert Task.objects.filter(process__objectionprocess__case=case, owner=None).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrency needs PostgreSQL (DATABASE_URL=postgres://...): "
    "SQLite serialises writers, so nothing races",
)
@pytest.mark.parametrize("first", ORDERS)
def test_a_correction_racing_a_department_reimport_loses_no_update(
    applicant, record, officer, reviewer, first
):
    """The verifier corrects the fine while the department pushes the same
    record again with another fine: whichever goes last wins whole, and the
    correction's diff is taken against what the record held just before it."""
    case = verifying(applicant, record, officer, reviewer, "department")
    row = {
        "decision_number": record.decision_number,
        "department_code": record.department.code,
        "subject_type": record.subject.kind,
        "subject_identifier": record.subject.identifier,
        "subject_name": record.subject.name,
        "decision_date": record.decision_date.isoformat(),
        "penalty_types": "fine",
        "fine_amount": "8000.00",
        "severity": record.severity,
        "facts": record.facts,
    }
    outcomes = race(
        lambda: objection_correct(
            verifier=reviewer,
            case=ObjectionCase.objects.get(pk=case.pk),
            changes={"fine_amount": "500.00"},
            evidence="处罚决定书原件",
            reasons=["登记金额与决定书不一致"],
            basis=BASIS,
        ),
        lambda: records_ingest(rows=[(1, row)], actor="import_records", source="race"),
        first=first,
    )
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert outcomes[1].updated == 1
    record.refresh_from_db()
    (change,) = RecordCorrection.objects.get(record=record).changes
    final = str(record.fine_amount)
    # Either the re-import landed first and the correction was made against
    # its fine, or the correction landed first and the re-import replaced it.
    assert (final, change["old"]) in {("500.00", "8000.00"), ("8000.00", "5000.00")}
    assert change["new"] == "500.00"
    if first == 1:
        assert (final, change["old"]) == ("500.00", "8000.00")
    if first == 0:
        assert (final, change["old"]) == ("8000.00", "5000.00")
    assert record.status == RecordStatus.PUBLISHED
