"""The official working-day calendar as plain data, and deadline arithmetic on it.

Pure: no ORM, no settings. `sla.office` builds a `WorkCalendar` from the
database and the office hours from settings, and callers pass them in;
everything here can be tested with
hand-made calendars (shared domain reference sections 5 and 6).

A working day is Monday to Friday, minus the holidays the State Council
announces for the year, plus its make-up working days (调休上班). Only years
whose arrangement is loaded are known; for any other year the weekends and
the statutory holidays (sla/statutory.py) are counted, and every result that
touches such a year is marked provisional: its 调休 is not known yet.
"""

import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from sla.statutory import statutory_holidays

HOLIDAY = "holiday"
WORKDAY = "workday"
KINDS = (HOLIDAY, WORKDAY)

# The deadline rules of an SLA policy (sla.models.Rule stores them).
RULE_SAME_DAY = "same_day"
RULE_WORKING_DAYS = "working_days"
RULE_CALENDAR_DAYS = "calendar_days"

NAME_MAX_LENGTH = 100

DayKind = Literal["weekday", "weekend", "holiday", "makeup"]


# Marked for the catalogue here and translated one at a time below: a
# deadline's explanation names a weekday on every line, and translating all
# seven for each line cost a work page ~3 % of its time.
WEEKDAY_LABELS = (
    gettext_noop("周一"),
    gettext_noop("周二"),
    gettext_noop("周三"),
    gettext_noop("周四"),
    gettext_noop("周五"),
    gettext_noop("周六"),
    gettext_noop("周日"),
)


def weekday_label(day: dt.date) -> str:
    return _(WEEKDAY_LABELS[day.weekday()])


def is_weekend(day: dt.date) -> bool:
    return day.weekday() >= 5


@dataclass(frozen=True)
class Day:
    """What the calendar says about one date."""

    date: dt.date
    working: bool
    kind: DayKind
    # The holiday a holiday or make-up day belongs to ("国庆节"), else "".
    name: str = ""
    # The year's arrangement is not loaded: weekends and the statutory
    # holidays were counted, the year's 调休 is not known yet.
    provisional: bool = False


class WorkCalendar:
    """Working days from plain data: the loaded years and their exceptions.

    `exceptions` maps a date to `(kind, name)` with kind `holiday` (a day off,
    which may also fall on a weekend) or `workday` (a weekend make-up working
    day). Exceptions outside the loaded years are ignored.
    """

    def __init__(
        self, *, years: Iterable[int], exceptions: Mapping[dt.date, tuple[str, str]]
    ) -> None:
        self.loaded_years: frozenset[int] = frozenset(years)
        self._exceptions = {
            day: (kind, name)
            for day, (kind, name) in exceptions.items()
            if day.year in self.loaded_years
        }

    def __repr__(self) -> str:
        return f"<WorkCalendar {len(self.loaded_years)} years, {len(self._exceptions)} exceptions>"

    def is_loaded(self, year: int) -> bool:
        return year in self.loaded_years

    def day(self, date: dt.date) -> Day:
        if date.year not in self.loaded_years:
            # Only the statutory holidays are known before the year's notice
            # (Decree No. 798); its bridging and make-up days are not.
            name = statutory_holidays(date.year).get(date)
            if name is not None:
                return Day(date, False, "holiday", name, provisional=True)
            if is_weekend(date):
                return Day(date, False, "weekend", provisional=True)
            return Day(date, True, "weekday", provisional=True)
        kind, name = self._exceptions.get(date, ("", ""))
        if kind == HOLIDAY:
            return Day(date, False, "holiday", name)
        if kind == WORKDAY:
            return Day(date, True, "makeup", name)
        if is_weekend(date):
            return Day(date, False, "weekend")
        return Day(date, True, "weekday")

    def is_working_day(self, date: dt.date) -> bool:
        return self.day(date).working

    def days_to_nth_working_day(self, start: dt.date, n: int) -> list[Day]:
        """Every day after `start` up to and including the nth working day.

        `start` itself is not counted: a period begins the next day.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, not {n}")
        days: list[Day] = []
        counted = 0
        date = start
        while counted < n:
            date += dt.timedelta(days=1)
            day = self.day(date)
            days.append(day)
            if day.working:
                counted += 1
        return days

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The nth working day after `start` (not counting `start`)."""
        return self.days_to_nth_working_day(start, n)[-1].date

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count = 0
        date = start
        while date < end:
            date += dt.timedelta(days=1)
            if self.day(date).working:
                count += 1
        return count

    def unloaded_years_between(self, start: dt.date, end: dt.date) -> list[int]:
        return [y for y in range(start.year, end.year + 1) if y not in self.loaded_years]


@dataclass(frozen=True)
class OfficeHours:
    """When a same-day filing must arrive and when the office closes, in `tz`."""

    cutoff: dt.time
    close: dt.time
    tz: dt.tzinfo


@dataclass(frozen=True)
class DeadlineDay:
    """One day the deadline walks through."""

    day: Day
    # receipt: the day the filing arrived; skip: not a working day;
    # count: a working day, the `ordinal`-th of the period.
    role: Literal["receipt", "skip", "count"]
    ordinal: int | None = None


@dataclass(frozen=True)
class Line:
    """One line of the explanation; `tone` is skip, count, makeup, due or note."""

    text: str
    tone: str


@dataclass(frozen=True)
class Deadline:
    rule: str
    n: int | None
    received_at: dt.datetime
    due_at: dt.datetime
    provisional: bool
    unloaded_years: tuple[int, ...]
    days: tuple[DeadlineDay, ...]
    lines: tuple[Line, ...]

    @property
    def explanation(self) -> list[str]:
        return [line.text for line in self.lines]


def _local(received_at: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    if received_at.tzinfo is None or received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at.astimezone(tz)


def day_reason(day: Day) -> str:
    """Why a day is not a working day, for the explanation."""
    # A holiday that falls on a weekend is explained as a weekend: it would
    # not have been a working day anyway.
    if day.kind == "holiday" and not is_weekend(day.date):
        return _("%(name)s（法定节假日）") % {"name": day.name or _("节假日")}
    return _("周末")


def skipped_day_line(day: Day) -> Line:
    """ "2026-10-03 周六 国庆节（法定节假日），不计": a day that is not counted."""
    params = {
        "date": day.date.isoformat(),
        "weekday": weekday_label(day.date),
        "reason": day_reason(day),
    }
    return Line(_("%(date)s %(weekday)s %(reason)s，不计") % params, "skip")


def note_unloaded(day: Day, noted: set[int], lines: list[Line]) -> None:
    """The first time a walk meets a year whose calendar is not loaded, say so."""
    if day.provisional and day.date.year not in noted:
        noted.add(day.date.year)
        lines.append(Line(unloaded_note(day.date.year), "note"))


def _day_line(entry: DeadlineDay) -> Line:
    day = entry.day
    if entry.role == "skip":
        return skipped_day_line(day)
    params = {"date": day.date.isoformat(), "weekday": weekday_label(day.date), "n": entry.ordinal}
    if day.kind == "makeup":
        return Line(_("%(date)s %(weekday)s 调休上班，计第%(n)s个工作日") % params, "makeup")
    return Line(_("%(date)s %(weekday)s 工作日，计第%(n)s个工作日") % params, "count")


def _walk(days: Iterable[Day], lines: list[Line], seen_unloaded: set[int]) -> list[DeadlineDay]:
    entries = []
    counted = 0
    for day in days:
        note_unloaded(day, seen_unloaded, lines)
        if day.working:
            counted += 1
            entry = DeadlineDay(day, "count", counted)
        else:
            entry = DeadlineDay(day, "skip")
        entries.append(entry)
        lines.append(_day_line(entry))
    return entries


def unloaded_note(year: int) -> str:
    return _("%(year)s年的工作日历尚未载入：法定节假日已计入，调休安排尚未公布，期限为暂定") % {
        "year": year
    }


def _due_line(due_at: dt.datetime) -> Line:
    params = {
        "date": due_at.date().isoformat(),
        "weekday": weekday_label(due_at.date()),
        "time": due_at.strftime("%H:%M"),
    }
    return Line(_("期限届满：%(date)s %(weekday)s %(time)s") % params, "due")


def _deadline(*, rule, n, received, due_date, hours, entries, lines, unloaded) -> Deadline:
    due_at = dt.datetime.combine(due_date, hours.close, tzinfo=hours.tz)
    lines.append(_due_line(due_at))
    return Deadline(
        rule=rule,
        n=n,
        received_at=received,
        due_at=due_at,
        provisional=bool(unloaded),
        unloaded_years=tuple(sorted(unloaded)),
        days=tuple(entries),
        lines=tuple(lines),
    )


def due_in_working_days(
    received_at: dt.datetime, n: int, *, calendar: WorkCalendar, hours: OfficeHours
) -> Deadline:
    """N working days after receipt, ending at office close on the last day.

    The day of receipt is not counted, whatever the hour (shared domain
    reference section 5: the period starts the next day).
    """
    received = _local(received_at, hours.tz)
    lines = [Line(_("收件日 %(date)s 不计入期限") % {"date": received.date().isoformat()}, "skip")]
    receipt = DeadlineDay(calendar.day(received.date()), "receipt")
    unloaded: set[int] = set()
    entries = _walk(calendar.days_to_nth_working_day(received.date(), n), lines, unloaded)
    return _deadline(
        rule=RULE_WORKING_DAYS,
        n=n,
        received=received,
        due_date=entries[-1].day.date,
        hours=hours,
        entries=[receipt, *entries],
        lines=lines,
        unloaded=unloaded,
    )


def due_same_day(
    received_at: dt.datetime, *, calendar: WorkCalendar, hours: OfficeHours
) -> Deadline:
    """Same-day rule: received on a working day by the cut-off (inclusive), due
    at office close that day; otherwise at office close of the next working day.
    """
    received = _local(received_at, hours.tz)
    today = calendar.day(received.date())
    unloaded: set[int] = set()
    lines: list[Line] = []
    note_unloaded(today, unloaded, lines)
    params = {
        "datetime": received.strftime("%Y-%m-%d %H:%M:%S"),
        "weekday": weekday_label(received.date()),
        "cutoff": hours.cutoff.strftime("%H:%M"),
    }
    receipt = DeadlineDay(today, "receipt")
    if today.working and received.time() <= hours.cutoff:
        text = _("收件时间 %(datetime)s %(weekday)s，工作日且不晚于截止时点 %(cutoff)s，当日办结")
        lines.append(Line(text % params, "count"))
        return _deadline(
            rule=RULE_SAME_DAY,
            n=None,
            received=received,
            due_date=today.date,
            hours=hours,
            entries=[receipt],
            lines=lines,
            unloaded=unloaded,
        )
    if today.working:
        text = _("收件时间 %(datetime)s %(weekday)s，晚于截止时点 %(cutoff)s，顺延至下一个工作日")
    else:
        params["reason"] = day_reason(today)
        text = _("收件时间 %(datetime)s %(weekday)s，%(reason)s，非工作日，顺延至下一个工作日")
    lines.append(Line(text % params, "skip"))
    entries = _walk(calendar.days_to_nth_working_day(today.date, 1), lines, unloaded)
    return _deadline(
        rule=RULE_SAME_DAY,
        n=None,
        received=received,
        due_date=entries[-1].day.date,
        hours=hours,
        entries=[receipt, *entries],
        lines=lines,
        unloaded=unloaded,
    )


# The file format `load_calendar` reads --------------------------------------

CSV_HEADER = ("date", "kind", "name")


@dataclass(frozen=True)
class CalendarEntry:
    date: dt.date
    kind: str
    name: str


@dataclass(frozen=True)
class YearArrangement:
    """One year's holidays and make-up working days, as announced."""

    year: int
    entries: tuple[CalendarEntry, ...]

    @property
    def holidays(self) -> list[CalendarEntry]:
        return [e for e in self.entries if e.kind == HOLIDAY]

    @property
    def workdays(self) -> list[CalendarEntry]:
        return [e for e in self.entries if e.kind == WORKDAY]


class CalendarFileError(ValueError):
    """Every problem found in a calendar file, one message per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def parse_calendar_csv(text: str, *, year: int | None = None) -> YearArrangement:
    """Read `date,kind,name` lines for one year; raise CalendarFileError listing
    every bad line. See sla/data/calendar-example.csv for the format.

    Lines starting with `#` and blank lines are ignored; the first other line
    must be the header `date,kind,name`. `year` defaults to the year of the
    first date; every date must be in it.
    """
    errors: list[str] = []
    entries: list[CalendarEntry] = []
    first_seen: dict[dt.date, int] = {}
    header_seen = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([raw]))]
        if not header_seen:
            header_seen = True
            if tuple(f.lower() for f in fields) != CSV_HEADER:
                errors.append(
                    _("第%(line)d行：表头应为 date,kind,name，实际为“%(found)s”")
                    % {"line": number, "found": raw.strip()}
                )
                break
            continue
        line_errors, entry = _parse_line(number, fields, year)
        errors.extend(line_errors)
        if entry is None:
            continue
        if year is None:
            year = entry.date.year
        if entry.date in first_seen:
            errors.append(
                _("第%(line)d行：日期 %(date)s 重复（已在第%(first)d行出现）")
                % {"line": number, "date": entry.date.isoformat(), "first": first_seen[entry.date]}
            )
            continue
        first_seen[entry.date] = number
        if not line_errors:
            entries.append(entry)
    if not header_seen:
        errors.append(_("文件是空的：缺少表头 date,kind,name 和日期行"))
    elif not entries and not errors:
        errors.append(_("文件中没有任何日期行"))
    if errors:
        raise CalendarFileError(errors)
    assert year is not None
    return YearArrangement(year, tuple(sorted(entries, key=lambda e: e.date)))


def _parse_line(
    number: int, fields: list[str], year: int | None
) -> tuple[list[str], CalendarEntry | None]:
    """The problems of one line, and its entry when the date could be read
    (so duplicates are still caught on lines with other problems)."""
    if len(fields) != 3:
        message = _("第%(line)d行：应有3列（date,kind,name），实际为%(count)d列")
        return [message % {"line": number, "count": len(fields)}], None
    raw_date, kind, name = fields
    try:
        # fromisoformat would also take 20270101; the file wants YYYY-MM-DD.
        if len(raw_date) != 10:
            raise ValueError(raw_date)
        date = dt.date.fromisoformat(raw_date)
    except ValueError:
        message = _("第%(line)d行：日期“%(value)s”无效，应为 YYYY-MM-DD 格式的真实日期")
        return [message % {"line": number, "value": raw_date}], None
    errors = []
    params = {"line": number, "date": date.isoformat(), "value": kind}
    if year is not None and date.year != year:
        params["year"] = year
        errors.append(
            _("第%(line)d行：日期 %(date)s 不在%(year)d年（一个文件只载入一个年度）") % params
        )
    if kind not in KINDS:
        errors.append(
            _("第%(line)d行：类型“%(value)s”未知，应为 holiday（放假）或 workday（调休上班）")
            % params
        )
    elif kind == WORKDAY and not is_weekend(date):
        params["weekday"] = weekday_label(date)
        errors.append(
            _("第%(line)d行：%(date)s 是%(weekday)s，本来就是工作日，不能登记为调休上班") % params
        )
    elif kind == HOLIDAY and not name:
        errors.append(_("第%(line)d行：放假日须写明节日名称（第3列）") % params)
    if len(name) > NAME_MAX_LENGTH:
        params["max"] = NAME_MAX_LENGTH
        errors.append(_("第%(line)d行：名称超过%(max)d个字") % params)
    return errors, CalendarEntry(date, kind, name)
