"""The office's working-day calendar and hours, as every deadline uses them.

`work_calendar()` is the calendar loaded in the database (cached per process,
rebuilt when a year's stamp changes: sla.services writes the stamps);
`office_hours()` is the office window and the same-day cut-off from settings.
Both the deadline calculator (sla.services) and the clocks (sla.clocks) read
them here, one floor below both.
"""

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from sla.calendar import WorkCalendar
from sla.models import CalendarDay, CalendarYear
from sla.worktime import Hours

# (version, calendar). A tuple is swapped in whole, so threads never see half of one.
_cache: tuple[tuple, WorkCalendar] | None = None


def _calendar_version() -> tuple:
    # One cheap aggregate over ~25 rows. Every write gives its year a fresh
    # random stamp or adds or deletes a year, so any change gives a new version.
    agg = CalendarYear.objects.aggregate(years=Count("id"), stamps=Sum("stamp"))
    return (agg["years"], agg["stamps"])


def work_calendar() -> WorkCalendar:
    """The calendar loaded in the database, rebuilt only when it has changed."""
    global _cache
    version = _calendar_version()
    cached = _cache
    if cached is not None and cached[0] == version:
        return cached[1]
    calendar = WorkCalendar(
        years=CalendarYear.objects.values_list("year", flat=True),
        exceptions={
            date: (kind, name)
            for date, kind, name in CalendarDay.objects.values_list("date", "kind", "name")
        },
    )
    _cache = (version, calendar)
    return calendar


def office_hours() -> Hours:
    """Office hours (shared domain reference section 5), in the office's time zone."""
    return Hours(
        open=settings.OFFICE_OPEN,
        cutoff=settings.PRELIMINARY_REVIEW_CUTOFF,
        close=settings.OFFICE_CLOSE,
        tz=timezone.get_default_timezone(),
    )
