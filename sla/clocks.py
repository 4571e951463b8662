"""SLA clocks: the one small interface cases use, and the explanation of a deadline.

    clock_start(case=..., stage=..., actor=...)         # when a stage begins
    clock_pause(case=..., stage=..., reason=..., actor=...)  # waiting for the applicant
    clock_resume(case=..., stage=..., actor=...)
    clock_stop(case=..., stage=..., actor=...)           # done (met or late) or cancel=True
    clock_assign(case=..., stage=..., assignee=..., actor=...)

`case` is any model instance; it may offer `sla_department` and `sla_label`.
Every call runs in the caller's transaction and writes an audit event.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from repair_flow.audit import AuditEntry, audit_record, audit_record_many
from repair_flow.models import Role
from sla.calendar import (
    RULE_CALENDAR_DAYS,
    Line,
    WorkCalendar,
    note_unloaded,
    skipped_day_line,
    weekday_label,
)
from sla.models import (
    PLATFORM_STAGES,
    TASK_STAGES,
    ClockState,
    DeadlineChange,
    SlaClock,
    SlaPause,
    SlaPolicy,
    Stage,
)
from sla.office import office_hours, work_calendar
from sla.worktime import Pause, Plan, measure_for, plan


class SlaError(ValueError):
    pass


def policy_for(stage: str, on: dt.date) -> SlaPolicy:
    policy = (
        SlaPolicy.objects.filter(stage=stage, effective_from__lte=on)
        .exclude(effective_to__lt=on)
        .order_by("-effective_from")
        .first()
    )
    if policy is None:
        raise SlaError(
            _("环节“%(stage)s”在 %(day)s 没有生效的时限规则") % {"stage": stage, "day": on}
        )
    return policy


def clocks_for(case) -> QuerySet[SlaClock]:
    return SlaClock.objects.filter(
        case_type=ContentType.objects.get_for_model(case), case_id=case.pk
    ).select_related("policy", "assignee", "department")


def _open_clock(case, stage: str) -> SlaClock:
    clock = (
        clocks_for(case)
        .select_for_update(of=("self",))
        .filter(stage=stage, stopped_at=None)
        .first()
    )
    if clock is None:
        raise SlaError(_("该案件没有进行中的“%(stage)s”计时") % {"stage": stage})
    return clock


def _pauses(clock: SlaClock) -> list[Pause]:
    return [Pause(p.started_at, p.ended_at, p.reason) for p in clock.pauses.all()]


def clock_plan(clock: SlaClock, *, calendar: WorkCalendar | None = None) -> Plan:
    policy = clock.policy
    return plan(
        rule=policy.rule,
        n=policy.n,
        started_at=clock.started_at,
        thresholds=policy.thresholds,
        pauses=_pauses(clock),
        calendar=calendar or work_calendar(),
        hours=office_hours(),
    )


def _next_check(clock: SlaClock) -> dt.datetime | None:
    if clock.state != ClockState.RUNNING:
        return None
    if clock.warned_level < 1 and clock.warn1_at:
        return clock.warn1_at
    if clock.warned_level < 2 and clock.warn2_at:
        return clock.warn2_at
    return clock.due_at


def _apply(clock: SlaClock, p: Plan) -> None:
    warns = [*p.warn_at, None, None]
    clock.due_at, clock.warn1_at, clock.warn2_at = p.due_at, warns[0], warns[1]
    clock.total_seconds, clock.provisional = p.total_seconds, p.provisional
    clock.next_check_at = _next_check(clock)


_PLAN_FIELDS = ["due_at", "warn1_at", "warn2_at", "total_seconds", "provisional", "next_check_at"]


def _audit(clock: SlaClock, action: str, actor, **summary) -> None:
    audit_record(
        actor=actor,
        action=f"sla.{action}",
        object_type="sla.SlaClock",
        object_id=clock.pk,
        summary={"case": clock.case_label, "stage": clock.stage, **summary},
    )


def _iso(at: dt.datetime) -> str:
    """For audit summaries: ISO 8601 in the office's time zone (+08:00)."""
    return timezone.localtime(at, timezone.get_default_timezone()).isoformat()


def _now(at: dt.datetime | None) -> dt.datetime:
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise SlaError("times must be timezone-aware")
    return at


def _policy_plan(
    stage: str, at: dt.datetime, pauses: Sequence[Pause] = ()
) -> tuple[SlaPolicy, Plan]:
    """The policy in force at `at` and the plan of a clock starting then."""
    policy = policy_for(stage, timezone.localtime(at).date())
    return policy, plan(
        rule=policy.rule,
        n=policy.n,
        started_at=at,
        thresholds=policy.thresholds,
        pauses=list(pauses),
        calendar=work_calendar(),
        hours=office_hours(),
    )


def _new_clock(case, *, stage, policy, p: Plan, at, assignee=None, department=None, label=None):
    clock = SlaClock(
        case_type=ContentType.objects.get_for_model(case),
        case_id=case.pk,
        case_label=(label or getattr(case, "sla_label", None) or str(case))[:100],
        department=department
        or (None if stage in PLATFORM_STAGES else getattr(case, "sla_department", None)),
        assignee=assignee,
        stage=stage,
        policy=policy,
        state=ClockState.RUNNING,
        started_at=at,
    )
    _apply(clock, p)
    return clock


def in_the_way(case, stage: str) -> None:
    """Refuse to start `stage` while the case has an open clock that the
    constraints (one_open_clock_per_case_stage, one_open_task_clock_per_case)
    forbid beside it, naming that clock's stage: the same stage, or any other
    task stage (a case is in one officer's queue at a time)."""
    stages = TASK_STAGES if stage in TASK_STAGES else (stage,)
    running = clocks_for(case).filter(stage__in=stages, stopped_at=None).first()
    if running is None:
        return
    if running.stage == stage:
        raise SlaError(_("该案件的“%(stage)s”已在计时中") % {"stage": running.get_stage_display()})
    raise SlaError(
        _("该案件的“%(running)s”仍在计时中，须先结束才能开始“%(stage)s”")
        % {"running": running.get_stage_display(), "stage": Stage(stage).label}
    )


@transaction.atomic
def clock_start(
    *,
    case,
    stage: str,
    actor,
    at: dt.datetime | None = None,
    assignee=None,
    department=None,
    label: str | None = None,
    pauses: Sequence[Pause] = (),
) -> SlaClock:
    """Start a stage's clock at `at`. A clock whose period began earlier (an
    objection's check runs from receipt, Shandong Social Credit Regulation
    Art. 39) starts at that instant with the applicant's waits since then as
    closed `pauses`, entered in its ledger so the deadline explains itself."""
    at = _now(at)
    for pause in pauses:
        if pause.ended_at is None or not at <= pause.started_at <= pause.ended_at:
            raise SlaError(_("补记的暂停须在开始计时之后且已结束"))
    policy, p = _policy_plan(stage, at, pauses)
    in_the_way(case, stage)
    clock = _new_clock(
        case,
        stage=stage,
        policy=policy,
        p=p,
        at=at,
        assignee=assignee,
        department=department,
        label=label,
    )
    try:
        # The partial unique constraint backs the check above when two
        # requests start the same stage at once.
        with transaction.atomic():
            clock.save()
    except IntegrityError:
        in_the_way(case, stage)
        raise SlaError(
            _("该案件的“%(stage)s”已在计时中") % {"stage": policy.get_stage_display()}
        ) from None
    shifted = {shift.started_at: seconds for shift, seconds, _due in p.shifts}
    SlaPause.objects.bulk_create(
        SlaPause(
            clock=clock,
            started_at=pause.started_at,
            ended_at=pause.ended_at,
            reason=pause.reason[:200],
            paused_seconds=shifted.get(pause.started_at, 0),
        )
        for pause in pauses
    )
    _audit(
        clock,
        "start",
        actor,
        due_at=_iso(clock.due_at),
        provisional=clock.provisional,
        policy=str(policy),
        **({"started_at": _iso(at), "pauses": len(pauses)} if pauses else {}),
    )
    return clock


def clocks_start_many(
    *, cases: list, stage: str, actor, at: dt.datetime, audit_also: Sequence[AuditEntry] = ()
) -> list[SlaClock]:
    """Start one stage for many new cases at one instant (a bulk opening, such
    as the breach reviews a penalty import opens): one policy and one plan
    serve them all (the same rule, start and calendar give the same
    deadline), one INSERT per 1,000 and one audit event per clock, written
    in one step with the caller's own events (`audit_also`). The cases are
    new, so none has the stage running. Call it inside a transaction."""
    if not cases:
        return []
    at = _now(at)
    policy, p = _policy_plan(stage, at)
    clocks = SlaClock.objects.bulk_create(
        [_new_clock(case, stage=stage, policy=policy, p=p, at=at) for case in cases],
        batch_size=1000,
    )
    audit_record_many(
        actor=actor,
        entries=[
            *audit_also,
            *(
                AuditEntry(
                    "sla.start",
                    "sla.SlaClock",
                    str(clock.pk or ""),
                    {
                        "case": clock.case_label,
                        "stage": stage,
                        "due_at": _iso(clock.due_at),
                        "provisional": clock.provisional,
                        "policy": str(policy),
                    },
                )
                for clock in clocks
            ),
        ],
    )
    return clocks


@transaction.atomic
def clock_pause(*, case, stage: str, reason: str, actor, at: dt.datetime | None = None) -> SlaClock:
    at = _now(at)
    reason = (reason or "").strip()
    if not reason:
        raise SlaError(_("暂停计时须说明原因"))
    clock = _open_clock(case, stage)
    if clock.state == ClockState.PAUSED:
        raise SlaError(_("计时已暂停"))
    if at < clock.started_at:
        raise SlaError(_("暂停时间不能早于开始计时的时间"))
    last = clock.pauses.exclude(ended_at=None).order_by("-ended_at").first()
    if last is not None and at < last.ended_at:
        # The ledger's pauses must not overlap, or the deadline would be pushed twice.
        raise SlaError(_("暂停时间不能早于上一次恢复计时的时间"))
    measure = measure_for(clock.policy.rule, work_calendar(), office_hours())
    clock.remaining_seconds = measure.between(
        max(at, clock_plan(clock).effective_start), clock.due_at
    )
    clock.state, clock.paused_at, clock.next_check_at = ClockState.PAUSED, at, None
    clock.save(update_fields=["state", "paused_at", "next_check_at", "remaining_seconds"])
    SlaPause.objects.create(clock=clock, started_at=at, reason=reason[:200])
    _audit(
        clock,
        "pause",
        actor,
        at=_iso(at),
        reason=reason,
        remaining_seconds=clock.remaining_seconds,
    )
    return clock


@transaction.atomic
def clock_resume(*, case, stage: str, actor, at: dt.datetime | None = None) -> SlaClock:
    at = _now(at)
    clock = _open_clock(case, stage)
    if clock.state != ClockState.PAUSED:
        raise SlaError(_("计时未暂停"))
    pause = clock.pauses.filter(ended_at=None).latest("started_at")
    if at < pause.started_at:
        raise SlaError(_("恢复时间不能早于暂停时间"))
    old_due = clock.due_at
    pause.ended_at = at
    pause.save(update_fields=["ended_at"])
    p = clock_plan(clock)
    pause.paused_seconds = _shift_seconds(p, pause)
    pause.save(update_fields=["paused_seconds"])
    clock.state = ClockState.BREACHED if clock.breached_at else ClockState.RUNNING
    clock.paused_at, clock.remaining_seconds = None, None
    _apply(clock, p)
    clock.save(update_fields=["state", "paused_at", "remaining_seconds", *_PLAN_FIELDS])
    _audit(
        clock,
        "resume",
        actor,
        at=_iso(at),
        old_due_at=_iso(old_due),
        due_at=_iso(clock.due_at),
        paused_seconds=pause.paused_seconds,
    )
    return clock


@transaction.atomic
def clock_stop(
    *, case, stage: str, actor, at: dt.datetime | None = None, cancel: bool = False
) -> SlaClock:
    """Met when stopped by its deadline, breached when later; or cancelled.

    Stopped while paused (a case closed while waiting for the applicant): no
    time ran during the pause, so the clock is late only if it was already
    past its deadline when the pause began. The pause is closed at the stop
    and the deadline pushed out by it, as a resume would.
    """
    at = _now(at)
    clock = _open_clock(case, stage)
    if at < clock.started_at:
        raise SlaError(_("办结时间不能早于开始计时的时间"))
    pause = clock.pauses.filter(ended_at=None).first()
    fields = ["state", "stopped_at", "breached_at", "next_check_at", "paused_at"]
    if pause is not None:
        if at < pause.started_at:
            raise SlaError(_("办结时间不能早于暂停时间"))
        late = pause.started_at > clock.due_at
        pause.ended_at = at
        pause.save(update_fields=["ended_at"])
        p = clock_plan(clock)
        pause.paused_seconds = _shift_seconds(p, pause)
        pause.save(update_fields=["paused_seconds"])
        _apply(clock, p)
        clock.remaining_seconds = None
        fields += [*_PLAN_FIELDS, "remaining_seconds"]
    else:
        late = at > clock.due_at
    if cancel:
        clock.state = ClockState.CANCELLED
    elif clock.breached_at or late:
        clock.state = ClockState.BREACHED
        clock.breached_at = clock.breached_at or clock.due_at
    else:
        clock.state = ClockState.MET
    clock.stopped_at, clock.next_check_at, clock.paused_at = at, None, None
    clock.save(update_fields=list(dict.fromkeys(fields)))
    _audit(
        clock,
        "stop",
        actor,
        at=_iso(at),
        state=clock.state,
        due_at=_iso(clock.due_at),
        while_paused=pause is not None,
    )
    return clock


@transaction.atomic
def clock_assign(*, case, stage: str, assignee, actor) -> SlaClock:
    clock = _open_clock(case, stage)
    before = clock.assignee_id
    clock.assignee = assignee
    clock.save(update_fields=["assignee"])
    _audit(clock, "assign", actor, before=before, after=getattr(assignee, "pk", None))
    return clock


def clocks_recompute_provisional(
    *, actor, reason: str, years: tuple[int, ...] = ()
) -> list[DeadlineChange]:
    """After a calendar year is loaded: recompute every open provisional clock
    (and, for `years` whose arrangement was replaced, every open clock whose
    span reaches them), clear the flag where the span is now loaded, and
    record each moved deadline with an audit event.

    A paused clock keeps its points until it is resumed (the resume computes
    them on the new calendar); only its flag clears, and only when the new
    calendar leaves its points where they are.
    """
    calendar = work_calendar()
    changes = []
    reason = reason[:300]
    with transaction.atomic():
        spans = Q(provisional=True)
        for year in years:
            spans |= Q(started_at__lt=_year_start(year + 1), due_at__gte=_year_start(year))
        clocks = (
            SlaClock.objects.select_for_update(of=("self",))
            .filter(spans, stopped_at=None)
            .select_related("policy")
            .prefetch_related("pauses")
            .order_by("pk")
        )
        for clock in clocks:
            old_due = clock.due_at
            p = clock_plan(clock, calendar=calendar)
            if clock.state == ClockState.PAUSED:
                if p.due_at == old_due and p.provisional != clock.provisional:
                    clock.provisional = p.provisional
                    clock.save(update_fields=["provisional"])
                continue
            _apply(clock, p)
            clock.save(update_fields=_PLAN_FIELDS)
            if clock.due_at != old_due:
                changes.append(
                    DeadlineChange(
                        clock=clock, old_due_at=old_due, new_due_at=clock.due_at, reason=reason
                    )
                )
        DeadlineChange.objects.bulk_create(changes)
        for change in changes:
            _audit(
                change.clock,
                "recompute",
                actor,
                old_due_at=_iso(change.old_due_at),
                new_due_at=_iso(change.new_due_at),
                provisional=change.clock.provisional,
                reason=reason,
            )
    return changes


def _year_start(year: int) -> dt.datetime:
    return dt.datetime(year, 1, 1, tzinfo=office_hours().tz)


def _shift_seconds(p: Plan, pause: SlaPause) -> int:
    """The working time one closed pause took, as the plan counted it."""
    for shifted, seconds, _due in p.shifts:
        if shifted.started_at == pause.started_at:
            return seconds
    return 0


# Reads --------------------------------------------------------------------------

# Who sees which clocks. Applicants will see their own cases' clocks through
# the case pages once the case models exist; until then no clock is theirs.
CLOCK_READER_ROLES = (Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMINISTRATOR)


def clocks_visible_to(user) -> QuerySet[SlaClock]:
    clocks = SlaClock.objects.select_related("policy", "department", "assignee", "case_type")
    if not (user and user.is_authenticated and user.is_active):
        return clocks.none()
    if user.role in (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR):
        return clocks
    if user.role == Role.REVIEWER:
        membership = getattr(user, "department_membership", None)
        if membership is None:
            return clocks.none()
        return clocks.filter(department_id=membership.department_id)
    return clocks.none()


def clock_get_for_user(*, user, pk: int) -> SlaClock:
    try:
        return clocks_visible_to(user).get(pk=pk)
    except SlaClock.DoesNotExist:
        raise Http404(_("没有这个计时，或您无权查看。")) from None


# The explanation ---------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    clock: SlaClock
    plan: Plan
    lines: tuple[Line, ...]
    pauses: tuple[SlaPause, ...] = ()
    changes: tuple[DeadlineChange, ...] = ()

    @property
    def pause_rows(self) -> list[tuple[SlaPause, str | None]]:
        """Each pause with the time it took, for the panel."""
        return [
            (pause, None if pause.paused_seconds is None else _hours(pause.paused_seconds))
            for pause in self.pauses
        ]


def _fmt(at: dt.datetime) -> str:
    # Always the office's time zone (Asia/Shanghai), whatever is active.
    local = timezone.localtime(at, timezone.get_default_timezone())
    return f"{local:%Y-%m-%d} {weekday_label(local.date())} {local:%H:%M}"


def _hours(seconds: int) -> str:
    return _("%(h).1f 小时") % {"h": seconds / 3600}


def _pushed_days(calendar: WorkCalendar, after: dt.date, through: dt.date) -> list[Line]:
    """The days the pauses pushed the deadline across, each counted or skipped."""
    lines = []
    noted: set[int] = set()
    day = after
    while day < through:
        day += dt.timedelta(days=1)
        info = calendar.day(day)
        note_unloaded(info, noted, lines)
        if not info.working:
            lines.append(skipped_day_line(info))
            continue
        makeup = info.kind == "makeup"
        params = {
            "date": day.isoformat(),
            "weekday": weekday_label(day),
            "kind": _("调休上班") if makeup else _("工作日"),
        }
        text = _("%(date)s %(weekday)s %(kind)s，顺延计入") % params
        lines.append(Line(text, "makeup" if makeup else "count"))
    return lines


def clock_explain(clock: SlaClock, *, for_applicant: bool = False) -> Explanation:
    """Start, each counted and skipped day, each pause, the warnings and the
    result, in the office's time zone. `for_applicant`: without the staff's
    warning points, the policy's basis and its confirmation status."""
    calendar = work_calendar()
    hours = office_hours()
    policy = clock.policy
    pauses = tuple(clock.pauses.all())
    changes = tuple(clock.changes.order_by("at", "pk"))
    p = clock_plan(clock, calendar=calendar)
    unpaused = plan(
        rule=policy.rule,
        n=policy.n,
        started_at=clock.started_at,
        thresholds=policy.thresholds,
        pauses=[],
        calendar=calendar,
        hours=hours,
    )
    moved = p.due_at != unpaused.due_at
    if for_applicant:
        first = _("开始计时：%(at)s；规则：%(rule)s") % {
            "at": _fmt(clock.started_at),
            "rule": policy.describe(),
        }
    else:
        first = _("开始计时：%(at)s；规则：%(rule)s（%(basis)s）") % {
            "at": _fmt(clock.started_at),
            "rule": policy.describe(),
            "basis": policy.legal_basis,
        }
    lines = [Line(first, "note")]
    if policy.unconfirmed and not for_applicant:
        lines.append(Line(_("该时限为合理默认值，法律依据尚未核实"), "note"))
    if p.base is not None:
        base_lines = list(p.base.lines)
        if moved:
            # The base deadline is not the deadline any more: say so.
            base_lines[-1] = Line(
                _("未计暂停时的期限：%(at)s") % {"at": _fmt(p.base.due_at)}, "note"
            )
        lines.extend(base_lines)
    else:
        lines.append(
            Line(
                _("按自然日计算，收件次日起算，第 %(n)s 日下班时届满：%(at)s")
                % {"n": policy.n, "at": _fmt(unpaused.due_at)},
                "note" if moved else "due",
            )
        )
    due_before = unpaused.due_at
    for pause, seconds, due_after in p.shifts:
        params = {
            "start": _fmt(pause.started_at),
            "end": _fmt(pause.ended_at),
            "reason": pause.reason,
            "hours": _hours(seconds),
            "due": _fmt(due_after),
        }
        if due_after != due_before:
            text = _(
                "暂停：%(start)s 至 %(end)s（%(reason)s），其间计时 %(hours)s，期限顺延至 %(due)s"
            )
        elif pause.started_at >= due_before:
            text = _("暂停：%(start)s 至 %(end)s（%(reason)s），暂停时已过期限，期限不顺延")
        else:
            text = _("暂停：%(start)s 至 %(end)s（%(reason)s），其间没有工作时间，期限不变")
        lines.append(Line(text % params, "skip"))
        due_before = due_after
    if moved and policy.rule != RULE_CALENDAR_DAYS:
        lines.extend(_pushed_days(calendar, unpaused.due_at.date(), p.due_at.date()))
    open_pause = next((x for x in pauses if x.ended_at is None), None)
    if open_pause is not None:
        lines.append(
            Line(
                _("自 %(start)s 起暂停（%(reason)s），剩余计时 %(hours)s，恢复后顺延")
                % {
                    "start": _fmt(open_pause.started_at),
                    "reason": open_pause.reason,
                    "hours": _hours(clock.remaining_seconds or 0),
                },
                "note",
            )
        )
    for change in changes:
        lines.append(
            Line(
                _("%(at)s 期限由 %(old)s 调整为 %(new)s：%(reason)s")
                % {
                    "at": _fmt(change.at),
                    "old": _fmt(change.old_due_at),
                    "new": _fmt(change.new_due_at),
                    "reason": change.reason,
                },
                "note",
            )
        )
    if p.due_at != clock.due_at:
        # Stored, not recomputed on read: the calendar changed since.
        lines.append(
            Line(
                _("按现行工作日历重算，期限应为 %(now)s；记录的期限按计时当时的日历计算")
                % {"now": _fmt(p.due_at)},
                "note",
            )
        )
    if p.warn_at and not for_applicant:
        warns = []
        for level, (pct, at) in enumerate(zip(policy.thresholds, p.warn_at, strict=False), 1):
            sent = _("（已预警）") if clock.warned_level >= level else ""
            warns.append(f"{pct}% {_fmt(at)}{sent}")
        lines.append(Line(_("预警时点：%(warnings)s") % {"warnings": _("；").join(warns)}, "note"))
    lines.append(_result_line(clock))
    return Explanation(clock=clock, plan=p, lines=tuple(lines), pauses=pauses, changes=changes)


def _result_line(clock: SlaClock) -> Line:
    params = {
        "due": _fmt(clock.due_at),
        "provisional": _("（暂定）") if clock.provisional else "",
    }
    if clock.stopped_at:
        params["at"] = _fmt(clock.stopped_at)
        text = {
            ClockState.MET: _("按时办结：%(at)s（期限 %(due)s）"),
            ClockState.BREACHED: _("超时办结：%(at)s（期限 %(due)s）"),
            ClockState.CANCELLED: _("已取消：%(at)s"),
        }[clock.state]
        return Line(text % params, "due")
    if clock.state == ClockState.PAUSED:
        return Line(_("暂停中；暂停前的期限：%(due)s%(provisional)s") % params, "due")
    if clock.breached_at or clock.state == ClockState.BREACHED:
        return Line(_("已超过期限 %(due)s，尚未办结") % params, "due")
    return Line(_("期限：%(due)s%(provisional)s") % params, "due")
