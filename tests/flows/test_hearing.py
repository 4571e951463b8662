"""The hearing before a revocation (domain section 3), over HTTP as the
people on it use it: the department that made the repair decision sends a
notice of intended revocation (拟撤销信用修复告知书); the applicant states
their case (陈述申辩) with evidence from their case page within the
statement period (5 working days, UNCONFIRMED, on the official calendar);
the department then dismisses or revokes, and may not revoke before the
statement arrives or the period ends. Breach reviews open only for new
penalties of the same kind; others are shown for information."""

import io
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client

from flows.models import BreachReview, BreachStatus, CaseStatus, MonitoringPolicy, MonitoringWindow
from flows.monitoring.services import (
    breach_confirm,
    breach_notice_issue,
    breach_statement_submit,
    monitoring_sweep,
)
from flows.repair.services import department_review_approve
from letters.models import Letter, LetterKind, OutboundMessage
from letters.render import render_letter_html
from records.models import BindingCapacity, CreditRecord, RecordStatus, SubjectBinding
from repair_flow.models import Role
from sla.models import SlaClock
from tests.conftest import make_user
from tests.flows.conftest import (
    ANSWER,
    BASIS,
    NOTICE_FACTS,
    STATEMENT,
    approve_repair,
    at,
    draft_with_materials,
    import_rows,
    local,
    monitored_repair,
    penalty_row,
    upload,
)

pytestmark = pytest.mark.django_db

SISTER_NUMBER = "济药罚〔2027〕5号"


def detail(review, action: str = "") -> str:
    return f"/cases/breaches/{review.pk}/" + (f"{action}/" if action else "")


def statement_url(review) -> str:
    return f"/cases/{review.case_id}/breaches/{review.pk}/statement/"


def text(response) -> str:
    return response.content.decode()


def clock(review, stage: str) -> SlaClock:
    return SlaClock.objects.get(case_id=review.pk, stage=stage)


REVOKE = {"reason_new_penalty": "1", "basis": BASIS}


@pytest.fixture
def review(approved, now, enterprise, sister_department):
    """A penalty of the repaired enterprise's sector from another department,
    imported on Tuesday 2 March 2027: a review for the repairing department."""
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, sister_department, number=SISTER_NUMBER))
    return BreachReview.objects.get()


# The hearing, both ways ----------------------------------------------------------


def test_statement_received_then_dismissed(
    review, reviewer, applicant, approved, now, django_capture_on_commit_callbacks
):
    staff, portal = Client(), Client()
    staff.force_login(reviewer)
    portal.force_login(applicant)
    review_due = clock(review, "breach_review").due_at

    now.move_to(at("2027-03-02 10:00"))
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(detail(review, "notice"), {"facts": NOTICE_FACTS})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == BreachStatus.NOTIFIED and review.notice_facts == NOTICE_FACTS
    notice = Letter.objects.get(kind=LetterKind.REVOCATION_NOTICE)
    assert review.notice_letter == notice and notice.recipient == applicant
    # Domain section 9: the deciding department issues it, naming the new penalty.
    assert notice.issuer == "济南市市场监督管理局"
    assert notice.facts["trigger"]["penalty"]["decision_number"] == SISTER_NUMBER
    assert notice.facts["trigger"]["penalty"]["department"] == "济南市药品监督管理局"
    assert notice.facts["trigger"]["penalty"]["decision_date"] == "2027-03-01"
    html = render_letter_html(notice)
    assert SISTER_NUMBER in html and "陈述和申辩" in html and "2027年3月9日17时00分" in html
    # The applicant is told: the notice goes by email once rendered.
    assert OutboundMessage.objects.get(letter=notice).to == "zhangwei@example.com"
    # 5 working days from Tuesday 2 March 2027: 3, 4, 5, 8, 9 March.
    assert local(clock(review, "statement").due_at) == "2027-03-09 17:00"
    # The department's own clock waits for the applicant.
    assert clock(review, "breach_review").state == "paused"

    # Before the statement the department may not revoke.
    page = text(staff.get(detail(review)))
    assert 'class="statement-wait"' in page and "/confirm/" not in page
    response = staff.post(detail(review, "confirm"), REVOKE)
    assert response.status_code == 409
    assert "陈述申辩期限至 2027-03-09 17:00" in text(response)

    # The applicant reads the notice on their case page and states their case.
    now.move_to(at("2027-03-04 11:00"))
    # Two days on: the sessions are logged in afresh (the session times out).
    staff.force_login(reviewer)
    portal.force_login(applicant)
    response = portal.get(f"/cases/{approved.pk}/")
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    page = text(response)
    assert notice.number in page and SISTER_NUMBER in page and "2027-03-09 17:00" in page
    assert f'action="{statement_url(review)}"' in page
    # The monitoring list points to it too.
    listing = text(portal.get("/cases/monitoring/"))
    assert "已发出拟撤销信用修复告知书，请于 2027-03-09 17:00 前陈述申辩" in listing
    response = portal.post(
        statement_url(review), {"statement": STATEMENT, "evidence": upload("说明.pdf")}
    )
    assert response.status_code == 302 and response["Location"] == f"/cases/{approved.pk}/"
    review.refresh_from_db()
    assert review.representation == STATEMENT and review.representation_by == applicant
    assert review.representation_evidence.kind == "statement_evidence"
    assert local(review.representation_at) == "2027-03-04 11:00"
    assert clock(review, "statement").state == "met"
    # The department's clock runs again, its deadline pushed by the wait.
    resumed = clock(review, "breach_review")
    assert resumed.state == "running" and resumed.due_at > review_due
    page = text(portal.get(f"/cases/{approved.pk}/"))
    assert STATEMENT in page and statement_url(review) not in page

    # The department reads the statement and its evidence, and dismisses.
    page = text(staff.get(detail(review)))
    assert STATEMENT in page and "说明.pdf" in page and 'name="answer"' in page
    response = staff.post(detail(review, "dismiss"), {"reason_before_commitment": "1", "basis": ""})
    assert response.status_code == 302
    review.refresh_from_db()
    approved.refresh_from_db()
    assert review.status == BreachStatus.DISMISSED
    assert approved.status == CaseStatus.APPROVED
    assert MonitoringWindow.objects.get(case=approved).status == "open"
    assert OutboundMessage.objects.filter(
        idempotency_key=f"breach_review:{review.pk}:dismissed"
    ).exists()
    assert not Letter.objects.filter(kind=LetterKind.REVOCATION).exists()


@pytest.fixture
def repaired_in_september(now, applicant, record, officer, reviewer):
    """A repair approved on Monday 21 September 2026, before National Day."""
    now.move_to(at("2026-09-21 09:00"))
    case = draft_with_materials(applicant, record)
    return approve_repair(case, officer=officer, reviewer=reviewer, now=now, on="2026-09-21 15:00")


@pytest.fixture
def noticed_before_national_day(repaired_in_september, now, enterprise, department, reviewer):
    """A notice sent on Wednesday 30 September 2026 at 10:00: the period skips
    National Day (1-7 October) and counts Saturday 10 October, a make-up
    working day: 8, 9, 10, 12, 13 October, to 17:00."""
    now.move_to(at("2026-09-29 10:00"))
    import_rows(
        penalty_row(enterprise, department, number="济市监罚〔2026〕77号", day="2026-09-28")
    )
    now.move_to(at("2026-09-30 10:00"))
    review = breach_notice_issue(
        reviewer=reviewer, review=BreachReview.objects.get(), facts=NOTICE_FACTS
    )
    assert local(clock(review, "statement").due_at) == "2026-10-13 17:00"
    return review


@pytest.mark.parametrize(
    ("moment", "allowed"),
    [("2026-10-13 16:59:59", False), ("2026-10-13 17:00:00", False), ("2026-10-13 17:00:01", True)],
)
def test_no_revocation_before_the_statement_period_ends(
    client_for, noticed_before_national_day, reviewer, now, moment, allowed
):
    review = noticed_before_national_day
    now.move_to(at(moment))
    c = client_for(reviewer)
    assert ('action="' + detail(review, "confirm") + '"' in text(c.get(detail(review)))) is allowed
    response = c.post(detail(review, "confirm"), REVOKE)
    review.refresh_from_db()
    if allowed:
        assert response.status_code == 302
        assert review.status == BreachStatus.CONFIRMED
    else:
        assert response.status_code == 409
        assert "陈述申辩期限至 2026-10-13 17:00" in text(response)
        assert review.status == BreachStatus.NOTIFIED
        assert not Letter.objects.filter(kind=LetterKind.REVOCATION).exists()


@pytest.mark.parametrize(
    ("moment", "accepted"),
    [("2026-10-13 16:59:59", True), ("2026-10-13 17:00:00", True), ("2026-10-13 17:00:01", False)],
)
def test_a_statement_is_accepted_until_the_periods_end_inclusive(
    client_for, noticed_before_national_day, applicant, now, moment, accepted
):
    review = noticed_before_national_day
    now.move_to(at(moment))
    response = client_for(applicant).post(statement_url(review), {"statement": STATEMENT})
    review.refresh_from_db()
    if accepted:
        assert response.status_code == 302
        assert review.representation == STATEMENT
    else:
        assert response.status_code == 409
        assert "陈述申辩期限已于 2026-10-13 17:00 届满，不能再提交" in text(response)
        assert review.representation == "" and review.representation_at is None


def test_no_statement_in_time_then_revoked(
    client_for,
    noticed_before_national_day,
    reviewer,
    applicant,
    record,
    now,
    django_capture_on_commit_callbacks,
):
    review = noticed_before_national_day
    CreditRecord.objects.filter(pk=record.pk).update(publicity_ends_on="2027-06-30")
    now.move_to(at("2026-10-14 09:30"))
    # The applicant's page says the period is over, with no form.
    page = text(client_for(applicant).get(f"/cases/{review.case_id}/"))
    assert "陈述申辩期限已届满" in page and statement_url(review) not in page
    c = client_for(reviewer)
    assert "期限内未收到陈述申辩" in text(c.get(detail(review)))
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(detail(review, "confirm"), {**REVOKE, "reason_other": "拒不整改"})
    assert response.status_code == 302
    review.refresh_from_db()
    case = review.case
    case.refresh_from_db()
    assert review.status == BreachStatus.CONFIRMED and case.status == CaseStatus.REVOKED
    assert CreditRecord.objects.get(pk=record.pk).status == RecordStatus.PUBLISHED
    # The bar ships disabled: nobody is barred.
    assert review.barred_until is None
    letter = Letter.objects.get(kind=LetterKind.REVOCATION)
    assert letter.issuer == "济南市市场监督管理局"
    assert letter.facts["hearing"]["stated_on"] == ""
    html = render_letter_html(letter)
    assert "济市监罚〔2026〕77号" in html
    assert "在上述期限内未提出陈述申辩" in html
    assert review.notice_letter.number in html
    assert "不得再次申请信用修复" not in html
    # The statement period ended unanswered (the applicant's time, no office's
    # deadline); the department's clock ran again from its end and stopped now.
    assert clock(review, "statement").state == "cancelled"
    assert clock(review, "breach_review").state == "met"


def test_the_sweep_ends_an_unanswered_period_and_restarts_the_departments_clock(
    noticed_before_national_day, now
):
    review = noticed_before_national_day
    paused = clock(review, "breach_review")
    assert paused.state == "paused"
    now.move_to(at("2026-10-13 17:00"))
    assert monitoring_sweep().statement_periods_ended == 0
    now.move_to(at("2026-10-13 17:00:01"))
    out = io.StringIO()
    call_command("monitor_commitments", stdout=out)
    assert out.getvalue().strip() == (
        "0 breach reviews opened, 0 monitoring windows completed, "
        "1 statement periods ended unanswered"
    )
    resumed = clock(review, "breach_review")
    assert resumed.state in ("running", "breached") and resumed.due_at > paused.due_at
    assert clock(review, "statement").state == "cancelled"
    # Idempotent.
    assert monitoring_sweep().statement_periods_ended == 0


# Who may act ----------------------------------------------------------------------


def test_only_the_subjects_applicant_states_a_case(
    client_for, review, reviewer, applicant, other_applicant, officer, now
):
    # Before the notice there is nothing to answer.
    response = client_for(applicant).post(statement_url(review), {"statement": STATEMENT})
    assert response.status_code == 404
    now.move_to(at("2027-03-02 10:00"))
    breach_notice_issue(reviewer=reviewer, review=review, facts=NOTICE_FACTS)
    # Another applicant: not their case; staff: not applicants.
    assert (
        client_for(other_applicant).post(statement_url(review), {"statement": "x"}).status_code
        == 404
    )
    for user in (officer, reviewer):
        assert client_for(user).post(statement_url(review), {"statement": "x"}).status_code == 403
    with pytest.raises(PermissionDenied, match="只有该信用主体的申请人可以陈述申辩"):
        breach_statement_submit(applicant=other_applicant, review=review, text="x")
    review.refresh_from_db()
    assert review.representation_at is None

    # The applicant: once, with a clear message for anything wrong.
    c = client_for(applicant)
    response = c.post(statement_url(review), {"statement": "  "})
    assert response.status_code == 400 and "请填写陈述申辩的内容" in text(response)
    response = c.post(
        statement_url(review), {"statement": STATEMENT, "evidence": upload("x.txt", b"hello")}
    )
    assert response.status_code == 400 and "不是 PDF、JPEG 或 PNG 文件" in text(response)
    # What was typed comes back; nothing was saved.
    assert STATEMENT in text(response)
    review.refresh_from_db()
    assert review.representation_at is None and clock(review, "statement").state == "running"
    assert c.post(statement_url(review), {"statement": STATEMENT}).status_code == 302
    response = c.post(statement_url(review), {"statement": "再说一次"})
    assert response.status_code == 409 and "不能重复提交" in text(response)


def test_the_notice_needs_facts_and_comes_once(client_for, review, reviewer):
    c = client_for(reviewer)
    response = c.post(detail(review, "notice"), {"facts": " "})
    assert response.status_code == 400 and "请填写拟撤销的事实和理由" in text(response)
    assert not Letter.objects.filter(kind=LetterKind.REVOCATION_NOTICE).exists()
    assert c.post(detail(review, "notice"), {"facts": NOTICE_FACTS}).status_code == 302
    response = c.post(detail(review, "notice"), {"facts": NOTICE_FACTS})
    assert response.status_code == 409 and "不能再次告知" in text(response)
    assert Letter.objects.filter(kind=LetterKind.REVOCATION_NOTICE).count() == 1


def test_a_revocation_after_a_statement_answers_it(review, reviewer, applicant, now):
    now.move_to(at("2027-03-02 10:00"))
    breach_notice_issue(reviewer=reviewer, review=review, facts=NOTICE_FACTS)
    breach_statement_submit(applicant=applicant, review=review, text=STATEMENT)
    with pytest.raises(ValidationError, match="请填写对陈述申辩的答复"):
        breach_confirm(reviewer=reviewer, review=review, reasons=["再次受到处罚"], basis=BASIS)
    review = breach_confirm(
        reviewer=reviewer, review=review, reasons=["再次受到处罚"], basis=BASIS, answer=ANSWER
    )
    html = render_letter_html(review.letter)
    assert "你单位于2027年3月2日提出了陈述申辩" in html and ANSWER in html
    assert SISTER_NUMBER in html and "恢复公示至原公示期届满" in html


# Same kind ------------------------------------------------------------------------


def test_a_penalty_of_another_kind_is_shown_for_information_only(
    client_for, approved, now, enterprise, other_department, officer, reviewer, applicant
):
    now.move_to(at("2027-03-02 09:00"))
    # 住房和城乡建设 is not the repaired record's sector (食品药品): no review.
    import_rows(penalty_row(enterprise, other_department, number="济建罚〔2027〕5号"))
    assert not BreachReview.objects.exists()
    assert monitoring_sweep().breaches_found == 0
    for user in (officer, reviewer):
        page = text(client_for(user).get(f"/cases/{approved.pk}/work/"))
        assert "其他新增行政处罚（仅供参考）" in page and "济建罚〔2027〕5号" in page
    page = text(client_for(applicant).get(f"/cases/{approved.pk}/"))
    assert "其他新增行政处罚（仅供参考）" in page and "济建罚〔2027〕5号" in page


@pytest.mark.parametrize(
    ("same_kind", "sister", "other"),
    [("sector", True, False), ("department", False, False), ("any", True, True)],
)
def test_same_kind_is_the_policys_in_force_when_the_window_opened(
    drive,
    reviewer,
    now,
    enterprise,
    sister_department,
    other_department,
    same_kind,
    sister,
    other,
):
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    MonitoringPolicy.objects.update(same_kind=same_kind)
    now.move_to(at("2026-11-18 15:00"))
    department_review_approve(reviewer=reviewer, case=case, basis=BASIS)
    # A later change of policy does not change what this commitment covered.
    MonitoringPolicy.objects.update(same_kind="department")
    now.move_to(at("2027-03-02 09:00"))
    import_rows(
        penalty_row(enterprise, sister_department, number=SISTER_NUMBER),
        penalty_row(enterprise, other_department, number="济建罚〔2027〕5号"),
    )
    opened = set(BreachReview.objects.values_list("record__decision_number", flat=True))
    assert (SISTER_NUMBER in opened, "济建罚〔2027〕5号" in opened) == (sister, other)
    # Whoever issued it, the repairing department reviews.
    assert set(BreachReview.objects.values_list("department__code", flat=True)) <= {"SCJGJ"}


# A natural person ----------------------------------------------------------------


def test_a_natural_persons_notice_and_revocation_never_speak_of_publication(
    person_record, person, department, reviewer, now, committed
):
    holder = make_user("wangfang", Role.APPLICANT, first_name="王芳")
    SubjectBinding.objects.create(user=holder, subject=person, capacity=BindingCapacity.SELF)
    monitored_repair(
        person_record,
        applicant=holder,
        starts="2026-11-18 15:00",
        ends="2027-11-18 15:00",
        number="济信修申〔2026〕50号",
    )
    now.move_to(at("2027-03-02 09:00"))
    row = penalty_row(person, department)
    import_rows({**row, "fine_amount": "500"})
    review = BreachReview.objects.get()
    review = committed(breach_notice_issue, reviewer=reviewer, review=review, facts=NOTICE_FACTS)
    notice = render_letter_html(review.notice_letter)
    assert "公示" not in notice and "恢复作为失信信息共享" in notice
    now.move_to(at("2027-03-10 09:00"))
    review = committed(
        breach_confirm, reviewer=reviewer, review=review, reasons=["再次受到处罚"], basis=BASIS
    )
    revocation = render_letter_html(review.letter)
    assert "公示" not in revocation and "恢复作为失信信息共享" in revocation
    assert re.search(r"你在上述期限内未提出陈述申辩", revocation)


def test_enabling_the_bar_needs_its_legal_basis(client_for, administrator):
    policy = MonitoringPolicy.objects.get()
    c = client_for(administrator)
    data = {
        "effective_from": policy.effective_from.isoformat(),
        "months": "12",
        "same_kind": "sector",
        "same_kind_basis": policy.same_kind_basis,
        "bar_enabled": "on",
        "bar_years": "3",
        "bar_basis": " ",
        "unconfirmed": "on",
        "note": "",
    }
    url = f"/admin/flows/monitoringpolicy/{policy.pk}/change/"
    response = c.post(url, data)
    assert response.status_code == 200
    assert "须写明其法律依据" in text(response)
    policy.refresh_from_db()
    assert policy.bar_enabled is False
    response = c.post(url, {**data, "bar_basis": "《某市信用修复管理规定》第十二条"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.bar_enabled is True


def test_a_window_waits_for_a_review_in_its_hearing(
    approved, now, enterprise, department, reviewer
):
    from flows.monitoring.services import breach_dismiss

    now.move_to(at("2027-11-10 10:00"))
    import_rows(penalty_row(enterprise, department, day="2027-11-09"))
    review = breach_notice_issue(
        reviewer=reviewer, review=BreachReview.objects.get(), facts=NOTICE_FACTS
    )
    # The window ended on 18 November 15:00; the review is still being heard.
    now.move_to(at("2027-11-20 10:00"))
    assert monitoring_sweep().windows_completed == 0
    assert MonitoringWindow.objects.get(case=approved).status == "open"
    breach_dismiss(reviewer=reviewer, review=review, reasons=["违法行为发生在作出信用承诺之前"])
    approved.refresh_from_db()
    assert MonitoringWindow.objects.get(case=approved).status == "completed"
    assert approved.status == CaseStatus.COMPLETED
