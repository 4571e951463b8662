"""Deadlines through the service API other code calls: deadline_same_day and
deadline_working_days, on the calendar the migration loaded."""

import datetime as dt

import pytest
from django.test import override_settings

from sla.calendar import HOLIDAY, OfficeHours, WorkCalendar, due_same_day
from sla.services import deadline_same_day, deadline_working_days, work_calendar

pytestmark = pytest.mark.django_db


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


NATIONAL_DAY_3 = [
    "收件日 2026-09-30 不计入期限",
    "2026-10-01 周四 国庆节（法定节假日），不计",
    "2026-10-02 周五 国庆节（法定节假日），不计",
    "2026-10-03 周六 周末，不计",
    "2026-10-04 周日 周末，不计",
    "2026-10-05 周一 国庆节（法定节假日），不计",
    "2026-10-06 周二 国庆节（法定节假日），不计",
    "2026-10-07 周三 国庆节（法定节假日），不计",
    "2026-10-08 周四 工作日，计第1个工作日",
    "2026-10-09 周五 工作日，计第2个工作日",
    "2026-10-10 周六 调休上班，计第3个工作日",
    "期限届满：2026-10-10 周六 17:00",
]


def test_three_working_days_across_national_day_end_on_the_make_up_saturday():
    deadline = deadline_working_days(at("2026-09-30T10:00:00+08:00"), 3)
    assert deadline.due_at.isoformat() == "2026-10-10T17:00:00+08:00"
    assert deadline.provisional is False
    assert deadline.explanation == NATIONAL_DAY_3


def test_the_day_of_receipt_never_counts_whatever_the_hour():
    for received in ("2026-09-30T00:00:00+08:00", "2026-09-30T23:59:59+08:00"):
        deadline = deadline_working_days(at(received), 3)
        assert deadline.due_at.isoformat() == "2026-10-10T17:00:00+08:00"


@pytest.mark.parametrize(
    ("received", "n", "due"),
    [
        ("2026-09-30T10:00:00+08:00", 1, "2026-10-08T17:00:00+08:00"),
        ("2026-09-30T10:00:00+08:00", 5, "2026-10-13T17:00:00+08:00"),  # skips Sunday 11 Oct
        ("2026-09-24T10:00:00+08:00", 3, "2026-09-30T17:00:00+08:00"),  # over Mid-Autumn
        ("2026-09-24T10:00:00+08:00", 4, "2026-10-08T17:00:00+08:00"),  # and National Day
        ("2026-09-18T10:00:00+08:00", 1, "2026-09-20T17:00:00+08:00"),  # make-up Sunday
        ("2026-02-12T10:00:00+08:00", 5, "2026-02-26T17:00:00+08:00"),  # Spring Festival
        ("2026-02-13T10:00:00+08:00", 1, "2026-02-14T17:00:00+08:00"),  # make-up Saturday
        ("2026-02-13T10:00:00+08:00", 2, "2026-02-24T17:00:00+08:00"),
        ("2026-02-24T10:00:00+08:00", 4, "2026-02-28T17:00:00+08:00"),  # second make-up Sat
        ("2026-10-03T10:00:00+08:00", 1, "2026-10-08T17:00:00+08:00"),  # received on a holiday
        ("2026-03-13T10:00:00+08:00", 10, "2026-03-27T17:00:00+08:00"),  # plain fortnight
        ("2025-09-30T10:00:00+08:00", 1, "2025-10-09T17:00:00+08:00"),  # National Day 2025
        ("2025-09-26T10:00:00+08:00", 1, "2025-09-28T17:00:00+08:00"),  # make-up Sunday 2025
        ("2026-09-30T02:00:00Z", 3, "2026-10-10T17:00:00+08:00"),  # UTC input
        ("2026-09-29T18:00:00Z", 3, "2026-10-10T17:00:00+08:00"),  # 02:00 on 30 Sep in Jinan
    ],
)
def test_nth_working_day_deadlines(received, n, due):
    deadline = deadline_working_days(at(received), n)
    assert deadline.due_at.isoformat() == due
    assert deadline.provisional is False


def test_spring_festival_explanation_names_the_holiday_and_the_make_up_day():
    deadline = deadline_working_days(at("2026-02-12T09:00:00+08:00"), 5)
    lines = deadline.explanation
    assert lines[0] == "收件日 2026-02-12 不计入期限"
    assert "2026-02-13 周五 工作日，计第1个工作日" in lines
    assert "2026-02-14 周六 调休上班，计第2个工作日" in lines
    assert "2026-02-15 周日 周末，不计" in lines
    assert "2026-02-16 周一 春节（法定节假日），不计" in lines
    assert "2026-02-23 周一 春节（法定节假日），不计" in lines
    assert "2026-02-26 周四 工作日，计第5个工作日" in lines
    assert lines[-1] == "期限届满：2026-02-26 周四 17:00"


def test_the_result_carries_structured_day_entries():
    deadline = deadline_working_days(at("2026-09-30T10:00:00+08:00"), 3)
    assert deadline.rule == "working_days"
    assert deadline.n == 3
    assert deadline.received_at.isoformat() == "2026-09-30T10:00:00+08:00"
    receipt, *walked = deadline.days
    assert (receipt.role, receipt.day.date) == ("receipt", dt.date(2026, 9, 30))
    assert [(e.day.date.day, e.role, e.ordinal) for e in walked] == [
        (1, "skip", None),
        (2, "skip", None),
        (3, "skip", None),
        (4, "skip", None),
        (5, "skip", None),
        (6, "skip", None),
        (7, "skip", None),
        (8, "count", 1),
        (9, "count", 2),
        (10, "count", 3),
    ]
    assert walked[0].day.name == "国庆节"
    assert walked[-1].day.kind == "makeup"
    assert [line.tone for line in deadline.lines][-2:] == ["makeup", "due"]


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # An ordinary Friday: at and before the cut-off the same day, after it Monday.
        ("2026-03-13T15:59:59+08:00", "2026-03-13T17:00:00+08:00"),
        ("2026-03-13T16:00:00+08:00", "2026-03-13T17:00:00+08:00"),
        ("2026-03-13T16:00:00.000001+08:00", "2026-03-16T17:00:00+08:00"),
        ("2026-03-13T16:00:01+08:00", "2026-03-16T17:00:00+08:00"),
        ("2026-03-13T00:30:00+08:00", "2026-03-13T17:00:00+08:00"),  # before office opens
        ("2026-03-13T18:00:00+08:00", "2026-03-16T17:00:00+08:00"),  # after office close
        # A Friday before a make-up Sunday.
        ("2026-09-18T16:00:01+08:00", "2026-09-20T17:00:00+08:00"),
        # The eve of National Day.
        ("2026-09-30T15:59:59+08:00", "2026-09-30T17:00:00+08:00"),
        ("2026-09-30T16:00:00+08:00", "2026-09-30T17:00:00+08:00"),
        ("2026-09-30T16:00:01+08:00", "2026-10-08T17:00:00+08:00"),
        # Make-up working days count as working days.
        ("2026-10-10T09:00:00+08:00", "2026-10-10T17:00:00+08:00"),
        ("2026-10-10T16:00:01+08:00", "2026-10-12T17:00:00+08:00"),
        ("2026-01-04T10:00:00+08:00", "2026-01-04T17:00:00+08:00"),
        # A holiday and a weekend: the next working day, even before the cut-off.
        ("2026-10-01T08:00:00+08:00", "2026-10-08T17:00:00+08:00"),
        ("2026-10-03T09:00:00+08:00", "2026-10-08T17:00:00+08:00"),
        ("2026-03-14T10:00:00+08:00", "2026-03-16T17:00:00+08:00"),
        # Other offsets: what counts is the time in Jinan.
        ("2026-09-30T08:00:00Z", "2026-09-30T17:00:00+08:00"),  # 16:00:00 in Jinan
        ("2026-09-30T08:00:01Z", "2026-10-08T17:00:00+08:00"),  # 16:00:01 in Jinan
        ("2026-09-30T17:30:00Z", "2026-10-08T17:00:00+08:00"),  # 01:30 on 1 Oct in Jinan
        ("2026-10-07T16:30:00Z", "2026-10-08T17:00:00+08:00"),  # 00:30 on 8 Oct in Jinan
        ("2026-10-07T11:30:00-05:00", "2026-10-08T17:00:00+08:00"),  # 00:30 on 8 Oct
        ("2026-03-12T23:59:59-08:00", "2026-03-13T17:00:00+08:00"),  # 15:59:59 Fri in Jinan
        ("2026-03-13T00:00:01-08:00", "2026-03-16T17:00:00+08:00"),  # 16:00:01 Fri in Jinan
    ],
)
def test_same_day_rule(received, due):
    deadline = deadline_same_day(at(received))
    assert deadline.due_at.isoformat() == due
    assert deadline.provisional is False


def test_same_day_explanations():
    by_cutoff = deadline_same_day(at("2026-09-30T16:00:00+08:00"))
    assert by_cutoff.explanation == [
        "收件时间 2026-09-30 16:00:00 周三，工作日且不晚于截止时点 16:00，当日办结",
        "期限届满：2026-09-30 周三 17:00",
    ]
    late = deadline_same_day(at("2026-09-30T16:00:01+08:00"))
    assert late.explanation[0] == (
        "收件时间 2026-09-30 16:00:01 周三，晚于截止时点 16:00，顺延至下一个工作日"
    )
    assert "2026-10-01 周四 国庆节（法定节假日），不计" in late.explanation
    assert late.explanation[-2:] == [
        "2026-10-08 周四 工作日，计第1个工作日",
        "期限届满：2026-10-08 周四 17:00",
    ]
    holiday = deadline_same_day(at("2026-10-02T09:00:00+08:00"))
    assert holiday.explanation[0] == (
        "收件时间 2026-10-02 09:00:00 周五，国庆节（法定节假日），非工作日，顺延至下一个工作日"
    )
    weekend = deadline_same_day(at("2026-03-14T09:00:00+08:00"))
    assert weekend.explanation[0] == (
        "收件时间 2026-03-14 09:00:00 周六，周末，非工作日，顺延至下一个工作日"
    )
    utc = deadline_same_day(at("2026-09-30T17:30:00Z"))
    assert utc.received_at.isoformat() == "2026-10-01T01:30:00+08:00"
    assert utc.explanation[0].startswith("收件时间 2026-10-01 01:30:00 周四，国庆节")


@override_settings(
    PRELIMINARY_REVIEW_CUTOFF=dt.time(12, 0),
    OFFICE_CLOSE=dt.time(17, 30),
    TIME_ZONE="Asia/Shanghai",
)
def test_cut_off_and_office_close_come_from_the_settings():
    assert deadline_same_day(at("2026-03-13T12:00:00+08:00")).due_at.isoformat() == (
        "2026-03-13T17:30:00+08:00"
    )
    assert deadline_same_day(at("2026-03-13T12:00:01+08:00")).due_at.isoformat() == (
        "2026-03-16T17:30:00+08:00"
    )
    assert deadline_working_days(at("2026-03-13T09:00:00+08:00"), 1).due_at.isoformat() == (
        "2026-03-16T17:30:00+08:00"
    )


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline_same_day(dt.datetime(2026, 3, 13, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline_working_days(dt.datetime(2026, 3, 13, 10, 0), 1)


def test_a_hand_made_calendar_can_be_passed_in():
    calendar = WorkCalendar(years=[2026], exceptions={dt.date(2026, 3, 16): (HOLIDAY, "测试日")})
    deadline = deadline_working_days(at("2026-03-13T10:00:00+08:00"), 1, calendar=calendar)
    assert deadline.due_at.isoformat() == "2026-03-17T17:00:00+08:00"
    assert "2026-03-16 周一 测试日（法定节假日），不计" in deadline.explanation
    hours = OfficeHours(
        cutoff=dt.time(16), close=dt.time(17), tz=dt.timezone(dt.timedelta(hours=8))
    )
    same_day = due_same_day(at("2026-03-13T16:30:00+08:00"), calendar=calendar, hours=hours)
    assert same_day.due_at == at("2026-03-17T17:00:00+08:00")


# Years whose calendar is not loaded.


def test_a_span_reaching_an_unloaded_year_is_provisional_and_counts_statutory_holidays():
    deadline = deadline_working_days(at("2026-12-30T10:00:00+08:00"), 3)
    assert deadline.due_at.isoformat() == "2027-01-05T17:00:00+08:00"
    assert deadline.provisional is True
    assert deadline.unloaded_years == (2027,)
    assert deadline.explanation == [
        "收件日 2026-12-30 不计入期限",
        "2026-12-31 周四 工作日，计第1个工作日",
        "2027年的工作日历尚未载入：法定节假日已计入，调休安排尚未公布，期限为暂定",
        "2027-01-01 周五 元旦（法定节假日），不计",
        "2027-01-02 周六 周末，不计",
        "2027-01-03 周日 周末，不计",
        "2027-01-04 周一 工作日，计第2个工作日",
        "2027-01-05 周二 工作日，计第3个工作日",
        "期限届满：2027-01-05 周二 17:00",
    ]
    assert [d.day.provisional for d in deadline.days] == [
        False,
        False,
        True,
        True,
        True,
        True,
        True,
    ]
    # After the cut-off on the last working day of 2026: the next working day
    # is Monday 4 January, 元旦 being off by law.
    same_day = deadline_same_day(at("2026-12-31T16:30:00+08:00"))
    assert same_day.due_at.isoformat() == "2027-01-04T17:00:00+08:00"
    assert same_day.provisional is True


def test_a_span_inside_loaded_years_is_not_provisional():
    assert deadline_working_days(at("2026-12-29T10:00:00+08:00"), 2).provisional is False
    # The day of receipt is not part of the period: 2003 not being loaded does not matter.
    deadline = deadline_working_days(at("2003-12-31T10:00:00+08:00"), 1)
    assert deadline.due_at.isoformat() == "2004-01-02T17:00:00+08:00"
    assert deadline.provisional is False


def test_same_day_in_an_unloaded_year_is_provisional_even_when_due_that_day():
    deadline = deadline_same_day(at("2027-03-01T10:00:00+08:00"))
    assert deadline.due_at.isoformat() == "2027-03-01T17:00:00+08:00"
    assert deadline.provisional is True
    assert (
        deadline.explanation[0]
        == "2027年的工作日历尚未载入：法定节假日已计入，调休安排尚未公布，期限为暂定"
    )


def test_once_the_year_is_loaded_the_same_question_is_answered_from_its_calendar(
    write_file, load_calendar
):
    from tests.sla.conftest import CALENDAR_2027

    before = work_calendar()
    assert deadline_working_days(at("2026-12-30T10:00:00+08:00"), 3).provisional is True
    ok, _out, err = load_calendar(write_file(CALENDAR_2027))
    assert ok, err
    assert work_calendar() is not before
    deadline = deadline_working_days(at("2026-12-30T10:00:00+08:00"), 3)
    assert deadline.provisional is False
    assert deadline.due_at.isoformat() == "2027-01-06T17:00:00+08:00"
    assert "2027-01-04 周一 元旦（法定节假日），不计" in deadline.explanation
    assert not any("尚未载入" in line for line in deadline.explanation)
    same_day = deadline_same_day(at("2026-12-31T16:30:00+08:00"))
    assert (same_day.due_at.isoformat(), same_day.provisional) == (
        "2027-01-05T17:00:00+08:00",
        False,
    )
    # The make-up Saturday from the file counts.
    assert deadline_working_days(at("2027-02-05T10:00:00+08:00"), 1).due_at.isoformat() == (
        "2027-02-06T17:00:00+08:00"
    )
    # 2028 is still unknown.
    assert deadline_working_days(at("2027-12-30T10:00:00+08:00"), 3).unloaded_years == (2028,)


def test_the_calendar_is_cached_until_it_changes(django_assert_num_queries, calendar_2027):
    first = work_calendar()
    with django_assert_num_queries(1):  # only the cheap version check
        assert work_calendar() is first
    from sla.models import CalendarYear

    CalendarYear.objects.filter(year=2027).delete()
    second = work_calendar()
    assert second is not first
    assert not second.is_loaded(2027)
