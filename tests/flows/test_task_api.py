"""The task queues, release and reassignment through the API: the same rules
as the task pages, bad input answered per field, and nothing changed by a
refused call."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from viewflow.workflow.status import STATUS

from flows.cases.review import preliminary_review_claim, supplement_request
from flows.models import CaseStatus
from flows.repair.services import (
    preliminary_review_accept,
    repair_case_submit,
)
from tests.api_errors import field_errors
from tests.flows.conftest import at, draft_with_materials, open_task, snapshot

pytestmark = pytest.mark.django_db

TASKS = "/api/v1/tasks/"
CASES = "/api/v1/repair-cases/"
ITEMS = [{"material": "performance_proof", "problem": "缴款凭证模糊"}]


def url(case, action: str) -> str:
    return f"{CASES}{case.pk}/{action}/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [task["case"]["id"] for task in response.json()["results"]]


@pytest.fixture
def posted(django_capture_on_commit_callbacks):
    def run(api, path, data=None):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(path, data or {}, format="json")

    return run


def file_case(applicant, record):
    case = draft_with_materials(applicant, record)
    repair_case_submit(applicant=applicant, case=case)
    case.refresh_from_db()
    return case


def accepted(case, *, officer, applicant):
    preliminary_review_claim(officer=officer, case=case)
    preliminary_review_accept(officer=officer, case=case)
    case.refresh_from_db()
    return case


@pytest.fixture
def two_cases(applicant, record, second_record, now):
    """`late` filed Monday 16:30 (after the cut-off: due Tuesday 17:00) before
    `early`, filed Monday 10:00 (due the same day)."""
    now.move_to(at("2026-11-16 16:30"))
    late = file_case(applicant, record)
    now.move_to(at("2026-11-16 10:00"))
    early = file_case(applicant, second_record)
    return early, late


# The queues ---------------------------------------------------------------------


def test_the_queue_is_ordered_by_deadline(api_for, officer, two_cases):
    early, late = two_cases
    response = api_for(officer).get(TASKS)
    assert ids(response) == [early.pk, late.pk]
    body = response.json()
    assert body["count"] == 2
    first = body["results"][0]
    assert (first["stage"], first["status"], first["owner"], first["finished"]) == (
        "preliminary_review",
        "NEW",
        None,
        None,
    )
    assert first["stage_label"] == "初审"
    assert [t["due_at"] for t in body["results"]] == [
        "2026-11-16T17:00:00+08:00",
        "2026-11-17T17:00:00+08:00",
    ]
    assert first["case"]["number"] == early.number
    assert ids(api_for(officer).get(TASKS, {"box": "queue"})) == [early.pk, late.pk]


def test_claim_inbox_and_archive(api_for, posted, officer, second_officer, two_cases):
    early, late = two_cases
    api = api_for(officer)
    assert posted(api, url(early, "claim")).status_code == 200
    assert ids(api.get(TASKS)) == [late.pk]
    inbox = api.get(TASKS, {"box": "inbox"})
    assert ids(inbox) == [early.pk]
    assert (inbox.json()["results"][0]["status"], inbox.json()["results"][0]["owner"]) == (
        "ASSIGNED",
        "officer",
    )
    assert ids(api.get(TASKS, {"box": "archive"})) == []
    assert ids(api_for(second_officer).get(TASKS, {"box": "inbox"})) == []

    assert posted(api, url(early, "accept")).status_code == 200
    early.refresh_from_db()
    assert early.status == CaseStatus.ACCEPTED
    assert ids(api.get(TASKS, {"box": "inbox"})) == []
    archive = api.get(TASKS, {"box": "archive"})
    assert ids(archive) == [early.pk]
    assert archive.json()["results"][0]["status"] == "DONE"
    assert archive.json()["results"][0]["finished"] == "2026-11-16T10:00:00+08:00"
    assert ids(api_for(second_officer).get(TASKS, {"box": "archive"})) == []


def test_the_filters(api_for, officer, supervisor, two_cases, now):
    early, late = two_cases
    api = api_for(officer)
    assert ids(api.get(TASKS, {"due": "today"})) == [early.pk]
    assert ids(api.get(TASKS, {"due": "week"})) == [early.pk, late.pk]
    assert ids(api.get(TASKS, {"due": "overdue"})) == []
    now.move_to(at("2026-11-16 17:00"))
    assert ids(api.get(TASKS, {"due": "overdue"})) == []
    now.move_to(at("2026-11-16 17:01"))
    assert ids(api.get(TASKS, {"due": "overdue"})) == [early.pk]
    now.move_to(at("2026-11-17 17:01"))
    assert ids(api.get(TASKS, {"due": "overdue"})) == [early.pk, late.pk]

    assert ids(api.get(TASKS, {"q": late.number})) == [late.pk]
    assert ids(api.get(TASKS, {"q": "济市监罚〔2026〕2号"})) == [early.pk]
    assert ids(api.get(TASKS, {"q": "nothing like it"})) == []
    # By a number's beginning, not a piece from its middle.
    assert ids(api.get(TASKS, {"q": "济市监罚〔2026〕"})) == [early.pk, late.pk]
    assert ids(api.get(TASKS, {"q": "〔2026〕2号"})) == []
    assert ids(api.get(TASKS, {"stage": "preliminary_review"})) == [early.pk, late.pk]
    assert ids(api.get(TASKS, {"stage": "department_review"})) == []
    assert ids(api_for(supervisor).get(TASKS, {"stage": "department_review"})) == []
    assert ids(api_for(supervisor).get(TASKS)) == [early.pk, late.pk]


def test_bad_parameters_are_refused_per_field(api_for, officer):
    response = api_for(officer).get(TASKS, {"box": "all", "stage": "commitment", "due": "soon"})
    assert response.status_code == 400
    body = field_errors(response)
    assert set(body) == {"box", "stage", "due"}
    assert body["box"] == ["box 只能是 queue、inbox、archive。"]
    assert body["stage"] == ["stage 只能是 preliminary_review、department_review、verification。"]
    assert body["due"] == ["due 只能是 overdue、today、week。"]
    assert set(field_errors(api_for(officer).get(TASKS, {"due": "x"}))) == {"due"}


def test_reviewers_see_only_their_departments_reviews(
    api_for,
    posted,
    applicant,
    other_applicant,
    record,
    second_record,
    other_record,
    officer,
    reviewer,
    other_reviewer,
    supervisor,
):
    mine = accepted(file_case(applicant, record), officer=officer, applicant=applicant)
    theirs = accepted(
        file_case(other_applicant, other_record), officer=officer, applicant=other_applicant
    )
    submitted = file_case(applicant, second_record)

    response = api_for(reviewer).get(TASKS)
    assert ids(response) == [mine.pk]
    assert response.json()["results"][0]["stage"] == "department_review"
    assert ids(api_for(reviewer).get(TASKS, {"stage": "preliminary_review"})) == []
    assert ids(api_for(other_reviewer).get(TASKS)) == [theirs.pk]
    assert ids(api_for(officer).get(TASKS)) == [submitted.pk]
    assert sorted(ids(api_for(supervisor).get(TASKS))) == sorted([mine.pk, theirs.pk, submitted.pk])

    assert posted(api_for(reviewer), url(mine, "claim")).status_code == 200
    assert ids(api_for(reviewer).get(TASKS, {"box": "inbox"})) == [mine.pk]
    assert ids(api_for(other_reviewer).get(TASKS, {"box": "inbox"})) == []
    # A supervisor's inbox shows everyone's claimed work.
    assert ids(api_for(supervisor).get(TASKS, {"box": "inbox"})) == [mine.pk]


def test_applicants_and_systems_are_refused_the_queues(api_for, applicant, integration, two_cases):
    for user in (applicant, integration):
        response = api_for(user).get(TASKS)
        assert response.status_code == 403, user.username
        assert response.json()["detail"] == "您的账号角色无权执行此操作。"
    # With the integration's real token too.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=integration).key}")
    assert api.get(TASKS).status_code == 403
    assert api_for(None).get(TASKS).status_code == 401


# Release -----------------------------------------------------------------------


def test_the_holder_releases_the_case(api_for, posted, drive, officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    response = posted(api_for(officer), url(case, "release"))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "submitted"
    case.refresh_from_db()
    assert (case.status, case.officer) == (CaseStatus.SUBMITTED, None)
    assert open_task(case) == ("preliminary_review", STATUS.NEW, None)
    assert ids(api_for(officer).get(TASKS)) == [case.pk]


def test_a_department_reviewer_releases_the_review(api_for, posted, drive, reviewer):
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    response = posted(api_for(reviewer), url(case, "release"))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "accepted"
    case.refresh_from_db()
    assert case.reviewer is None
    assert open_task(case) == ("department_review", STATUS.NEW, None)


def test_a_supervisor_releases_with_a_reason(api_for, posted, drive, supervisor):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    before = snapshot()
    response = posted(api_for(supervisor), url(case, "release"), {"reason": "  "})
    assert response.status_code == 400
    assert field_errors(response) == {"reason": ["请填写退回的理由。"]}
    response = posted(api_for(supervisor), url(case, "release"))
    assert response.status_code == 400
    assert set(field_errors(response)) == {"reason"}
    assert snapshot() == before

    response = posted(api_for(supervisor), url(case, "release"), {"reason": "刘洋休假"})
    assert response.status_code == 200, response.json()
    case.refresh_from_db()
    assert (case.status, case.officer) == (CaseStatus.SUBMITTED, None)
    assert open_task(case) == ("preliminary_review", STATUS.NEW, None)
    event = case.events.order_by("id").last()
    assert (event.action, event.actor, event.comment) == (
        "release_preliminary_review",
        supervisor,
        "刘洋休假",
    )


def test_releasing_a_case_nobody_holds_is_a_conflict(api_for, posted, drive, officer, supervisor):
    case = drive(CaseStatus.SUBMITTED)
    before = snapshot()
    for user in (officer, supervisor):
        response = posted(api_for(user), url(case, "release"), {"reason": "x"})
        assert response.status_code == 409, (user.username, response.json())
        assert "当前没有人在办理，无需退回" in response.json()["non_field_errors"][0]
    assert snapshot() == before


def test_others_may_not_release(
    api_for, posted, drive, second_officer, applicant, other_reviewer, integration
):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    before = snapshot()
    response = posted(api_for(second_officer), url(case, "release"))
    assert response.status_code == 403
    assert response.json()["detail"] == "只有办理人或监督人员可以把案件退回待办队列。"
    assert posted(api_for(applicant), url(case, "release")).status_code == 403
    assert posted(api_for(integration), url(case, "release")).status_code == 403
    assert posted(api_for(other_reviewer), url(case, "release")).status_code == 404
    assert snapshot() == before


# Reassign ----------------------------------------------------------------------


def test_a_supervisor_assigns_a_queued_case_then_reassigns_it(
    api_for, posted, drive, supervisor, officer, second_officer
):
    case = drive(CaseStatus.SUBMITTED)
    api = api_for(supervisor)
    response = posted(api, url(case, "reassign"), {"assignee": officer.pk, "reason": "按片区分配"})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "in_preliminary_review"
    case.refresh_from_db()
    assert case.officer == officer
    assert open_task(case) == ("preliminary_review", STATUS.ASSIGNED, "officer")
    assert ids(api_for(officer).get(TASKS, {"box": "inbox"})) == [case.pk]

    response = posted(
        api, url(case, "reassign"), {"assignee": second_officer.pk, "reason": "刘洋出差"}
    )
    assert response.status_code == 200, response.json()
    case.refresh_from_db()
    assert (case.status, case.officer) == (CaseStatus.IN_PRELIMINARY_REVIEW, second_officer)
    assert open_task(case) == ("preliminary_review", STATUS.ASSIGNED, "officer2")
    assert ids(api_for(officer).get(TASKS, {"box": "inbox"})) == []
    assert ids(api_for(second_officer).get(TASKS, {"box": "inbox"})) == [case.pk]
    # The first officer can no longer decide; the new one can.
    assert posted(api_for(officer), url(case, "accept")).status_code == 403
    assert posted(api_for(second_officer), url(case, "accept")).status_code == 200


def test_a_wrong_assignee_or_a_missing_reason_is_refused_per_field(
    api_for, posted, drive, supervisor, officer, reviewer, other_reviewer, colleague
):
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    api = api_for(supervisor)
    before = snapshot()
    response = posted(api, url(case, "reassign"), {"assignee": other_reviewer.pk, "reason": "支援"})
    assert response.status_code == 400
    assert field_errors(response) == {"assignee": ["只能指派给济南市市场监督管理局的审核人员。"]}
    response = posted(api, url(case, "reassign"), {"assignee": officer.pk, "reason": "支援"})
    assert response.status_code == 400
    assert set(field_errors(response)) == {"assignee"}
    response = posted(api, url(case, "reassign"), {"assignee": reviewer.pk, "reason": "支援"})
    assert response.status_code == 400
    assert "已由该人员办理" in response.json()["assignee"][0]
    response = posted(api, url(case, "reassign"), {"assignee": 999999, "reason": "支援"})
    assert response.status_code == 400
    assert set(field_errors(response)) == {"assignee"}
    response = posted(api, url(case, "reassign"), {"assignee": colleague.pk})
    assert response.status_code == 400
    assert set(field_errors(response)) == {"reason"}
    response = posted(api, url(case, "reassign"), {"assignee": colleague.pk, "reason": "   "})
    assert response.status_code == 400
    assert set(field_errors(response)) == {"reason"}
    response = posted(api, url(case, "reassign"), {})
    assert set(field_errors(response)) == {"assignee", "reason"}
    assert snapshot() == before

    response = posted(api, url(case, "reassign"), {"assignee": colleague.pk, "reason": "支援"})
    assert response.status_code == 200, response.json()
    case.refresh_from_db()
    assert case.reviewer == colleague
    assert open_task(case) == ("department_review", STATUS.ASSIGNED, "reviewer2")


def test_a_case_without_a_task_cannot_be_assigned(api_for, posted, drive, supervisor, officer):
    # Waiting for the applicant's supplement: no staff task to give anyone.
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    supplement_request(officer=officer, case=case, items=ITEMS)
    before = snapshot()
    response = posted(
        api_for(supervisor), url(case, "reassign"), {"assignee": officer.pk, "reason": "x"}
    )
    # The case is in no state for this: a conflict, as for any wrong-state action.
    assert response.status_code == 409
    assert "没有可指派的办理任务" in response.json()["non_field_errors"][0]
    assert snapshot() == before


@pytest.mark.parametrize("persona", ["officer", "reviewer", "applicant", "integration"])
def test_only_supervisors_reassign(api_for, posted, drive, request, persona, second_officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    before = snapshot()
    response = posted(
        api_for(request.getfixturevalue(persona)),
        url(case, "reassign"),
        {"assignee": second_officer.pk, "reason": "换人"},
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "您的账号角色无权执行此操作。"
    assert snapshot() == before


def test_anonymous_release_and_reassign_get_401(api_for, drive, officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    before = snapshot()
    api = api_for(None)
    assert api.post(url(case, "release"), {}, format="json").status_code == 401
    body = {"assignee": officer.pk, "reason": "x"}
    assert api.post(url(case, "reassign"), body, format="json").status_code == 401
    assert snapshot() == before


# The supervisor and the supplement notice ----------------------------------------


def test_a_supervisors_first_notice_is_refused(api_for, posted, drive, supervisor, officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    before = snapshot()
    for body in ({"items": ITEMS}, {"items": ITEMS, "override_reason": "替他发"}):
        response = posted(api_for(supervisor), url(case, "supplement-request"), body)
        assert response.status_code == 403
        assert "首次补正告知由初审人员办理" in response.json()["detail"]
    assert snapshot() == before
    case.refresh_from_db()
    assert (case.status, case.supplement_count) == (CaseStatus.IN_PRELIMINARY_REVIEW, 0)
    assert open_task(case) == ("preliminary_review", STATUS.ASSIGNED, "officer")


def test_a_supervisor_may_not_claim(api_for, posted, drive, supervisor):
    case = drive(CaseStatus.SUBMITTED)
    before = snapshot()
    assert posted(api_for(supervisor), url(case, "claim")).status_code == 403
    assert snapshot() == before


def test_department_claim_by_another_departments_reviewer_is_not_found(
    api_for, posted, drive, other_reviewer
):
    case = drive(CaseStatus.ACCEPTED)
    before = snapshot()
    assert posted(api_for(other_reviewer), url(case, "claim")).status_code == 404
    assert posted(api_for(other_reviewer), url(case, "release")).status_code == 404
    assert snapshot() == before
