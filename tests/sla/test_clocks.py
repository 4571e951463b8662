"""The one small interface cases use: clock_start / pause / resume / stop / assign.

A CreditRecord stands in for the case models (they arrive in a later issue).
Clocks run on the official calendar the migrations load (2004-2026) and the
default policies (shared domain reference section 5).
"""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import IntegrityError, connection, connections, transaction

from repair_flow.audit import verify_chain
from repair_flow.models import AuditEvent
from sla.clocks import (
    SlaError,
    clock_assign,
    clock_pause,
    clock_resume,
    clock_start,
    clock_stop,
    clocks_for,
)
from sla.models import ClockState, SlaClock, SlaPause, SlaPolicy, Stage
from tests.conftest import make_record

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
H = 3600
SECOND = dt.timedelta(seconds=1)
REVIEW = Stage.DEPARTMENT_REVIEW  # 5 working days


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).replace(tzinfo=SHANGHAI)


def local(instant: dt.datetime) -> str:
    return instant.astimezone(SHANGHAI).isoformat(sep=" ", timespec="seconds")[:-6]


@pytest.fixture
def start(record, officer):
    """`start(when, stage=REVIEW, case=record)`: a clock started by the officer."""

    def run(when: str, stage: str = REVIEW, case=None, **kwargs):
        case = case or record
        return clock_start(
            case=case,
            stage=stage,
            actor=officer,
            at=at(when),
            department=case.department,
            **kwargs,
        )

    return run


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


# Starting ---------------------------------------------------------------------------


def test_starting_a_clock_stores_its_points(start, record, officer, department):
    clock = start("2026-09-28 10:00")
    clock.refresh_from_db()
    assert clock.state == ClockState.RUNNING
    assert clock.case_id == record.pk and clock.case_label == "济市监罚〔2026〕1号"
    assert clock.department == department
    assert clock.policy.n == 5
    assert local(clock.due_at) == "2026-10-10 17:00:00"
    assert local(clock.warn1_at) == "2026-10-08 13:00:00"
    assert local(clock.warn2_at) == "2026-10-09 15:00:00"
    assert clock.next_check_at == clock.warn1_at
    assert clock.total_seconds == 40 * H
    assert clock.provisional is False
    (event,) = events("sla.start")
    assert event.actor == officer
    assert (event.object_type, event.object_id) == ("sla.SlaClock", str(clock.pk))
    assert event.summary["due_at"] == "2026-10-10T17:00:00+08:00"
    assert event.summary["stage"] == "department_review"
    assert event.summary["provisional"] is False


def test_the_case_may_name_itself_and_its_department(record, officer, other_department):
    record.sla_label = "信用修复 XY-2026-0001"
    record.sla_department = other_department
    clock = clock_start(case=record, stage=REVIEW, actor=officer, at=at("2026-09-28 10:00"))
    assert clock.case_label == "信用修复 XY-2026-0001"
    assert clock.department == other_department


def test_a_second_start_of_the_same_stage_is_refused(start, record):
    first = start("2026-09-28 10:00")
    with pytest.raises(SlaError, match="该案件的“认定单位审核”已在计时中"):
        start("2026-09-28 11:00")
    assert list(clocks_for(record)) == [first]
    assert len(events("sla.start")) == 1


def test_a_task_stage_is_refused_while_another_runs_and_the_refusal_names_it(start, record):
    first = start("2026-09-28 10:00", stage=Stage.PRELIMINARY_REVIEW)
    with pytest.raises(SlaError, match="该案件的“初审”仍在计时中，须先结束才能开始“认定单位审核”"):
        start("2026-09-28 11:00")
    assert list(clocks_for(record)) == [first]


def test_a_start_that_loses_a_race_names_the_clock_that_won(start, record, monkeypatch):
    """Another request starts its clock between this one's check and its
    insert: the constraint refuses the insert, and the refusal names the
    clock that is open, as the check would have."""
    import sla.clocks

    first = start("2026-09-28 10:00", stage=Stage.PRELIMINARY_REVIEW)
    checks = []
    check = sla.clocks.in_the_way

    def after_the_other_request(case, stage):
        checks.append(stage)
        if len(checks) > 1:  # the check made after the constraint refused the insert
            check(case, stage)

    monkeypatch.setattr(sla.clocks, "in_the_way", after_the_other_request)
    with pytest.raises(SlaError, match="该案件的“初审”仍在计时中"):
        start("2026-09-28 11:00")
    assert len(checks) == 2
    assert list(clocks_for(record)) == [first]


def test_a_start_that_fails_after_its_insert_leaves_no_clock(start, record, monkeypatch):
    """One transaction: the audit event is part of the start, so a start
    whose audit cannot be written leaves nothing behind."""
    import sla.clocks

    def unwritable(**event):
        raise RuntimeError("the audit trail refused the event")

    monkeypatch.setattr(sla.clocks, "audit_record", unwritable)
    with pytest.raises(RuntimeError, match="refused"):
        start("2026-09-28 10:00")
    assert not clocks_for(record).exists()


def test_other_stages_and_other_cases_run_side_by_side(start, department, enterprise):
    start("2026-09-28 10:00")
    start("2026-09-28 10:00", stage=Stage.WHOLE_DECISION)
    other = make_record(
        department=department, subject=enterprise, decision_number="济市监罚〔2026〕2号"
    )
    start("2026-09-28 10:00", case=other)
    assert SlaClock.objects.filter(stopped_at=None).count() == 3


def test_a_stage_may_run_again_after_it_stopped(start, record, officer):
    start("2026-09-28 10:00")
    clock_stop(case=record, stage=REVIEW, actor=officer, at=at("2026-09-29 10:00"))
    again = start("2026-10-09 10:00")
    assert local(again.due_at) == "2026-10-15 17:00:00"  # Sat 10 Oct is a make-up day
    assert clocks_for(record).count() == 2


def test_the_database_allows_one_open_clock_per_case_and_stage(start):
    clock = start("2026-09-28 10:00")
    duplicate = SlaClock.objects.get(pk=clock.pk)
    duplicate.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    # A stopped one is history and does not count.
    duplicate.stopped_at = duplicate.started_at
    duplicate.state = ClockState.CANCELLED
    duplicate.save()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_starts_make_one_clock(officer, department, enterprise):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    records = [
        make_record(
            department=department, subject=enterprise, decision_number=f"济市监罚〔2026〕{n}号"
        )
        for n in range(1, 6)
    ]
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def starter(case):
        try:
            barrier.wait()
            clock_start(case=case, stage=REVIEW, actor=officer, at=at("2026-09-28 10:00"))
            outcomes.append("started")
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    for case in records:
        threads = [threading.Thread(target=starter, args=(case,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert outcomes.count("started") == 5
    refused = [o for o in outcomes if o != "started"]
    assert len(refused) == 5
    assert all(isinstance(o, SlaError) for o in refused), refused
    assert SlaClock.objects.count() == 5
    assert verify_chain().broken_at is None


def test_the_policy_in_force_on_the_start_date_applies(start, department, enterprise):
    SlaPolicy.objects.create(
        stage=REVIEW,
        rule="working_days",
        n=3,
        legal_basis="测试：新规则",
        effective_from=dt.date(2026, 10, 8),
    )
    other = make_record(
        department=department, subject=enterprise, decision_number="济市监罚〔2026〕2号"
    )
    assert start("2026-10-07 23:59").policy.n == 5
    assert start("2026-10-08 00:00", case=other).policy.n == 3


def test_a_clock_keeps_the_policy_it_started_under(start, record, officer):
    old = start("2026-09-28 10:00")
    SlaPolicy.objects.create(
        stage=REVIEW,
        rule="working_days",
        n=3,
        legal_basis="测试",
        effective_from=dt.date(2026, 9, 29),
    )
    clock_stop(case=record, stage=REVIEW, actor=officer, at=at("2026-09-29 10:00"))
    new = start("2026-09-29 11:00")
    assert (old.policy.n, new.policy.n) == (5, 3)
    assert local(new.due_at) == "2026-10-09 17:00:00"


def test_a_stage_without_a_policy_in_force_is_refused(start):
    SlaPolicy.objects.filter(stage=REVIEW).update(effective_to=dt.date(2026, 1, 1))
    with pytest.raises(SlaError, match="没有生效的时限规则"):
        start("2026-09-28 10:00")
    assert not SlaClock.objects.exists()


def test_naive_times_are_refused(record, officer):
    with pytest.raises(SlaError, match="timezone-aware"):
        clock_start(case=record, stage=REVIEW, actor=officer, at=dt.datetime(2026, 9, 28, 10))


def test_a_clock_runs_in_the_callers_transaction(record, officer):
    with pytest.raises(RuntimeError), transaction.atomic():
        clock_start(case=record, stage=REVIEW, actor=officer, at=at("2026-09-28 10:00"))
        raise RuntimeError("the case's own change failed")
    assert not SlaClock.objects.exists()
    assert events("sla.start") == []


# Pausing and resuming ----------------------------------------------------------------


def test_pausing_needs_a_reason(start, record, officer):
    start("2026-09-28 10:00")
    for reason in ("", "   ", None):
        with pytest.raises(SlaError, match="暂停计时须说明原因"):
            clock_pause(case=record, stage=REVIEW, reason=reason, actor=officer)
    clock = SlaClock.objects.get()
    assert clock.state == ClockState.RUNNING
    assert not SlaPause.objects.exists()
    assert events("sla.pause") == []


def test_a_pause_across_national_day_pushes_the_deadline(start, record, officer):
    start("2026-09-28 10:00")
    clock = clock_pause(
        case=record,
        stage=REVIEW,
        reason="等待申请人补正材料",
        actor=officer,
        at=at("2026-09-29 14:00"),
    )
    clock.refresh_from_db()
    assert clock.state == ClockState.PAUSED
    assert clock.paused_at == at("2026-09-29 14:00")
    assert clock.next_check_at is None  # the sweep leaves paused clocks alone
    assert clock.remaining_seconds == 35 * H  # 3 h + four whole days
    assert local(clock.due_at) == "2026-10-10 17:00:00"  # kept while paused
    (pause,) = clock.pauses.all()
    assert (pause.reason, pause.ended_at) == ("等待申请人补正材料", None)

    clock = clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-10-09 10:00"))
    clock.refresh_from_db()
    assert clock.state == ClockState.RUNNING
    assert (clock.paused_at, clock.remaining_seconds) == (None, None)
    assert local(clock.due_at) == "2026-10-14 13:00:00"
    assert local(clock.warn1_at) == "2026-10-10 17:00:00"
    assert local(clock.warn2_at) == "2026-10-13 11:00:00"
    assert clock.next_check_at == clock.warn1_at
    pause.refresh_from_db()
    assert (pause.ended_at, pause.paused_seconds) == (at("2026-10-09 10:00"), 20 * H)

    (paused,) = events("sla.pause")
    assert paused.summary["reason"] == "等待申请人补正材料"
    assert paused.summary["remaining_seconds"] == 35 * H
    (resumed,) = events("sla.resume")
    assert resumed.summary["old_due_at"] == "2026-10-10T17:00:00+08:00"
    assert resumed.summary["due_at"] == "2026-10-14T13:00:00+08:00"
    assert resumed.summary["paused_seconds"] == 20 * H


def test_several_pauses_each_push_the_deadline(start, record, officer):
    start("2026-09-28 10:00")
    for paused, resumed in (
        ("2026-09-29 10:00", "2026-09-29 11:00"),
        ("2026-09-30 16:00", "2026-10-08 10:00"),
        ("2026-10-12 10:00", "2026-10-12 11:30"),
    ):
        clock_pause(case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at(paused))
        clock = clock_resume(case=record, stage=REVIEW, actor=officer, at=at(resumed))
    # 1 h + 2 h + 1.5 h = 4.5 h after Sat 10 Oct 17:00: Mon 12 Oct 13:30.
    # (The last pause began at 10:00, before the 12:00 the first two had left.)
    assert [p.paused_seconds for p in clock.pauses.all()] == [H, 2 * H, int(1.5 * H)]
    assert local(clock.due_at) == "2026-10-12 13:30:00"


def test_a_pause_on_the_day_of_receipt_moves_nothing(start, record, officer):
    start("2026-09-28 10:00")
    clock_pause(
        case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at("2026-09-28 14:00")
    )
    clock = SlaClock.objects.get()
    assert clock.remaining_seconds == 40 * H  # the period had not begun
    clock = clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-09-28 16:00"))
    assert local(clock.due_at) == "2026-10-10 17:00:00"
    assert clock.pauses.get().paused_seconds == 0


def test_pause_and_resume_refuse_the_wrong_state(start, record, officer):
    start("2026-09-28 10:00")
    with pytest.raises(SlaError, match="计时未暂停"):
        clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-09-29 10:00"))
    clock_pause(
        case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at("2026-09-29 10:00")
    )
    with pytest.raises(SlaError, match="计时已暂停"):
        clock_pause(
            case=record, stage=REVIEW, reason="再次", actor=officer, at=at("2026-09-29 11:00")
        )
    with pytest.raises(SlaError, match="恢复时间不能早于暂停时间"):
        clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-09-29 09:59"))
    assert SlaPause.objects.count() == 1


def test_pauses_may_not_reach_back_before_the_start_or_the_last_resume(start, record, officer):
    start("2026-09-28 10:00")
    with pytest.raises(SlaError, match="暂停时间不能早于开始计时的时间"):
        clock_pause(
            case=record, stage=REVIEW, reason="补正", actor=officer, at=at("2026-09-28 09:59")
        )
    clock_pause(case=record, stage=REVIEW, reason="补正", actor=officer, at=at("2026-09-29 10:00"))
    clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-09-29 12:00"))
    with pytest.raises(SlaError, match="暂停时间不能早于上一次恢复计时的时间"):
        clock_pause(
            case=record, stage=REVIEW, reason="补正", actor=officer, at=at("2026-09-29 11:00")
        )


def test_calls_on_a_case_without_that_clock_are_refused(record, officer):
    for call in (
        lambda: clock_pause(case=record, stage=REVIEW, reason="补正", actor=officer),
        lambda: clock_resume(case=record, stage=REVIEW, actor=officer),
        lambda: clock_stop(case=record, stage=REVIEW, actor=officer),
        lambda: clock_assign(case=record, stage=REVIEW, assignee=officer, actor=officer),
    ):
        with pytest.raises(SlaError, match="没有进行中的“department_review”计时"):
            call()


def test_a_breached_clock_paused_and_resumed_stays_breached(start, record, officer):
    clock = start("2026-09-28 10:00")
    # What the sweep does at the deadline.
    SlaClock.objects.filter(pk=clock.pk).update(
        state=ClockState.BREACHED, breached_at=clock.due_at, next_check_at=None
    )
    clock_pause(
        case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at("2026-10-12 10:00")
    )
    assert SlaClock.objects.get().remaining_seconds == 0
    clock = clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-10-13 10:00"))
    assert clock.state == ClockState.BREACHED
    assert local(clock.due_at) == "2026-10-10 17:00:00"
    assert clock.next_check_at is None
    assert clock.pauses.get().paused_seconds == 8 * H
    clock = clock_stop(case=record, stage=REVIEW, actor=officer, at=at("2026-10-13 11:00"))
    assert clock.state == ClockState.BREACHED
    assert clock.breached_at == at("2026-10-10 17:00")


def test_a_late_clock_not_yet_swept_keeps_its_deadline_through_a_pause(start, record, officer):
    start("2026-09-28 10:00")
    clock_pause(
        case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at("2026-10-12 10:00")
    )
    clock = clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-10-13 10:00"))
    assert clock.state == ClockState.RUNNING
    assert local(clock.due_at) == "2026-10-10 17:00:00"
    assert clock.next_check_at < at("2026-10-13 10:00")  # due for the sweep at once
    clock = clock_stop(case=record, stage=REVIEW, actor=officer, at=at("2026-10-13 11:00"))
    assert clock.state == ClockState.BREACHED


# Stopping -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "state"),
    [(-SECOND, ClockState.MET), (dt.timedelta(0), ClockState.MET), (SECOND, ClockState.BREACHED)],
    ids=["just-before", "at", "just-after"],
)
def test_stopping_by_the_deadline_is_met_after_it_breached(start, record, officer, offset, state):
    clock = start("2026-09-28 10:00")
    with time_machine.travel(clock.due_at + offset, tick=False):
        clock = clock_stop(case=record, stage=REVIEW, actor=officer)
    clock.refresh_from_db()
    assert clock.state == state
    assert clock.stopped_at == at("2026-10-10 17:00") + offset
    assert clock.next_check_at is None
    assert clock.on_time is (state == ClockState.MET)
    assert clock.breached_at == (clock.due_at if state == ClockState.BREACHED else None)
    (event,) = events("sla.stop")
    assert event.summary["state"] == state
    assert event.summary["due_at"] == "2026-10-10T17:00:00+08:00"


@pytest.mark.parametrize(
    ("received", "stopped", "state"),
    [
        ("2026-09-30 15:59", "2026-09-30 17:00", ClockState.MET),
        ("2026-09-30 16:00", "2026-09-30 17:00", ClockState.MET),
        ("2026-09-30 16:00", "2026-09-30 17:00:01", ClockState.BREACHED),
        ("2026-09-30 16:01", "2026-09-30 17:00:01", ClockState.MET),  # due 8 Oct
        ("2026-09-30 16:01", "2026-10-08 17:00", ClockState.MET),
        ("2026-09-30 16:01", "2026-10-08 17:00:01", ClockState.BREACHED),
        ("2026-10-10 16:00", "2026-10-10 17:00", ClockState.MET),  # make-up Saturday
        ("2026-10-10 16:01", "2026-10-12 17:00", ClockState.MET),
        ("2026-09-20 16:01", "2026-09-21 17:00:01", ClockState.BREACHED),  # make-up Sunday
    ],
)
def test_preliminary_review_same_day_just_before_at_and_after(
    start, record, officer, received, stopped, state
):
    start(received, stage=Stage.PRELIMINARY_REVIEW)
    clock = clock_stop(case=record, stage=Stage.PRELIMINARY_REVIEW, actor=officer, at=at(stopped))
    assert clock.state == state


@pytest.fixture
def sync_in_calendar_days(db):
    """A made-up policy version: results synced within 3 calendar days."""
    return SlaPolicy.objects.create(
        stage=Stage.SYNC,
        rule="calendar_days",
        n=3,
        legal_basis="测试：3 个自然日",
        effective_from=dt.date(2025, 1, 1),
    )


@pytest.mark.parametrize(
    ("stage", "started", "due"),
    [
        # 10 working days over Spring Festival 2026 (make-up Saturdays 14 and 28 Feb).
        (Stage.SUPPLEMENT, "2026-02-10 10:00", "2026-03-02 17:00"),
        # 3 working days over National Day 2025 (1-8 Oct; make-up Sat 11 Oct).
        (Stage.OBJECTION_OWN, "2025-09-30 10:00", "2025-10-11 17:00"),
        # 7 working days from a make-up Sunday (28 Sep 2025).
        (Stage.OBJECTION_OTHER, "2025-09-28 10:00", "2025-10-14 17:00"),
        # 2 working days over Mid-Autumn 2026 (25-27 Sep).
        (Stage.ACCEPTANCE, "2026-09-24 10:00", "2026-09-29 17:00"),
        # 3 calendar days: holidays count.
        (Stage.SYNC, "2026-09-30 10:00", "2026-10-03 17:00"),
    ],
)
@pytest.mark.parametrize(
    ("offset", "state"),
    [(-SECOND, ClockState.MET), (dt.timedelta(0), ClockState.MET), (SECOND, ClockState.BREACHED)],
    ids=["just-before", "at", "just-after"],
)
def test_every_rule_just_before_at_and_after_its_deadline(
    start, record, officer, sync_in_calendar_days, stage, started, due, offset, state
):
    clock = start(started, stage=stage)
    assert clock.due_at == at(due)
    with time_machine.travel(at(due) + offset, tick=False):
        clock = clock_stop(case=record, stage=stage, actor=officer)
    assert clock.state == state


def test_cancelling_a_clock(start, record, officer):
    start("2026-09-28 10:00")
    clock = clock_stop(
        case=record, stage=REVIEW, actor=officer, at=at("2026-10-12 10:00"), cancel=True
    )
    assert clock.state == ClockState.CANCELLED
    assert clock.on_time is None and clock.breached_at is None
    assert events("sla.stop")[0].summary["state"] == "cancelled"
    # No longer open: the stage may start again.
    start("2026-10-12 11:00")


def test_stopping_while_paused_judges_by_the_time_left_at_the_pause(start, record, officer):
    # Waiting for the applicant from 29 Sep; the case closes a month later. No
    # time ran while paused: the clock was on time.
    start("2026-09-28 10:00")
    clock_pause(
        case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at("2026-09-29 14:00")
    )
    clock = clock_stop(case=record, stage=REVIEW, actor=officer, at=at("2026-10-30 10:00"))
    clock.refresh_from_db()
    assert clock.state == ClockState.MET
    assert clock.paused_at is None and clock.remaining_seconds is None
    pause = clock.pauses.get()
    assert pause.ended_at == at("2026-10-30 10:00")
    assert pause.paused_seconds == WORK_SECONDS_29_SEP_14H_TO_30_OCT_10H
    # The deadline moved as a resume at the stop would have: the 35 h left at the
    # pause run from Fri 30 Oct 10:00 (7 h), Mon 2, Tue 3, Wed 4 Nov, Thu 5 Nov 09:00-13:00.
    assert local(clock.due_at) == "2026-11-05 13:00:00"
    assert events("sla.stop")[0].summary["while_paused"] is True


# 29 Sep 3 h, 30 Sep 8 h, 8-29 Oct 17 working days (with Sat 10 Oct), 30 Oct 09:00-10:00.
WORK_SECONDS_29_SEP_14H_TO_30_OCT_10H = (3 + 8 + 17 * 8 + 1) * H


@pytest.mark.parametrize(
    ("paused", "state"),
    [
        ("2026-10-10 16:59:59", ClockState.MET),
        ("2026-10-10 17:00", ClockState.MET),  # paused at the deadline: not late yet
        ("2026-10-10 17:00:01", ClockState.BREACHED),
    ],
)
def test_stopping_while_paused_near_the_deadline(start, record, officer, paused, state):
    start("2026-09-28 10:00")
    clock_pause(case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at(paused))
    clock = clock_stop(case=record, stage=REVIEW, actor=officer, at=at("2026-10-20 10:00"))
    assert clock.state == state


def test_a_stop_may_not_come_before_the_start_or_the_pause(start, record, officer):
    start("2026-09-28 10:00")
    with pytest.raises(SlaError, match="办结时间不能早于开始计时的时间"):
        clock_stop(case=record, stage=REVIEW, actor=officer, at=at("2026-09-28 09:00"))
    clock_pause(
        case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at("2026-09-29 14:00")
    )
    with pytest.raises(SlaError, match="办结时间不能早于暂停时间"):
        clock_stop(case=record, stage=REVIEW, actor=officer, at=at("2026-09-29 13:00"))


# Assigning --------------------------------------------------------------------------------


def test_assigning_a_clock(start, record, officer, reviewer, supervisor):
    start("2026-09-28 10:00")
    clock_assign(case=record, stage=REVIEW, assignee=reviewer, actor=officer)
    clock = clock_assign(case=record, stage=REVIEW, assignee=supervisor, actor=officer)
    assert SlaClock.objects.get().assignee == supervisor == clock.assignee
    first, second = events("sla.assign")
    assert (first.summary["before"], first.summary["after"]) == (None, reviewer.pk)
    assert (second.summary["before"], second.summary["after"]) == (reviewer.pk, supervisor.pk)


def test_a_clock_may_start_assigned(start, reviewer):
    assert start("2026-09-28 10:00", assignee=reviewer).assignee == reviewer


# The audit trail ----------------------------------------------------------------------------


def test_every_call_writes_an_audit_event_on_an_unbroken_chain(start, record, officer, reviewer):
    clock = start("2026-09-28 10:00")
    clock_assign(case=record, stage=REVIEW, assignee=reviewer, actor=officer)
    clock_pause(
        case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at("2026-09-29 14:00")
    )
    clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-10-09 10:00"))
    clock_stop(case=record, stage=REVIEW, actor="flows", at=at("2026-10-12 10:00"))
    trail = AuditEvent.objects.filter(object_type="sla.SlaClock", object_id=str(clock.pk))
    assert list(trail.order_by("seq").values_list("action", flat=True)) == [
        "sla.start",
        "sla.assign",
        "sla.pause",
        "sla.resume",
        "sla.stop",
    ]
    assert all(e.summary["case"] == "济市监罚〔2026〕1号" for e in trail)
    assert trail.get(action="sla.stop").actor_label == "flows"
    assert verify_chain().broken_at is None
