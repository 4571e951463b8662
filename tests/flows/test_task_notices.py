"""Staff are told of work: every human task the flow creates tells the people
who may take it (flows.notify, Event.TASK_QUEUED, from viewflow's onCreate),
a supervisor's assignment tells the person named, a claim tells nobody, and
nobody is told of one task twice. Driven over HTTP as staff and applicants act."""

import pytest
from django.core import mail

from flows.cases.review import preliminary_review_claim, supplement_request
from flows.models import BreachReview, CaseStatus
from repair_flow.models import Role
from sla.models import Notification
from tests.conftest import make_user
from tests.flows.conftest import at, draft_with_materials, import_rows, penalty_row, upload
from tests.flows.test_objections import filed

pytestmark = pytest.mark.django_db

QUEUED = "新的待办：案件 %s 已进入您的待办队列，请及时领取办理。"
ASSIGNED = "案件 %s 已指派给您办理。"


@pytest.fixture(autouse=True)
def addresses(settings, officer, second_officer, reviewer, colleague, other_reviewer, supervisor):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for user in (officer, second_officer, reviewer, colleague, other_reviewer, supervisor):
        user.email = f"{user.username}@example.com"
        user.save()


@pytest.fixture
def post(client_for, django_capture_on_commit_callbacks):
    """`post(user, url, data)`: the user's POST, then its after-commit work."""

    def run(user, url, data=None):
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(user).post(url, data or {})
        assert response.status_code == 302, response.content.decode()[:2000]
        return response

    return run


def told(user) -> list[str]:
    return [notice.headline for notice in Notification.objects.filter(user=user).order_by("id")]


def mails_to(user) -> list:
    return [m for m in mail.outbox if m.to == [user.email]]


def work(case, action: str = "") -> str:
    return f"/cases/{case.pk}/work/" + (f"{action}/" if action else "")


def test_a_filing_tells_every_officer_in_post_once(
    client_for, post, applicant, record, officer, second_officer, reviewer, supervisor
):
    retired = make_user("officer3", Role.OFFICER, is_active=False, email="o3@example.com")
    case = draft_with_materials(applicant, record)
    post(applicant, f"/cases/{case.pk}/submit/")
    case.refresh_from_db()
    for person in (officer, second_officer):
        assert told(person) == [QUEUED % case.number]
        (message,) = mails_to(person)
        assert case.number in message.subject and f"/cases/{case.pk}/work/" in message.body
    for person in (retired, reviewer, supervisor):
        assert told(person) == []
    assert all("待办" not in t for t in told(applicant))
    # The notice opens the work page, which the officer may see.
    notice = Notification.objects.get(user=officer)
    assert notice.link == work(case)
    assert client_for(officer).get(notice.link).status_code == 200

    # A claim is one's own act: nobody is told; a release puts the same task
    # back in the queue, of which the officers were told already.
    mail.outbox.clear()
    post(officer, work(case, "claim"))
    post(officer, work(case, "release"))
    post(second_officer, work(case, "claim"))
    assert told(officer) == told(second_officer) == [QUEUED % case.number]
    assert mail.outbox == []


def test_acceptance_tells_the_issuing_departments_reviewers(
    post, applicant, record, officer, second_officer, reviewer, colleague, other_reviewer
):
    case = draft_with_materials(applicant, record)
    post(applicant, f"/cases/{case.pk}/submit/")
    case.refresh_from_db()
    post(officer, work(case, "claim"))
    mail.outbox.clear()
    post(officer, work(case, "accept"))
    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED
    for person in (reviewer, colleague):
        assert told(person) == [QUEUED % case.number]
        assert len(mails_to(person)) == 1
    # Another department's reviewer is not told (谁认定、谁修复), nor are the
    # officers a second time.
    assert told(other_reviewer) == [] and mails_to(other_reviewer) == []
    assert told(officer) == told(second_officer) == [QUEUED % case.number]

    post(reviewer, work(case, "claim"))
    assert told(colleague) == [QUEUED % case.number]


def test_a_resubmission_is_new_work_for_the_officers(
    client_for, post, applicant, record, officer, second_officer
):
    case = draft_with_materials(applicant, record)
    post(applicant, f"/cases/{case.pk}/submit/")
    case.refresh_from_db()
    preliminary_review_claim(officer=officer, case=case)
    supplement_request(
        officer=officer,
        case=case,
        items=[{"material": "performance_proof", "problem": "缴款凭证模糊"}],
    )
    client_for(applicant).post(
        f"/cases/{case.pk}/supplement/upload/", {"file_performance_proof": upload("凭证.pdf")}
    )
    post(applicant, f"/cases/{case.pk}/supplement/")
    case.refresh_from_db()
    assert case.status == CaseStatus.RESUBMITTED
    for person in (officer, second_officer):
        assert told(person) == [QUEUED % case.number, QUEUED % case.number]
        assert len(mails_to(person)) == 2


def test_a_supervisors_assignment_tells_the_person_named_only(
    client_for, post, applicant, record, officer, second_officer, supervisor
):
    case = draft_with_materials(applicant, record)
    post(applicant, f"/cases/{case.pk}/submit/")
    case.refresh_from_db()
    mail.outbox.clear()
    post(supervisor, work(case, "reassign"), {"assignee": second_officer.pk, "reason": "按片区"})
    assert told(second_officer) == [QUEUED % case.number, ASSIGNED % case.label]
    assert told(officer) == [QUEUED % case.number]
    assert told(supervisor) == []
    (message,) = mail.outbox
    assert message.to == [second_officer.email] and "已指派给您办理" in message.body
    notice = Notification.objects.filter(user=second_officer).last()
    assert client_for(second_officer).get(notice.link).status_code == 200


@pytest.mark.parametrize(
    ("scope", "who"), [("platform", ("officer", "second_officer")), ("department", ("reviewer",))]
)
def test_an_objections_check_goes_to_those_who_make_it(
    request, post, applicant, record, officer, scope, who, other_reviewer
):
    case = filed(applicant, record)
    preliminary_review_claim(officer=officer, case=case)
    before = {name: told(request.getfixturevalue(name)) for name in who}
    post(officer, f"/cases/objections/{case.pk}/work/accept/", {"scope": scope})
    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED
    for name in who:
        assert told(request.getfixturevalue(name)) == [*before[name], QUEUED % case.label]
    assert told(other_reviewer) == []


def test_a_breach_review_tells_the_deciding_departments_reviewers(
    client_for,
    django_capture_on_commit_callbacks,
    approved,
    now,
    enterprise,
    sister_department,
    sister_reviewer,
    reviewer,
    colleague,
    other_reviewer,
):
    sister_reviewer.email = "sister@example.com"
    sister_reviewer.save()
    now.move_to(at("2027-03-02 09:00"))
    row = penalty_row(enterprise, sister_department, number="济环罚〔2027〕8号")
    with django_capture_on_commit_callbacks(execute=True):
        import_rows(row)
    review = BreachReview.objects.get()
    text = f"新的履约核查：已修复的案件 {approved.label} 在监管期内出现新情况，请及时核查。"
    for person in (reviewer, colleague):
        assert told(person).count(text) == 1
        assert len([m for m in mails_to(person) if "新的履约核查" in m.body]) == 1
    # The department that issued the new penalty is informed on the review,
    # not asked to decide it; nobody else is told.
    for person in (sister_reviewer, other_reviewer):
        assert all("履约核查" not in t for t in told(person))
    (notice,) = [n for n in Notification.objects.filter(user=reviewer) if n.headline == text]
    page = client_for(reviewer).get(notice.link).content.decode()
    assert f"/cases/breaches/{review.pk}/" in page

    # The same record pushed again opens nothing new and tells nobody again.
    with django_capture_on_commit_callbacks(execute=True):
        import_rows(row)
    assert BreachReview.objects.count() == 1
    assert told(reviewer).count(text) == 1
