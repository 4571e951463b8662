"""The staff's task pages over HTTP: the queues (queue, inbox, archive), the
case's work page with each step's form, release and reassignment, the
materials and the flow chart; every step refused to the wrong persona with
nothing changed."""

import re

import pytest
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.cases.materials import case_material_add
from flows.cases.review import REFUSAL_REASONS, preliminary_review_claim, supplement_answer
from flows.models import CaseStatus, MaterialKind, SupplementRequest
from flows.repair.services import (
    REJECTION_REASONS,
    department_review_claim,
    preliminary_review_accept,
    repair_case_submit,
)
from letters.models import Letter, LetterKind
from records.models import (
    BindingCapacity,
    RecordStatus,
    SubjectBinding,
    SyncEvent,
    SyncKind,
)
from repair_flow.models import AccessLogEntry, Role
from tests.conftest import make_user
from tests.flows.conftest import (
    at,
    draft_with_materials,
    open_task,
    snapshot,
    upload,
)

pytestmark = pytest.mark.django_db

TASKS = "/cases/tasks/"
INBOX = "/cases/tasks/inbox/"
ARCHIVE = "/cases/tasks/archive/"
PROOF = MaterialKind.PERFORMANCE_PROOF
OTHER = MaterialKind.OTHER


def work(case, action: str = "") -> str:
    return f"/cases/{case.pk}/work/" + (f"{action}/" if action else "")


def rows(response) -> list[int]:
    """The case ids of the task list's rows, in the order shown."""
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'<tr data-case="(\d+)"', response.content.decode())]


def text(response) -> str:
    return response.content.decode()


def ticked(response) -> set[str]:
    """The names of the checkboxes the page shows ticked."""
    return set(
        re.findall(r'<input type="checkbox" name="([^"]+)" value="1" checked>', text(response))
    )


def tab_links(response) -> dict[str, str]:
    """The queue/inbox/archive tabs' links, by box."""
    return {
        box: href.replace("&amp;", "&")
        for href, box in re.findall(r'<a href="([^"]*)"[^>]*data-box="(\w+)"', text(response))
    }


def holder(response) -> str:
    """Who the work page says holds the case."""
    return re.search(r'class="holder">([^<]*)<', text(response)).group(1)


def advance(case, status, *, applicant, officer, reviewer):
    """Bring a submitted case on to `status` through the services."""
    steps = {
        CaseStatus.IN_PRELIMINARY_REVIEW: lambda c: preliminary_review_claim(
            officer=officer, case=c
        ),
        CaseStatus.ACCEPTED: lambda c: preliminary_review_accept(officer=officer, case=c),
        CaseStatus.IN_DEPARTMENT_REVIEW: lambda c: department_review_claim(
            reviewer=reviewer, case=c
        ),
    }
    for step in steps.values():
        case.refresh_from_db()
        if case.status == status:
            break
        step(case)
    case.refresh_from_db()
    assert case.status == status
    return case


def file_case(applicant, record, status=CaseStatus.SUBMITTED, *, officer=None, reviewer=None):
    case = draft_with_materials(applicant, record)
    repair_case_submit(applicant=applicant, case=case)
    return advance(case, status, applicant=applicant, officer=officer, reviewer=reviewer)


# Queues --------------------------------------------------------------------------


class TestQueues:
    @pytest.fixture
    def two_cases(self, applicant, record, second_record, now):
        """`late`, filed first (Monday 16:30, after the 16:00 cut-off: due the
        next working day), and `early`, filed at 10:00 (due the same day)."""
        now.move_to(at("2026-11-16 16:30"))
        late = file_case(applicant, record)
        now.move_to(at("2026-11-16 10:00"))
        early = file_case(applicant, second_record)
        return early, late

    def test_the_queue_is_sorted_by_the_preliminary_review_deadline(
        self, client_for, officer, two_cases
    ):
        early, late = two_cases
        body = client_for(officer).get(TASKS)
        assert rows(body) == [early.pk, late.pk]
        due = re.findall(r'class="due-at">([^<]+)<', text(body))
        assert due == ["2026-11-16 17:00", "2026-11-17 17:00"]
        # The queue page and its named box are the same.
        assert rows(client_for(officer).get("/cases/tasks/queue/")) == [early.pk, late.pk]

    def test_claim_moves_the_case_to_the_inbox_and_accept_to_the_archive(
        self, client_for, officer, second_officer, two_cases
    ):
        early, late = two_cases
        c = client_for(officer)
        response = c.post(work(early, "claim"))
        assert response.status_code == 302 and response["Location"] == work(early)
        early.refresh_from_db()
        assert (early.status, early.officer) == (CaseStatus.IN_PRELIMINARY_REVIEW, officer)
        assert open_task(early) == ("preliminary_review", STATUS.ASSIGNED, "officer")
        assert rows(c.get(TASKS)) == [late.pk]
        assert rows(c.get(INBOX)) == [early.pk]
        assert rows(c.get(ARCHIVE)) == []
        # Another officer's inbox is their own.
        assert rows(client_for(second_officer).get(INBOX)) == []

        c = client_for(officer)
        response = c.post(work(early, "accept"))
        assert response.status_code == 302
        early.refresh_from_db()
        assert early.status == CaseStatus.ACCEPTED
        assert rows(c.get(INBOX)) == []
        assert rows(c.get(ARCHIVE)) == [early.pk]
        assert rows(client_for(second_officer).get(ARCHIVE)) == []

    def test_the_due_filter(self, client_for, officer, two_cases, now):
        early, late = two_cases
        c = client_for(officer)
        assert rows(c.get(TASKS, {"due": "today"})) == [early.pk]
        assert rows(c.get(TASKS, {"due": "week"})) == [early.pk, late.pk]
        assert rows(c.get(TASKS, {"due": "overdue"})) == []
        # At the deadline the case is still on time; a minute after, overdue.
        now.move_to(at("2026-11-16 17:00"))
        assert rows(c.get(TASKS, {"due": "overdue"})) == []
        now.move_to(at("2026-11-16 17:01"))
        response = c.get(TASKS, {"due": "overdue"})
        assert rows(response) == [early.pk]
        assert "已超期" in text(response)
        now.move_to(at("2026-11-17 17:01"))
        c = client_for(officer)  # a new working day, a new session (8 hours)
        assert rows(c.get(TASKS, {"due": "overdue"})) == [early.pk, late.pk]
        # An unknown filter value is ignored, not an error.
        assert rows(c.get(TASKS, {"due": "someday"})) == [early.pk, late.pk]

    def test_the_search_by_case_number_and_the_stage_filter(
        self, client_for, officer, supervisor, two_cases
    ):
        early, late = two_cases
        c = client_for(officer)
        assert rows(c.get(TASKS, {"q": late.number})) == [late.pk]
        assert rows(c.get(TASKS, {"q": early.record.decision_number})) == [early.pk]
        assert rows(c.get(TASKS, {"q": "济信修申〔2025〕"})) == []
        # A number is searched by its beginning, as the records list searches
        # decision numbers (each table's own index; issue 18).
        assert rows(c.get(TASKS, {"q": "济信修申〔2026〕"})) == [early.pk, late.pk]
        assert rows(c.get(TASKS, {"q": early.record.decision_number[:-1]})) == [early.pk]
        assert rows(c.get(TASKS, {"q": late.number[2:]})) == []
        assert rows(c.get(TASKS, {"stage": "preliminary_review"})) == [early.pk, late.pk]
        assert rows(c.get(TASKS, {"stage": "department_review"})) == []
        # A supervisor sees every stage; the filter narrows it.
        c = client_for(supervisor)
        assert rows(c.get(TASKS)) == [early.pk, late.pk]
        assert rows(c.get(TASKS, {"stage": "department_review"})) == []

    def test_a_search_matching_more_cases_than_are_listed_by_id_finds_the_same(
        self, client_for, officer, two_cases, monkeypatch
    ):
        early, late = two_cases
        c = client_for(officer)
        queries = [{"q": "济信修申〔2026〕"}, {"q": late.number}, {"q": "济"}]
        by_id = [rows(c.get(TASKS, query)) for query in queries]
        # Past the bound the cases are a subquery, not a list of ids.
        monkeypatch.setattr("flows.cases.selectors.SEARCH_CASES_LISTED", 1)
        assert [rows(c.get(TASKS, query)) for query in queries] == by_id
        assert by_id == [[early.pk, late.pk], [late.pk], [early.pk, late.pk]]

    def test_the_archive_finds_a_decided_case_by_its_number(self, client_for, officer, two_cases):
        early, late = two_cases
        c = client_for(officer)
        c.post(work(early, "claim"))
        response = c.post(
            work(early, "refuse"), {"reason_scope": "1", "basis": "《信用修复管理办法》第八条"}
        )
        assert response.status_code == 302
        early.refresh_from_db()
        assert early.status == CaseStatus.NOT_ACCEPTED
        # The queue looks among the cases not decided yet; the archive among all.
        assert rows(c.get(TASKS, {"q": early.number})) == []
        assert rows(c.get(ARCHIVE, {"q": early.number})) == [early.pk]
        assert rows(c.get(ARCHIVE, {"q": late.number})) == []

    def test_the_tabs_keep_the_filters(self, client_for, officer, two_cases):
        c = client_for(officer)
        links = tab_links(c.get(TASKS, {"stage": "preliminary_review", "due": "today", "q": "济"}))
        assert links == {
            "queue": f"{TASKS}?stage=preliminary_review&due=today&q=%E6%B5%8E",
            "inbox": f"{INBOX}?stage=preliminary_review&due=today&q=%E6%B5%8E",
            # The archive has no deadline filter.
            "archive": f"{ARCHIVE}?stage=preliminary_review&q=%E6%B5%8E",
        }
        assert tab_links(c.get(INBOX)) == {"queue": TASKS, "inbox": INBOX, "archive": ARCHIVE}

    def test_the_deadline_filters_say_they_include_the_overdue(self, client_for, officer):
        page = text(client_for(officer).get(TASKS))
        assert ">今日及之前到期</option>" in page
        assert ">7 日内及之前到期</option>" in page


class TestReviewerQueues:
    @pytest.fixture
    def cases(
        self, applicant, other_applicant, record, second_record, other_record, officer, reviewer
    ):
        """An accepted case of the reviewer's department, one of another
        department, and a submitted one (a preliminary review)."""
        mine = file_case(applicant, record, CaseStatus.ACCEPTED, officer=officer, reviewer=reviewer)
        theirs = file_case(
            other_applicant, other_record, CaseStatus.ACCEPTED, officer=officer, reviewer=reviewer
        )
        submitted = file_case(applicant, second_record)
        return mine, theirs, submitted

    def test_a_reviewer_sees_only_their_departments_reviews(
        self, client_for, reviewer, other_reviewer, officer, cases
    ):
        mine, theirs, submitted = cases
        response = client_for(reviewer).get(TASKS)
        assert rows(response) == [mine.pk]
        assert "认定单位审核" in text(response)
        assert rows(client_for(reviewer).get(TASKS, {"stage": "preliminary_review"})) == []
        assert rows(client_for(other_reviewer).get(TASKS)) == [theirs.pk]
        assert rows(client_for(officer).get(TASKS)) == [submitted.pk]

        c = client_for(reviewer)
        assert c.post(work(mine, "claim")).status_code == 302
        assert rows(c.get(INBOX)) == [mine.pk]
        assert rows(c.get(TASKS)) == []
        assert rows(client_for(other_reviewer).get(INBOX)) == []

    def test_applicants_are_refused_and_anonymous_sent_to_log_in(
        self, client, client_for, applicant, integration, cases
    ):
        response = client.get(TASKS)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=/cases/tasks/")
        assert client.get(INBOX).status_code == 302
        c = client_for(applicant)
        for url in (TASKS, INBOX, ARCHIVE):
            assert c.get(url).status_code == 403, url
        assert client_for(integration).get(TASKS).status_code == 403

    def test_an_unknown_box_is_not_found(self, client_for, officer):
        assert client_for(officer).get("/cases/tasks/everything/").status_code == 404


# The preliminary review on the work page ------------------------------------------


def supplement_form(**items) -> dict:
    """`material=problem` pairs, ticked; a None problem is ticked but left blank."""
    data = {}
    for material, problem in items.items():
        data[f"item_{material}"] = "1"
        data[f"problem_{material}"] = problem or ""
    return data


class TestPreliminaryReview:
    @pytest.fixture
    def case(self, drive):
        return drive(CaseStatus.SUBMITTED)

    def test_the_work_page_offers_the_claim_then_the_decisions(self, client_for, officer, case):
        c = client_for(officer)
        response = c.get(work(case))
        assert holder(response) == "待领取"
        page = text(response)
        assert case.number in page
        assert f'action="/cases/{case.pk}/work/claim/"' in page
        assert "不予受理" not in page
        c.post(work(case, "claim"))
        response = c.get(work(case))
        assert holder(response) == "刘洋"
        page = text(response)
        assert "已领取，请在期限内办理。" in page
        for action in ("accept", "refuse", "supplement", "release"):
            assert f'action="/cases/{case.pk}/work/{action}/"' in page, action
        assert f'action="/cases/{case.pk}/work/claim/"' not in page
        assert f'action="/cases/{case.pk}/work/reassign/"' not in page

    def test_the_one_time_notice_lists_exactly_the_ticked_items(
        self, client_for, officer, case, applicant
    ):
        c = client_for(officer)
        c.post(work(case, "claim"))
        # Domain section 3: the platform holds the registration data, so the
        # notice offers no 营业执照, and a posted one is not asked for.
        assert 'name="item_identity_document"' not in text(c.get(work(case)))
        form = supplement_form(performance_proof="缴款凭证模糊", other="缺少整改情况说明")
        form["item_identity_document"] = "1"
        form["problem_identity_document"] = "not offered, not asked"
        response = c.post(work(case, "supplement"), form)
        assert response.status_code == 302 and response["Location"] == work(case)
        case.refresh_from_db()
        assert case.status == CaseStatus.AWAITING_SUPPLEMENT
        assert case.supplement_count == 1
        notice = SupplementRequest.objects.get(case=case)
        assert notice.items == [
            {"material": PROOF, "name": str(PROOF.label), "problem": "缴款凭证模糊"},
            {"material": OTHER, "name": str(OTHER.label), "problem": "缺少整改情况说明"},
        ]
        assert (notice.requested_by, notice.override_by, notice.override_reason) == (
            officer,
            None,
            "",
        )
        assert notice.letter.kind == LetterKind.SUPPLEMENT
        assert open_task(case) == ("supplement", STATUS.NEW, None)
        page = text(c.get(work(case)))
        # Nothing more to do while the applicant supplements: no notice form.
        assert f'action="/cases/{case.pk}/work/supplement/"' not in page
        assert "缺少整改情况说明" in page

    def test_a_ticked_item_without_a_problem_is_refused_and_nothing_saved(
        self, client_for, officer, case
    ):
        c = client_for(officer)
        c.post(work(case, "claim"))
        before = snapshot()
        response = c.post(
            work(case, "supplement"),
            supplement_form(performance_proof="模糊", other=None),
        )
        assert response.status_code == 400
        assert "第 2 项没有写明问题。" in text(response)
        # The officer's input is kept on the page.
        assert 'value="模糊"' in text(response)
        assert snapshot() == before
        case.refresh_from_db()
        assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW
        assert not SupplementRequest.objects.exists()
        assert not Letter.objects.filter(kind=LetterKind.SUPPLEMENT).exists()

    def test_nothing_ticked_is_refused(self, client_for, officer, case):
        c = client_for(officer)
        c.post(work(case, "claim"))
        before = snapshot()
        response = c.post(work(case, "supplement"), {"problem_other": "写了问题但没勾选"})
        assert response.status_code == 400
        assert "请列明需要补正的全部材料及其问题。" in text(response)
        assert snapshot() == before

    def test_a_second_notice_needs_a_supervisors_override_with_a_reason(
        self, client_for, officer, supervisor, applicant, case, now
    ):
        c = client_for(officer)
        c.post(work(case, "claim"))
        c.post(work(case, "supplement"), supplement_form(performance_proof="缴款凭证模糊"))
        now.move_to(at("2026-11-17 09:00"))
        case_material_add(case=case, user=applicant, kind=PROOF, upload=upload("凭证.pdf"))
        supplement_answer(applicant=applicant, case=case)
        case.refresh_from_db()
        assert case.status == CaseStatus.RESUBMITTED

        now.move_to(at("2026-11-17 10:00"))
        c = client_for(officer)
        # Back in the queue: nobody holds it until it is claimed again.
        assert holder(c.get(work(case))) == "待领取"
        assert c.post(work(case, "claim")).status_code == 302
        page = text(c.get(work(case)))
        assert "再次告知须由监督人员批准并说明理由" in page
        assert f'action="/cases/{case.pk}/work/supplement/"' not in page
        before = snapshot()
        response = c.post(work(case, "supplement"), supplement_form(performance_proof="金额不符"))
        assert response.status_code == 400
        assert "再次告知须经监督人员批准并说明理由" in text(response)
        assert snapshot() == before

        c = client_for(supervisor)
        page = text(c.get(work(case)))
        assert "再次告知补正（监督人员批准）" in page
        assert 'name="override_reason"' in page
        response = c.post(work(case, "supplement"), supplement_form(performance_proof="金额不符"))
        assert response.status_code == 400
        assert "请填写再次告知补正的理由。" in text(response)
        assert snapshot() == before

        form = supplement_form(performance_proof="金额不符")
        form["override_reason"] = "  凭证金额与决定书不符  "
        response = c.post(work(case, "supplement"), form)
        assert response.status_code == 302
        case.refresh_from_db()
        assert (case.status, case.supplement_count) == (CaseStatus.AWAITING_SUPPLEMENT, 2)
        second = SupplementRequest.objects.filter(case=case).order_by("id").last()
        assert (second.override_by, second.override_reason, second.requested_by) == (
            supervisor,
            "凭证金额与决定书不符",
            officer,
        )
        assert second.items == [
            {"material": PROOF, "name": str(PROOF.label), "problem": "金额不符"}
        ]
        assert "监督人员 孙敏 批准再次告知：凭证金额与决定书不符" in text(c.get(work(case)))

    def test_a_supervisor_may_not_send_the_first_notice(
        self, client_for, officer, supervisor, case
    ):
        client_for(officer).post(work(case, "claim"))
        c = client_for(supervisor)
        assert 'name="override_reason"' not in text(c.get(work(case)))
        before = snapshot()
        form = supplement_form(performance_proof="模糊")
        form["override_reason"] = "想替他发"
        response = c.post(work(case, "supplement"), form)
        assert response.status_code == 403
        assert "首次补正告知由初审人员办理" in text(response)
        assert snapshot() == before

    def test_refusal_with_listed_and_other_reasons_issues_the_letter(
        self, client_for, officer, case
    ):
        c = client_for(officer)
        c.post(work(case, "claim"))
        labels = dict(REFUSAL_REASONS)
        response = c.post(
            work(case, "refuse"),
            {
                "reason_scope": "1",
                "reason_period": "1",
                "reason_other": "  材料  与记录不符 ",
                "basis": "《信用修复管理办法》第八条",
            },
        )
        assert response.status_code == 302
        case.refresh_from_db()
        assert case.status == CaseStatus.NOT_ACCEPTED
        assert case.decision_reasons == [
            str(labels["scope"]),
            str(labels["period"]),
            "材料 与记录不符",
        ]
        assert case.decision_basis == "《信用修复管理办法》第八条"
        letter = Letter.objects.get(case_id=case.pk, kind=LetterKind.REFUSAL_TO_ACCEPT)
        assert case.decision_letter == letter
        assert not Task.objects.filter(
            process__repairprocess__case=case, status__in=[STATUS.NEW, STATUS.ASSIGNED]
        ).exists()
        response = c.get(work(case))
        # A closed case is not "waiting to be claimed": it names who decided it.
        assert holder(response) == "刘洋"
        assert str(labels["scope"]) in text(response)
        assert rows(c.get(ARCHIVE)) == [case.pk]

    def test_refusal_without_any_reason_is_refused(self, client_for, officer, case):
        c = client_for(officer)
        c.post(work(case, "claim"))
        before = snapshot()
        response = c.post(work(case, "refuse"), {"reason_other": "   ", "basis": "第八条"})
        assert response.status_code == 400
        assert "请填写不予受理的理由。" in text(response)
        response = c.post(work(case, "refuse"), {"reason_scope": "1", "basis": " "})
        assert response.status_code == 400
        assert "请填写不予受理的依据。" in text(response)
        assert snapshot() == before
        case.refresh_from_db()
        assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW

    def test_a_refused_refusal_comes_back_with_its_reasons_ticked(self, client_for, officer, case):
        c = client_for(officer)
        c.post(work(case, "claim"))
        assert ticked(c.get(work(case))) == set()
        form = {"reason_scope": "1", "reason_repeat": "1", "reason_other": "另查", "basis": " "}
        response = c.post(work(case, "refuse"), form)
        assert response.status_code == 400
        assert ticked(response) == {"reason_scope", "reason_repeat"}
        assert "另查" in text(response)

    def test_accept_sends_the_case_to_the_department(self, client_for, officer, case):
        c = client_for(officer)
        c.post(work(case, "claim"))
        # The officer sees the commitment the applicant signed with the filing.
        assert "已签署：张伟" in text(c.get(work(case)))
        response = c.post(work(case, "accept"))
        assert response.status_code == 302
        case.refresh_from_db()
        assert case.status == CaseStatus.ACCEPTED
        assert Letter.objects.filter(case_id=case.pk, kind=LetterKind.ACCEPTANCE).count() == 1
        assert open_task(case) == ("department_review", STATUS.NEW, None)
        assert "已受理，受理通知书已发出，案件转认定单位审核。" in text(c.get(work(case)))


# Department review ----------------------------------------------------------------


class TestDepartmentReview:
    @pytest.fixture
    def case(self, drive):
        return drive(CaseStatus.ACCEPTED)

    def test_the_reviewer_claims_and_approves(self, client_for, reviewer, record, case):
        c = client_for(reviewer)
        assert f'action="/cases/{case.pk}/work/claim/"' in text(c.get(work(case)))
        assert c.post(work(case, "claim")).status_code == 302
        case.refresh_from_db()
        assert (case.status, case.reviewer) == (CaseStatus.IN_DEPARTMENT_REVIEW, reviewer)
        assert open_task(case) == ("department_review", STATUS.ASSIGNED, "reviewer")
        page = text(c.get(work(case)))
        assert f'action="/cases/{case.pk}/work/approve/"' in page
        assert f'action="/cases/{case.pk}/work/accept/"' not in page

        response = c.post(work(case, "approve"), {"basis": "《信用修复管理办法》第十条"})
        assert response.status_code == 302
        case.refresh_from_db()
        record.refresh_from_db()
        assert case.status == CaseStatus.APPROVED
        assert case.decision_basis == "《信用修复管理办法》第十条"
        assert record.status == RecordStatus.REPAIRED
        event = SyncEvent.objects.get(record=record)
        assert event.kind == SyncKind.REPAIRED
        assert event.source == f"flows.RepairCase:{case.pk}"
        assert Letter.objects.filter(case_id=case.pk, kind=LetterKind.REPAIR_DECISION).exists()
        assert rows(c.get(ARCHIVE)) == [case.pk]

    def test_approval_without_a_basis_is_refused(self, client_for, reviewer, record, case):
        c = client_for(reviewer)
        c.post(work(case, "claim"))
        before = snapshot()
        response = c.post(work(case, "approve"), {"basis": "  "})
        assert response.status_code == 400
        assert "请填写修复依据。" in text(response)
        assert snapshot() == before
        record.refresh_from_db()
        assert record.status == RecordStatus.PUBLISHED
        assert not SyncEvent.objects.exists()

    def test_the_reviewer_rejects_with_reasons(self, client_for, reviewer, record, case):
        c = client_for(reviewer)
        c.post(work(case, "claim"))
        labels = dict(REJECTION_REASONS)
        before = snapshot()
        response = c.post(work(case, "reject"), {"basis": "第十二条"})
        assert response.status_code == 400
        assert "请填写不予修复的理由。" in text(response)
        assert snapshot() == before
        # Refused for its basis: the ticked reasons come back ticked.
        response = c.post(work(case, "reject"), {"reason_not_corrected": "1", "basis": ""})
        assert response.status_code == 400
        assert ticked(response) == {"reason_not_corrected"}
        assert snapshot() == before

        response = c.post(
            work(case, "reject"), {"reason_obligations": "1", "basis": "《管理办法》第十二条"}
        )
        assert response.status_code == 302
        case.refresh_from_db()
        record.refresh_from_db()
        assert case.status == CaseStatus.REJECTED
        assert case.decision_reasons == [str(labels["obligations"])]
        assert record.status == RecordStatus.PUBLISHED
        assert not SyncEvent.objects.exists()
        assert Letter.objects.filter(case_id=case.pk, kind=LetterKind.REPAIR_REFUSAL).exists()


# Permissions ------------------------------------------------------------------------


class TestPermissions:
    def test_a_reviewer_of_another_department_can_neither_see_nor_act(
        self, client_for, drive, other_reviewer
    ):
        case = drive(CaseStatus.ACCEPTED)
        c = client_for(other_reviewer)
        before = snapshot()
        assert c.get(work(case)).status_code == 404
        assert c.post(work(case, "claim")).status_code == 404
        assert c.post(work(case, "approve"), {"basis": "x"}).status_code == 404
        assert snapshot() == before

    def test_another_departments_reviewer_cannot_approve_a_claimed_case(
        self, client_for, drive, other_reviewer, reviewer
    ):
        case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
        before = snapshot()
        response = client_for(other_reviewer).post(work(case, "approve"), {"basis": "x"})
        assert response.status_code == 404
        assert snapshot() == before

    def test_an_officer_may_not_take_the_reviewers_step(self, client_for, drive, officer):
        case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
        c = client_for(officer)
        before = snapshot()
        response = c.post(work(case, "approve"), {"basis": "x"})
        assert response.status_code == 403
        assert "只有济南市市场监督管理局的审核人员可以审核本案" in text(response)
        assert (
            c.post(work(case, "reject"), {"reason_obligations": "1", "basis": "x"}).status_code
            == 403
        )
        assert snapshot() == before

    def test_an_officer_may_not_claim_the_department_review(self, client_for, drive, officer):
        case = drive(CaseStatus.ACCEPTED)
        before = snapshot()
        assert client_for(officer).post(work(case, "claim")).status_code == 403
        assert snapshot() == before

    def test_a_reviewer_may_not_take_the_officers_step(self, client_for, drive, reviewer):
        case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
        c = client_for(reviewer)
        before = snapshot()
        response = c.post(work(case, "accept"))
        assert response.status_code == 403
        assert "只有平台工作人员可以办理初审。" in text(response)
        assert c.post(work(case, "refuse"), {"reason_scope": "1", "basis": "x"}).status_code == 403
        assert c.post(work(case, "supplement"), supplement_form(other="x")).status_code == 403
        assert snapshot() == before

    def test_a_second_officer_may_not_act_on_a_claimed_case(
        self, client_for, drive, officer, second_officer
    ):
        case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
        c = client_for(second_officer)
        before = snapshot()
        for action, data in (
            ("accept", {}),
            ("refuse", {"reason_scope": "1", "basis": "x"}),
            ("supplement", supplement_form(performance_proof="x")),
            ("release", {}),
        ):
            response = c.post(work(case, action), data)
            assert response.status_code == 403, action
        # Claiming a taken case is refused with who holds it.
        response = c.post(work(case, "claim"))
        assert response.status_code == 400
        assert "已由 刘洋 领取初审" in text(response)
        # The page shows the holder and no forms to decide.
        page = text(c.get(work(case)))
        assert "刘洋" in page
        assert f'action="/cases/{case.pk}/work/accept/"' not in page
        assert snapshot() == before
        case.refresh_from_db()
        assert case.officer == officer

    @pytest.mark.parametrize(
        "action",
        ["claim", "release", "reassign", "accept", "refuse", "supplement", "approve", "reject"],
    )
    def test_applicants_may_post_no_staff_action(self, client_for, drive, applicant, action):
        case = drive(CaseStatus.SUBMITTED)
        c = client_for(applicant)
        before = snapshot()
        assert c.post(work(case, action), {"basis": "x", "reason": "x"}).status_code == 403
        assert c.get(work(case)).status_code == 403
        assert snapshot() == before

    def test_staff_actions_need_a_post(self, client_for, drive, officer):
        case = drive(CaseStatus.SUBMITTED)
        before = snapshot()
        assert client_for(officer).get(work(case, "claim")).status_code == 405
        assert snapshot() == before

    def test_anonymous_staff_actions_go_to_log_in(self, client, drive):
        case = drive(CaseStatus.SUBMITTED)
        before = snapshot()
        response = client.post(work(case, "claim"))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        assert snapshot() == before

    def test_a_supervisor_may_not_claim(self, client_for, drive, supervisor, reviewer):
        c = client_for(supervisor)
        case = drive(CaseStatus.SUBMITTED)
        before = snapshot()
        response = c.post(work(case, "claim"))
        assert response.status_code == 403
        assert "只有平台工作人员可以办理初审。" in text(response)
        assert snapshot() == before


# Release and reassign ---------------------------------------------------------------


class TestReleaseAndReassign:
    def test_the_holder_releases_the_case_back_to_the_queue(self, client_for, drive, officer):
        case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
        c = client_for(officer)
        response = c.post(work(case, "release"))
        assert response.status_code == 302 and response["Location"] == TASKS
        case.refresh_from_db()
        assert (case.status, case.officer) == (CaseStatus.SUBMITTED, None)
        assert open_task(case) == ("preliminary_review", STATUS.NEW, None)
        assert rows(c.get(TASKS)) == [case.pk]
        assert rows(c.get(INBOX)) == []

    def test_a_released_department_review_goes_back_to_the_department(
        self, client_for, drive, reviewer
    ):
        case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
        c = client_for(reviewer)
        assert c.post(work(case, "release")).status_code == 302
        case.refresh_from_db()
        assert (case.status, case.reviewer) == (CaseStatus.ACCEPTED, None)
        assert open_task(case) == ("department_review", STATUS.NEW, None)
        assert rows(c.get(TASKS)) == [case.pk]

    def test_a_supervisor_releases_with_a_reason(self, client_for, drive, supervisor, officer):
        case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
        c = client_for(supervisor)
        page = text(c.get(work(case)))
        assert 'name="reason"' in page and f'action="/cases/{case.pk}/work/release/"' in page
        before = snapshot()
        response = c.post(work(case, "release"), {"reason": "  "})
        assert response.status_code == 400
        assert "请填写退回的理由。" in text(response)
        assert snapshot() == before

        response = c.post(work(case, "release"), {"reason": "刘洋休假"})
        assert response.status_code == 302 and response["Location"] == work(case)
        case.refresh_from_db()
        assert (case.status, case.officer) == (CaseStatus.SUBMITTED, None)
        assert open_task(case) == ("preliminary_review", STATUS.NEW, None)
        event = case.events.order_by("id").last()
        assert (event.action, event.actor, event.comment) == (
            "release_preliminary_review",
            supervisor,
            "刘洋休假",
        )

    def test_releasing_a_queued_case_is_refused(self, client_for, drive, supervisor):
        case = drive(CaseStatus.SUBMITTED)
        before = snapshot()
        response = client_for(supervisor).post(work(case, "release"), {"reason": "x"})
        assert response.status_code == 400
        assert "当前没有人在办理，无需退回" in text(response)
        assert snapshot() == before

    def test_a_supervisor_assigns_a_queued_case_then_reassigns_it(
        self, client_for, drive, supervisor, officer, second_officer
    ):
        case = drive(CaseStatus.SUBMITTED)
        c = client_for(supervisor)
        page = text(c.get(work(case)))
        assert f'<option value="{officer.pk}">刘洋</option>' in page
        assert f'<option value="{second_officer.pk}">周强</option>' in page

        response = c.post(work(case, "reassign"), {"assignee": officer.pk, "reason": "按片区分配"})
        assert response.status_code == 302
        case.refresh_from_db()
        assert (case.status, case.officer) == (CaseStatus.IN_PRELIMINARY_REVIEW, officer)
        assert open_task(case) == ("preliminary_review", STATUS.ASSIGNED, "officer")
        assert rows(client_for(officer).get(INBOX)) == [case.pk]

        c = client_for(supervisor)
        response = c.post(
            work(case, "reassign"), {"assignee": second_officer.pk, "reason": "刘洋出差"}
        )
        assert response.status_code == 302
        case.refresh_from_db()
        assert (case.status, case.officer) == (CaseStatus.IN_PRELIMINARY_REVIEW, second_officer)
        assert open_task(case) == ("preliminary_review", STATUS.ASSIGNED, "officer2")
        event = case.events.order_by("id").last()
        assert (event.action, event.actor, event.comment) == ("reassign", supervisor, "刘洋出差")
        assert rows(client_for(officer).get(INBOX)) == []
        c = client_for(second_officer)
        assert rows(c.get(INBOX)) == [case.pk]
        # The new holder can decide it; the old one no longer can.
        assert c.post(work(case, "accept")).status_code == 302
        case.refresh_from_db()
        assert case.status == CaseStatus.ACCEPTED

    def test_reassignment_needs_a_reason_and_a_person(self, client_for, drive, supervisor, officer):
        case = drive(CaseStatus.SUBMITTED)
        c = client_for(supervisor)
        before = snapshot()
        response = c.post(work(case, "reassign"), {"assignee": officer.pk, "reason": ""})
        assert response.status_code == 400
        assert "请填写指派理由。" in text(response)
        # The choice is kept for the supervisor to add the reason.
        assert f'<option value="{officer.pk}" selected>' in text(response)
        response = c.post(work(case, "reassign"), {"assignee": "", "reason": "分配"})
        assert response.status_code == 400
        assert "只能指派给平台工作人员。" in text(response)
        response = c.post(work(case, "reassign"), {"assignee": "abc", "reason": "分配"})
        assert response.status_code == 400
        assert snapshot() == before

    def test_a_department_review_goes_only_to_that_departments_reviewers(
        self, client_for, drive, supervisor, reviewer, other_reviewer, colleague
    ):
        case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
        c = client_for(supervisor)
        page = text(c.get(work(case)))
        assert f'<option value="{colleague.pk}">' in page
        assert f'<option value="{other_reviewer.pk}">' not in page
        before = snapshot()
        response = c.post(work(case, "reassign"), {"assignee": other_reviewer.pk, "reason": "支援"})
        assert response.status_code == 400
        assert "只能指派给济南市市场监督管理局的审核人员。" in text(response)
        assert snapshot() == before

        response = c.post(work(case, "reassign"), {"assignee": colleague.pk, "reason": "支援"})
        assert response.status_code == 302
        case.refresh_from_db()
        assert case.reviewer == colleague
        assert open_task(case) == ("department_review", STATUS.ASSIGNED, "reviewer2")

    @pytest.mark.parametrize("persona", ["officer", "reviewer"])
    def test_only_supervisors_reassign(self, request, client_for, drive, persona, second_officer):
        case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
        user = request.getfixturevalue(persona)
        before = snapshot()
        response = client_for(user).post(
            work(case, "reassign"), {"assignee": second_officer.pk, "reason": "换人"}
        )
        assert response.status_code == 403
        assert "只有监督人员可以指派或改派案件。" in text(response)
        assert snapshot() == before


# Materials and the flow chart -------------------------------------------------------


def streamed(response) -> bytes:
    """The file's bytes; reading them to the end closes the file (the test
    client's wrapper; closing the response again would close the database
    connection with it)."""
    return b"".join(response.streaming_content)


class TestMaterials:
    def test_the_applicant_and_the_cases_staff_read_a_material(
        self, client_for, drive, applicant, officer, reviewer, supervisor
    ):
        case = drive(CaseStatus.SUBMITTED)
        material = case.materials.get(kind=PROOF)
        url = f"/cases/{case.pk}/materials/{material.pk}/"
        for user in (applicant, officer, reviewer, supervisor):
            response = client_for(user).get(url)
            assert response.status_code == 200, user.username
            assert response["Content-Type"] == "application/pdf"
            assert streamed(response).startswith(b"%PDF-")
        response = client_for(officer).get(url, {"download": "1"})
        assert response["Content-Disposition"].startswith("attachment")
        streamed(response)
        assert not AccessLogEntry.objects.exists()  # an enterprise: nothing to register

    def test_others_get_not_found(
        self, client, client_for, drive, other_reviewer, other_applicant, integration
    ):
        case = drive(CaseStatus.SUBMITTED)
        material = case.materials.get(kind=PROOF)
        url = f"/cases/{case.pk}/materials/{material.pk}/"
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert client_for(other_reviewer).get(url).status_code == 404
        assert client_for(other_applicant).get(url).status_code == 404
        assert client_for(integration).get(url).status_code == 404
        # Another case's material under this case's address is not found either.
        assert (
            client_for(other_applicant).get(f"/cases/{case.pk}/materials/999999/").status_code
            == 404
        )

    def test_a_natural_persons_material_needs_a_purpose_and_is_registered(
        self, client_for, person, person_record, officer, reviewer
    ):
        owner = make_user("wangfang", Role.APPLICANT, first_name="王芳")
        SubjectBinding.objects.create(user=owner, subject=person, capacity=BindingCapacity.SELF)
        case = draft_with_materials(owner, person_record, capacity=BindingCapacity.SELF)
        repair_case_submit(applicant=owner, case=case)
        material = case.materials.get(kind=PROOF)
        url = f"/cases/{case.pk}/materials/{material.pk}/"

        # The person reads their own file without a purpose.
        response = client_for(owner).get(url)
        assert response.status_code == 200
        streamed(response)
        assert not AccessLogEntry.objects.exists()

        c = client_for(officer)
        response = c.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(f"/access-purpose/{person.pk}/")
        assert not AccessLogEntry.objects.exists()
        done = c.post(response["Location"], {"purpose": "repair_case", "next": url})
        assert done.status_code == 302 and done["Location"] == url
        response = c.get(url)
        assert response.status_code == 200
        assert streamed(response).startswith(b"%PDF-")
        entry = AccessLogEntry.objects.get()
        assert (entry.user, entry.subject, entry.purpose, entry.channel, entry.what) == (
            officer,
            person,
            "repair_case",
            "page",
            f"case_material:{material.pk}",
        )
        # The work page is registered too, with the purpose stated for the person.
        assert c.get(work(case)).status_code == 200
        assert AccessLogEntry.objects.filter(what=f"repair_case:{case.pk}").count() == 1

        # The purpose is per session: the reviewer is asked again.
        c = client_for(reviewer)
        assert c.get(url).status_code == 302
        assert c.get(work(case)).status_code == 302
        assert AccessLogEntry.objects.count() == 2


class TestFlowChart:
    def test_staff_get_the_svg_and_applicants_are_refused(
        self, client_for, drive, officer, reviewer, supervisor, applicant
    ):
        case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
        for user in (officer, reviewer, supervisor):
            response = client_for(user).get(work(case, "flow.svg").rstrip("/"))
            assert response.status_code == 200, user.username
            assert response["Content-Type"] == "image/svg+xml"
            assert "<svg" in text(response)
        assert client_for(applicant).get(f"/cases/{case.pk}/work/flow.svg").status_code == 403

    def test_another_departments_reviewer_gets_not_found(self, client_for, drive, other_reviewer):
        case = drive(CaseStatus.SUBMITTED)
        assert client_for(other_reviewer).get(f"/cases/{case.pk}/work/flow.svg").status_code == 404

    def test_the_branches_are_labelled_in_chinese(self, client_for, drive, officer):
        case = drive(CaseStatus.SUBMITTED)
        svg = text(client_for(officer).get(f"/cases/{case.pk}/work/flow.svg"))
        labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
        assert "是" in labels and "否" in labels
        assert "yes" not in labels and "no" not in labels
