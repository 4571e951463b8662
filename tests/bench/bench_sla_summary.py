"""How the supervisors' board summary scales: 100,000 then 1,000,000 open clocks.

    .venv/bin/python -m pytest tests/bench/bench_sla_summary.py -s -p no:cacheprovider -o addopts=""
    BENCH_CLOCKS=200000 ...                      # 20,000 then 200,000 open clocks
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/repair_flow ...   # on PostgreSQL

The table gets BENCH_CLOCKS/10 open clocks, then is filled up to BENCH_CLOCKS;
each step also adds a tenth as many clocks stopped over the last 45 days (met,
breached, cancelled), with second supplement requests on some cases. Rows are
precomputed tuples inserted in batches (COPY on PostgreSQL).

At each size: `board_summary` (default period, the last 30 days) and one raw
SQL statement computing the headline counts (open, due today, at risk,
breached open and at stop, met, rated) over the same rows, both warmed up and
then timed as the median of five runs. Targets: the summary's query count is
the same at both sizes; at the larger size it takes at most twice the raw SQL.
"""

import datetime as dt
import os
import random
import statistics
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from records.models import CreditRecord, Department, Sector
from repair_flow.models import Role
from sla.board import BoardFilters, board_summary
from sla.models import SlaClock, SlaPolicy, Stage

CLOCKS = int(os.environ.get("BENCH_CLOCKS", "1000000"))
SIZES = [CLOCKS // 10, CLOCKS]
DEPARTMENTS, OFFICERS, REVIEWERS_PER_DEPARTMENT = 20, 40, 2
# Department reviewers work their own department's stages; platform officers the rest.
DEPARTMENT_STAGES = {Stage.DEPARTMENT_REVIEW, Stage.OBJECTION_OWN, Stage.OBJECTION_OTHER}
TARGET_RATIO = 2.0
RUNS = 5

STAGE_WEIGHTS = {
    Stage.PRELIMINARY_REVIEW: 25, Stage.SUPPLEMENT: 10, Stage.ACCEPTANCE: 10,
    Stage.COMMITMENT: 8, Stage.DEPARTMENT_REVIEW: 20, Stage.WHOLE_DECISION: 12,
    Stage.SYNC: 5, Stage.OBJECTION_OWN: 5, Stage.OBJECTION_OTHER: 3, Stage.RECORD_CHANGE: 2,
}  # fmt: skip
COLUMNS = [
    "case_type_id", "case_id", "case_label", "department_id", "assignee_id", "stage",
    "policy_id", "state", "started_at", "due_at", "warn1_at", "warn2_at", "warned_level",
    "next_check_at", "total_seconds", "remaining_seconds", "provisional", "paused_at",
    "stopped_at", "breached_at", "created_at",
]  # fmt: skip
BATCH = 20_000
SLOT = 15 * 60  # times fall on a quarter-hour grid, so their text is formatted once


class Rows:
    """Precomputed rows of the clock table, reproducibly random."""

    def __init__(self, now: dt.datetime, case_type_id, departments, officers, reviewers, policies):
        self.rng = random.Random(20261014)
        self.now = now
        self.base = now - dt.timedelta(days=90)
        self.case_type_id = case_type_id
        self.departments, self.officers, self.policies = departments, officers, policies
        self.reviewers = reviewers  # department id -> its reviewers' ids
        self.stages = list(STAGE_WEIGHTS)
        self.weights = list(STAGE_WEIGHTS.values())
        self.next_case = 1
        self.supplement_cases: list[int] = []
        self._text: dict[int, str] = {}
        postgres = connection.vendor == "postgresql"
        self._fmt = "%Y-%m-%d %H:%M:%S+00" if postgres else "%Y-%m-%d %H:%M:%S"

    def t(self, seconds_from_now: float) -> str:
        """A time on the grid as the database stores it (UTC)."""
        slot = int((seconds_from_now + 90 * 86400) // SLOT)
        text = self._text.get(slot)
        if text is None:
            moment = (self.base + dt.timedelta(seconds=slot * SLOT)).astimezone(dt.UTC)
            text = self._text[slot] = moment.strftime(self._fmt)
        return text

    def _common(self, stage):
        rng = self.rng
        case_id = self.next_case
        self.next_case += 1
        dept = rng.choice(self.departments)
        if stage == Stage.SUPPLEMENT or rng.random() < 0.03:
            assignee = None  # the applicant's turn, or not yet assigned
        elif stage in DEPARTMENT_STAGES:
            assignee = rng.choice(self.reviewers[dept])
        else:
            assignee = rng.choice(self.officers)
        return case_id, dept, assignee, self.policies[stage]

    def open_clock(self) -> tuple:
        rng, day = self.rng, 86400
        stage = rng.choices(self.stages, self.weights)[0]
        case_id, dept, assignee, policy = self._common(stage)
        if stage == Stage.SUPPLEMENT:
            self.supplement_cases.append(case_id)
        span = rng.uniform(0.3, 10) * day
        roll = rng.random()
        paused_at = breached_at = remaining = None
        if roll < 0.10:  # swept breach
            state, due = "breached", -rng.uniform(0, 10) * day
            breached_at, level = self.t(due), 3
        elif roll < 0.18 and stage != Stage.SUPPLEMENT:
            state, due = "paused", rng.uniform(0, 14) * day
            paused_at, remaining = self.t(-rng.uniform(0, 5) * day), int(span / 2)
            level = 0
        else:  # running; about one in a hundred past due before the sweep marks it
            state, due = "running", rng.uniform(-0.05, 14) * day
            level = 2 if due < span / 4 else 1 if due < span / 2 else 0
        started = due - span
        warn1, warn2 = started + span / 2, started + span * 0.75
        return (
            self.case_type_id, case_id, f"案件{case_id}", dept, assignee, stage, policy, state,
            self.t(started), self.t(due), self.t(warn1), self.t(warn2), level,
            self.t(due) if state == "running" else None, int(span), remaining, False,
            paused_at, None, breached_at, self.t(started),
        )  # fmt: skip

    def stopped_clock(self) -> tuple:
        rng, day = self.rng, 86400
        stage = rng.choices(self.stages, self.weights)[0]
        case_id, dept, assignee, policy = self._common(stage)
        if stage == Stage.SUPPLEMENT and self.supplement_cases and rng.random() < 0.3:
            case_id = rng.choice(self.supplement_cases)  # a second request on that case
        stopped = -rng.uniform(0, 45) * day
        span = rng.uniform(0.3, 10) * day
        roll = rng.random()
        if roll < 0.85:
            state, due, breached_at = "met", stopped + rng.uniform(0, span), None
        elif roll < 0.97:
            state, due = "breached", stopped - rng.uniform(0, 3) * day
            breached_at = self.t(due)
        else:
            state, due, breached_at = "cancelled", stopped + span / 2, None
        started = due - span
        return (
            self.case_type_id, case_id, f"案件{case_id}", dept, assignee, stage, policy, state,
            self.t(started), self.t(due), self.t(started + span / 2),
            self.t(started + span * 0.75), 3 if state == "breached" else 2, None, int(span),
            None, False, None, self.t(stopped), breached_at, self.t(started),
        )  # fmt: skip


def insert(rows: list[tuple]) -> None:
    table = SlaClock._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(COLUMNS))
            sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608
            for i in range(0, len(rows), BATCH):
                cursor.executemany(sql, rows[i : i + BATCH])


def grow(rows: Rows, open_count: int, stopped_count: int) -> float:
    started = time.perf_counter()
    batch: list[tuple] = []
    for i in range(open_count + stopped_count):
        batch.append(rows.open_clock() if i < open_count else rows.stopped_clock())
        if len(batch) >= 100_000:
            insert(batch)
            batch = []
    if batch:
        insert(batch)
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load on PostgreSQL: statistics, and
        # the visibility map that index-only scans need.
        cursor.execute(
            "VACUUM ANALYZE sla_slaclock" if connection.vendor == "postgresql" else "ANALYZE"
        )
    return time.perf_counter() - started


RAW_SQL = """
SELECT
  COUNT(*) FILTER (WHERE stopped_at IS NULL),
  COUNT(*) FILTER (WHERE stopped_at IS NULL AND state <> 'paused'
                   AND due_at >= %(today)s AND due_at < %(tomorrow)s),
  COUNT(*) FILTER (WHERE stopped_at IS NULL AND state = 'running' AND breached_at IS NULL
                   AND due_at >= %(now)s AND (warned_level >= 2 OR warn2_at <= %(now)s)),
  COUNT(*) FILTER (WHERE stopped_at IS NULL AND (state = 'breached' OR breached_at IS NOT NULL
                   OR (state = 'running' AND due_at < %(now)s))),
  COUNT(*) FILTER (WHERE stopped_at >= %(start)s AND stopped_at < %(end)s
                   AND state = 'breached'),
  COUNT(*) FILTER (WHERE stopped_at >= %(start)s AND stopped_at < %(end)s AND state = 'met'),
  COUNT(*) FILTER (WHERE stopped_at >= %(start)s AND stopped_at < %(end)s
                   AND state IN ('met', 'breached'))
FROM sla_slaclock
WHERE stopped_at IS NULL OR (stopped_at >= %(start)s AND stopped_at < %(end)s)
"""


def raw_params(filters: BoardFilters, now: dt.datetime) -> dict:
    tz = timezone.get_default_timezone()
    today = timezone.localdate(now, tz)

    def midnight(day):
        value = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
        return connection.ops.adapt_datetimefield_value(value)

    return {
        "now": connection.ops.adapt_datetimefield_value(now),
        "today": midnight(today),
        "tomorrow": midnight(today + dt.timedelta(days=1)),
        "start": midnight(filters.start),
        "end": midnight(filters.end + dt.timedelta(days=1)),
    }


def median_time(fn) -> tuple[float, object]:
    result = fn()  # warm-up: caches, the connection, the planner
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def setup_rows(now: dt.datetime) -> Rows:
    """Departments, platform officers, two reviewers per department, and the row maker."""
    departments = Department.objects.bulk_create(
        Department(code=f"B{i:02d}", name=f"济南市测试局{i:02d}", sector=Sector.OTHER)
        for i in range(DEPARTMENTS)
    )
    User = get_user_model()
    officers = User.objects.bulk_create(
        User(username=f"bench{i}", role=Role.OFFICER, password="!") for i in range(OFFICERS)
    )
    reviewers = {}
    for dept in departments:
        reviewers[dept.pk] = [
            user.pk
            for user in User.objects.bulk_create(
                User(username=f"bench_{dept.code}_{i}", role=Role.REVIEWER, password="!")
                for i in range(REVIEWERS_PER_DEPARTMENT)
            )
        ]
    return Rows(
        now,
        ContentType.objects.get_for_model(CreditRecord).pk,
        [d.pk for d in departments],
        [u.pk for u in officers],
        reviewers,
        {p.stage: p.pk for p in SlaPolicy.objects.all()},
    )


@pytest.mark.django_db(transaction=True)
def test_board_summary_against_one_raw_aggregate():
    now = timezone.now()
    today = timezone.localdate(now)
    rows = setup_rows(now)
    filters = BoardFilters(start=today - dt.timedelta(days=29), end=today)
    params = raw_params(filters, now)
    print()
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    results = {}
    have = 0
    for size in SIZES:
        built = grow(rows, size - have, (size - have) // 10)
        have = size
        total = SlaClock.objects.count()
        with CaptureQueriesContext(connection) as queries:
            board_summary(filters=filters, now=now)
        ours, summary = median_time(lambda: board_summary(filters=filters, now=now))

        def raw():
            with connection.cursor() as cursor:
                cursor.execute(RAW_SQL, params)
                return cursor.fetchone()

        bare, counts = median_time(raw)
        assert counts[0] == summary["open"]["total"] == size
        assert list(counts[1:4]) == [
            summary["due_today"],
            summary["at_risk"],
            summary["breached"]["open"],
        ]
        assert counts[4:] == (
            summary["breached"]["stopped_in_period"],
            summary["on_time"]["count"],
            summary["on_time"]["of"],
        )
        results[size] = (len(queries), ours, bare)
        print(
            f"{size:>9,} open clocks ({total:,} rows, built in {built:.1f} s): "
            f"summary {ours * 1000:8.1f} ms in {len(queries)} queries; "
            f"raw aggregate {bare * 1000:8.1f} ms; ratio {ours / bare:.2f}"
        )
    (small_q, *_), (large_q, ours, bare) = results[SIZES[0]], results[SIZES[1]]
    ratio = ours / bare
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"query count: {small_q} at {SIZES[0]:,}, {large_q} at {SIZES[1]:,}")
    print(f"ratio summary/raw at {SIZES[1]:,}: {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
    assert small_q == large_q
