"""Working time, and where a clock's thresholds and deadline fall. Pure.

A working day's working time is its office window, open to close, in the
office time zone; days that are not working days have none. A clock measures
its progress in working time, so pausing stops it and resuming pushes every
point still ahead (warnings and the deadline) out by the working time the
pause took (ServiceNow's and Jira's "pause conditions", on the official
calendar). Calendar-day rules measure wall-clock time instead.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sla.calendar import (
    RULE_CALENDAR_DAYS,
    RULE_SAME_DAY,
    RULE_WORKING_DAYS,
    Deadline,
    OfficeHours,
    WorkCalendar,
    due_in_working_days,
    due_same_day,
)


@dataclass(frozen=True)
class Hours:
    """Office hours: the window that counts as working time, and the same-day cut-off."""

    open: dt.time
    cutoff: dt.time
    close: dt.time
    tz: dt.tzinfo

    @property
    def office(self) -> OfficeHours:
        return OfficeHours(cutoff=self.cutoff, close=self.close, tz=self.tz)


def _require_aware(*instants: dt.datetime) -> None:
    # astimezone() would read a naive datetime as the server's local time.
    for instant in instants:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("instants must be timezone-aware")


class WorkingTime:
    """Seconds of office time between instants, and instants after so much of it."""

    def __init__(self, calendar: WorkCalendar, hours: Hours) -> None:
        self.calendar = calendar
        self.hours = hours

    def window(self, date: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        if not self.calendar.is_working_day(date):
            return None
        tz = self.hours.tz
        return (
            dt.datetime.combine(date, self.hours.open, tzinfo=tz),
            dt.datetime.combine(date, self.hours.close, tzinfo=tz),
        )

    def between(self, start: dt.datetime, end: dt.datetime) -> int:
        """Working seconds in [start, end); 0 when end <= start."""
        _require_aware(start, end)
        if end <= start:
            return 0
        start, end = start.astimezone(self.hours.tz), end.astimezone(self.hours.tz)
        total = 0.0
        date = start.date()
        while date <= end.date():
            window = self.window(date)
            if window is not None:
                lo, hi = max(window[0], start), min(window[1], end)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            date += dt.timedelta(days=1)
        return round(total)

    def add(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The earliest instant by which `seconds` of working time after `start` have passed.

        Exactly at a window's close counts as that day: 8 hours from 09:00 is
        17:00 the same day, not 09:00 the next working day.
        """
        _require_aware(start)
        start = start.astimezone(self.hours.tz)
        if seconds <= 0:
            return start
        remaining = float(seconds)
        date = start.date()
        while True:
            window = self.window(date)
            if window is not None:
                lo = max(window[0], start)
                if lo < window[1]:
                    available = (window[1] - lo).total_seconds()
                    if remaining <= available:
                        return lo + dt.timedelta(seconds=remaining)
                    remaining -= available
            date += dt.timedelta(days=1)


class WallTime:
    """Calendar-day rules: every second counts."""

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz

    def between(self, start: dt.datetime, end: dt.datetime) -> int:
        _require_aware(start, end)
        return max(0, round((end - start).total_seconds()))

    def add(self, start: dt.datetime, seconds: float) -> dt.datetime:
        _require_aware(start)
        return start.astimezone(self.tz) + dt.timedelta(seconds=max(0.0, seconds))


@dataclass(frozen=True)
class Pause:
    started_at: dt.datetime
    ended_at: dt.datetime | None
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    """Where a clock's points fall, pauses included."""

    base: Deadline | None  # the deadline before pauses (None for calendar days)
    effective_start: dt.datetime  # when the clock's time starts to count
    total_seconds: int  # the time the rule allows, in the rule's measure
    warn_at: tuple[dt.datetime, ...]  # one per threshold, pauses included
    due_at: dt.datetime
    paused_seconds: int  # time the closed pauses took, in the rule's measure
    provisional: bool
    unloaded_years: tuple[int, ...]
    shifts: tuple[tuple[Pause, int, dt.datetime], ...]  # (pause, seconds, due after it)


def measure_for(rule: str, calendar: WorkCalendar, hours: Hours):
    return WallTime(hours.tz) if rule == RULE_CALENDAR_DAYS else WorkingTime(calendar, hours)


def plan(
    *,
    rule: str,
    n: int | None,
    started_at: dt.datetime,
    thresholds: Sequence[int],
    pauses: Sequence[Pause],
    calendar: WorkCalendar,
    hours: Hours,
) -> Plan:
    """The points of a clock: thresholds (percent of the allowed time) and the
    deadline, each pushed out by every closed pause that began before it.

    An open pause (still paused) is not applied: while paused, the stored
    points are those of the moment the pause began.
    """
    if started_at.tzinfo is None:
        raise ValueError("started_at must be timezone-aware")
    local = started_at.astimezone(hours.tz)
    next_midnight = dt.datetime.combine(
        local.date() + dt.timedelta(days=1), dt.time.min, tzinfo=hours.tz
    )
    base: Deadline | None
    if rule == RULE_SAME_DAY:
        base = due_same_day(local, calendar=calendar, hours=hours.office)
        effective_start, due = local, base.due_at
    elif rule == RULE_WORKING_DAYS:
        if not n or n < 1:
            raise ValueError("the working_days rule needs n >= 1")
        base = due_in_working_days(local, n, calendar=calendar, hours=hours.office)
        # The day of receipt does not count: the period starts the next day.
        effective_start, due = next_midnight, base.due_at
    elif rule == RULE_CALENDAR_DAYS:
        if not n or n < 1:
            raise ValueError("the calendar_days rule needs n >= 1")
        base = None
        effective_start = next_midnight
        due = dt.datetime.combine(local.date() + dt.timedelta(days=n), hours.close, tzinfo=hours.tz)
    else:
        raise ValueError(f"unknown rule {rule!r}")
    measure = measure_for(rule, calendar, hours)
    total = measure.between(effective_start, due)
    warn = [measure.add(effective_start, total * pct / 100) for pct in thresholds]
    paused = 0
    shifts = []
    for pause in sorted(pauses, key=lambda p: p.started_at):
        if pause.ended_at is None:
            continue
        begin = max(pause.started_at, effective_start)
        seconds = measure.between(begin, max(pause.ended_at, effective_start))
        paused += seconds
        warn = [measure.add(w, seconds) if w > begin else w for w in warn]
        if due > begin:
            due = measure.add(due, seconds)
        shifts.append((pause, seconds, due))
    if rule == RULE_CALENDAR_DAYS:
        unloaded: tuple[int, ...] = ()
    else:
        unloaded = tuple(calendar.unloaded_years_between(local.date(), due.date()))
    return Plan(
        base=base,
        effective_start=effective_start,
        total_seconds=total,
        warn_at=tuple(warn),
        due_at=due.astimezone(hours.tz),
        paused_seconds=paused,
        provisional=bool(unloaded),
        unloaded_years=unloaded,
        shifts=tuple(shifts),
    )
