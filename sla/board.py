"""The supervisors' board: SLA figures over clocks, and the clocks behind each figure.

    board_filters_parse(params, today=...)  -> (BoardFilters | None, errors by parameter)
    board_summary(filters=..., now=...)     -> dict, the JSON of GET /api/v1/sla/summary
    board_clocks(filters=..., metric=..., assignee=..., now=...) -> the clocks behind a figure
    board_monitoring(filters=..., now=...)  -> dict, the post-repair monitoring figures

Every figure is a conditional count that the database computes with GROUP BY:
the summary runs a fixed number of queries (five) whatever the number
of clocks, and Python only adds up the grouped rows (bounded by stages x
departments x assignees, never by clocks). A figure and the list behind it
use the same conditions (`metric_q`), so the list always has as many rows as
the figure says.

The monitoring figures (履约监管) are not clocks: `flows.monitoring.monitoring_figures`
computes them over windows and breach reviews in a fixed number of queries of
its own (two), kept apart from the summary's five so each can be measured.
This module is the board's read side, used only by the board's page and API
(sla.views_board, sla.api_board): it sits above the case kinds and may read them.

Snapshot figures (open, due today, at risk, open breached) describe the clocks
open now; rates and "breached at stop" count clocks stopped in the period.
Days begin at midnight in the office's time zone (Asia/Shanghai).
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.monitoring.services import monitoring_figures
from records.models import Department
from repair_flow.models import Role, display_name
from sla.models import APPLICANT_STAGES, ClockState, SlaClock, Stage

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366
# The query value for "no department" (the platform's own stages) and "not assigned".
NONE = "none"
# The query value for the clocks that wait for the applicant: not staff work,
# so never "not assigned".
APPLICANT = "applicant"


class Metric:
    """The figures a list can be asked for: ?metric=<value>."""

    OPEN = "open"
    DUE_TODAY = "due_today"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    BREACHED_OPEN = "breached_open"
    BREACHED_STOPPED = "breached_stopped"
    RATED = "rated"
    MET = "met"
    SAME_DAY = "same_day"
    SAME_DAY_MET = "same_day_met"
    ONE_TIME = "one_time"
    ONE_TIME_REPEAT = "one_time_repeat"

    LABELS = {
        OPEN: gettext_lazy("未办结的计时"),
        DUE_TODAY: gettext_lazy("今日到期"),
        AT_RISK: gettext_lazy("临近超时（已过第二次预警）"),
        BREACHED: gettext_lazy("超时（未办结及期间内超时办结）"),
        BREACHED_OPEN: gettext_lazy("超时未办结"),
        BREACHED_STOPPED: gettext_lazy("期间内超时办结"),
        RATED: gettext_lazy("期间内办结（不含取消）"),
        MET: gettext_lazy("期间内按时办结"),
        SAME_DAY: gettext_lazy("期间内办结的初审"),
        SAME_DAY_MET: gettext_lazy("期间内当日完成的初审"),
        ONE_TIME: gettext_lazy("期间内发出补正通知的案件的补正计时"),
        ONE_TIME_REPEAT: gettext_lazy("补正通知超过一次的案件的补正计时"),
    }
    ALL = tuple(LABELS)


@dataclass(frozen=True)
class BoardFilters:
    start: dt.date
    end: dt.date  # inclusive
    department: Department | str | None = None  # a department, NONE, or None for all
    stage: str = ""  # "" for all stages

    @property
    def department_param(self) -> str:
        if self.department is None:
            return ""
        return NONE if self.department == NONE else self.department.code

    def params(self, **extra) -> dict[str, str]:
        """The query parameters that select these filters (empty ones left out)."""
        values = {
            "department": self.department_param,
            "stage": self.stage,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            **extra,
        }
        return {key: str(value) for key, value in values.items() if value not in ("", None)}


@dataclass(frozen=True)
class Window:
    """The instants the figures are computed against."""

    now: dt.datetime
    today_start: dt.datetime
    today_end: dt.datetime
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, filters: BoardFilters, now: dt.datetime) -> "Window":
        tz = timezone.get_default_timezone()
        today = timezone.localdate(now, tz)
        return cls(
            now=now,
            today_start=_midnight(today, tz),
            today_end=_midnight(today + dt.timedelta(days=1), tz),
            start=_midnight(filters.start, tz),
            end=_midnight(filters.end + dt.timedelta(days=1), tz),
        )


def _midnight(day: dt.date, tz) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz)


# --- the conditions ------------------------------------------------------------------------

OPEN = Q(stopped_at__isnull=True)

# The next three hold for open clocks only: `metric_q` adds OPEN, and the
# summary counts them among open clocks, where the extra term would cost a
# lookup outside the index.


def _breached_if_open(w: Window) -> Q:
    # A running clock past its deadline is late even before the sweep marks it.
    return (
        Q(state=ClockState.BREACHED)
        | Q(breached_at__isnull=False)
        | Q(state=ClockState.RUNNING, due_at__lt=w.now)
    )


def _at_risk_if_open(w: Window) -> Q:
    return Q(state=ClockState.RUNNING, breached_at__isnull=True, due_at__gte=w.now) & (
        Q(warned_level__gte=2) | Q(warn2_at__lte=w.now)
    )


def _due_today_if_open(w: Window) -> Q:
    # A paused clock's deadline waits for the applicant, so it is not due today.
    return ~Q(state=ClockState.PAUSED) & Q(due_at__gte=w.today_start, due_at__lt=w.today_end)


# An open clock waits for the applicant when its stage is the applicant's own
# (supplement, commitment, statement), or when it is an office clock paused
# while the case waits for them: every pause is one (flows.cases.common
# clocks_wait_for_applicant, the breach review's statement period; domain
# section 5, the applicant's time never counts against the office).
WAITING_FOR_APPLICANT = Q(stage__in=APPLICANT_STAGES) | Q(state=ClockState.PAUSED)


def _stopped_in(w: Window) -> Q:
    return Q(stopped_at__gte=w.start, stopped_at__lt=w.end)


def _rated(w: Window) -> Q:
    # Cancelled clocks (a withdrawn case) are neither on time nor late.
    return _stopped_in(w) & Q(state__in=[ClockState.MET, ClockState.BREACHED])


def metric_q(metric: str, w: Window) -> Q:
    """The condition on a clock for every figure except the one-time notification."""
    prelim = Q(stage=Stage.PRELIMINARY_REVIEW)
    return {
        Metric.OPEN: OPEN,
        Metric.DUE_TODAY: OPEN & _due_today_if_open(w),
        Metric.AT_RISK: OPEN & _at_risk_if_open(w),
        Metric.BREACHED: (OPEN & _breached_if_open(w))
        | (_stopped_in(w) & Q(state=ClockState.BREACHED)),
        Metric.BREACHED_OPEN: OPEN & _breached_if_open(w),
        Metric.BREACHED_STOPPED: _stopped_in(w) & Q(state=ClockState.BREACHED),
        Metric.RATED: _rated(w),
        Metric.MET: _stopped_in(w) & Q(state=ClockState.MET),
        Metric.SAME_DAY: _rated(w) & prelim,
        Metric.SAME_DAY_MET: _stopped_in(w) & Q(state=ClockState.MET) & prelim,
    }[metric]


def _scoped(filters: BoardFilters) -> QuerySet[SlaClock]:
    clocks = SlaClock.objects.order_by()
    if filters.department == NONE:
        clocks = clocks.filter(department__isnull=True)
    elif filters.department is not None:
        clocks = clocks.filter(department=filters.department)
    if filters.stage:
        clocks = clocks.filter(stage=filters.stage)
    return clocks


# --- the summary ---------------------------------------------------------------------------


def _rate(count: int, of: int) -> dict:
    return {"count": count, "of": of, "rate": round(count / of, 4) if of else None}


def _mondays(filters: BoardFilters) -> list[dt.date]:
    monday = filters.start - dt.timedelta(days=filters.start.weekday())
    return [monday + dt.timedelta(days=7 * i) for i in range((filters.end - monday).days // 7 + 1)]


def _open_groups(scoped: QuerySet[SlaClock], w: Window) -> QuerySet:
    """The open clocks in one pass, grouped by the three dimensions the board
    shows and whether the clock is paused (an index-only scan of
    sla_clock_open_board, which holds the state). COUNT(stage), never null,
    because the primary key is not in the index."""
    paused = Case(When(state=ClockState.PAUSED, then=Value(1)), default=Value(0))
    return (
        scoped.filter(OPEN)
        .annotate(paused=paused)
        .values_list("stage", "department_id", "assignee_id", "paused")
        .annotate(
            n=Count("stage"),
            due_today=Count("stage", filter=_due_today_if_open(w)),
            at_risk=Count("stage", filter=_at_risk_if_open(w)),
            breached=Count("stage", filter=_breached_if_open(w)),
        )
    )


def _stopped_groups(scoped: QuerySet[SlaClock], w: Window, mondays: list[dt.date]) -> QuerySet:
    """The clocks stopped on time or late in the period (a range of
    sla_clock_stopped_board), grouped by assignee, preliminary review or
    not, the applicant's stage or not, and week of the period."""
    tz = timezone.get_default_timezone()
    week = Case(
        *[
            When(stopped_at__lt=_midnight(monday + dt.timedelta(days=7), tz), then=Value(i))
            for i, monday in enumerate(mondays[:-1])
        ],
        default=Value(len(mondays) - 1),
    )
    prelim = Case(When(stage=Stage.PRELIMINARY_REVIEW, then=Value(1)), default=Value(0))
    applicant = Case(When(stage__in=APPLICANT_STAGES, then=Value(1)), default=Value(0))
    return (
        scoped.filter(_rated(w))
        .annotate(week=week, prelim=prelim, applicant=applicant)
        .values_list("assignee_id", "prelim", "applicant", "week")
        .annotate(met=Count("stage", filter=Q(state=ClockState.MET)), rated=Count("stage"))
    )


@dataclass
class _Tally:
    """The grouped rows added up. Their number is bounded by stages x
    departments x assignees (x weeks), never by the number of clocks."""

    weeks: list[list[int]]  # [met, rated] per week of the period
    totals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_stage: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_department: dict[int | None, int] = field(default_factory=lambda: defaultdict(int))
    by_stage_department: dict[tuple[str, int | None], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    # [open, at risk, breached open, met, rated] per assignee
    officers: dict[int | None, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0, 0])
    )

    def add_open(self, groups) -> None:
        for stage, dept, assignee, paused, n, due_today, at_risk, breached in groups:
            self.totals["open"] += n
            self.totals["due_today"] += due_today
            self.totals["at_risk"] += at_risk
            self.totals["breached_open"] += breached
            self.by_stage[stage] += n
            self.by_department[dept] += n
            self.by_stage_department[stage, dept] += n
            # Waiting for the applicant is nobody's work in the office: shown
            # apart, never in an officer's row nor "not assigned".
            if stage in APPLICANT_STAGES:
                self.totals["waiting_applicant"] += n
                continue
            if paused:
                self.totals["waiting_applicant"] += n
                self.totals["paused_for_applicant"] += n
                continue
            row = self.officers[assignee]
            row[0] += n
            row[1] += at_risk
            row[2] += breached

    def add_stopped(self, groups) -> None:
        for assignee, is_prelim, is_applicant, week_index, met, rated in groups:
            self.totals["met"] += met
            self.totals["rated"] += rated
            if is_prelim:
                self.totals["prelim_met"] += met
                self.totals["prelim_rated"] += rated
            self.weeks[week_index][0] += met
            self.weeks[week_index][1] += rated
            if is_applicant:
                continue
            row = self.officers[assignee]
            row[3] += met
            row[4] += rated


_STAGE_ORDER = {value: i for i, value in enumerate(Stage.values)}


def _open_figures(tally: _Tally) -> dict:
    """The summary's "open": the total and its three breakdowns."""
    departments = {
        d.pk: d for d in Department.objects.filter(pk__in=[k for k in tally.by_department if k])
    }

    def dept_code(pk):
        return departments[pk].code if pk else NONE

    return {
        "total": tally.totals["open"],
        "by_stage": [
            {"stage": stage, "label": str(Stage(stage).label), "count": count}
            for stage, count in sorted(tally.by_stage.items(), key=lambda x: _STAGE_ORDER[x[0]])
        ],
        "by_department": [
            {
                "department": dept_code(pk),
                "name": departments[pk].name if pk else _("市信用平台（平台环节）"),
                "count": count,
            }
            for pk, count in sorted(tally.by_department.items(), key=lambda x: (-x[1], x[0] or 0))
        ],
        "by_stage_department": [
            {"stage": stage, "department": dept_code(pk), "count": count}
            for (stage, pk), count in sorted(
                tally.by_stage_department.items(),
                key=lambda x: (_STAGE_ORDER[x[0][0]], x[0][1] or 0),
            )
        ],
    }


def _officer_rows(tally: _Tally) -> list[dict]:
    users = {
        u.pk: u
        for u in get_user_model()
        .objects.filter(pk__in=[k for k in tally.officers if k])
        .only("pk", "username", "first_name", "last_name")
    }
    return [
        _officer_row(pk, users.get(pk), counts)
        for pk, counts in sorted(
            tally.officers.items(), key=lambda x: (-x[1][0], -x[1][4], x[0] is None, x[0] or 0)
        )
    ]


def board_summary(*, filters: BoardFilters, now: dt.datetime | None = None) -> dict:
    """Every figure of the board, in a fixed number of queries.

    {
      "as_of": ISO instant, "filters": {"department", "stage", "from", "to"},
      "open": {"total", "by_stage": [{"stage", "label", "count"}],
               "by_department": [{"department", "name", "count"}],
               "by_stage_department": [{"stage", "department", "count"}]},
      "due_today": n, "at_risk": n,
      "waiting_applicant": open clocks that wait for the applicant (in "open",
                           never among the officers): of the applicant's stages,
                           and office clocks paused for the applicant,
      "paused_for_applicant": of them, the office clocks paused,
      "breached": {"total", "open", "stopped_in_period"},
      "on_time": {"count": met, "of": met + breached, "rate": 0..1 | null},
      "same_day_preliminary_review": {"count", "of", "rate"},
      "one_time_notification": {"count": cases with exactly one supplement clock,
                                "of": cases with a supplement request in the period,
                                "rate", "repeat": cases with more than one},
      "officers": [{"id", "username", "name", "open", "at_risk", "breached_open",
                    "on_time": {"count", "of", "rate"}}],
      "trend": [{"week_start", "week_end", "from", "to", "count", "of", "rate"}],
    }
    `department` is a department code or "none" ("department": "none" in a row
    is a clock of the platform's own stages); an officer "id" null is "not
    assigned" (staff work nobody holds).
    """
    now = now or timezone.now()
    w = Window.of(filters, now)
    scoped = _scoped(filters)
    mondays = _mondays(filters)
    tally = _Tally(weeks=[[0, 0] for _ in mondays])
    tally.add_open(_open_groups(scoped, w))
    tally.add_stopped(_stopped_groups(scoped, w, mondays))
    totals = tally.totals
    open_figures = _open_figures(tally)
    officers = _officer_rows(tally)
    one_time = _one_time(scoped, w)
    return {
        "as_of": timezone.localtime(now).isoformat(),
        "filters": {
            "department": filters.department_param or None,
            "stage": filters.stage or None,
            "from": filters.start.isoformat(),
            "to": filters.end.isoformat(),
        },
        "open": open_figures,
        "due_today": totals["due_today"],
        "at_risk": totals["at_risk"],
        "waiting_applicant": totals["waiting_applicant"],
        "paused_for_applicant": totals["paused_for_applicant"],
        "breached": {
            "total": totals["breached_open"] + totals["rated"] - totals["met"],
            "open": totals["breached_open"],
            "stopped_in_period": totals["rated"] - totals["met"],
        },
        "on_time": _rate(totals["met"], totals["rated"]),
        "same_day_preliminary_review": _rate(totals["prelim_met"], totals["prelim_rated"]),
        "one_time_notification": {
            **_rate(one_time["exactly_one"] or 0, one_time["cases"] or 0),
            "repeat": (one_time["cases"] or 0) - (one_time["exactly_one"] or 0),
        },
        "officers": officers,
        "trend": _trend(filters, mondays, tally.weeks),
    }


def _officer_row(pk, user, counts: list[int]) -> dict:
    if user is None:
        username, name = None, _("未分配")
    else:
        username, name = user.get_username(), display_name(user)
    open_, at_risk, breached, met, rated = counts
    return {
        "id": pk,
        "username": username,
        "name": name,
        "open": open_,
        "at_risk": at_risk,
        "breached_open": breached,
        "on_time": _rate(met, rated),
    }


def _supplement_cases(scoped: QuerySet[SlaClock], w: Window) -> QuerySet:
    """(case_type, case_id, n) of cases with a supplement request in the period."""
    return (
        scoped.filter(stage=Stage.SUPPLEMENT)
        .values("case_type_id", "case_id")
        .annotate(
            # COUNT(case_id) rather than of the key, which is not in sla_clock_supplement_case.
            n=Count("case_id"),
            in_period=Count("case_id", filter=Q(started_at__gte=w.start, started_at__lt=w.end)),
        )
        .filter(in_period__gt=0)
    )


def _one_time(scoped: QuerySet[SlaClock], w: Window) -> dict:
    # The one-time promise (shared domain reference section 4): one supplement
    # request per case. Every supplement clock of the case counts, also those
    # before or after the period, so a second request is never missed.
    return _supplement_cases(scoped, w).aggregate(
        cases=Count("case_id"), exactly_one=Count("case_id", filter=Q(n=1))
    )


def _trend(filters: BoardFilters, mondays: list[dt.date], weeks: list[list[int]]) -> list[dict]:
    """On-time rate per Monday-to-Sunday week of the period; a week with no
    clock stopped on time or late has rate null."""
    trend = []
    for monday, (met, rated) in zip(mondays, weeks, strict=True):
        sunday = monday + dt.timedelta(days=6)
        trend.append({
            "week_start": monday.isoformat(),
            "week_end": sunday.isoformat(),
            # The part of the week inside the period: what the figure counts.
            "from": max(monday, filters.start).isoformat(),
            "to": min(sunday, filters.end).isoformat(),
            **_rate(met, rated),
        })  # fmt: skip
    return trend


def departments_without_reviewer(*, filters: BoardFilters) -> list[dict]:
    """The departments with open staff work and no reviewer in post: their
    work sits with nobody to take it. [{"department", "name", "open"}]"""
    open_work = (
        _scoped(filters)
        .filter(OPEN, department__isnull=False)
        .exclude(stage__in=APPLICANT_STAGES)
        .values("department_id")
        .annotate(n=Count("stage"))
    )
    counts = {row["department_id"]: row["n"] for row in open_work}
    staffed = set(
        get_user_model()
        .objects.filter(
            is_active=True,
            role=Role.REVIEWER,
            department_membership__department_id__in=list(counts),
        )
        .values_list("department_membership__department_id", flat=True)
    )
    return [
        {"department": d.code, "name": d.name, "open": counts[d.pk]}
        for d in Department.objects.filter(pk__in=[pk for pk in counts if pk not in staffed])
    ]


# --- post-repair monitoring ----------------------------------------------------------------

MONITORING_FIGURES = (
    "open",
    "closing_this_month",
    "found",
    "confirmed",
    "dismissed",
    "pending",
    "revoked",
)


def board_monitoring(*, filters: BoardFilters, now: dt.datetime | None = None) -> dict:
    """The monitoring figures for the board's period and department:

    {"open": windows open now, "closing_this_month": of them, ending this
     calendar month (Asia/Shanghai), "found": breach reviews opened in the
     period, "confirmed", "dismissed": decided in the period, "pending": open
     now, "revoked": repairs revoked in the period}

    The department is the one whose record was repaired (windows) or that
    decides the review (reviews, and the repairs they revoked). The stage filter does not apply:
    these are not clocks. "none" (clocks without a department) is all zeros,
    as every window and review has a department.
    """
    if filters.department == NONE:
        return dict.fromkeys(MONITORING_FIGURES, 0)
    w = Window.of(filters, now or timezone.now())
    figures = monitoring_figures(
        now=w.now,
        since=w.start,
        until=w.end,
        department_id=filters.department.pk if filters.department is not None else None,
    )
    return {key: figures[key] for key in MONITORING_FIGURES}


# --- the lists -----------------------------------------------------------------------------


def board_clocks(
    *,
    filters: BoardFilters,
    metric: str,
    assignee: int | str | None = None,
    now: dt.datetime | None = None,
) -> QuerySet[SlaClock]:
    """The clocks behind a figure; `assignee` is a user id, NONE (staff work
    nobody holds), APPLICANT (waiting for the applicant) or None for all."""
    w = Window.of(filters, now or timezone.now())
    scoped = _scoped(filters)
    if metric in (Metric.ONE_TIME, Metric.ONE_TIME_REPEAT):
        cases = _supplement_cases(scoped, w)
        if metric == Metric.ONE_TIME_REPEAT:
            cases = cases.filter(n__gt=1)
        clocks = scoped.filter(stage=Stage.SUPPLEMENT).filter(
            Exists(cases.filter(case_type_id=OuterRef("case_type_id"), case_id=OuterRef("case_id")))
        )
        order = ("case_type_id", "case_id", "started_at", "pk")
    else:
        clocks = scoped.filter(metric_q(metric, w))
        stopped = metric in (Metric.RATED, Metric.MET, Metric.SAME_DAY, Metric.SAME_DAY_MET)
        order = ("-stopped_at", "pk") if stopped else ("due_at", "pk")
    # A stopped clock is never paused, so for the period's figures this
    # splits by stage alone, as `_stopped_groups` does.
    if assignee == NONE:
        clocks = clocks.filter(assignee__isnull=True).exclude(WAITING_FOR_APPLICANT)
    elif assignee == APPLICANT:
        clocks = clocks.filter(WAITING_FOR_APPLICANT)
    elif assignee is not None:
        clocks = clocks.filter(assignee_id=assignee).exclude(WAITING_FOR_APPLICANT)
    return clocks.select_related("department", "assignee").order_by(*order)


def late_by(clock: SlaClock, now: dt.datetime) -> dt.timedelta | None:
    """How far past its deadline a clock is (open) or was when it stopped."""
    if clock.stopped_at is not None:
        end = clock.stopped_at if clock.state == ClockState.BREACHED else None
    elif clock.state == ClockState.PAUSED:
        end = clock.paused_at if clock.breached_at else None
    else:
        end = now
    if end is None or end <= clock.due_at:
        return None
    return end - clock.due_at


# The labels of a late-by duration and of a stopped clock's end, defined once:
# duration_label and clock_state_label format them in Python, and the
# PostgreSQL export (sla.exports) passes the same texts to its query.
DAYS_HOURS = gettext_lazy("%(d)s 天 %(h)s 小时")
DAYS = gettext_lazy("%(d)s 天")
HOURS_MINUTES = gettext_lazy("%(h)s 小时 %(m)s 分钟")
HOURS = gettext_lazy("%(h)s 小时")
MINUTES = gettext_lazy("%(m)s 分钟")
UNDER_A_MINUTE = gettext_lazy("不足 1 分钟")
STOPPED_LABELS = {
    ClockState.MET: gettext_lazy("按时办结"),
    ClockState.BREACHED: gettext_lazy("超时办结"),
    ClockState.CANCELLED: gettext_lazy("已取消"),
}


def duration_label(delta: dt.timedelta) -> str:
    """Wall-clock, in days and hours: "2 天 3 小时", "3 小时 20 分钟", "20 分钟"."""
    minutes = int(delta.total_seconds()) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        if hours:
            return str(DAYS_HOURS) % {"d": days, "h": hours}
        return str(DAYS) % {"d": days}
    if hours:
        if minutes:
            return str(HOURS_MINUTES) % {"h": hours, "m": minutes}
        return str(HOURS) % {"h": hours}
    if minutes:
        return str(MINUTES) % {"m": minutes}
    return str(UNDER_A_MINUTE)


def clock_state_label(clock: SlaClock, now: dt.datetime) -> str:
    """The state as a supervisor reads it: a stopped clock says how it ended."""
    if clock.stopped_at is not None:
        label = STOPPED_LABELS.get(clock.state)
        return str(label) if label is not None else clock.get_state_display()
    if clock.state == ClockState.RUNNING and clock.due_at < now:
        return str(ClockState.BREACHED.label)
    return clock.get_state_display()


# --- the parameters ------------------------------------------------------------------------


def _parse_date(raw: str, name: str, errors: dict[str, str]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("无法解析日期“%(value)s”，应为 YYYY-MM-DD，例如 2026-10-01") % {
            "value": raw
        }
        return None


def board_filters_parse(
    params: Mapping[str, str], *, today: dt.date
) -> tuple[BoardFilters | None, dict[str, str]]:
    """department (code or "none"), stage, from, to (dates, inclusive; default
    the last 30 days up to today). Returns the filters, or a message per bad parameter."""
    errors: dict[str, str] = {}
    department: Department | str | None = None
    code = (params.get("department") or "").strip()
    if code == NONE:
        department = NONE
    elif code:
        department = Department.objects.filter(code=code).first()
        if department is None:
            errors["department"] = _("未知的认定单位代码“%(value)s”") % {"value": code}
    stage = (params.get("stage") or "").strip()
    if stage and stage not in Stage.values:
        errors["stage"] = _("未知的环节“%(value)s”，应为 %(choices)s 之一") % {
            "value": stage,
            "choices": "、".join(Stage.values),
        }
    raw_from = (params.get("from") or "").strip()
    raw_to = (params.get("to") or "").strip()
    start = _parse_date(raw_from, "from", errors) if raw_from else None
    end = _parse_date(raw_to, "to", errors) if raw_to else None
    if "from" not in errors and "to" not in errors:
        if end is None:
            end = today if start is None or start <= today else start
        if start is None:
            start = end - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        if end < start:
            errors["to"] = _("结束日期 %(to)s 早于开始日期 %(from)s") % {
                "to": end.isoformat(),
                "from": start.isoformat(),
            }
        elif (end - start).days + 1 > MAX_PERIOD_DAYS:
            errors["to"] = _("统计期间不能超过 %(n)s 天") % {"n": MAX_PERIOD_DAYS}
    if errors:
        return None, errors
    return BoardFilters(start=start, end=end, department=department, stage=stage), {}


MAX_USER_ID = 2**31 - 1


def assignee_parse(raw: str, errors: dict[str, str]) -> int | str | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if raw in (NONE, APPLICANT):
        return raw
    # A user id fits every database's integer (an overflow was a 500).
    if raw.isascii() and raw.isdigit() and int(raw) <= MAX_USER_ID:
        return int(raw)
    errors["assignee"] = _("承办人应为用户编号、none 或 applicant，收到“%(value)s”") % {
        "value": raw[:40]
    }
    return None
