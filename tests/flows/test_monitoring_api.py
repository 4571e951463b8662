"""Post-repair monitoring over the API: who sees which breach review, who may
decide one (every other persona refused with nothing changed), the officer's
report of false materials, and the applicant's view of their monitoring."""

import pytest

from flows.models import BreachReview, CaseEvent, CaseStatus, MonitoringWindow
from flows.monitoring.services import monitoring_sweep
from letters.models import Letter, LetterKind
from records.models import CreditRecord, RecordStatus, SyncEvent
from repair_flow.models import AccessLogEntry
from tests.api_errors import field_errors
from tests.flows.conftest import (
    ANSWER,
    BASIS,
    NOTICE_FACTS,
    STATEMENT,
    at,
    hear,
    import_rows,
    monitored_repair,
    penalty_row,
    upload,
)

REVIEWS = "/api/v1/breach-reviews/"
MONITORING = "/api/v1/monitoring/"
NEW_PENALTY = "济市监罚〔2027〕3号"
CONFIRM = {
    "reasons": ["在信用修复承诺履约监管期内再次受到行政处罚"],
    "basis": BASIS,
    "answer": ANSWER,
}
DISMISS = {"reasons": ["违法行为发生在作出信用承诺之前"], "basis": ""}


def url(review_id: int, action: str = "") -> str:
    return f"{REVIEWS}{review_id}/" + (f"{action}/" if action else "")


def report_url(case) -> str:
    return f"/api/v1/repair-cases/{case.pk}/false-materials/"


@pytest.fixture
def review(approved, now, enterprise, department) -> BreachReview:
    """A new penalty of the repaired subject, imported during the monitoring."""
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, department))
    return BreachReview.objects.get()


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def state(case) -> tuple:
    """What a refused decision must leave as it was."""
    return (
        list(BreachReview.objects.values_list("pk", "status", "decided_at")),
        list(MonitoringWindow.objects.values_list("pk", "status")),
        CreditRecord.objects.get(pk=case.record_id).status,
        type(case).objects.get(pk=case.pk).status,
        Letter.objects.count(),
        CaseEvent.objects.count(),
        SyncEvent.objects.count(),
    )


# Lists and detail -------------------------------------------------------------------


def test_list_is_scoped_to_the_reviewing_department_and_platform_staff(apis, review, department):
    assert ids(apis.dept.get(REVIEWS)) == [review.pk]
    assert ids(apis.other_dept.get(REVIEWS)) == []
    assert ids(apis.staff.get(REVIEWS)) == [review.pk]
    assert ids(apis.boss.get(REVIEWS)) == [review.pk]
    assert apis.mine.get(REVIEWS).status_code == 403

    item = apis.dept.get(REVIEWS).json()["results"][0]
    assert item["status"] == "open" and item["source"] == "new_penalty"
    assert item["found_via"] == "import" and item["case_number"] == review.case.number
    assert item["department"] == {"code": department.code, "name": department.name}
    assert item["decision_number"] == NEW_PENALTY and item["due_at"] is not None
    assert "subject" not in item  # a list carries no personal data


def test_list_filters(apis, review, department, other_department):
    assert ids(apis.staff.get(REVIEWS, {"status": "open"})) == [review.pk]
    assert ids(apis.staff.get(REVIEWS, {"status": "confirmed"})) == []
    assert ids(apis.staff.get(REVIEWS, {"source": "new_penalty"})) == [review.pk]
    assert ids(apis.staff.get(REVIEWS, {"source": "false_materials"})) == []
    assert ids(apis.staff.get(REVIEWS, {"department": department.code})) == [review.pk]
    assert ids(apis.staff.get(REVIEWS, {"department": other_department.code})) == []
    response = apis.staff.get(REVIEWS, {"status": "nope", "source": "nope"})
    assert response.status_code == 400 and set(field_errors(response)) == {"status", "source"}


def test_detail_for_the_department_and_404_for_another(apis, review, enterprise, department):
    body = apis.dept.get(url(review.pk)).json()
    assert (body["id"], body["status"], body["source"]) == (review.pk, "open", "new_penalty")
    assert body["case"] == review.case_id and body["case_status"] == "approved"
    assert body["subject"]["name"] == enterprise.name
    assert body["subject"]["identifier"] == enterprise.identifier  # a USCC is public
    assert body["record"] == {
        "id": review.record_id,
        "decision_number": NEW_PENALTY,
        "department": department.name,
        "decision_date": "2027-03-01",
    }
    assert body["evidence"] is None and body["decision"] is None
    assert body["opened_at"] == "2027-03-02T09:00:00+08:00"
    assert body["due_at"] > body["opened_at"]
    assert body["may_decide"] is True
    assert apis.staff.get(url(review.pk)).json()["may_decide"] is False
    assert apis.other_dept.get(url(review.pk)).status_code == 404
    assert apis.mine.get(url(review.pk)).status_code == 403
    assert apis.dept.get(url(review.pk + 1000)).status_code == 404


# Deciding ---------------------------------------------------------------------------


def test_the_hearing_then_confirm_by_the_departments_reviewer_revokes_the_repair(
    apis, posted, review, now, approved, record
):
    now.move_to(at("2027-03-03 10:00"))
    # Revoking before the notice is a conflict.
    response = posted(apis.dept, url(review.pk, "confirm"), CONFIRM)
    assert response.status_code == 409 and response.json()["code"] == "notice_first"
    response = posted(apis.dept, url(review.pk, "notice"), {"facts": NOTICE_FACTS})
    assert response.status_code == 200, response.json()
    body = response.json()
    notice = Letter.objects.get(kind=LetterKind.REVOCATION_NOTICE)
    assert body["status"] == "notified" and body["may_notice"] is False
    assert body["may_revoke"] is False and body["may_decide"] is True
    hearing = body["hearing"]
    assert (hearing["notice_letter"], hearing["notice_letter_number"]) == (notice.pk, notice.number)
    assert notice.issuer == "济南市市场监督管理局"
    # 5 working days from Wednesday 3 March 2027.
    assert hearing["statement_due_at"] == "2027-03-10T17:00:00+08:00"
    assert hearing["statement"] == "" and hearing["stated_at"] is None

    # The applicant sees the hearing in their monitoring and states their case.
    window = apis.mine.get(MONITORING).json()["results"][0]
    (called,) = window["hearings"]
    assert called["may_state"] is True and called["notice_letter_number"] == notice.number
    assert called["new_penalty"]["decision_number"] == NEW_PENALTY
    response = posted(
        apis.mine,
        called["statement_url"],
        {"statement": STATEMENT, "evidence": upload("说明.pdf")},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["may_state"] is False and response.json()["stated_at"]
    # Once only.
    again = posted(apis.mine, called["statement_url"], {"statement": "再说一次"})
    assert again.status_code == 409 and again.json()["code"] == "already_stated"

    detail = apis.dept.get(url(review.pk)).json()
    assert detail["may_revoke"] is True and detail["hearing"]["statement"] == STATEMENT
    assert detail["hearing"]["statement_evidence"]["name"] == "说明.pdf"
    # The answer to the statement is required.
    response = posted(apis.dept, url(review.pk, "confirm"), {**CONFIRM, "answer": ""})
    assert response.status_code == 400
    assert field_errors(response) == {"non_field_errors": ["请填写对陈述申辩的答复。"]}
    response = posted(apis.dept, url(review.pk, "confirm"), CONFIRM)
    assert response.status_code == 200, response.json()
    body = response.json()
    letter = Letter.objects.get(kind=LetterKind.REVOCATION)
    assert body["status"] == "confirmed" and body["case_status"] == "revoked"
    assert body["may_decide"] is False
    decision = body["decision"]
    assert decision["letter"] == letter.pk and decision["letter_number"] == letter.number
    assert letter.number
    assert decision["reasons"] == CONFIRM["reasons"] and decision["basis"] == BASIS
    assert decision["answer"] == ANSWER
    assert decision["decided_by"] == "陈静"
    assert decision["decided_at"] == "2027-03-03T10:00:00+08:00"
    # No bar: the policy ships it disabled.
    assert decision["barred_until"] is None
    assert letter.facts["hearing"]["notice_number"] == notice.number

    approved.refresh_from_db()
    record.refresh_from_db()
    assert approved.status == CaseStatus.REVOKED
    today = at("2027-03-03 10:00").date()
    assert record.status == (
        RecordStatus.PUBLISHED if record.publicity_ends_on >= today else RecordStatus.EXPIRED
    )
    assert MonitoringWindow.objects.get().status == "breached"

    # Decided once: a second decision is a conflict.
    for action, data in (("confirm", CONFIRM), ("dismiss", DISMISS), ("notice", {"facts": "x"})):
        response = posted(apis.dept, url(review.pk, action), data)
        assert response.status_code == 409, response.json()
        assert "已办结" in response.json()["non_field_errors"][0]


def test_dismiss_keeps_the_repair_and_the_monitoring(apis, posted, review, approved):
    response = posted(apis.dept, url(review.pk, "dismiss"), DISMISS)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "dismissed" and body["case_status"] == "approved"
    assert body["decision"]["reasons"] == DISMISS["reasons"]
    assert body["decision"]["letter"] is None and body["decision"]["barred_until"] is None
    assert MonitoringWindow.objects.get().status == "open"
    assert posted(apis.dept, url(review.pk, "confirm"), CONFIRM).status_code == 409


@pytest.mark.parametrize("action", ["notice", "confirm", "dismiss"])
def test_only_the_repairing_departments_reviewer_decides(
    apis, api_for, sister_reviewer, posted, approved, now, enterprise, sister_department, action
):
    # A new penalty of the same sector from another department: that department is
    # informed (it reads the review), the repairing department decides.
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, sister_department, number="济药罚〔2027〕5号"))
    review = BreachReview.objects.get()
    data = {"confirm": CONFIRM, "dismiss": DISMISS, "notice": {"facts": NOTICE_FACTS}}[action]
    before = state(approved)
    informed = api_for(sister_reviewer)
    body = informed.get(url(review.pk)).json()
    assert body["informed_department"]["code"] == "YPJ" and body["may_decide"] is False
    # Roles that may not decide are refused before the review is looked up; the
    # other department's reviewer may not see it at all (as in its detail).
    attempts = [
        (apis.staff, 403),
        (apis.boss, 403),
        (apis.mine, 403),
        (informed, 403),
        (apis.other_dept, 404),
    ]
    for api, code in attempts:
        response = posted(api, url(review.pk, action), data)
        assert response.status_code == code, response.json()
    assert state(approved) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reasons": [], "basis": BASIS}, "请填写理由。"),
        ({"reasons": ["  "], "basis": BASIS}, "请填写理由。"),
        ({"reasons": ["再次受到行政处罚"], "basis": " "}, "请填写撤销依据。"),
    ],
)
def test_confirm_needs_reasons_and_basis(apis, posted, review, approved, reviewer, data, message):
    hear(review, reviewer=reviewer)
    before = state(approved)
    response = posted(apis.dept, url(review.pk, "confirm"), data)
    assert response.status_code == 400
    assert field_errors(response) == {"non_field_errors": [message]}
    assert state(approved) == before


def test_dismiss_needs_reasons(apis, posted, review, approved):
    before = state(approved)
    response = posted(apis.dept, url(review.pk, "dismiss"), {"reasons": []})
    assert response.status_code == 400
    assert field_errors(response) == {"non_field_errors": ["请填写理由。"]}
    response = posted(apis.dept, url(review.pk, "dismiss"), {"basis": "x"})
    assert response.status_code == 400 and "reasons" in response.json()
    assert state(approved) == before


# False materials --------------------------------------------------------------------


def test_officer_reports_false_materials(apis, posted, approved, now, department):
    now.move_to(at("2027-01-05 10:00"))
    path = report_url(approved)
    response = posted(apis.staff, path, {"statement": "缴款凭证系伪造"}, format="multipart")
    assert response.status_code == 400
    assert field_errors(response) == {"evidence": ["请上传证明材料不实的证据。"]}
    response = posted(
        apis.staff,
        path,
        {"statement": "缴款凭证系伪造", "evidence": upload("x.txt", b"hello")},
        format="multipart",
    )
    assert response.status_code == 400 and list(field_errors(response)) == ["evidence"]
    for api in (apis.mine, apis.dept):
        response = posted(
            api,
            path,
            {"statement": "缴款凭证系伪造", "evidence": upload("核查.pdf")},
            format="multipart",
        )
        assert response.status_code == 403
    assert not BreachReview.objects.exists()

    response = posted(
        apis.staff,
        path,
        {"statement": "缴款凭证系伪造", "evidence": upload("核查.pdf")},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    review = BreachReview.objects.get()
    assert body["id"] == review.pk and body["status"] == "open"
    assert (body["source"], body["found_via"]) == ("false_materials", "report")
    assert body["department"]["code"] == department.code
    assert body["record"] is None and body["statement"] == "缴款凭证系伪造"
    assert body["evidence"] == {
        "id": review.evidence_id,
        "name": "核查.pdf",
        "sha256": review.evidence.sha256,
    }
    assert body["reported_by"] == "刘洋" and body["due_at"] is not None
    # The department that decided the repair reviews it.
    assert ids(apis.dept.get(REVIEWS)) == [review.pk]

    response = posted(
        apis.staff,
        path,
        {"statement": "又一份", "evidence": upload("核查2.pdf")},
        format="multipart",
    )
    assert response.status_code == 409
    assert "已有正在核查的材料不实报告" in response.json()["non_field_errors"][0]


def test_false_materials_on_a_case_not_approved_is_a_conflict(apis, posted, drive):
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    response = posted(
        apis.staff,
        report_url(case),
        {"statement": "缴款凭证系伪造", "evidence": upload("核查.pdf")},
        format="multipart",
    )
    assert response.status_code == 409
    assert not BreachReview.objects.exists()


# The applicant's monitoring ---------------------------------------------------------


def test_applicant_sees_their_monitoring(apis, api_for, other_applicant, approved, now):
    response = apis.mine.get(MONITORING)
    assert response.status_code == 200
    (window,) = response.json()["results"]
    assert window["case"] == approved.pk and window["case_number"] == approved.number
    assert window["decision_number"] == approved.record.decision_number
    assert window["starts_at"] == "2026-11-18T15:00:00+08:00"
    assert window["ends_at"] == "2027-11-18T15:00:00+08:00"
    assert (window["status"], window["days_left"], window["review_open"]) == ("open", 365, False)
    assert api_for(other_applicant).get(MONITORING).json()["results"] == []
    for api in (apis.staff, apis.dept, apis.boss):
        assert api.get(MONITORING).status_code == 403


def test_monitoring_shows_an_open_review_and_the_days_left(apis, review, now):
    (window,) = apis.mine.get(MONITORING).json()["results"]
    assert (window["days_left"], window["review_open"]) == (261, True)


def test_days_left_at_the_end_of_the_window(apis, approved, now):
    now.move_to(at("2027-11-17 23:59"))
    assert apis.mine.get(MONITORING).json()["results"][0]["days_left"] == 1
    now.move_to(at("2027-11-18 14:59"))
    assert apis.mine.get(MONITORING).json()["results"][0]["days_left"] == 0
    now.move_to(at("2027-11-18 15:00"))
    monitoring_sweep()
    (window,) = apis.mine.get(MONITORING).json()["results"]
    assert (window["status"], window["days_left"]) == ("completed", None)
    assert window["case_status"] == "completed"


# A natural person's review -------------------------------------------------------------


@pytest.fixture
def person_review(now, applicant, person, person_record, department) -> BreachReview:
    """A natural person's repair under monitoring, and a new penalty of theirs."""
    monitored_repair(
        person_record,
        applicant=applicant,
        starts="2026-11-02 10:00",
        ends="2027-11-02 10:00",
        number="济信修申〔2026〕9号",
    )
    import_rows(penalty_row(person, department, day="2026-11-10"))
    return BreachReview.objects.get()


def test_a_persons_review_needs_a_purpose_and_the_read_is_registered(
    apis, posted, person_review, person
):
    path = url(person_review.pk)
    response = apis.dept.get(path)
    assert response.status_code == 400 and response.json()["code"] == "purpose_required"
    assert not AccessLogEntry.objects.exists()
    response = apis.dept.get(path, {"purpose": "supervision"})
    assert response.status_code == 200
    assert response.json()["subject"]["identifier"] == person.display_identifier
    assert person.identifier not in response.content.decode()
    assert AccessLogEntry.objects.get().what == f"api:breach_review:{person_review.pk}"

    # A decision answers with the review: refused without a purpose, nothing changed.
    response = posted(apis.dept, url(person_review.pk, "dismiss"), DISMISS)
    assert response.status_code == 400 and response.json()["code"] == "purpose_required"
    person_review.refresh_from_db()
    assert person_review.status == "open"
    response = posted(apis.dept, url(person_review.pk, "dismiss") + "?purpose=supervision", DISMISS)
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    assert AccessLogEntry.objects.count() == 2
