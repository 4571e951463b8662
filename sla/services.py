"""The working-day calendar as the rest of the product uses it.

Reads: `work_calendar()` (sla.office: cached per process), `deadline_same_day()`
and `deadline_working_days()`. Writes: `calendar_load_year()` (the load_calendar
command) and `calendar_year_touch()` (admin edits); both give the year a new
stamp, which is what invalidates the cache.
"""

import dataclasses
import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from repair_flow.audit import audit_record
from sla import clocks
from sla.calendar import (
    RULE_SAME_DAY,
    RULE_WORKING_DAYS,
    Deadline,
    WorkCalendar,
    YearArrangement,
    due_in_working_days,
    due_same_day,
)
from sla.models import CalendarDay, CalendarYear, new_stamp
from sla.office import office_hours, work_calendar


def is_working_day(date: dt.date) -> bool:
    return work_calendar().is_working_day(date)


def deadline_same_day(
    received_at: dt.datetime, *, calendar: WorkCalendar | None = None
) -> Deadline:
    """Jinan's same-day preliminary review: received on a working day by the
    cut-off, due at office close that day, else at close of the next working day.

    Pass `calendar` when computing many deadlines in one go.
    """
    return due_same_day(
        received_at, calendar=calendar or work_calendar(), hours=office_hours().office
    )


def deadline_working_days(
    received_at: dt.datetime, n: int, *, calendar: WorkCalendar | None = None
) -> Deadline:
    """N working days not counting the day of receipt, due at office close."""
    return due_in_working_days(
        received_at, n, calendar=calendar or work_calendar(), hours=office_hours().office
    )


def deadline_for(*, received_at: dt.datetime, rule: str, n: int | None = None) -> Deadline:
    if rule == RULE_SAME_DAY:
        return deadline_same_day(received_at)
    if rule == RULE_WORKING_DAYS:
        if n is None:
            raise ValueError("the working_days rule needs n")
        return deadline_working_days(received_at, n)
    raise ValueError(f"unknown rule {rule!r}")


@dataclass(frozen=True)
class CalendarLoadResult:
    year: int
    holidays: int
    workdays: int
    # The year was loaded before and has been replaced.
    replaced: bool
    # "2027-01-01 holiday 元旦" lines, compared with what was loaded before.
    added: tuple[str, ...]
    removed: tuple[str, ...]
    # Open clocks whose deadline moved on the new calendar (sla.models.DeadlineChange).
    deadline_changes: tuple = ()

    @property
    def unchanged(self) -> bool:
        return self.replaced and not self.added and not self.removed


def _entry_label(date: dt.date, kind: str, name: str) -> str:
    return f"{date.isoformat()} {kind} {name}".rstrip()


@transaction.atomic
def calendar_load_year(
    *, arrangement: YearArrangement, source: str, actor=None
) -> CalendarLoadResult:
    """Replace one year's holidays and make-up days and mark the year loaded,
    then recompute the open clocks the year affects.

    All or nothing: the old days go, the new ones arrive and the deadlines
    move in one transaction.
    """
    year = arrangement.year
    row = CalendarYear.objects.select_for_update().filter(year=year).first()
    existed = row is not None
    old_days = CalendarDay.objects.filter(Q(date__year=year) | Q(calendar_year__year=year))
    before = {_entry_label(d.date, d.kind, d.name) for d in old_days}
    after = {_entry_label(e.date, e.kind, e.name) for e in arrangement.entries}
    old_days.delete()
    now = timezone.now()
    if not existed:
        row = CalendarYear.objects.create(year=year, source=source, loaded_at=now)
    else:
        row.source, row.loaded_at, row.stamp = source, now, new_stamp()
        row.save(update_fields=["source", "loaded_at", "stamp"])
    CalendarDay.objects.bulk_create(
        CalendarDay(calendar_year=row, date=e.date, kind=e.kind, name=e.name)
        for e in arrangement.entries
    )
    result = CalendarLoadResult(
        year=year,
        holidays=len(arrangement.holidays),
        workdays=len(arrangement.workdays),
        replaced=existed,
        added=tuple(sorted(after - before)),
        removed=tuple(sorted(before - after)),
    )
    audit_record(
        actor=actor,
        action="calendar.load_year",
        object_type="sla.CalendarYear",
        object_id=year,
        summary={
            "source": source,
            "holidays": result.holidays,
            "workdays": result.workdays,
            "replaced": result.replaced,
            "added": list(result.added),
            "removed": list(result.removed),
        },
    )
    # Clocks reaching this year were provisional; a replaced arrangement that
    # changed may also move deadlines that were computed on the old one.
    changed = existed and (result.added or result.removed)
    changes = clocks.clocks_recompute_provisional(
        actor=actor,
        reason=_("载入%(year)s年工作日历（%(source)s）") % {"year": year, "source": source},
        years=(year,) if changed else (),
    )
    return dataclasses.replace(result, deadline_changes=tuple(changes))


@transaction.atomic
def calendar_year_touch(*, calendar_year: CalendarYear, actor, action: str, summary: dict) -> None:
    """Record an administrator's edit of a year or its days and invalidate the
    cached calendar in every process."""
    CalendarYear.objects.filter(pk=calendar_year.pk).update(stamp=new_stamp())
    audit_record(
        actor=actor,
        action=action,
        object_type="sla.CalendarYear",
        object_id=calendar_year.year,
        summary=summary,
    )


@transaction.atomic
def calendar_year_delete(*, calendar_year: CalendarYear, actor) -> None:
    """Unload a year (with its days): deadlines reaching it become provisional."""
    year, days = calendar_year.year, calendar_year.days.count()
    calendar_year.delete()
    audit_record(
        actor=actor,
        action="calendar.delete_year",
        object_type="sla.CalendarYear",
        object_id=year,
        summary={"days_removed": days},
    )
