"""The SLA sweep: thresholds, breach, escalation, and running it twice or after a crash."""

import datetime as dt
import io
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection, connections

from repair_flow import scheduler
from repair_flow.models import AuditEvent, Role
from sla import sweep as sweep_module
from sla.clocks import clock_assign, clock_pause, clock_resume, clock_start, clock_stop
from sla.models import ClockState, Escalation, Notification, NotificationKind, SlaClock, SlaPolicy
from sla.sweep import clocks_sweep
from sla.tasks import sweep as sweep_task
from tests.conftest import make_record, make_user

TZ = ZoneInfo("Asia/Shanghai")
# Monday. Department review, 5 working days: first warning (50 %) Thu 5 Nov
# 13:00, second (75 %) Fri 6 Nov 15:00, due Mon 9 Nov 17:00.
STARTED = dt.datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
WARN1 = dt.datetime(2026, 11, 5, 13, 0, tzinfo=TZ)
WARN2 = dt.datetime(2026, 11, 6, 15, 0, tzinfo=TZ)
DUE = dt.datetime(2026, 11, 9, 17, 0, tzinfo=TZ)
SECOND = dt.timedelta(seconds=1)


def run_command(at: dt.datetime, *args) -> str:
    out = io.StringIO()
    with time_machine.travel(at, tick=False):
        call_command("sla_sweep", *args, stdout=out)
    return out.getvalue().strip()


def start(case, assignee, *, stage="department_review", at=STARTED) -> SlaClock:
    return clock_start(case=case, stage=stage, actor="test", at=at, assignee=assignee)


def events(clock=None):
    qs = Notification.objects.order_by("id")
    if clock is not None:
        qs = qs.filter(clock=clock)
    return list(qs.values_list("user__username", "kind", "level"))


@pytest.fixture
def clock(record, officer):
    return start(record, officer)


def test_the_clock_under_test_has_the_thresholds_the_tests_assume(clock):
    assert (clock.warn1_at, clock.warn2_at, clock.due_at) == (WARN1, WARN2, DUE)
    assert clock.next_check_at == WARN1


def test_each_threshold_fires_at_its_instant_never_before_and_only_once(clock, supervisor):
    nothing = "warned 0 (first), 0 (second), breached 0, escalated 0, notified 0"
    assert run_command(WARN1 - SECOND) == nothing
    assert events() == []

    assert run_command(WARN1) == "warned 1 (first), 0 (second), breached 0, escalated 0, notified 1"
    clock.refresh_from_db()
    assert (clock.warned_level, clock.next_check_at) == (1, WARN2)
    assert run_command(WARN1 + SECOND) == nothing

    assert run_command(WARN2 - SECOND) == nothing
    assert run_command(WARN2) == "warned 0 (first), 1 (second), breached 0, escalated 0, notified 1"
    clock.refresh_from_db()
    assert (clock.warned_level, clock.next_check_at) == (2, DUE)
    assert run_command(WARN2 + SECOND) == nothing

    assert run_command(DUE - SECOND) == nothing
    assert clock.state == ClockState.RUNNING
    assert run_command(DUE) == "warned 0 (first), 0 (second), breached 1, escalated 1, notified 2"
    assert run_command(DUE + SECOND) == nothing
    assert run_command(DUE + dt.timedelta(days=30)) == nothing

    assert events() == [
        ("officer", "warning", 1),
        ("officer", "warning", 2),
        ("officer", "breach", 0),
        ("supervisor", "escalation", 0),
    ]
    clock.refresh_from_db()
    # Breached, and still open: the work is owed until the stage is stopped.
    assert clock.state == ClockState.BREACHED
    assert clock.stopped_at is None
    assert clock.breached_at == DUE
    assert clock.next_check_at is None
    assert Escalation.objects.get().clock == clock


def test_a_warning_names_the_case_the_stage_the_share_used_and_the_deadline(clock):
    clocks_sweep(now=WARN2)
    titles = [n.headline for n in Notification.objects.order_by("level")]
    assert titles == [
        "预警：济市监罚〔2026〕1号 · 认定单位审核 已用时 50%，期限 2026-11-09 17:00",
        "预警：济市监罚〔2026〕1号 · 认定单位审核 已用时 75%，期限 2026-11-09 17:00",
    ]
    assert all(n.created_at == WARN2 for n in Notification.objects.all())


def test_a_late_sweep_passes_every_level_in_order_exactly_once(clock, supervisor):
    result = clocks_sweep(now=DUE + dt.timedelta(days=3))
    assert str(result) == "warned 1 (first), 1 (second), breached 1, escalated 1, notified 4"
    assert events() == [
        ("officer", "warning", 1),
        ("officer", "warning", 2),
        ("officer", "breach", 0),
        ("supervisor", "escalation", 0),
    ]
    actions = list(
        AuditEvent.objects.filter(action__in=["sla.warn", "sla.breach"]).values_list(
            "action", "summary__level", "summary__ids"
        )
    )
    assert actions == [
        ("sla.warn", 1, [clock.pk]),
        ("sla.warn", 2, [clock.pk]),
        ("sla.breach", None, [clock.pk]),
    ]
    clock.refresh_from_db()
    assert (clock.state, clock.warned_level, clock.breached_at) == ("breached", 2, DUE)

    again = clocks_sweep(now=DUE + dt.timedelta(days=4))
    assert str(again) == "warned 0 (first), 0 (second), breached 0, escalated 0, notified 0"
    assert Notification.objects.count() == 4
    assert Escalation.objects.count() == 1


def test_a_paused_clock_is_never_warned_and_a_resumed_one_is_warned_later(clock, record):
    clock_pause(
        case=record,
        stage="department_review",
        reason="等待申请人补正",
        actor="test",
        at=WARN1 - dt.timedelta(hours=1),
    )
    assert str(clocks_sweep(now=DUE + dt.timedelta(days=10))).startswith("warned 0 (first), 0")
    assert Notification.objects.count() == 0
    clock.refresh_from_db()
    assert clock.state == ClockState.PAUSED
    assert clock.warned_level == 0

    resumed = clock_resume(
        case=record,
        stage="department_review",
        actor="test",
        at=dt.datetime(2026, 11, 23, 9, tzinfo=TZ),
    )
    # One working hour was left before the first warning.
    assert resumed.warn1_at == dt.datetime(2026, 11, 23, 10, tzinfo=TZ)
    assert clocks_sweep(now=resumed.warn1_at - SECOND).warned_first == 0
    assert clocks_sweep(now=resumed.warn1_at).warned_first == 1


@pytest.mark.parametrize("cancel", [False, True])
def test_a_stopped_clock_is_never_warned(clock, record, supervisor, cancel):
    clock_stop(
        case=record, stage="department_review", actor="test", at=WARN1 - SECOND, cancel=cancel
    )
    result = clocks_sweep(now=DUE + dt.timedelta(days=10))
    assert (result.warned_first, result.warned_second, result.breached) == (0, 0, 0)
    assert Notification.objects.count() == 0
    assert not Escalation.objects.exists()


def test_a_breach_escalates_to_the_supervisors_and_tells_the_assignee(clock, supervisor):
    other = make_user("supervisor2", Role.SUPERVISOR, first_name="周强")
    make_user("retired", Role.SUPERVISOR, is_active=False)
    clocks_sweep(now=DUE)
    breach = Notification.objects.get(kind=NotificationKind.BREACH)
    assert breach.user.username == "officer"
    assert breach.headline == (
        "已超时：济市监罚〔2026〕1号 · 认定单位审核 期限 2026-11-09 17:00 已过，承办人 刘洋"
    )
    escalations = Notification.objects.filter(kind=NotificationKind.ESCALATION).order_by("user")
    assert [n.user for n in escalations] == [supervisor, other]
    assert escalations[0].headline == (
        "超时升级：济市监罚〔2026〕1号 · 认定单位审核 期限 2026-11-09 17:00 已过，承办人 刘洋"
    )
    escalation = Escalation.objects.get()
    assert escalation.clock_id == clock.pk
    assert escalation.created_at == DUE
    assert escalation.resolved_at is None


def test_an_unassigned_breach_still_reaches_the_supervisors(record, supervisor):
    start(record, None)
    clocks_sweep(now=DUE)
    assert events() == [("supervisor", "escalation", 0)]
    assert Notification.objects.get().headline.endswith("承办人 未指派")


def test_recipients_are_the_assignee_the_supervisors_and_group_members_once_each(
    record, officer, supervisor, reviewer
):
    team = Group.objects.create(name="督办组")
    reviewer.groups.add(team)
    supervisor.groups.add(team)  # named twice: told once
    make_user("gone", Role.REVIEWER, is_active=False).groups.add(team)
    SlaPolicy.objects.filter(stage="department_review").update(
        warn_to=["assignee", "supervisors", "group:督办组", "group:没有这个组"]
    )
    start(record, officer)
    clocks_sweep(now=WARN1)
    assert sorted(events()) == [
        ("officer", "warning", 1),
        ("reviewer", "warning", 1),
        ("supervisor", "warning", 1),
    ]
    # Others learn whose case it is; the assignee does not need telling.
    titles = {n.user.username: n.headline for n in Notification.objects.all()}
    assert titles["officer"].endswith("期限 2026-11-09 17:00")
    assert titles["reviewer"].endswith("期限 2026-11-09 17:00，承办人 刘洋")


def test_the_current_assignee_is_the_one_warned(clock, record, reviewer):
    clock_assign(case=record, stage="department_review", assignee=reviewer, actor="test")
    clocks_sweep(now=WARN1)
    assert events() == [("reviewer", "warning", 1)]


def test_the_preliminary_review_warns_the_supervisors_too(record, officer, supervisor):
    clock = start(record, officer, stage="preliminary_review")
    clocks_sweep(now=clock.warn1_at)
    assert sorted(events()) == [("officer", "warning", 1), ("supervisor", "warning", 1)]


def test_many_clocks_in_small_batches_each_move_once(department, enterprise, officer, supervisor):
    clocks = []
    for i in range(7):
        record = make_record(department=department, subject=enterprise, decision_number=f"R{i}")
        clocks.append(start(record, officer, at=STARTED + dt.timedelta(minutes=i)))
    batches = []
    result = clocks_sweep(now=DUE + dt.timedelta(hours=1), batch_size=3, on_batch=batches.append)
    assert str(result) == "warned 7 (first), 7 (second), breached 7, escalated 7, notified 28"
    assert result.batches == 3
    assert Notification.objects.filter(kind="warning", level=1).count() == 7
    assert Escalation.objects.count() == 7


def test_a_crash_between_batches_loses_nothing_and_the_rerun_repeats_nothing(
    department, enterprise, officer, monkeypatch
):
    for i in range(5):
        record = make_record(department=department, subject=enterprise, decision_number=f"C{i}")
        start(record, officer)
    real = sweep_module.notifications_create
    calls = []

    def crash_on_second_batch(*, notifications):
        calls.append(len(notifications))
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(notifications=notifications)

    monkeypatch.setattr(sweep_module, "notifications_create", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        clocks_sweep(now=WARN1, batch_size=2)
    # The first batch is committed whole; the second was rolled back whole,
    # its claims with it.
    assert Notification.objects.count() == 2
    assert SlaClock.objects.filter(warned_level=1).count() == 2
    assert SlaClock.objects.filter(warned_level=0, next_check_at=WARN1).count() == 3

    monkeypatch.setattr(sweep_module, "notifications_create", real)
    assert clocks_sweep(now=WARN1, batch_size=2).warned_first == 3
    assert Notification.objects.count() == 5
    assert set(Notification.objects.values_list("clock", flat=True)) == set(
        SlaClock.objects.values_list("id", flat=True)
    )
    assert clocks_sweep(now=WARN1).notified == 0


@pytest.mark.django_db(transaction=True)
def test_a_crash_commits_the_batches_before_it(department, enterprise, officer, monkeypatch):
    """The same, with real commits (no test transaction around the sweep)."""
    for i in range(4):
        record = make_record(department=department, subject=enterprise, decision_number=f"T{i}")
        start(record, officer)
    real, calls = sweep_module.notifications_create, []

    def crash(*, notifications):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        return real(notifications=notifications)

    monkeypatch.setattr(sweep_module, "notifications_create", crash)
    with pytest.raises(RuntimeError):
        clocks_sweep(now=DUE, batch_size=2)
    assert Notification.objects.count() == 2 * 3  # two clocks: warn 1, warn 2, breach
    assert Escalation.objects.count() == 2
    monkeypatch.setattr(sweep_module, "notifications_create", real)
    assert str(clocks_sweep(now=DUE, batch_size=2)) == (
        "warned 2 (first), 2 (second), breached 2, escalated 2, notified 6"
    )
    assert Notification.objects.count() == 12
    assert Escalation.objects.count() == 4


def test_a_transition_is_claimed_once_even_by_sweepers_that_read_the_same_rows(clock):
    """Without row locks (SQLite) two sweepers may read the same due rows; the
    conditional UPDATE lets only one of them move each row."""
    now = connection.ops.adapt_datetimefield_value(WARN1)
    first = sweep_module._claim(sweep_module._CLAIM_FIRST, [clock.pk], now)
    second = sweep_module._claim(sweep_module._CLAIM_FIRST, [clock.pk], now)
    assert (first, second) == ([clock.pk], [])
    assert clocks_sweep(now=WARN1).warned_first == 0  # the claim above moved it, unnotified


def test_without_update_returning_the_sweep_claims_the_same_way(clock, supervisor, monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("the fallback is for SQLite before 3.35; PostgreSQL always has RETURNING")
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    assert str(clocks_sweep(now=WARN1)) == (
        "warned 1 (first), 0 (second), breached 0, escalated 0, notified 1"
    )
    assert str(clocks_sweep(now=DUE)) == (
        "warned 0 (first), 1 (second), breached 1, escalated 1, notified 3"
    )
    assert clocks_sweep(now=DUE).notified == 0


def test_a_next_check_out_of_step_is_put_right_not_swept_forever(clock):
    clocks_sweep(now=WARN2)
    SlaClock.objects.filter(pk=clock.pk).update(next_check_at=WARN1)  # written by hand
    result = clocks_sweep(now=WARN2 + dt.timedelta(hours=1))
    assert (result.warned_first, result.warned_second, result.resynced) == (0, 0, 1)
    clock.refresh_from_db()
    assert clock.next_check_at == DUE


def test_a_due_row_no_claim_can_move_stops_the_run_instead_of_spinning(clock, monkeypatch):
    broken = sweep_module._CLAIM_BREACH.replace("RETURNING", "AND 1 = 0 RETURNING")
    monkeypatch.setattr(sweep_module, "_CLAIM_BREACH", broken)
    clocks_sweep(now=WARN2)
    result = clocks_sweep(now=DUE)
    assert (result.batches, result.breached, result.stuck) == (1, 0, True)


def test_the_sweep_reads_only_due_rows_and_claims_them_by_key(clock):
    if connection.vendor != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL chooses by its statistics")
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN QUERY PLAN " + sweep_module._due_sql(),
            [connection.ops.adapt_datetimefield_value(WARN1), 1000],
        )
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "USING INDEX sla_clock_due_check (next_check_at<?)" in plan
    assert "TEMP B-TREE" not in plan  # read in index order, no sort
    ids = list(range(1, 1001))
    for claim in (
        sweep_module._CLAIM_FIRST,
        sweep_module._CLAIM_SECOND,
        sweep_module._CLAIM_BREACH,
    ):
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN QUERY PLAN " + sweep_module._sql(claim, len(ids)), [*ids, "running", "x"]
            )
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert "USING INTEGER PRIMARY KEY (rowid=?)" in plan  # not every running clock


def test_the_sweep_refuses_a_naive_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        clocks_sweep(now=dt.datetime(2026, 11, 5, 13))


def test_the_command_reports_progress_per_batch_when_verbose(clock):
    err = io.StringIO()
    with time_machine.travel(WARN1, tick=False):
        call_command("sla_sweep", "--batch-size", "1", "-v", "2", stdout=io.StringIO(), stderr=err)
    assert err.getvalue().startswith("batch 1: warned 1 (first)")


def test_the_scheduler_and_celery_beat_run_the_sweep_every_minute(clock):
    job = next(j for j in scheduler.JOBS if j.name == "sla-sweep")
    assert job.every_seconds == 60
    entry = settings.CELERY_BEAT_SCHEDULE["sla-sweep"]
    assert (entry["task"], entry["schedule"]) == ("sla.sweep", 60.0)
    with time_machine.travel(WARN1, tick=False):
        assert scheduler.run_job(job).startswith("warned 1 (first)")
    with time_machine.travel(WARN2, tick=False):
        assert sweep_task.apply().get().startswith("warned 0 (first), 1 (second)")
    actors = set(AuditEvent.objects.filter(action="sla.warn").values_list("actor_label", flat=True))
    assert actors == {"scheduler"}


def test_a_headline_is_written_in_the_readers_language_when_read(clock, client_for, officer):
    from django.utils import translation

    with translation.override("en"):
        clocks_sweep(now=WARN1)
    notification = Notification.objects.get()
    assert notification.headline.startswith("预警：济市监罚〔2026〕1号 · 认定单位审核 已用时 50%")
    with translation.override("en"):
        assert notification.headline == (
            "Warning: 济市监罚〔2026〕1号 · Issuing-department review has used 50% of its time;"
            " deadline 2026-11-09 17:00"
        )
    client = client_for(officer)
    client.cookies["django_language"] = "en"
    assert "Issuing-department review has used 50%" in client.get("/notifications/").text


def test_a_notification_keeps_the_deadline_it_was_sent_with(clock, record):
    clocks_sweep(now=WARN1)
    clock_pause(
        case=record, stage="department_review", reason="等待申请人补正", actor="t", at=WARN2
    )
    clock_resume(
        case=record,
        stage="department_review",
        actor="t",
        at=dt.datetime(2026, 11, 23, 9, tzinfo=TZ),
    )
    assert Notification.objects.get().headline.endswith("期限 2026-11-09 17:00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "row_locks",
    [
        pytest.param(True, id="skip-locked"),
        # Both sweepers read the same due rows and race on every UPDATE: the
        # conditional claims alone must keep each transition to one sweeper.
        pytest.param(False, id="no-row-locks"),
    ],
)
def test_two_sweepers_at_once_notify_each_level_once_and_escalate_once(
    record, officer, supervisor, monkeypatch, row_locks
):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    count = 500
    results = run_two_sweepers(start(record, officer), record, count, monkeypatch, row_locks)
    assert sum(r.warned_first for r in results) == count
    assert sum(r.warned_second for r in results) == count
    assert sum(r.breached for r in results) == sum(r.escalated for r in results) == count
    # Attempts, not rows: the unique key would hide a second attempt, this would not.
    assert sum(r.notified for r in results) == count * 4
    for kind, level, username in [
        ("warning", 1, "officer"),
        ("warning", 2, "officer"),
        ("breach", 0, "officer"),
        ("escalation", 0, "supervisor"),
    ]:
        sent = Notification.objects.filter(kind=kind, level=level, user__username=username)
        assert sent.count() == sent.values("clock").distinct().count() == count
    assert Notification.objects.count() == count * 4
    assert Escalation.objects.count() == count
    assert SlaClock.objects.filter(state="breached", warned_level=2).count() == count
    print(" / ".join(f"{r.batches} batches: {r}" for r in results))


def run_two_sweepers(template, record, count, monkeypatch, row_locks: bool) -> list:
    """`count` copies of `template` due at DUE, swept by two threads at once
    (each on its own connection); without row locks both read the same rows
    and race on every claim. Their results; any error fails the test."""
    SlaClock.objects.bulk_create(
        SlaClock(
            **{
                f.attname: getattr(template, f.attname)
                for f in SlaClock._meta.concrete_fields
                if f.attname not in ("id", "case_id")
            },
            case_id=record.pk + n,
        )
        for n in range(1, count)
    )
    if not row_locks:
        due_sql = sweep_module._due_sql
        monkeypatch.setattr(
            sweep_module, "_due_sql", lambda: due_sql().removesuffix(" FOR UPDATE SKIP LOCKED")
        )
    results, errors = [], []
    barrier = threading.Barrier(2)

    def sweeper():
        try:
            barrier.wait()
            results.append(clocks_sweep(now=DUE, batch_size=25, actor="test"))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results
