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
from dataclasses import dataclass

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from repair_flow.audit import audit_record
from sla.calendar import Line, WorkCalendar, _day_reason, weekday_label
from sla.models import (
    ClockState,
    DeadlineChange,
    SlaClock,
    SlaPause,
    SlaPolicy,
)
from sla.services import work_calendar
from sla.worktime import Hours, Pause, Plan, measure_for, plan


class SlaError(ValueError):
    pass


def office_hours() -> Hours:
    return Hours(
        open=settings.OFFICE_OPEN,
        cutoff=settings.PRELIMINARY_REVIEW_CUTOFF,
        close=settings.OFFICE_CLOSE,
        tz=timezone.get_default_timezone(),
    )


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


def _now(at: dt.datetime | None) -> dt.datetime:
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise SlaError("times must be timezone-aware")
    return at


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
) -> SlaClock:
    at = _now(at)
    policy = policy_for(stage, timezone.localtime(at).date())
    if clocks_for(case).filter(stage=stage, stopped_at=None).exists():
        raise SlaError(_("该案件的“%(stage)s”已在计时中") % {"stage": policy.get_stage_display()})
    clock = SlaClock(
        case_type=ContentType.objects.get_for_model(case),
        case_id=case.pk,
        case_label=(label or getattr(case, "sla_label", None) or str(case))[:100],
        department=department or getattr(case, "sla_department", None),
        assignee=assignee,
        stage=stage,
        policy=policy,
        state=ClockState.RUNNING,
        started_at=at,
    )
    _apply(
        clock,
        plan(
            rule=policy.rule,
            n=policy.n,
            started_at=at,
            thresholds=policy.thresholds,
            pauses=[],
            calendar=work_calendar(),
            hours=office_hours(),
        ),
    )
    clock.save()
    _audit(
        clock,
        "start",
        actor,
        due_at=clock.due_at.isoformat(),
        provisional=clock.provisional,
        policy=str(policy),
    )
    return clock


@transaction.atomic
def clock_pause(*, case, stage: str, reason: str, actor, at: dt.datetime | None = None) -> SlaClock:
    at = _now(at)
    if not reason.strip():
        raise SlaError(_("暂停计时须说明原因"))
    clock = _open_clock(case, stage)
    if clock.state == ClockState.PAUSED:
        raise SlaError(_("计时已暂停"))
    measure = measure_for(clock.policy.rule, work_calendar(), office_hours())
    clock.remaining_seconds = measure.between(
        max(at, clock_plan(clock).effective_start), clock.due_at
    )
    clock.state, clock.paused_at, clock.next_check_at = ClockState.PAUSED, at, None
    clock.save(update_fields=["state", "paused_at", "next_check_at", "remaining_seconds"])
    SlaPause.objects.create(clock=clock, started_at=at, reason=reason.strip()[:200])
    _audit(
        clock,
        "pause",
        actor,
        at=at.isoformat(),
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
    pause.paused_seconds = p.shifts[-1][1] if p.shifts else 0
    pause.save(update_fields=["paused_seconds"])
    clock.state = ClockState.BREACHED if clock.breached_at else ClockState.RUNNING
    clock.paused_at, clock.remaining_seconds = None, None
    _apply(clock, p)
    clock.save(update_fields=["state", "paused_at", "remaining_seconds", *_PLAN_FIELDS])
    _audit(
        clock,
        "resume",
        actor,
        at=at.isoformat(),
        old_due_at=old_due.isoformat(),
        due_at=clock.due_at.isoformat(),
        paused_seconds=pause.paused_seconds,
    )
    return clock


@transaction.atomic
def clock_stop(
    *, case, stage: str, actor, at: dt.datetime | None = None, cancel: bool = False
) -> SlaClock:
    """Met when stopped by its deadline, breached when later; or cancelled."""
    at = _now(at)
    clock = _open_clock(case, stage)
    pause = clock.pauses.filter(ended_at=None).first()
    if pause is not None:
        pause.ended_at = at
        pause.save(update_fields=["ended_at"])
    if cancel:
        clock.state = ClockState.CANCELLED
    elif clock.breached_at or at > clock.due_at:
        clock.state = ClockState.BREACHED
        clock.breached_at = clock.breached_at or clock.due_at
    else:
        clock.state = ClockState.MET
    clock.stopped_at, clock.next_check_at, clock.paused_at = at, None, None
    clock.save(update_fields=["state", "stopped_at", "breached_at", "next_check_at", "paused_at"])
    _audit(
        clock, "stop", actor, at=at.isoformat(), state=clock.state, due_at=clock.due_at.isoformat()
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


def clocks_recompute_provisional(*, actor, reason: str) -> list[DeadlineChange]:
    """After a calendar year is loaded: recompute every open provisional clock,
    clear the flag where the span is now loaded, record each moved deadline."""
    calendar = work_calendar()
    changes = []
    with transaction.atomic():
        clocks = (
            SlaClock.objects.select_for_update()
            .filter(provisional=True, stopped_at=None)
            .select_related("policy")
            .prefetch_related("pauses")
        )
        for clock in clocks:
            old_due = clock.due_at
            if clock.state == ClockState.PAUSED:
                # The points stay as they were when the pause began.
                p = clock_plan(clock, calendar=calendar)
                clock.provisional = p.provisional
                clock.save(update_fields=["provisional"])
                continue
            _apply(clock, clock_plan(clock, calendar=calendar))
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
                old_due_at=change.old_due_at.isoformat(),
                new_due_at=change.new_due_at.isoformat(),
                reason=reason,
            )
    return changes


@dataclass(frozen=True)
class Explanation:
    clock: SlaClock
    plan: Plan
    lines: tuple[Line, ...]


def _fmt(at: dt.datetime) -> str:
    local = timezone.localtime(at)
    return f"{local:%Y-%m-%d} {weekday_label(local.date())} {local:%H:%M}"


def _hours(seconds: int) -> str:
    return _("%(h).1f 小时") % {"h": seconds / 3600}


def clock_explain(clock: SlaClock) -> Explanation:
    """Start, each counted and skipped day, each pause, and the result."""
    calendar = work_calendar()
    p = clock_plan(clock, calendar=calendar)
    policy = clock.policy
    lines = [
        Line(
            _("开始计时：%(at)s；规则：%(rule)s（%(basis)s）")
            % {
                "at": _fmt(clock.started_at),
                "rule": policy.describe(),
                "basis": policy.legal_basis,
            },
            "note",
        ),
    ]
    if p.base is not None:
        lines.extend(p.base.lines)
    else:
        lines.append(Line(_("按自然日计算，期限：%(at)s") % {"at": _fmt(p.due_at)}, "due"))
    for pause, seconds, due_after in p.shifts:
        lines.append(
            Line(
                _(
                    "暂停：%(start)s 至 %(end)s（%(reason)s），"
                    "其间计时 %(hours)s，期限顺延至 %(due)s"
                )
                % {
                    "start": _fmt(pause.started_at),
                    "end": _fmt(pause.ended_at),
                    "reason": pause.reason,
                    "hours": _hours(seconds),
                    "due": _fmt(due_after),
                },
                "skip",
            )
        )
    if p.shifts and p.base is not None:
        # The days the pauses pushed the deadline across.
        day = p.base.due_at.date()
        while day < p.due_at.date():
            day += dt.timedelta(days=1)
            info = calendar.day(day)
            if info.working:
                kind = _("调休上班") if info.kind == "makeup" else _("工作日")
                lines.append(
                    Line(
                        _("%(date)s %(weekday)s %(kind)s，顺延计入")
                        % {"date": day.isoformat(), "weekday": weekday_label(day), "kind": kind},
                        "makeup" if info.kind == "makeup" else "count",
                    )
                )
            else:
                lines.append(
                    Line(
                        _("%(date)s %(weekday)s %(reason)s，不计")
                        % {
                            "date": day.isoformat(),
                            "weekday": weekday_label(day),
                            "reason": _day_reason(info),
                        },
                        "skip",
                    )
                )
    open_pause = next((x for x in clock.pauses.all() if x.ended_at is None), None)
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
    for change in clock.changes.all():
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
    if p.warn_at:
        warns = "、".join(_fmt(w) for w in p.warn_at)
        lines.append(
            Line(
                _("预警时点（%(pcts)s）：%(at)s")
                % {"pcts": "、".join(f"{x}%" for x in policy.thresholds), "at": warns},
                "note",
            )
        )
    if clock.stopped_at:
        outcome = {
            ClockState.MET: _("按时办结"),
            ClockState.BREACHED: _("超时办结"),
            ClockState.CANCELLED: _("已取消"),
        }[clock.state]
        lines.append(
            Line(
                _("%(outcome)s：%(at)s") % {"outcome": outcome, "at": _fmt(clock.stopped_at)}, "due"
            )
        )
    else:
        lines.append(
            Line(
                _("期限：%(at)s%(provisional)s")
                % {
                    "at": _fmt(clock.due_at),
                    "provisional": _("（暂定）") if clock.provisional else "",
                },
                "due",
            )
        )
    return Explanation(clock=clock, plan=p, lines=tuple(lines))
