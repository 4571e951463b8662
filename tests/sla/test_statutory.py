"""A year whose official arrangement is not loaded still counts the statutory
holidays of 《全国年节及纪念日放假办法》 (2024 revision, Decree No. 798): only
its 调休 is unknown, so the deadline stays provisional."""

import datetime as dt
import zoneinfo

import pytest

from sla.calendar import OfficeHours, WorkCalendar, due_in_working_days
from sla.services import work_calendar
from sla.statutory import statutory_holidays

BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")
HOURS = OfficeHours(cutoff=dt.time(16), close=dt.time(17), tz=BEIJING)
# 2026 is loaded (the State Council's notice); 2027 is not.
CALENDAR = WorkCalendar(years=[2026], exceptions={})


def D(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BEIJING)


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (
            2026,
            {
                "2026-01-01": "元旦",
                "2026-02-16": "春节",  # the eve: the last day of the twelfth lunar month
                "2026-02-17": "春节",
                "2026-02-18": "春节",
                "2026-02-19": "春节",
                "2026-04-05": "清明节",
                "2026-05-01": "劳动节",
                "2026-05-02": "劳动节",
                "2026-06-19": "端午节",
                "2026-09-25": "中秋节",
                "2026-10-01": "国庆节",
                "2026-10-02": "国庆节",
                "2026-10-03": "国庆节",
            },
        ),
        (
            2027,
            {
                "2027-01-01": "元旦",
                "2027-02-05": "春节",
                "2027-02-06": "春节",
                "2027-02-07": "春节",
                "2027-02-08": "春节",
                "2027-04-05": "清明节",
                "2027-05-01": "劳动节",
                "2027-05-02": "劳动节",
                "2027-06-09": "端午节",
                "2027-09-15": "中秋节",
                "2027-10-01": "国庆节",
                "2027-10-02": "国庆节",
                "2027-10-03": "国庆节",
            },
        ),
    ],
)
def test_it_computes_the_thirteen_statutory_days(year, expected):
    assert {day.isoformat(): name for day, name in statutory_holidays(year).items()} == expected


@pytest.mark.django_db
@pytest.mark.parametrize("year", [2025, 2026])
def test_every_computed_day_is_off_in_the_official_arrangement(year):
    # The 2024 revision applies from 2025: the loaded notices agree on every day.
    official = work_calendar()
    assert official.is_loaded(year)
    for day, name in statutory_holidays(year).items():
        assert not official.is_working_day(day), (day, name)


@pytest.mark.parametrize(
    ("date", "working", "kind"),
    [
        ("2026-12-31", True, "weekday"),  # loaded, the last working day of 2026
        ("2027-01-01", False, "holiday"),  # 元旦, a Friday
        ("2027-01-04", True, "weekday"),
        ("2027-02-04", True, "weekday"),  # the day before the eve
        ("2027-02-05", False, "holiday"),  # 除夕, a Friday
        ("2027-02-08", False, "holiday"),  # the third day, a Monday
        ("2027-02-09", True, "weekday"),  # the day after
    ],
)
def test_an_unloaded_year_counts_its_statutory_holidays(date, working, kind):
    day = CALENDAR.day(D(date))
    assert (day.working, day.kind) == (working, kind)
    assert day.provisional is (D(date).year == 2027)


@pytest.mark.parametrize(
    ("received", "due", "provisional"),
    [
        # Before the new year: all in the loaded 2026.
        ("2026-12-30 10:00", "2026-12-31 17:00", False),
        # At it: 1 January is off, then the weekend.
        ("2026-12-31 10:00", "2027-01-04 17:00", True),
        # After it.
        ("2027-01-04 10:00", "2027-01-05 17:00", True),
        # The Spring Festival of 2027: the eve and the first three days are off.
        ("2027-02-03 10:00", "2027-02-04 17:00", True),
        ("2027-02-04 10:00", "2027-02-09 17:00", True),
        ("2027-02-09 10:00", "2027-02-10 17:00", True),
    ],
)
def test_a_deadline_into_an_unloaded_year_skips_its_statutory_holidays(received, due, provisional):
    deadline = due_in_working_days(at(received), 1, calendar=CALENDAR, hours=HOURS)
    assert deadline.due_at == at(due)
    assert deadline.provisional is provisional


def test_the_explanation_names_the_holiday_and_what_is_still_unknown():
    deadline = due_in_working_days(at("2026-12-31 10:00"), 1, calendar=CALENDAR, hours=HOURS)
    assert "2027-01-01 周五 元旦（法定节假日），不计" in deadline.explanation
    assert "2027年的工作日历尚未载入：法定节假日已计入，调休安排尚未公布，期限为暂定" in (
        deadline.explanation
    )
