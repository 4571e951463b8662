"""The board's CSV export: the clocks behind a figure, one row each.

    export_stream(clocks, now)  -> the file as it is answered, chunk by chunk
    export_rows(clocks, now)    -> its rows (lists of cells), for a background job
    csv_chunks(rows)            -> (text, rows in it) chunks of the file
    export_is_large(clocks)     -> more rows than EXPORT_BACKGROUND_ROWS? (a bounded count)
    board_export_request(...)   -> an ExportJob: the file written by the task
                                   "sla.export_board" (sla/tasks.py) from board_export_source

Two row sources with one output, byte for byte:

- `python_rows`, the reference (and SQLite's path): values read from a
  server-side cursor, each label formatted here.
- `sql_rows`, PostgreSQL's: one query whose columns are the final cells, every
  label computed by the database from the same definitions (sla.board's label
  texts, passed as query parameters so the caller's language holds,
  repair_flow.csv_cells.FORMULA_STARTS). The request streams it with
  `COPY (that query) TO STDOUT WITH (FORMAT csv)`: no Python per row beyond
  copying bytes (issue 18: the Python formatter was 44x slower than COPY).

COPY writes an empty string as `""` and NULL as nothing, and ends rows with
"\\n": the query gives NULL for an empty cell, and the row ends become
"\\r\\n" as the csv module writes them (`crlf`).
"""

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    DateTimeField,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, Left, Mod, NullIf
from django.db.models.lookups import GreaterThan, GreaterThanOrEqual, In
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from repair_flow.csv_cells import FORMULA_STARTS, csv_cell, csv_row
from repair_flow.exports import export_job_request
from repair_flow.models import ExportJob
from sla.board import (
    DAYS,
    DAYS_HOURS,
    HOURS,
    HOURS_MINUTES,
    MINUTES,
    STOPPED_LABELS,
    UNDER_A_MINUTE,
    Metric,
    assignee_parse,
    board_clocks,
    board_filters_parse,
    clock_state_label,
    duration_label,
    late_by,
)
from sla.models import APPLICANT_STAGES, ClockState, SlaClock, Stage

CSV_HEADER = (
    gettext_lazy("案件"),
    gettext_lazy("环节"),
    gettext_lazy("认定单位"),
    gettext_lazy("承办人"),
    gettext_lazy("开始时间"),
    gettext_lazy("期限（北京时间）"),
    gettext_lazy("状态"),
    gettext_lazy("超时时长"),
)

# The columns the Python formatter reads: values, not model instances (issue
# 18: 40,006 rows took 8.5 s formatted one instance at a time; the SQL took 74 ms).
CSV_COLUMNS = (
    "case_label",
    "stage",
    "department__name",
    "assignee_id",
    "assignee__first_name",
    "assignee__last_name",
    "assignee__username",
    "started_at",
    "due_at",
    "state",
    "stopped_at",
    "paused_at",
    "breached_at",
)
# Rows per chunk of the streamed answer and of a job's file (a job's progress
# moves a chunk at a time).
CSV_CHUNK_ROWS = 2000
BOM = "\ufeff"  # Excel then reads the file as UTF-8
LOCAL_FORMAT = "%Y-%m-%d %H:%M"
SQL_LOCAL_FORMAT = "YYYY-MM-DD HH24:MI"  # the same, as PostgreSQL's to_char spells it
# What str.strip() removes (display_name: get_full_name() strips the joined name).
WHITESPACE = "".join(chr(c) for c in range(1, 0x110000) if chr(c).isspace())


@dataclass(slots=True)
class ClockRow:
    """One exported clock: what late_by and clock_state_label read of it."""

    case_label: str
    stage: str
    department_name: str | None
    assignee_id: int | None
    first_name: str | None
    last_name: str | None
    username: str | None
    started_at: dt.datetime
    due_at: dt.datetime
    state: str
    stopped_at: dt.datetime | None
    paused_at: dt.datetime | None
    breached_at: dt.datetime | None

    def get_state_display(self) -> str:
        return str(ClockState(self.state).label)


def local(at) -> str:
    return timezone.localtime(at).strftime(LOCAL_FORMAT) if at else ""


def python_rows(clocks: QuerySet[SlaClock], now: dt.datetime) -> Iterator[list[str]]:
    """The reference rows: read from a server-side cursor on PostgreSQL
    (QuerySet.iterator), each label computed once per distinct value."""
    stages = {value: str(label) for value, label in Stage.choices}
    waiting, nobody = _("等待申请人"), _("未分配")
    names: dict[int, str] = {}
    for values in clocks.values_list(*CSV_COLUMNS).iterator(chunk_size=CSV_CHUNK_ROWS):
        clock = ClockRow(*values)
        if clock.stage in APPLICANT_STAGES:
            who = waiting
        elif clock.assignee_id is None:
            who = nobody
        else:
            who = names.get(clock.assignee_id)
            if who is None:
                # As display_name: the full name, else the username.
                full = f"{clock.first_name} {clock.last_name}".strip()
                who = names[clock.assignee_id] = full or clock.username
        late = late_by(clock, now)
        # Every cell through csv_row: names come from imports and admin edits.
        yield csv_row([
            clock.case_label,
            stages.get(clock.stage, clock.stage),
            clock.department_name or "",
            who,
            local(clock.started_at),
            local(clock.due_at),
            clock_state_label(clock, now),
            duration_label(late) if late else "",
        ])  # fmt: skip


# --- the same rows computed by PostgreSQL ----------------------------------------------------


def sql_cell(expression):
    """csv_cell in SQL, for a cell whose text comes from the data (names,
    labels of cases): a leading apostrophe before a formula start."""
    return Case(
        When(In(Left(expression, 1), list(FORMULA_STARTS)), then=Concat(Value("'"), expression)),
        default=expression,
        output_field=CharField(),
    )


def label(text) -> Value:
    """A translated label as a query parameter, csv_cell already applied:
    the rule is the same, applied once here rather than on every row."""
    return Value(csv_cell(str(text)))


def not_empty(expression):
    """NULL for an empty cell: COPY writes NULL as nothing and an empty
    string as `""` (NULLIF evaluates its argument once)."""
    return NullIf(expression, Value(""))


def sql_format(template, **values):
    """A "%(name)s" message (already translated) as a concatenation of its
    text and the integer expressions `values`; csv_cell applied to its
    leading text (a cell that starts with a number never needs it)."""
    parts = re.split(r"%\((\w+)\)s", str(template))
    pieces = []
    for i, part in enumerate(parts):
        if i % 2:
            pieces.append(Cast(values[part], CharField()))
        elif part:
            text = part.replace("%%", "%")
            pieces.append(Value(csv_cell(text) if i == 0 else text))
    return pieces[0] if len(pieces) == 1 else Concat(*pieces, output_field=CharField())


def sql_local(field: str):
    """The instant in the current time zone, as `local` writes it: the
    local timestamp's ISO text (DateStyle ISO, set by `postgres_session`) to
    the minute, seconds cut off as strftime("%M") cuts them (to_char took
    twice as long). It starts with the year's digits, so csv_cell never
    changes it: not applied."""
    return Func(
        F(field),
        Value(timezone.get_current_timezone_name()),
        template="left((%(expressions)s)::text, 16)",
        arg_joiner=" AT TIME ZONE ",
        output_field=CharField(),
    )


def sql_late_by(now: dt.datetime):
    """late_by as the late label: the instant the lateness is counted to (as
    late_by chooses it), then duration_label's text for the whole minutes past
    the deadline."""
    stopped = Q(stopped_at__isnull=False)
    end = Case(
        When(stopped & Q(state=ClockState.BREACHED), then=F("stopped_at")),
        When(stopped, then=Value(None)),
        When(Q(state=ClockState.PAUSED, breached_at__isnull=False), then=F("paused_at")),
        When(Q(state=ClockState.PAUSED), then=Value(None)),
        default=Value(now),
        output_field=DateTimeField(),
    )
    seconds = Func(
        end,
        F("due_at"),
        # date_part: a double, as timedelta.total_seconds() is (extract's
        # numeric made the column twice as slow).
        template="date_part('epoch', %(expressions)s)",
        arg_joiner=" - ",
        output_field=FloatField(),
    )
    minutes = Func(
        seconds, template="floor(%(expressions)s / 60)::bigint", output_field=BigIntegerField()
    )
    days = Func(minutes, template="(%(expressions)s / 1440)", output_field=BigIntegerField())
    hours = Func(
        Mod(minutes, 1440), template="(%(expressions)s / 60)", output_field=BigIntegerField()
    )
    mins = Mod(minutes, 60, output_field=BigIntegerField())
    has_days = GreaterThanOrEqual(minutes, 1440)
    has_hours = GreaterThanOrEqual(Mod(minutes, 1440), 60)
    has_minutes = GreaterThan(mins, 0)
    text = Case(
        When(Q(has_days) & Q(has_hours), then=sql_format(DAYS_HOURS, d=days, h=hours)),
        When(has_days, then=sql_format(DAYS, d=days)),
        When(Q(has_hours) & Q(has_minutes), then=sql_format(HOURS_MINUTES, h=hours, m=mins)),
        When(has_hours, then=sql_format(HOURS, h=hours)),
        When(has_minutes, then=sql_format(MINUTES, m=mins)),
        default=label(UNDER_A_MINUTE),
        output_field=CharField(),
    )
    # NULL (no end, or not past the deadline) is an empty cell.
    return Case(When(GreaterThan(seconds, 0), then=text), output_field=CharField())


def sql_state(now: dt.datetime):
    """clock_state_label: a stopped clock says how it ended; a running one
    past its deadline is late before the sweep marks it."""
    other = [When(state=value, then=label(text)) for value, text in ClockState.choices]
    open_ = Case(
        When(Q(state=ClockState.RUNNING, due_at__lt=now), then=label(ClockState.BREACHED.label)),
        *other,
        default=sql_cell(F("state")),
        output_field=CharField(),
    )
    stopped = Case(
        *[When(state=value, then=label(text)) for value, text in STOPPED_LABELS.items()],
        *other,
        default=sql_cell(F("state")),
        output_field=CharField(),
    )
    return Case(When(stopped_at__isnull=True, then=open_), default=stopped)


def sql_who():
    """_clock_who: the applicant's stages, nobody, or display_name."""
    # Both names are NOT NULL where there is an assignee (the only branch
    # that reads them): no COALESCE around each, as Concat would add.
    joined = Func(
        F("assignee__first_name"),
        F("assignee__last_name"),
        template="(%(expressions)s)",
        arg_joiner=" || ' ' || ",
        output_field=CharField(),
    )
    full = Func(joined, Value(WHITESPACE), function="btrim", output_field=CharField())
    return Case(
        When(stage__in=sorted(APPLICANT_STAGES), then=label(_("等待申请人"))),
        When(assignee__isnull=True, then=label(_("未分配"))),
        default=sql_cell(Coalesce(NullIf(full, Value("")), F("assignee__username"))),
        output_field=CharField(),
    )


SQL_CELLS = ("c_case", "c_stage", "c_department", "c_who", "c_start", "c_due", "c_state", "c_late")


def sql_rows(clocks: QuerySet[SlaClock], now: dt.datetime) -> QuerySet:
    """The same rows as python_rows, every cell computed by PostgreSQL, from
    the same filtered and ordered queryset (its access scope unchanged)."""
    stage = Case(
        *[When(stage=value, then=label(text)) for value, text in Stage.choices],
        default=sql_cell(F("stage")),
        output_field=CharField(),
    )
    cells = (
        sql_cell(F("case_label")),
        stage,
        sql_cell(F("department__name")),
        sql_who(),
        sql_local("started_at"),
        sql_local("due_at"),
        sql_state(now),
        sql_late_by(now),
    )
    annotated = clocks.annotate(**{
        name: not_empty(cell) for name, cell in zip(SQL_CELLS, cells, strict=True)
    })  # fmt: skip
    return annotated.values_list(*SQL_CELLS)


def copy_sql(clocks: QuerySet[SlaClock], now: dt.datetime) -> str:
    """`COPY (the rows) TO STDOUT WITH (FORMAT csv)`, its parameters bound."""
    sql, params = sql_rows(clocks, now).query.sql_with_params()
    return f"COPY ({connection.ops.compose_sql(sql, params)}) TO STDOUT WITH (FORMAT csv)"


# --- the file --------------------------------------------------------------------------------


def uses_copy() -> bool:
    return connection.vendor == "postgresql"


def header() -> str:
    out = io.StringIO()
    csv.writer(out).writerow(csv_row(CSV_HEADER))
    return BOM + out.getvalue()


def csv_chunks(rows: Iterable[list]) -> Iterator[tuple[str, int]]:
    """The file as (text, rows in it): the BOM and the header, then the rows
    CSV_CHUNK_ROWS at a time."""
    yield header(), 0
    out = io.StringIO()
    writer = csv.writer(out)
    n = 0
    for row in rows:
        writer.writerow(row)
        n += 1
        if n == CSV_CHUNK_ROWS:
            yield out.getvalue(), n
            out.seek(0)
            out.truncate()
            n = 0
    if n:
        yield out.getvalue(), n


def crlf(data: bytes) -> bytes:
    """Whole rows as COPY wrote them, their "\n" row ends made "\r\n" as the
    csv module writes them. A newline inside a quoted cell stays "\n" in
    both: the rows start outside quotes, so a newline is inside one exactly
    when an odd number of quote characters precede it."""
    if b'"' not in data:
        return data.replace(b"\n", b"\r\n")
    parts = data.split(b'"')
    parts[::2] = [part.replace(b"\n", b"\r\n") for part in parts[::2]]
    return b'"'.join(parts)


@contextmanager
def postgres_session():
    """The session settings the computed cells need, reset afterwards:
    DateStyle ISO (sql_local reads the timestamp's text), and no JIT: the
    query's many small expressions can push its cost past jit_above_cost,
    and compiling them took 0.5 s of a 1.3 s export of 100,000 rows and
    saved less (tests/bench/bench_lists.py)."""
    with connection.cursor() as cursor:
        cursor.execute("SET datestyle = 'ISO, YMD'; SET jit = off")
        try:
            yield cursor
        finally:
            cursor.execute("RESET datestyle; RESET jit")


def copy_chunks(clocks: QuerySet[SlaClock], now: dt.datetime) -> Iterator[bytes]:
    """The file by COPY: the BOM and the header, then the rows as PostgreSQL
    writes them, CSV_CHUNK_ROWS a chunk (each COPY message is one row).
    Rows are appended to one buffer as they come: holding the messages
    and joining them took half as long again as the COPY itself."""
    yield header().encode()
    sql = copy_sql(clocks, now)
    with postgres_session() as cursor, cursor.cursor.copy(sql) as copy:
        buffer, n = bytearray(), 0
        for row in copy:
            buffer += row
            n += 1
            if n == CSV_CHUNK_ROWS:
                yield crlf(bytes(buffer))
                buffer.clear()
                n = 0
        if n:
            yield crlf(bytes(buffer))


def in_language(chunks: Iterator, language: str | None) -> Iterator:
    """`chunks`, each made in `language`: a streamed answer is read after the
    view has returned, when the request's language is no longer active (an
    English export came out in Chinese). Active only while a chunk is made."""
    while True:
        with translation.override(language):
            try:
                chunk = next(chunks)
            except StopIteration:
                return
        yield chunk


def export_stream(clocks: QuerySet[SlaClock], now: dt.datetime) -> Iterator[str | bytes]:
    """The file as a request answers it, in the request's language: by COPY
    on PostgreSQL, else formatted here."""
    if uses_copy():
        chunks = copy_chunks(clocks, now)
    else:
        chunks = (text for text, _n in csv_chunks(python_rows(clocks, now)))
    return in_language(chunks, translation.get_language())


def export_rows(clocks: QuerySet[SlaClock], now: dt.datetime) -> Iterator[list]:
    """The rows as a background job writes them (a chunk at a time, reporting
    progress between chunks, which a COPY in progress would not allow on its
    connection): PostgreSQL's computed cells read from a server-side cursor,
    else the reference formatter."""
    if uses_copy():
        return sql_rows_read(clocks, now)
    return python_rows(clocks, now)


def sql_rows_read(clocks: QuerySet[SlaClock], now: dt.datetime) -> Iterator[tuple]:
    with postgres_session():
        yield from sql_rows(clocks, now).iterator(chunk_size=CSV_CHUNK_ROWS)


# --- above the threshold: a background job ---------------------------------------------------

# The registered task that writes the board's export (sla/tasks.py), and the
# kind of its jobs.
EXPORT_KIND = "sla.export_board"


def export_is_large(clocks: QuerySet[SlaClock]) -> bool:
    """More rows than EXPORT_BACKGROUND_ROWS? Counted no further than one
    past it, unordered: the answer costs at most that many index entries."""
    threshold = settings.EXPORT_BACKGROUND_ROWS
    return clocks.order_by().values("pk")[: threshold + 1].count() > threshold


def board_export_request(
    *, params: dict[str, str], title: str, download_name: str, now: dt.datetime, requested_by
) -> ExportJob:
    """The board's export of the list `params` selects (its filters, metric
    and assignee, as the list's own query parameters, the period explicit),
    as of `now`, written in the background."""
    return export_job_request(
        kind=EXPORT_KIND,
        title=title,
        parameters={"params": params, "now": now.isoformat()},
        requested_by=requested_by,
        download_name=download_name,
    )


def board_export_source(job: ExportJob) -> tuple[int, Iterator[tuple[str, int]]]:
    """The rows of a job's export, rebuilt from its parameters as the list
    built them: (how many, the file's chunks)."""
    now = dt.datetime.fromisoformat(job.parameters["now"])
    params = job.parameters["params"]
    errors: dict[str, str] = {}
    filters, errors = board_filters_parse(params, today=timezone.localdate(now))
    assignee = assignee_parse(params.get("assignee", ""), errors)
    metric = params.get("metric") or Metric.OPEN
    if errors or metric not in Metric.ALL:
        # The parameters were checked when the job was asked for: a
        # department deleted since is the likely cause.
        raise ValueError("; ".join(errors.values()) or metric)
    clocks = board_clocks(filters=filters, metric=metric, assignee=assignee, now=now)
    return clocks.count(), csv_chunks(export_rows(clocks, now))
