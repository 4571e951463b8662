"""How fast `sla_sweep` moves the due clocks next to one bare UPDATE of the same rows.

    .venv/bin/python -m pytest tests/bench/bench_sla_sweep.py -s -p no:cacheprovider -o addopts=""
    BENCH_CLOCKS=100000 ...                       # fewer clocks
    BENCH_PROFILE=1 ...                           # cProfile each sweep
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/repair_flow_sweep ...

BENCH_CLOCKS clocks (default 1,000,000), 1 % of them due: running, at level
0, their first warning an hour ago. The rest are running with their next
threshold ahead, or paused, or stopped. Each clock has one assignee, and the
policy warns the assignee, so the sweep writes one notification per due clock.

Timed, each on the same 10,000 rows put back between runs, best of BENCH_REPEAT
(default 3; every run is printed):
- sweep: `manage.py sla_sweep` (batches of 1,000: read through the partial
  index and lock, three conditional UPDATE ... RETURNING, notifications,
  audit events, one transaction per batch);
- sweep, no recipients: the same with the policy's warn_to emptied;
- bare: one `UPDATE ... SET warned_level = 1, next_check_at = ... WHERE
  state = 'running' AND next_check_at <= now`, in one transaction.
Target: the sweep within 3x the bare UPDATE.
"""

import cProfile
import datetime as dt
import functools
import io
import os
import pstats
import time

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from records.models import CreditRecord
from repair_flow.models import Role, User
from sla.models import ClockState, Notification, SlaClock, SlaPolicy
from tests.bench.conftest import BASE_DIR

CLOCKS = int(os.environ.get("BENCH_CLOCKS", "1000000"))
DUE_EVERY = 100  # 1 %
ASSIGNEES = 200
INSERT_BATCH = 10_000
TARGET_RATIO = 3.0
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
PROFILE = os.environ.get("BENCH_PROFILE") == "1"  # print where each sweep's time goes


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """A database file of its own on SQLite, so this never shares one with
    another benchmark running at the same time."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        (BASE_DIR / "var").mkdir(exist_ok=True)
        database.setdefault("TEST", {})["NAME"] = str(BASE_DIR / "var" / "bench_sla_sweep.sqlite3")


COLUMNS = (
    "case_type_id", "case_id", "case_label", "assignee_id", "stage", "policy_id", "state",
    "started_at", "due_at", "warn1_at", "warn2_at", "warned_level", "next_check_at",
    "total_seconds", "remaining_seconds", "provisional", "paused_at", "stopped_at", "created_at",
)  # fmt: skip


def clock_rows(now: dt.datetime, case_type_id: int, policy_id: int, users: list[int]):
    """Precomputed columns, no services: thresholds are placed, not planned."""
    adapt = functools.lru_cache(maxsize=4096)(connection.ops.adapt_datetimefield_value)
    hour = dt.timedelta(hours=1)
    running, met, paused = ClockState.RUNNING.value, ClockState.MET.value, ClockState.PAUSED.value
    for n in range(CLOCKS):
        state, level, remaining, paused_at, stopped_at = running, 0, None, None, None
        if n % DUE_EVERY == 0:  # due now: the first warning an hour ago
            warn1, warn2, due = now - hour, now + 20 * hour, now + 40 * hour
            next_check = warn1
        else:
            warn1 = now + (1 + n % 200) * hour
            warn2, due = warn1 + 16 * hour, warn1 + 40 * hour
            next_check = warn1
            kind = n % 10
            if kind < 3:  # stopped on time
                state, stopped_at, next_check = met, now - hour, None
            elif kind == 3:  # waiting for the applicant
                state, paused_at, next_check, remaining = paused, now - hour, None, 3600
            elif kind == 4:  # first warning sent, the second ahead
                warn1, level, next_check = now - 2 * hour, 1, warn2
        yield (
            case_type_id, n + 1, f"济市监罚〔2026〕{n + 1}号", users[n % len(users)],
            "department_review", policy_id, state, adapt(now - (24 + n % 48) * hour),
            adapt(due), adapt(warn1), adapt(warn2), level, adapt(next_check),
            5 * 8 * 3600, remaining, False, adapt(paused_at), adapt(stopped_at), adapt(now),
        )  # fmt: skip


def insert_clocks(rows) -> None:
    """executemany in chunks of INSERT_BATCH rows, one transaction each: the
    model layer's per-field preparation would take longer than the benchmark."""
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(SlaClock._meta.db_table)} ({', '.join(qn(c) for c in COLUMNS)})"  # noqa: S608
        f" VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    )
    for chunk in chunks(rows, INSERT_BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, chunk)


def chunks(iterable, size):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def bare_update(now: dt.datetime, *, hinted: bool) -> float:
    qn = connection.ops.quote_name
    hint = " INDEXED BY sla_clock_due_check" if hinted and connection.vendor == "sqlite" else ""
    sql = (
        f"UPDATE {qn(SlaClock._meta.db_table)}{hint}"  # noqa: S608 - our own table
        " SET warned_level = 1, next_check_at = COALESCE(warn2_at, due_at)"
        " WHERE state = 'running' AND next_check_at <= %s"
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now)])
        assert cursor.rowcount == due_count()
    return time.perf_counter() - started


def due_count() -> int:
    return len(range(0, CLOCKS, DUE_EVERY))


def sweep() -> tuple[float, str]:
    out = io.StringIO()
    profile = cProfile.Profile() if PROFILE else None
    started = time.perf_counter()
    if profile:
        profile.enable()
    call_command("sla_sweep", stdout=out)
    if profile:
        profile.disable()
    seconds = time.perf_counter() - started
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)
    return seconds, out.getvalue().strip()


def reset(due_ids: list[int]) -> None:
    """Put the due clocks back at level 0 and drop the sweep's notifications.

    On PostgreSQL the notifications are truncated and both tables vacuumed:
    production never deletes notifications, and 10,000 dead rows holding the
    very keys the next run inserts would make every unique check of that run
    visit them; the clocks' dead versions would slow the next run, bare or not.
    """
    with transaction.atomic():
        for chunk in chunks(due_ids, 5000):
            SlaClock.objects.filter(id__in=chunk).update(
                warned_level=0, next_check_at=F("warn1_at")
            )
        if connection.vendor != "postgresql":
            Notification.objects.all().delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Notification._meta.db_table}")
            cursor.execute(f"VACUUM ANALYZE {SlaClock._meta.db_table}")


@pytest.mark.django_db(transaction=True)
def test_sla_sweep_against_one_bare_update():
    now = timezone.now()
    policy = SlaPolicy.objects.get(stage="department_review")
    assert policy.warn_to == ["assignee"]
    case_type = ContentType.objects.get_for_model(CreditRecord)
    User.objects.bulk_create(
        User(username=f"bench{i}", first_name=f"承办人{i}", role=Role.OFFICER, password="!")
        for i in range(ASSIGNEES)
    )
    users = list(User.objects.filter(username__startswith="bench").values_list("id", flat=True))

    started = time.perf_counter()
    insert_clocks(clock_rows(now, case_type.id, policy.id, users))
    built = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE sla_slaclock")
    due_ids = list(
        SlaClock.objects.filter(state=ClockState.RUNNING, next_check_at__lte=now).values_list(
            "id", flat=True
        )
    )
    assert len(due_ids) == due_count()

    timings: dict[str, list[float]] = {"bare": [], "sweep": [], "quiet": [], "unhinted": []}
    expected = (
        f"warned {len(due_ids)} (first), 0 (second), breached 0, escalated 0, "
        f"notified {len(due_ids)}"
    )
    for _ in range(REPEAT):
        timings["bare"].append(bare_update(timezone.now(), hinted=True))
        reset(due_ids)

        seconds, output = sweep()
        assert output == expected
        assert Notification.objects.count() == len(due_ids)
        timings["sweep"].append(seconds)
        reset(due_ids)

        SlaPolicy.objects.filter(pk=policy.pk).update(warn_to=[])
        seconds, output = sweep()
        SlaPolicy.objects.filter(pk=policy.pk).update(warn_to=["assignee"])
        assert output.endswith("notified 0")
        timings["quiet"].append(seconds)
        reset(due_ids)

        if connection.vendor == "sqlite":
            timings["unhinted"].append(bare_update(timezone.now(), hinted=False))
            reset(due_ids)

    bare, ours, quiet = min(timings["bare"]), min(timings["sweep"]), min(timings["quiet"])
    n = len(due_ids)
    print()
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"clocks: {CLOCKS:,}, due: {n:,}, built in {built:.1f} s")
    for label, runs in timings.items():
        if runs:
            print(f"runs, {label}: {', '.join(f'{t:.3f}' for t in runs)}")
    print(f"sla_sweep with notifications: {ours:7.3f} s  {n / ours:10,.0f} clocks/s")
    print(f"sla_sweep, no recipients:     {quiet:7.3f} s  {n / quiet:10,.0f} clocks/s")
    print(f"bare UPDATE:                  {bare:7.3f} s  {n / bare:10,.0f} clocks/s")
    if timings["unhinted"]:
        unhinted = min(timings["unhinted"])
        print(f"bare UPDATE, planner's index: {unhinted:7.3f} s  (no INDEXED BY: reads by state)")
    for label, seconds in (("with notifications", ours), ("no recipients", quiet)):
        ratio = seconds / bare
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        print(f"ratio sweep/bare, {label}: {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
