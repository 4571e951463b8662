"""Post-repair monitoring (flows/monitoring/services.py): the window around its end,
breaches found by the import and by the sweep, confirm and dismiss with the
refused personas, the bar on new repairs, an idempotent sweep."""

import datetime as dt
import io
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from flows.models import (
    BreachReview,
    BreachStatus,
    CaseEvent,
    CaseStatus,
    MonitoringPolicy,
    MonitoringWindow,
    RepairCase,
)
from flows.monitoring.services import (
    breach_confirm,
    breach_dismiss,
    breach_notice_issue,
    false_materials_report,
    monitoring_sweep,
)
from flows.repair.services import department_review_approve, repair_case_draft_save
from letters.models import Letter, LetterKind, OutboundMessage
from records.models import CreditRecord, DepartmentMembership, RecordStatus, SyncEvent
from repair_flow.audit import AuditEvent
from sla.models import SlaClock
from tests.conftest import make_record, make_user
from tests.flows.conftest import (
    ANSWER,
    BASIS,
    NOTICE_FACTS,
    at,
    hear,
    import_rows,
    local,
    monitored_repair,
    penalty_row,
    revoke,
    upload,
)


def reviews():
    return list(
        BreachReview.objects.order_by("id").values_list(
            "record__decision_number", "department__code", "found_via", "status"
        )
    )


def test_window_is_open_until_its_end_instant_and_completes_at_it(approved, now, applicant):
    window = approved.monitoring
    assert (window.starts_on, window.ends_on) == (dt.date(2026, 11, 18), dt.date(2027, 11, 18))

    now.move_to(at("2027-11-18 14:59:59"))
    assert str(monitoring_sweep()) == "0 breach reviews opened, 0 monitoring windows completed"
    window.refresh_from_db()
    assert window.status == "open"

    now.move_to(at("2027-11-18 15:00"))
    assert monitoring_sweep().windows_completed == 1
    window.refresh_from_db()
    approved.refresh_from_db()
    assert (window.status, local(window.closed_at)) == ("completed", "2027-11-18 15:00")
    assert approved.status == CaseStatus.COMPLETED
    event = CaseEvent.objects.filter(case=approved).last()
    assert (event.action, event.from_status, event.to_status) == (
        "complete",
        "approved",
        "completed",
    )
    mail = OutboundMessage.objects.get(idempotency_key=f"monitoring:{approved.pk}:completed")
    assert mail.to == "zhangwei@example.com"
    assert "2027-11-18" in mail.body and approved.number in mail.subject

    # Idempotent: a second run (a second minute later) finds nothing to do.
    now.move_to(at("2027-11-18 15:00:01"))
    assert monitoring_sweep().windows_completed == 0
    assert OutboundMessage.objects.filter(idempotency_key__startswith="monitoring:").count() == 1


def test_new_penalty_of_the_same_kind_opens_a_review_for_the_repairing_department_at_once(
    approved, now, enterprise, department, sister_department
):
    now.move_to(at("2027-03-02 09:00"))
    result = import_rows(
        # Another department of the repaired record's sector (食品药品): the same kind.
        penalty_row(enterprise, sister_department, number="济药罚〔2027〕5号", day="2027-03-01"),
        # Decided before the repair: not a breach of this commitment.
        penalty_row(enterprise, department, number="济市监罚〔2026〕88号", day="2026-11-17"),
    )
    assert result.created == 2
    # The review belongs to the department that made the repair decision.
    assert reviews() == [("济药罚〔2027〕5号", department.code, "import", "open")]
    review = BreachReview.objects.get()
    assert (review.case, review.subject, review.window) == (
        approved,
        enterprise,
        approved.monitoring,
    )
    assert review.record.department == sister_department
    clock = SlaClock.objects.get(stage="breach_review")
    assert (clock.case_id, clock.department_id) == (review.pk, department.pk)
    # 10 working days from Tuesday 2 March 2027.
    assert local(clock.due_at) == "2027-03-16 17:00"
    event = CaseEvent.objects.filter(case=approved).last()
    assert event.action == "breach_review_opened" and "济药罚〔2027〕5号" in event.comment
    assert department.name in event.comment and sister_department.name in event.comment

    # The same rows again, and the sweep: nothing new.
    import_rows(
        penalty_row(enterprise, sister_department, number="济药罚〔2027〕5号", day="2027-03-01")
    )
    assert monitoring_sweep().breaches_found == 0
    assert BreachReview.objects.count() == 1


@pytest.mark.parametrize(
    ("day", "opened"),
    [("2026-11-17", False), ("2026-11-18", True), ("2027-11-18", True)],
)
def test_penalty_decided_on_each_edge_of_the_window(
    approved, now, enterprise, department, day, opened
):
    now.move_to(at("2027-11-18 14:00"))
    import_rows(penalty_row(enterprise, department, day=day))
    assert BreachReview.objects.exists() is opened


def test_sweep_catches_a_penalty_the_event_path_missed(approved, now, enterprise, department):
    now.move_to(at("2027-02-01 10:00"))
    # A record written by another path (the admin, a correction): no signal.
    missed = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2027〕1号",
        decision_date=dt.date(2027, 1, 20),
    )
    assert not BreachReview.objects.exists()
    out = io.StringIO()
    call_command("monitor_commitments", stdout=out)
    assert out.getvalue().strip() == "1 breach reviews opened, 0 monitoring windows completed"
    assert reviews() == [(missed.decision_number, department.code, "sweep", "open")]
    out = io.StringIO()
    call_command("monitor_commitments", stdout=out)
    assert out.getvalue().strip() == "0 breach reviews opened, 0 monitoring windows completed"


def test_window_with_a_review_pending_waits_for_the_decision(
    approved, now, enterprise, department, reviewer
):
    now.move_to(at("2027-11-10 10:00"))
    import_rows(penalty_row(enterprise, department, day="2027-11-09"))
    now.move_to(at("2027-11-20 10:00"))
    assert monitoring_sweep().windows_completed == 0
    assert approved.monitoring.status == "open"

    breach_dismiss(
        reviewer=reviewer,
        review=BreachReview.objects.get(),
        reasons=["违法行为发生在作出信用承诺之前"],
    )
    window = MonitoringWindow.objects.get()
    approved.refresh_from_db()
    # The window had ended: the dismissal completes it at once.
    assert (window.status, approved.status) == ("completed", CaseStatus.COMPLETED)
    keys = set(OutboundMessage.objects.values_list("idempotency_key", flat=True))
    review = BreachReview.objects.get()
    assert {f"breach_review:{review.pk}:dismissed", f"monitoring:{approved.pk}:completed"} <= keys


def test_late_penalty_after_the_window_completed_still_opens_a_review(
    approved, now, enterprise, department
):
    now.move_to(at("2027-11-19 09:00"))
    monitoring_sweep()
    assert MonitoringWindow.objects.get().status == "completed"
    now.move_to(at("2027-11-25 09:00"))
    import_rows(penalty_row(enterprise, department, day="2027-11-17"))
    assert reviews() == [("济市监罚〔2027〕3号", department.code, "import", "open")]


@pytest.mark.parametrize(
    ("ends_on", "republished"),
    # Published again for the rest of its period; not at all if it is over.
    [("2027-03-03", RecordStatus.PUBLISHED), ("2027-03-02", RecordStatus.EXPIRED)],
)
def test_confirm_revokes_republishes_bars_and_tells(
    approved,
    now,
    enterprise,
    department,
    reviewer,
    record,
    committed,
    applicant,
    bar_enabled,
    ends_on,
    republished,
):
    CreditRecord.objects.filter(pk=record.pk).update(publicity_ends_on=ends_on)
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, department))
    review = BreachReview.objects.get()
    now.move_to(at("2027-03-03 10:00"))
    review = committed(hear, review, reviewer=reviewer)
    review = committed(
        breach_confirm,
        reviewer=reviewer,
        review=review,
        reasons=["在信用修复承诺履约监管期内再次受到行政处罚"],
        basis="《信用修复管理办法》第十五条",
        answer=ANSWER,
    )
    assert review.status == BreachStatus.CONFIRMED
    assert review.barred_until == dt.date(2030, 3, 2)
    approved.refresh_from_db()
    record.refresh_from_db()
    assert approved.status == CaseStatus.REVOKED
    assert record.status == republished
    assert MonitoringWindow.objects.get().status == "breached"
    letter = Letter.objects.get(kind=LetterKind.REVOCATION)
    assert review.letter == letter and letter.recipient == applicant
    # The applicant is told: the letter goes by email once rendered.
    told = OutboundMessage.objects.get(letter=letter)
    assert told.to == "zhangwei@example.com" and told.status == "sent"
    assert letter.facts["barred_until"] == "2030-03-02"
    assert letter.facts["repaired_on"] == "2026-11-18"
    assert letter.facts["trigger"]["penalty"]["decision_number"] == "济市监罚〔2027〕3号"
    assert letter.facts["hearing"]["answer"] == ANSWER
    assert letter.facts["repair_number"] == approved.decision_letter.number
    event = SyncEvent.objects.get(kind="republished")
    assert event.record == record and event.payload["reference"]["letter_number"] == letter.number
    assert SlaClock.objects.get(stage="breach_review").state == "met"
    assert AuditEvent.objects.filter(action="flows.breach_review.confirm").exists()

    # The bar: the same subject may not file for another record until it ends.
    other = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2025〕2号",
        decision_date=dt.date(2026, 6, 1),
    )
    with pytest.raises(ValidationError, match="至 2030-03-02（含当日）不得申请信用修复"):
        repair_case_draft_save(
            applicant=applicant, record=other, details="", capacity="legal_representative"
        )


def test_without_an_enabled_bar_a_revocation_bars_nobody(
    approved, now, enterprise, department, reviewer, applicant
):
    # NDRC Order 36 Art. 2: the bar ships disabled, so a revocation refuses no new filing.
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, department))
    review = revoke(
        reviewer=reviewer,
        review=BreachReview.objects.get(),
        reasons=["再次受到行政处罚"],
        basis=BASIS,
    )
    assert review.barred_until is None
    assert "barred_until" not in review.letter.facts
    other = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2025〕2号",
        decision_date=dt.date(2026, 6, 1),
    )
    case = repair_case_draft_save(
        applicant=applicant, record=other, details="", capacity="legal_representative"
    )
    assert case.status == CaseStatus.DRAFT


def test_bar_ends_after_its_last_day(
    approved, now, enterprise, department, reviewer, applicant, repeat_limits_enabled, bar_enabled
):
    MonitoringPolicy.objects.update(bar_years=1)
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, department))
    revoke(
        reviewer=reviewer,
        review=BreachReview.objects.get(),
        reasons=["再次受到行政处罚"],
        basis=BASIS,
    )
    other = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2025〕2号",
        decision_date=dt.date(2027, 6, 1),
    )
    now.move_to(at("2028-03-01 23:59"))
    with pytest.raises(ValidationError, match="至 2028-03-01（含当日）不得申请"):
        repair_case_draft_save(
            applicant=applicant, record=other, details="", capacity="legal_representative"
        )
    now.move_to(at("2028-03-02 00:00"))
    # The bar is over; the repeat limits (one year since the last repair) are not.
    with pytest.raises(ValidationError) as refused:
        repair_case_draft_save(
            applicant=applicant, record=other, details="", capacity="legal_representative"
        )
    assert "不得申请信用修复" not in str(refused.value)


def test_a_bar_decided_after_filing_refuses_only_later_filings(
    drive, now, enterprise, department, other_department, reviewer, other_reviewer, bar_enabled
):
    # A case already in review when another repair of the subject is revoked:
    # judged by the bars in force when it was filed (domain section 3), it is
    # approved; a filing after the revocation is refused.
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    first = make_record(
        department=other_department,
        subject=enterprise,
        decision_number="济建罚〔2024〕1号",
        decision_date=dt.date(2024, 1, 10),
        penalty_types=("warning",),
        fine_amount=None,
    )
    monitored_repair(
        first,
        applicant=case.applicant,
        starts="2025-01-10 10:00",
        ends="2026-12-10 10:00",
        number="济信修申〔2025〕9号",
    )
    import_rows(
        penalty_row(enterprise, other_department, number="济建罚〔2026〕50号", day="2026-11-02")
    )
    revoke(
        reviewer=other_reviewer,
        review=BreachReview.objects.get(),
        reasons=["再次受到行政处罚"],
        basis=BASIS,
    )
    case = department_review_approve(reviewer=reviewer, case=case, basis=BASIS)
    assert case.status == CaseStatus.APPROVED
    later = make_record(
        department=department, subject=enterprise, decision_number="济市监罚〔2026〕60号"
    )
    with pytest.raises(ValidationError, match="至 2029-11-15（含当日）不得申请信用修复"):
        repair_case_draft_save(
            applicant=case.applicant, record=later, details="", capacity="legal_representative"
        )


@pytest.mark.parametrize(
    "persona", ["applicant", "officer", "supervisor", "other_reviewer", "sister_reviewer"]
)
def test_only_the_repairing_departments_reviewers_notify_and_decide(
    request, persona, approved, now, enterprise, department, sister_department, reviewer
):
    """The new penalty's department (sister_reviewer) is informed, never deciding."""
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, sister_department, number="济药罚〔2027〕5号"))
    review = BreachReview.objects.get()
    user = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied, match="作出信用修复决定的济南市市场监督管理局"):
        breach_notice_issue(reviewer=user, review=review, facts=NOTICE_FACTS)
    review = breach_notice_issue(reviewer=reviewer, review=review, facts=NOTICE_FACTS)
    before = (Letter.objects.count(), CaseEvent.objects.count(), SyncEvent.objects.count())
    now.move_to(at("2027-04-01 09:00"))
    for decide in (breach_confirm, breach_dismiss):
        with pytest.raises(PermissionDenied):
            decide(reviewer=user, review=review, reasons=["理由"], basis=BASIS)
    review.refresh_from_db()
    assert review.status == BreachStatus.NOTIFIED
    assert (Letter.objects.count(), CaseEvent.objects.count(), SyncEvent.objects.count()) == before


def test_decision_needs_reasons_and_is_made_once(approved, now, enterprise, department, reviewer):
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, department))
    review = hear(BreachReview.objects.get(), reviewer=reviewer)
    with pytest.raises(ValidationError, match="请填写理由"):
        breach_confirm(reviewer=reviewer, review=review, reasons=["  "], basis=BASIS)
    with pytest.raises(ValidationError, match="请填写撤销依据"):
        breach_confirm(reviewer=reviewer, review=review, reasons=["再次受到行政处罚"], basis=" ")
    with pytest.raises(ValidationError, match="请填写对陈述申辩的答复"):
        breach_confirm(reviewer=reviewer, review=review, reasons=["再次受到行政处罚"], basis=BASIS)
    assert BreachReview.objects.get().status == BreachStatus.NOTIFIED
    breach_dismiss(reviewer=reviewer, review=review, reasons=["违法行为发生在作出信用承诺之前"])
    with pytest.raises(ValidationError, match="已办结"):
        breach_confirm(reviewer=reviewer, review=review, reasons=["再次受到行政处罚"], basis=BASIS)
    approved.refresh_from_db()
    assert approved.status == CaseStatus.APPROVED


def test_officer_reports_false_materials_with_evidence(approved, now, officer, reviewer, applicant):
    now.move_to(at("2027-01-05 10:00"))
    with pytest.raises(ValidationError, match="请上传证明材料不实的证据"):
        false_materials_report(
            officer=officer, case=approved, statement="缴款凭证系伪造", evidence=None
        )
    with pytest.raises(ValidationError, match="不是 PDF"):
        false_materials_report(
            officer=officer,
            case=approved,
            statement="缴款凭证系伪造",
            evidence=upload("x.txt", b"hello"),
        )
    with pytest.raises(PermissionDenied):
        false_materials_report(
            officer=applicant,
            case=approved,
            statement="缴款凭证系伪造",
            evidence=upload("核查.pdf"),
        )
    assert not BreachReview.objects.exists()
    review = false_materials_report(
        officer=officer, case=approved, statement="缴款凭证系伪造", evidence=upload("核查.pdf")
    )
    assert (review.source, review.found_via, review.department) == (
        "false_materials",
        "report",
        approved.record.department,
    )
    assert review.evidence.kind == "false_material_evidence" and review.reported_by == officer
    with pytest.raises(ValidationError, match="已有正在核查的材料不实报告"):
        false_materials_report(
            officer=officer, case=approved, statement="又一份", evidence=upload("核查2.pdf")
        )
    revoke(
        reviewer=reviewer, review=review, reasons=["申请信用修复时提交的材料不真实"], basis=BASIS
    )
    approved.refresh_from_db()
    assert approved.status == CaseStatus.REVOKED


def test_confirming_one_review_supersedes_the_windows_others(
    approved, now, enterprise, department, sister_department, reviewer
):
    now.move_to(at("2027-03-02 09:00"))
    import_rows(
        penalty_row(enterprise, department),
        penalty_row(enterprise, sister_department, number="济药罚〔2027〕5号"),
    )
    mine = BreachReview.objects.get(record__department=department)
    other = BreachReview.objects.get(record__department=sister_department)
    # The other is heard too: its notice and statement period end with it.
    breach_notice_issue(reviewer=reviewer, review=other, facts=NOTICE_FACTS)
    revoke(reviewer=reviewer, review=mine, reasons=["再次受到行政处罚"], basis=BASIS)
    other.refresh_from_db()
    assert other.status == BreachStatus.SUPERSEDED
    assert SlaClock.objects.get(case_id=other.pk, stage="statement").state == "cancelled"
    assert SlaClock.objects.get(case_id=other.pk, stage="breach_review").state == "cancelled"


def test_import_through_the_api_opens_a_review(approved, now, enterprise, department, client):
    now.move_to(at("2027-03-02 09:00"))
    # The department's system pushes its penalties over the API.
    pusher = make_user("pusher", "integration")
    DepartmentMembership.objects.create(user=pusher, department=department)
    client.force_login(pusher)
    response = client.post(
        "/api/v1/records/",
        data=json.dumps([penalty_row(enterprise, department)]),
        content_type="application/json",
    )
    assert response.status_code in (200, 201), response.content
    assert reviews() == [("济市监罚〔2027〕3号", department.code, "import", "open")]
    assert CreditRecord.objects.filter(decision_number="济市监罚〔2027〕3号").exists()


def test_a_basis_longer_than_the_field_is_refused_whole(
    approved, now, enterprise, department, reviewer
):
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, department))
    review = hear(BreachReview.objects.get(), reviewer=reviewer)
    for decide in (breach_confirm, breach_dismiss):
        with pytest.raises(ValidationError, match="依据不能超过 300 个字（现为 301 个字）"):
            decide(reviewer=reviewer, review=review, reasons=["理由"], basis="据" * 301)
    assert BreachReview.objects.get().status == BreachStatus.NOTIFIED


def test_a_repair_approved_before_monitoring_cannot_be_reported_here(approved, officer):
    MonitoringWindow.objects.all().delete()
    with pytest.raises(ValidationError, match="没有履约监管记录"):
        false_materials_report(
            officer=officer, case=approved, statement="缴款凭证系伪造", evidence=upload("核查.pdf")
        )
    assert not BreachReview.objects.exists()


@pytest.fixture
def repaired_in_september(now, applicant, record, officer, reviewer):
    """A repair approved on Monday 21 September 2026, before National Day."""
    from tests.flows.conftest import approve_repair, draft_with_materials

    now.move_to(at("2026-09-21 09:00"))
    case = draft_with_materials(applicant, record)
    return approve_repair(case, officer=officer, reviewer=reviewer, now=now, on="2026-09-21 15:00")


@pytest.mark.parametrize(
    ("opened", "due"),
    [
        # The opening day does not count; National Day (1-7 Oct) is skipped and
        # Saturday 10 October, a make-up working day, counts: 8, 9, 10, 12-16,
        # 19, 20 October.
        ("2026-09-30 10:00", "2026-10-20 17:00"),
        # Opened on the make-up Saturday itself: 12-16, 19-23 October.
        ("2026-10-10 11:00", "2026-10-23 17:00"),
    ],
)
def test_the_breach_review_is_due_on_the_official_calendar(
    repaired_in_september, now, enterprise, department, supervisor, opened, due
):
    from sla.models import ClockState, Notification, NotificationKind
    from sla.sweep import clocks_sweep

    now.move_to(at(opened))
    import_rows(penalty_row(enterprise, department, day=opened[:10]))
    review = BreachReview.objects.get()
    clock = SlaClock.objects.get(stage="breach_review", case_id=review.pk)
    assert local(clock.due_at) == due
    # Just before the deadline: running, nobody escalated.
    clocks_sweep(now=clock.due_at - dt.timedelta(seconds=1))
    clock.refresh_from_db()
    assert clock.state == ClockState.RUNNING
    escalations = Notification.objects.filter(kind=NotificationKind.ESCALATION, clock=clock)
    assert not escalations.exists()
    # At it (the SLA sweep counts the instant as reached) and just after: breached,
    # escalated to the supervisors.
    clocks_sweep(now=clock.due_at)
    clock.refresh_from_db()
    assert clock.state == ClockState.BREACHED
    clocks_sweep(now=clock.due_at + dt.timedelta(seconds=1))
    escalation = escalations.get(user=supervisor)
    assert review.case.number in escalation.headline and "履约核查" in escalation.headline


def test_the_sweep_completes_windows_in_batches_and_reports_them(
    approved, now, second_record, applicant
):

    # Four more windows of the same subject, all ended by the sweep's time.
    for i in range(4):
        monitored_repair(
            second_record,
            applicant=applicant,
            starts="2026-11-18 15:00",
            ends=f"2027-11-{17 - i} 15:00",
            number=f"济信修申〔2026〕{90 + i}号",
        )
    now.move_to(at("2027-11-18 15:00"))
    out = io.StringIO()
    call_command("monitor_commitments", "--batch-size", "2", stdout=out)
    assert out.getvalue().strip() == "0 breach reviews opened, 5 monitoring windows completed"
    assert not MonitoringWindow.objects.filter(status="open").exists()
    assert RepairCase.objects.filter(status=CaseStatus.COMPLETED).count() == 5


def test_the_command_refuses_a_batch_size_below_one(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("monitor_commitments", "--batch-size", "0")


def test_the_sweep_runs_hourly_from_the_scheduler_and_celery_beat(approved, now, settings):
    from flows.tasks import monitor_commitments
    from repair_flow.scheduler import JOBS, run_job

    job = next(j for j in JOBS if j.name == "flows-monitor-commitments")
    entry = settings.CELERY_BEAT_SCHEDULE["flows-monitor-commitments"]
    assert (job.every_seconds, entry["task"], entry["schedule"]) == (
        3600,
        "flows.monitor_commitments",
        3600.0,
    )
    now.move_to(at("2027-11-18 14:59"))
    assert run_job(job) == "0 breach reviews opened, 0 monitoring windows completed"
    now.move_to(at("2027-11-18 15:00"))
    assert monitor_commitments.apply().get() == (
        "0 breach reviews opened, 1 monitoring windows completed"
    )
    approved.refresh_from_db()
    assert approved.status == CaseStatus.COMPLETED
