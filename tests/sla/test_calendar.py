"""The pure working-day calendar, and the official years the migration loads."""

import datetime as dt

import chinese_calendar
import pytest
from chinese_calendar import constants

from sla.calendar import (
    HOLIDAY,
    WORKDAY,
    CalendarFileError,
    WorkCalendar,
    parse_calendar_csv,
)
from sla.services import work_calendar

D = dt.date.fromisoformat


def package_calendar() -> WorkCalendar:
    """Built straight from chinese-calendar, without the database."""
    exceptions = {d: (HOLIDAY, name) for d, name in constants.holidays.items()}
    exceptions |= {d: (WORKDAY, name) for d, name in constants.workdays.items()}
    return WorkCalendar(years=range(2004, 2027), exceptions=exceptions)


def days(start: str, end: str) -> list[str]:
    first, last = D(start), D(end)
    return [(first + dt.timedelta(n)).isoformat() for n in range((last - first).days + 1)]


OFF_2026 = [
    *days("2026-01-01", "2026-01-03"),  # New Year
    *days("2026-02-15", "2026-02-23"),  # Spring Festival
    *days("2026-04-04", "2026-04-06"),  # Qingming
    *days("2026-05-01", "2026-05-05"),  # Labour Day
    *days("2026-06-19", "2026-06-21"),  # Dragon Boat
    *days("2026-09-25", "2026-09-27"),  # Mid-Autumn
    *days("2026-10-01", "2026-10-07"),  # National Day
    "2026-03-01",  # an ordinary Sunday
    "2026-10-11",  # the Sunday after the make-up Saturday
]
WORKING_2026 = [
    "2026-01-04",  # make-up Sunday (New Year)
    "2026-01-05",
    "2026-02-13",
    "2026-02-14",  # make-up Saturday (Spring Festival)
    "2026-02-24",
    "2026-02-28",  # make-up Saturday (Spring Festival)
    "2026-04-03",
    "2026-04-07",
    "2026-04-30",
    "2026-05-06",
    "2026-05-09",  # make-up Saturday (Labour Day)
    "2026-06-18",
    "2026-06-22",
    "2026-09-20",  # make-up Sunday (National Day)
    "2026-09-24",
    "2026-09-28",
    "2026-09-30",
    "2026-10-08",
    "2026-10-10",  # make-up Saturday (National Day)
]
OFF_2025 = [
    "2025-01-01",
    *days("2025-01-28", "2025-02-04"),
    *days("2025-04-04", "2025-04-06"),
    *days("2025-05-01", "2025-05-05"),
    *days("2025-05-31", "2025-06-02"),
    *days("2025-10-01", "2025-10-08"),
    "2025-10-12",
]
WORKING_2025 = [
    "2025-01-02",
    "2025-01-26",  # make-up Sunday
    "2025-02-05",
    "2025-02-08",  # make-up Saturday
    "2025-04-07",
    "2025-04-27",  # make-up Sunday
    "2025-05-06",
    "2025-06-03",
    "2025-09-28",  # make-up Sunday (National Day)
    "2025-10-09",
    "2025-10-11",  # make-up Saturday (National Day)
]


@pytest.fixture(params=["package", "database"])
def calendar(request):
    if request.param == "package":
        return package_calendar()
    return work_calendar()


# Marked statically so pytest-django runs these with the other database tests,
# before any transactional test flushes the migrated calendar.
@pytest.mark.django_db
@pytest.mark.parametrize("date", OFF_2026 + OFF_2025)
def test_holidays_and_weekends_are_not_working_days(calendar, date):
    assert calendar.is_working_day(D(date)) is False
    assert calendar.day(D(date)).provisional is False


@pytest.mark.django_db
@pytest.mark.parametrize("date", WORKING_2026 + WORKING_2025)
def test_weekdays_and_make_up_days_are_working_days(calendar, date):
    assert calendar.is_working_day(D(date)) is True


def test_it_tells_what_kind_of_day_a_date_is(db):
    calendar = work_calendar()
    assert calendar.day(D("2026-10-01")).kind == "holiday"
    assert calendar.day(D("2026-10-01")).name == "国庆节"
    assert calendar.day(D("2026-10-10")).kind == "makeup"
    assert calendar.day(D("2026-10-10")).name == "国庆节"
    assert calendar.day(D("2026-02-16")).name == "春节"
    assert calendar.day(D("2026-04-06")).name == "清明节"
    assert calendar.day(D("2026-06-19")).name == "端午节"
    assert calendar.day(D("2026-09-25")).name == "中秋节"
    assert calendar.day(D("2026-05-01")).name == "劳动节"
    assert calendar.day(D("2026-01-01")).name == "元旦"
    assert calendar.day(D("2025-10-06")).name == "中秋节"
    assert calendar.day(D("2015-09-03")).name == (
        "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日"
    )
    assert calendar.day(D("2026-10-12")).kind == "weekday"
    assert calendar.day(D("2026-10-11")).kind == "weekend"


def test_the_migration_loads_every_official_year_from_2004_to_2026(db):
    calendar = work_calendar()
    assert calendar.loaded_years == frozenset(range(2004, 2027))
    for date in map(D, days("2004-01-01", "2026-12-31")):
        assert calendar.is_working_day(date) == chinese_calendar.is_workday(date), date


def test_a_year_without_a_loaded_calendar_counts_weekends_and_statutory_holidays(db):
    calendar = work_calendar()
    assert not calendar.is_loaded(2027)
    new_year = calendar.day(D("2027-01-01"))  # a Friday: 元旦 is off by law
    assert (new_year.working, new_year.kind, new_year.provisional) == (False, "holiday", True)
    thursday = calendar.day(D("2026-12-31"))
    assert (thursday.working, thursday.provisional) == (True, False)
    monday = calendar.day(D("2027-01-04"))  # no 调休 is assumed
    assert (monday.working, monday.kind, monday.provisional) == (True, "weekday", True)
    saturday = calendar.day(D("2027-01-02"))
    assert (saturday.working, saturday.kind, saturday.provisional) == (False, "weekend", True)
    assert not calendar.is_loaded(2003)
    assert calendar.day(D("2003-10-01")).provisional


def test_exceptions_outside_the_loaded_years_are_ignored():
    calendar = WorkCalendar(
        years=[2026],
        exceptions={D("2027-01-04"): (HOLIDAY, "元旦"), D("2026-03-02"): (HOLIDAY, "x")},
    )
    # A bridging day of an unloaded year is not known until its notice is loaded.
    assert calendar.is_working_day(D("2027-01-04"))
    assert calendar.day(D("2027-01-04")).provisional
    assert not calendar.is_working_day(D("2026-03-02"))


def test_the_nth_working_day_does_not_count_the_start_day():
    calendar = package_calendar()
    assert calendar.add_working_days(D("2026-09-30"), 1) == D("2026-10-08")
    assert calendar.add_working_days(D("2026-09-30"), 3) == D("2026-10-10")
    assert calendar.add_working_days(D("2026-09-30"), 4) == D("2026-10-12")
    assert calendar.add_working_days(D("2026-02-12"), 2) == D("2026-02-14")
    assert calendar.add_working_days(D("2026-02-12"), 3) == D("2026-02-24")
    assert calendar.add_working_days(D("2026-10-03"), 1) == D("2026-10-08")
    walked = calendar.days_to_nth_working_day(D("2026-09-30"), 3)
    assert [d.date for d in walked] == list(map(D, days("2026-10-01", "2026-10-10")))
    with pytest.raises(ValueError):
        calendar.days_to_nth_working_day(D("2026-09-30"), 0)


def test_it_counts_working_days_between_two_dates():
    calendar = package_calendar()
    assert calendar.working_days_between(D("2026-09-30"), D("2026-10-10")) == 3
    assert calendar.working_days_between(D("2026-09-30"), D("2026-10-07")) == 0
    assert calendar.working_days_between(D("2026-10-10"), D("2026-09-30")) == 0
    start = D("2026-01-01")
    for n in (1, 5, 22, 250):
        assert calendar.working_days_between(start, calendar.add_working_days(start, n)) == n


def test_it_lists_unloaded_years_in_a_span():
    calendar = package_calendar()
    assert calendar.unloaded_years_between(D("2026-12-01"), D("2028-01-05")) == [2027, 2028]
    assert calendar.unloaded_years_between(D("2025-01-01"), D("2026-12-31")) == []


# The file format, unit by unit (the command's behaviour is in test_load_calendar).


def test_it_parses_a_year_of_holidays_and_make_up_days():
    text = (
        "# 注释行\n\ndate,kind,name\n2027-01-01,holiday,元旦\n"
        '2027-02-06, workday ,"春节"\n2027-01-02,holiday,元旦\n'
    )
    arrangement = parse_calendar_csv(text)
    assert arrangement.year == 2027
    assert [(e.date.isoformat(), e.kind, e.name) for e in arrangement.entries] == [
        ("2027-01-01", "holiday", "元旦"),
        ("2027-01-02", "holiday", "元旦"),
        ("2027-02-06", "workday", "春节"),
    ]
    assert len(arrangement.holidays) == 2
    assert len(arrangement.workdays) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "文件是空的"),
        ("# only a comment\n", "文件是空的"),
        ("date,kind,name\n", "文件中没有任何日期行"),
        ("datum,art,name\n2027-01-01,holiday,元旦\n", "第1行：表头应为 date,kind,name"),
        ("date,kind,name\n20270101,holiday,元旦\n", "第2行：日期“20270101”无效"),
        ("date,kind,name\n2027-01-01,holiday,\n", "第2行：放假日须写明节日名称"),
        (
            "date,kind,name\n2027-01-01,holiday,元旦,x\n",
            "第2行：应有3列（date,kind,name），实际为4列",
        ),
        ("date,kind,name\n2027-01-01,holiday," + "节" * 101 + "\n", "第2行：名称超过100个字"),
    ],
)
def test_it_rejects_a_bad_file(text, message):
    with pytest.raises(CalendarFileError) as caught:
        parse_calendar_csv(text)
    assert any(message in error for error in caught.value.errors), caught.value.errors


def test_the_year_option_decides_which_year_a_file_is_for():
    with pytest.raises(CalendarFileError) as caught:
        parse_calendar_csv("date,kind,name\n2027-01-01,holiday,元旦\n", year=2028)
    assert caught.value.errors == ["第2行：日期 2027-01-01 不在2028年（一个文件只载入一个年度）"]
