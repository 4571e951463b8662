"""Post-repair monitoring at scale (issue 7): breach matching next to a raw SQL join.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/repair_flow_bench_monitoring \\
      .venv/bin/python -m pytest tests/bench/bench_monitoring.py -s -p no:cacheprovider \\
      -o addopts=""
    BENCH_WINDOWS=100000 BENCH_ROWS=10000 ...  # smaller
    BENCH_REPEAT=5 ...         # repeats of the matching and raw runs (default 3)
    BENCH_IMPORT_REPEAT=3 ...  # imports with the event path on, and off (default 2 each)
    BENCH_EXPLAIN=1 ...        # print EXPLAIN ANALYZE of ours and of the raw joins
    BENCH_PROFILE=1 ...        # cProfile the first run of the event path, the sweep's
                               # matching and monitoring_sweep (those runs are slower)
    BENCH_PROFILE_SORT=tottime ...  # the profiles' order (default cumulative)

PostgreSQL only (skipped on SQLite: the data is built with generate_series,
and the question is the plan PostgreSQL picks at this size).

Data, built by SQL in one transaction: BENCH_WINDOWS (default 1,000,000)
subjects, each with one repaired penalty, one approved repair case and one
open monitoring window of 12 months; the windows end over the next 12 months,
and 1 % of them have already ended (still open: the sweep completes them).

Event path: BENCH_ROWS (default 100,000) new penalties go through
`records_ingest` (batches of 1,000, rows built in memory): 1 % are of
monitored subjects and decided inside their window (each opens a review), 1 %
of monitored subjects but decided before their window (must not match), the
rest of other subjects (the import creates them). The import is timed with
the event path on (the records-saved hook wrapped to time it; the
matching INSERT timed on its own through an execute wrapper) and off (the
receiver disconnected), alternately; the records, subjects and reviews of
each run are removed (and the tables vacuumed) before the next.

Sweep: the last import ran with the event path off, so its matches are left
for the sweep. Timed: `breaches_match(found_via="sweep")` over all open windows
(the sweep's matching), then `monitoring_sweep()` whole (matching, then the
ended windows completed in batches of 5,000 with their cases, timeline,
audit, mail); the reviews and completions are undone between runs.

Raw reference, in the same run: the plain SELECT count(*) of the same join
with the same conditions (window ⋈ record on subject ⋈ case, decision date
between starts_on and ends_on, record not deleted, not the repaired record):
for the event path over the imported record ids (in the import's batches of
1,000 as IN lists, and in one statement), for the sweep over all open windows.
Ratio = ours / raw; target <= 3. Every timed thing runs several times: best
and median are printed. The counts are asserted equal.
"""

import cProfile
import datetime as dt
import os
import pstats
import random
import statistics
import time
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from flows.models import BreachFoundVia, BreachReview, MonitoringWindow, RepairCase
from flows.monitoring.services import (
    LATE_ARRIVAL_DAYS,
    _matching_sql,
    breaches_match,
    monitoring_sweep,
    on_records_saved,
)
from records.hooks import records_saved_hook_replaced
from records.identifiers import make_uscc
from records.models import CreditRecord, Department, Sector, Subject
from records.services import records_ingest
from repair_flow.models import Role, User

pytestmark = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="PostgreSQL only: set DATABASE_URL=postgres://... (1,000,000 windows built with "
    "generate_series; the plan at that size is what is measured)",
)

WINDOWS = int(os.environ.get("BENCH_WINDOWS", "1000000"))
IMPORT_ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
HITS = IMPORT_ROWS // 100  # monitored subject, decided inside the window
EARLY = IMPORT_ROWS // 100  # monitored subject, decided before the window
OTHER_SUBJECTS = max(1, IMPORT_ROWS // 5)
ENDED_EVERY = 100  # 1 % of the windows have ended and are still open
DEPARTMENTS = 8
APPLICANTS = 1000
BATCH = 1000  # records_ingest's batch
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
IMPORT_REPEAT = int(os.environ.get("BENCH_IMPORT_REPEAT", "2"))
EXPLAIN = os.environ.get("BENCH_EXPLAIN") == "1"
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
TARGET_RATIO = 3.0

T_SUBJECT = Subject._meta.db_table
T_RECORD = CreditRecord._meta.db_table
T_CASE = RepairCase._meta.db_table
T_WINDOW = MonitoringWindow._meta.db_table
T_REVIEW = BreachReview._meta.db_table


def sql(statement: str, params=None) -> list:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def vacuum(*tables: str) -> None:
    for table in tables:
        sql(f"VACUUM ANALYZE {table}")


# Building ----------------------------------------------------------------------------


def build(now: dt.datetime, departments: list[int], applicants: list[int]) -> None:
    """Subjects, repaired records, approved cases and open windows, ids 1..WINDOWS.
    Consistent by construction, so the foreign-key triggers are off while it runs
    (session_replication_role, this transaction only)."""
    p = {"now": now, "n": WINDOWS, "tz": settings.TIME_ZONE, "ended": ENDED_EVERY}
    p |= {"depts": departments, "applicants": applicants}
    with transaction.atomic():
        sql("SET LOCAL session_replication_role = replica")
        sql(
            "CREATE TEMP TABLE bench_w ON COMMIT DROP AS"
            " SELECT n, e AS ends_at, e - interval '12 months' AS starts_at FROM ("
            "  SELECT n, CASE WHEN n %% %(ended)s = 0"
            "   THEN %(now)s - make_interval(days => 1 + n %% 20, mins => n %% 600)"
            "   ELSE %(now)s + make_interval(mins => 1 + ((n::bigint * 7919) %% 524000)::int)"
            "  END AS e"
            "  FROM generate_series(1, %(n)s) n) x",
            p,
        )
        sql(
            f"INSERT INTO {T_SUBJECT} (id, kind, identifier, name, legal_representative,"  # noqa: S608
            " created_at, updated_at)"
            " SELECT n, 'enterprise', 'B' || lpad(n::text, 17, '0'), '监管测试企业' || n, '',"
            " %(now)s, %(now)s FROM generate_series(1, %(n)s) n",
            p,
        )
        sql(
            f"INSERT INTO {T_RECORD} (id, decision_number, decision_date, penalty_types,"  # noqa: S608
            " fine_amount, severity, facts, status, publicity_starts_on, publicity_ends_on,"
            " created_at, updated_at, department_id, subject_id)"
            " SELECT n, '济罚〔修复〕' || n || '号', d, '[\"fine\"]', 1000, 'general', '',"
            " 'repaired', d, d + 1095, %(now)s, %(now)s,"
            " (%(depts)s::bigint[])[1 + n %% cardinality(%(depts)s::bigint[])], n"
            " FROM (SELECT n, (starts_at AT TIME ZONE %(tz)s)::date - 60 - n %% 300 AS d"
            "  FROM bench_w) x",
            p,
        )
        sql(
            f"INSERT INTO {T_CASE} (id, number, filed_by_capacity, details, status, created_at,"  # noqa: S608
            " submitted_at, accepted_at, decided_at, closed_at, supplement_count,"
            " decision_reasons, decision_basis, applicant_id, decision_letter_id, officer_id,"
            " record_id, reviewer_id, subject_id)"
            " SELECT n, 'XF-BENCH-' || n, 'self', '', 'approved', starts_at - interval '20 days',"
            " starts_at - interval '20 days', starts_at - interval '15 days', starts_at, NULL, 0,"
            " '[]', '', (%(applicants)s::bigint[])[1 + n %% cardinality(%(applicants)s::bigint[])],"
            " NULL, NULL, n, NULL, n FROM bench_w",
            p,
        )
        sql(
            f"INSERT INTO {T_WINDOW} (id, starts_at, ends_at, status, closed_at, case_id,"  # noqa: S608
            " commitment_id, subject_id, starts_on, ends_on)"
            " SELECT n, starts_at, ends_at, 'open', NULL, n, NULL, n,"
            " (starts_at AT TIME ZONE %(tz)s)::date, (ends_at AT TIME ZONE %(tz)s)::date"
            " FROM bench_w",
            p,
        )
        for table in (T_SUBJECT, T_RECORD, T_CASE, T_WINDOW):
            sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [WINDOWS])
    vacuum(T_SUBJECT, T_RECORD, T_CASE, T_WINDOW)


def import_plan(now: dt.datetime, today: dt.date) -> list[dict]:
    """The rows of one import (without decision numbers), in a fixed shuffled order.
    The monitored subjects used get real USCCs (the import validates them)."""
    chosen = sql(
        f"SELECT w.subject_id, w.starts_on, s.name FROM {T_WINDOW} w"  # noqa: S608
        f" JOIN {T_SUBJECT} s ON s.id = w.subject_id"
        " WHERE w.ends_at > %s ORDER BY (w.id * 7919) %% 1000003, w.id LIMIT %s",
        [now, HITS + EARLY],
    )
    assert len(chosen) == HITS + EARLY
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {T_SUBJECT} SET identifier = %s WHERE id = %s",  # noqa: S608
            [(make_uscc(serial=subject_id), subject_id) for subject_id, _, _ in chosen],
        )
    rng = random.Random(20261127)  # reproducible
    rows = []
    for i, (subject_id, starts_on, name) in enumerate(chosen):
        if i < HITS:  # inside the window (it started on or before today)
            day = starts_on + dt.timedelta(days=rng.randrange((today - starts_on).days + 1))
        else:  # before the window
            day = starts_on - dt.timedelta(days=1 + rng.randrange(60))
        rows.append((make_uscc(serial=subject_id), name, day))
    first_day = today - dt.timedelta(days=900)
    for _ in range(IMPORT_ROWS - len(rows)):
        j = rng.randrange(OTHER_SUBJECTS)
        day = first_day + dt.timedelta(days=rng.randrange(900))
        rows.append((make_uscc(serial=50_000_000 + j), f"其他测试企业{j}", day))
    rng.shuffle(rows)
    return [
        {
            "department_code": f"BM{i % DEPARTMENTS}",
            "subject_type": "enterprise",
            "subject_identifier": identifier,
            "subject_name": name,
            "decision_date": day.isoformat(),
            "fine_amount": "2000",
            "severity": "general",
            "penalty_types": "fine",
            "facts": "未按规定履行法定义务，经调查属实。",
        }
        for i, (identifier, name, day) in enumerate(rows)
    ]


# The event path --------------------------------------------------------------------


class EventMeter:
    """Wraps the records-saved hook (time of each breaches_match call) and
    times the matching INSERT on its own (an execute wrapper)."""

    prefix = f'INSERT INTO "{T_REVIEW}"'

    def __init__(self, profile: cProfile.Profile | None = None):
        self.calls, self.seconds, self.statement = 0, 0.0, 0.0
        self.profile = profile

    def receiver(self, **kwargs):
        started = time.perf_counter()
        if self.profile:
            self.profile.enable()
        try:
            on_records_saved(**kwargs)
        finally:
            if self.profile:
                self.profile.disable()
            self.seconds += time.perf_counter() - started
            self.calls += 1

    def __call__(self, execute, statement, params, many, context):
        if not statement.startswith(self.prefix):
            return execute(statement, params, many, context)
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            self.statement += time.perf_counter() - started


@contextmanager
def event_path(meter: EventMeter | None):
    hook = meter.receiver if meter is not None else None
    with records_saved_hook_replaced("flows.monitoring", hook):
        if meter is not None:
            with connection.execute_wrapper(meter):
                yield
        else:
            yield


def run_import(plan: list[dict], run: int, meter: EventMeter | None) -> float:
    rows = [
        (line, {**row, "decision_number": f"济罚〔B{run}〕{line}号"})
        for line, row in enumerate(plan, start=2)
    ]
    started = time.perf_counter()
    with event_path(meter):
        result = records_ingest(rows=rows, actor="import_records", source="bench")
    seconds = time.perf_counter() - started
    assert (result.created, result.updated, result.rejected) == (IMPORT_ROWS, 0, [])
    return seconds


def drop_reviews() -> None:
    """What opening reviews wrote, except the append-only audit events."""
    with transaction.atomic():
        sql("DELETE FROM flows_caseevent WHERE action = 'breach_review_opened'")
        sql("DELETE FROM sla_slaclock WHERE stage = 'breach_review'")
        sql(f"DELETE FROM {T_REVIEW}")  # noqa: S608
    vacuum("flows_caseevent", "sla_slaclock", T_REVIEW)


def drop_import() -> None:
    drop_reviews()
    with transaction.atomic():
        sql(f"DELETE FROM {T_RECORD} WHERE id > %s", [WINDOWS])  # noqa: S608
        sql(f"DELETE FROM {T_SUBJECT} WHERE id > %s", [WINDOWS])  # noqa: S608
    vacuum(T_RECORD, T_SUBJECT)


# Raw references -----------------------------------------------------------------------

RAW = (
    f"SELECT count(*) FROM {T_WINDOW} w"  # noqa: S608
    f" JOIN {T_RECORD} r ON r.subject_id = w.subject_id"
    f" JOIN {T_CASE} c ON c.id = w.case_id"
    " WHERE {scope}"
    " AND r.decision_date >= w.starts_on AND r.decision_date <= w.ends_on"
    " AND r.status <> 'deleted' AND r.id <> c.record_id"
)
SWEEP_SCOPE = "(w.status = 'open' OR (w.status = 'completed' AND w.closed_at >= %s))"


def raw_batched(ids: list[int]) -> tuple[float, int]:
    """The event path's statements as plain SELECTs: 1,000 ids a statement."""
    total, started = 0, time.perf_counter()
    for k in range(0, len(ids), BATCH):
        chunk = ids[k : k + BATCH]
        scope = f"r.id IN ({', '.join(['%s'] * len(chunk))}) AND w.status IN ('open', 'completed')"
        total += sql(RAW.format(scope=scope), chunk)[0][0]
    return time.perf_counter() - started, total


def raw_one(ids: list[int]) -> tuple[float, int]:
    started = time.perf_counter()
    scope = "r.id = ANY(%s) AND w.status IN ('open', 'completed')"
    count = sql(RAW.format(scope=scope), [ids])[0][0]
    return time.perf_counter() - started, count


def raw_sweep(late_since: dt.datetime) -> tuple[float, int]:
    started = time.perf_counter()
    count = sql(RAW.format(scope=SWEEP_SCOPE), [late_since])[0][0]
    return time.perf_counter() - started, count


def raw_completion(now: dt.datetime) -> tuple[float, int]:
    """The completion as two plain UPDATEs in one statement, rolled back."""
    started = time.perf_counter()
    with transaction.atomic():
        rows = sql(
            f"WITH done AS (UPDATE {T_WINDOW} w SET status = 'completed', closed_at = %s"  # noqa: S608
            " WHERE w.status = 'open' AND w.ends_at <= %s AND NOT EXISTS ("
            f"  SELECT 1 FROM {T_REVIEW} b WHERE b.window_id = w.id AND b.status = 'open')"
            " RETURNING w.case_id)"
            f" UPDATE {T_CASE} c SET status = 'completed' FROM done"
            " WHERE c.id = done.case_id AND c.status = 'approved' RETURNING c.id",
            [now, now],
        )
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds, len(rows)


def undo_completion() -> None:
    with transaction.atomic():
        sql(f"UPDATE {T_WINDOW} SET status = 'open', closed_at = NULL WHERE status = 'completed'")  # noqa: S608
        sql(f"UPDATE {T_CASE} SET status = 'approved' WHERE status = 'completed'")  # noqa: S608
        sql("DELETE FROM flows_caseevent WHERE action = 'complete'")
        sql("DELETE FROM letters_outboundmessage WHERE idempotency_key LIKE 'monitoring:%'")
    vacuum(T_WINDOW, T_CASE, "flows_caseevent", "letters_outboundmessage")


def print_profile(label: str, profile: cProfile.Profile | None) -> None:
    if profile is not None:
        print(f"\nPROFILE {label} (cumulative):")
        order = os.environ.get("BENCH_PROFILE_SORT", "cumulative")
        pstats.Stats(profile).sort_stats(order).print_stats(35)


def explain(statement: str, params) -> None:
    with transaction.atomic():
        rows = sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
        transaction.set_rollback(True)
    print("\n".join(f"    {row[0][:160]}" for row in rows))  # id lists cut short


# Reporting --------------------------------------------------------------------------


def best_median(runs: list[float]) -> str:
    return f"{min(runs):8.3f} {statistics.median(runs):8.3f}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@pytest.mark.django_db(transaction=True)
def test_monitoring_matching_against_a_raw_join():
    started_all = time.perf_counter()
    load_before = load()
    now = timezone.now()
    today = timezone.localdate()
    late_since = now - dt.timedelta(days=LATE_ARRIVAL_DAYS)
    Department.objects.bulk_create(
        Department(code=f"BM{i}", name=f"济南市监管测试局{i}", sector=Sector.OTHER)
        for i in range(DEPARTMENTS)
    )
    departments = list(
        Department.objects.filter(code__startswith="BM").values_list("id", flat=True)
    )
    User.objects.bulk_create(
        User(
            username=f"bench_applicant{i}",
            email=f"applicant{i}@example.com",
            role=Role.APPLICANT,
            password="!",
        )
        for i in range(APPLICANTS)
    )
    applicants = list(
        User.objects.filter(username__startswith="bench_applicant").values_list("id", flat=True)
    )

    started = time.perf_counter()
    build(now, departments, applicants)
    built = time.perf_counter() - started
    ended = MonitoringWindow.objects.filter(status="open", ends_at__lte=now).count()
    plan = import_plan(now, today)

    # Event path: the import with it on and off, alternately; the last run is
    # off and kept, for the sweep.
    on_runs, off_runs, match_runs, stmt_runs = [], [], [], []
    raw_b_runs, raw_1_runs = [], []
    calls = 0
    for run in range(IMPORT_REPEAT):
        meter = EventMeter(cProfile.Profile() if PROFILE and run == 0 else None)
        on_runs.append(run_import(plan, 2 * run, meter))
        match_runs.append(meter.seconds)
        stmt_runs.append(meter.statement)
        calls = meter.calls
        opened = BreachReview.objects.count()
        ids = list(
            CreditRecord.objects.filter(pk__gt=WINDOWS).order_by("pk").values_list("pk", flat=True)
        )
        assert len(ids) == IMPORT_ROWS
        for _ in range(REPEAT):
            seconds, count = raw_batched(ids)
            assert count == opened == HITS, (count, opened, HITS)
            raw_b_runs.append(seconds)
            seconds, count = raw_one(ids)
            assert count == HITS
            raw_1_runs.append(seconds)
        print_profile("event path, the records-saved hooks of one import", meter.profile)
        if EXPLAIN and run == 0:
            drop_reviews()
            chunk = ids[:BATCH]
            in_ids = f"r.id IN ({', '.join(['%s'] * len(chunk))})"
            params = ["new_penalty", "import", "open", now, *chunk, "open", "completed", "deleted"]
            print("\nEXPLAIN ours, the event path's INSERT for the first 1,000 ids (rolled back):")
            explain(_matching_sql(f"{in_ids} AND w.status IN (%s, %s)"), params)
            print("\nEXPLAIN raw join, the same 1,000 ids:")
            explain(RAW.format(scope=f"{in_ids} AND w.status IN ('open', 'completed')"), chunk)
        drop_import()
        off_runs.append(run_import(plan, 2 * run + 1, None))
        assert not BreachReview.objects.exists()
        if run < IMPORT_REPEAT - 1:
            drop_import()

    # Sweep: the matching alone, then the whole sweep.
    sweep_runs, sweep_stmt_runs, raw_s_runs = [], [], []
    for _ in range(REPEAT):
        seconds, count = raw_sweep(late_since)
        assert count == HITS
        raw_s_runs.append(seconds)
    if EXPLAIN:
        params = ["new_penalty", "sweep", "open", now, "open", "completed", late_since, "deleted"]
        scope = "(w.status = %s OR (w.status = %s AND w.closed_at >= %s))"
        print("\nEXPLAIN ours, the sweep's INSERT ... SELECT (rolled back):")
        explain(_matching_sql(scope), params)
        print("\nEXPLAIN raw join, all open windows:")
        explain(RAW.format(scope=SWEEP_SCOPE), [late_since])
    for k in range(REPEAT):
        meter = EventMeter()
        profile = cProfile.Profile() if PROFILE and k == 0 else None
        started = time.perf_counter()
        with connection.execute_wrapper(meter):
            if profile:
                profile.enable()
            reviews = breaches_match(
                found_via=BreachFoundVia.SWEEP,
                at=now,
                actor="monitor_commitments",
                late_since=late_since,
            )
            if profile:
                profile.disable()
        sweep_runs.append(time.perf_counter() - started)
        print_profile("sweep, breaches_match", profile)
        sweep_stmt_runs.append(meter.statement)
        assert len(reviews) == HITS
        drop_reviews()

    whole_runs, raw_c_runs = [], []
    for _ in range(REPEAT):
        seconds, count = raw_completion(now)
        assert count == ended
        raw_c_runs.append(seconds)
        vacuum(T_WINDOW, T_CASE)
    for k in range(REPEAT):
        profile = cProfile.Profile() if PROFILE and k == 0 else None
        started = time.perf_counter()
        if profile:
            profile.enable()
        result = monitoring_sweep(now=now)
        if profile:
            profile.disable()
        whole_runs.append(time.perf_counter() - started)
        print_profile("monitoring_sweep", profile)
        assert (result.breaches_found, result.windows_completed) == (HITS, ended), str(result)
        drop_reviews()
        undo_completion()

    # Report.
    def ratio(ours: list[float], raw: list[float]) -> str:
        value = min(ours) / min(raw)
        median = statistics.median(ours) / statistics.median(raw)
        verdict = "met" if value <= TARGET_RATIO else "NOT met"
        return f"{value:6.2f} (best/best; median/median {median:.2f}) {verdict}"

    added = [on - off for on, off in zip(on_runs, off_runs, strict=True)]
    raw_sweep_whole = [s + c for s, c in zip(raw_s_runs, raw_c_runs, strict=True)]
    print()
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    print(
        f"windows (open, 12 months): {WINDOWS:,}  of which ended, to complete: {ended:,}"
        f"  subjects/cases/repaired records: {WINDOWS:,} each  built in {built:.1f} s"
    )
    print(
        f"import: {IMPORT_ROWS:,} records in batches of {BATCH} ({calls} records-saved hook calls):"
        f" {HITS:,} inside a window, {EARLY:,} before the window, "
        f"{IMPORT_ROWS - HITS - EARLY:,} of {OTHER_SUBJECTS:,} other subjects"
    )
    print(f"repeats: imports {IMPORT_REPEAT} on + {IMPORT_REPEAT} off; other timings {REPEAT}")
    print(f"{'':52} {'best s':>8} {'median':>8}  rows")
    lines = [
        ("import, event path on (records_ingest)", on_runs, IMPORT_ROWS),
        ("import, event path off (receiver disconnected)", off_runs, IMPORT_ROWS),
        ("  on - off, same pair of runs", added, HITS),
        ("event path: breaches_match, all batches", match_runs, HITS),
        ("event path: the INSERT ... SELECT alone", stmt_runs, HITS),
        ("raw SELECT join, same ids, batches of 1,000", raw_b_runs, HITS),
        ("raw SELECT join, same ids, one statement", raw_1_runs, HITS),
        ("sweep: breaches_match over all open windows", sweep_runs, HITS),
        ("sweep: the INSERT ... SELECT alone", sweep_stmt_runs, HITS),
        ("raw SELECT join, all open windows", raw_s_runs, HITS),
        ("monitoring_sweep() whole (match + complete)", whole_runs, HITS + ended),
        ("raw completion UPDATE windows+cases (rolled back)", raw_c_runs, ended),
    ]
    for label, runs, rows in lines:
        print(f"{label:52} {best_median(runs)}  {rows:,}")
    for label, runs, _rows in lines:
        print(f"runs, {label.strip()}: {', '.join(f'{t:.3f}' for t in runs)}")
    print("ratios, ours / raw (target <= 3):")
    print(f"  event path, breaches_match / raw batched:  {ratio(match_runs, raw_b_runs)}")
    print(f"  event path, INSERT alone / raw batched:    {ratio(stmt_runs, raw_b_runs)}")
    print(f"  event path, breaches_match / raw one stmt: {ratio(match_runs, raw_1_runs)}")
    print(f"  sweep matching, breaches_match / raw join: {ratio(sweep_runs, raw_s_runs)}")
    print(f"  sweep matching, INSERT alone / raw join:   {ratio(sweep_stmt_runs, raw_s_runs)}")
    print(f"  monitoring_sweep / (raw join + raw UPDATE): {ratio(whole_runs, raw_sweep_whole)}")
    total = time.perf_counter() - started_all
    print(f"load average (1, 5, 15 min): before {load_before}, after {load()}; total {total:.0f} s")
