"""Working time and a clock's plan (thresholds, deadline, pauses): the pure module.

The calendar is the official one from the chinese-calendar package (2004-2026
loaded; 2027 not published, so weekends alone). Office hours are the product
defaults: open 09:00, same-day cut-off 16:00, close 17:00, Asia/Shanghai.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from chinese_calendar import constants

from sla.calendar import HOLIDAY, WORKDAY, WorkCalendar
from sla.worktime import (
    RULE_CALENDAR_DAYS,
    RULE_SAME_DAY,
    RULE_WORKING_DAYS,
    Hours,
    Pause,
    WallTime,
    WorkingTime,
    plan,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = Hours(open=dt.time(9), cutoff=dt.time(16), close=dt.time(17), tz=SHANGHAI)
H = 3600

# The made-up 2027 of tests/sla/conftest.py: New Year 1-4 January.
NEW_YEAR_2027 = {dt.date(2027, 1, d): (HOLIDAY, "元旦") for d in (1, 2, 3, 4)}


def official(*, with_2027: bool = False) -> WorkCalendar:
    exceptions = {d: (HOLIDAY, name) for d, name in constants.holidays.items()}
    exceptions |= {d: (WORKDAY, name) for d, name in constants.workdays.items()}
    years = range(2004, 2027)
    if with_2027:
        exceptions |= NEW_YEAR_2027
        years = range(2004, 2028)
    return WorkCalendar(years=years, exceptions=exceptions)


CALENDAR = official()
WORK = WorkingTime(CALENDAR, HOURS)


def at(value: str) -> dt.datetime:
    """'2026-09-30 15:59' (or with seconds) in Beijing time."""
    return dt.datetime.fromisoformat(value).replace(tzinfo=SHANGHAI)


def iso(instant: dt.datetime) -> str:
    return instant.astimezone(SHANGHAI).isoformat(sep=" ", timespec="seconds")[:-6]


def make_plan(rule, n, started, pauses=(), thresholds=(50, 75), calendar=CALENDAR):
    return plan(
        rule=rule,
        n=n,
        started_at=at(started) if isinstance(started, str) else started,
        thresholds=thresholds,
        pauses=[Pause(at(s), at(e) if e else None, "等待补正") for s, e in pauses],
        calendar=calendar,
        hours=HOURS,
    )


# WorkingTime.between -------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        ("2026-09-29 09:00", "2026-09-29 17:00", 8 * H),  # one whole window
        ("2026-09-29 08:00", "2026-09-29 18:00", 8 * H),  # outside the window does not count
        ("2026-09-29 16:59:59", "2026-09-29 17:00:01", 1),  # the second before close
        ("2026-09-29 08:59:59", "2026-09-29 09:00:01", 1),  # the second after open
        ("2026-09-29 17:00", "2026-09-30 09:00", 0),  # overnight
        ("2026-09-29 17:00", "2026-09-29 17:00", 0),
        ("2026-09-29 12:00", "2026-09-29 10:00", 0),  # end before start
        ("2026-09-30 16:00", "2026-10-08 10:00", 2 * H),  # National Day 2026: 1-7 Oct off
        ("2026-10-09 17:00", "2026-10-12 09:00", 8 * H),  # make-up Saturday 10 Oct counts
        ("2026-09-18 17:00", "2026-09-21 09:00", 8 * H),  # make-up Sunday 20 Sep counts
        ("2026-09-24 17:00", "2026-09-28 09:00", 0),  # Mid-Autumn 25-27 Sep
        ("2026-02-13 17:00", "2026-02-24 09:00", 8 * H),  # Spring Festival; make-up Sat 14 Feb
        ("2026-02-27 17:00", "2026-03-02 09:00", 8 * H),  # make-up Saturday 28 Feb
        ("2025-09-26 17:00", "2025-09-29 09:00", 8 * H),  # make-up Sunday 28 Sep 2025
        ("2025-09-30 17:00", "2025-10-09 09:00", 0),  # National Day 2025: 1-8 Oct off
        ("2025-10-10 17:00", "2025-10-13 09:00", 8 * H),  # make-up Saturday 11 Oct 2025
        ("2026-12-31 17:00", "2027-01-05 09:00", 8 * H),  # 2027 unloaded: Fri 1 Jan off by law
    ],
)
def test_between_counts_office_hours_on_working_days(start, end, seconds):
    assert WORK.between(at(start), at(end)) == seconds


def test_between_reads_instants_in_beijing_time():
    utc = dt.UTC
    # 01:00-09:00 UTC is 09:00-17:00 in Jinan.
    start = dt.datetime(2026, 9, 29, 1, tzinfo=utc)
    assert WORK.between(start, dt.datetime(2026, 9, 29, 9, tzinfo=utc)) == 8 * H


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        WORK.between(dt.datetime(2026, 9, 29, 9), at("2026-09-29 10:00"))
    with pytest.raises(ValueError, match="timezone-aware"):
        WORK.add(dt.datetime(2026, 9, 29, 9), 60)
    with pytest.raises(ValueError, match="timezone-aware"):
        WallTime(SHANGHAI).add(dt.datetime(2026, 9, 29, 9), 60)


# WorkingTime.add -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "seconds", "result"),
    [
        ("2026-09-29 09:00", 8 * H, "2026-09-29 17:00:00"),  # at close, not 09:00 next day
        ("2026-09-29 09:00", 8 * H + 1, "2026-09-30 09:00:01"),
        ("2026-09-29 16:59:59", 1, "2026-09-29 17:00:00"),
        ("2026-09-29 17:00", 1, "2026-09-30 09:00:01"),  # from close: the next window
        ("2026-09-29 07:00", 1, "2026-09-29 09:00:01"),  # before open: from open
        ("2026-09-29 12:00", 0, "2026-09-29 12:00:00"),
        ("2026-09-29 20:00", 0, "2026-09-29 20:00:00"),  # nothing to add: stays put
        ("2026-09-30 16:00", 2 * H, "2026-10-08 10:00:00"),  # over National Day 2026
        ("2026-10-09 16:00", 2 * H, "2026-10-10 10:00:00"),  # onto make-up Saturday
        ("2026-10-10 16:00", 2 * H, "2026-10-12 10:00:00"),  # skips Sunday 11 Oct
        ("2026-02-13 16:00", 9 * H, "2026-02-14 17:00:00"),  # make-up Saturday 14 Feb
        ("2026-02-13 16:00", 9 * H + 1, "2026-02-24 09:00:01"),  # then 15-23 Feb off
        ("2025-09-30 16:00", 2 * H, "2025-10-09 10:00:00"),  # over National Day 2025
        ("2025-09-26 16:00", 2 * H, "2025-09-28 10:00:00"),  # onto make-up Sunday 2025
        ("2026-12-31 16:00", 2 * H, "2027-01-04 10:00:00"),  # 2027 unloaded: 元旦 off by law
    ],
)
def test_add_finds_the_earliest_instant_after_so_much_working_time(start, seconds, result):
    assert iso(WORK.add(at(start), seconds)) == result


def test_add_and_between_agree_across_holidays():
    # Every half hour from Mid-Autumn to after National Day 2026, plus a range of durations.
    start = at("2026-09-24 00:00")
    for step in range(0, 24 * 20 * 2):
        origin = start + dt.timedelta(minutes=30 * step)
        for seconds in (1, 1800, 8 * H, 8 * H + 1, 20 * H, 40 * H):
            end = WORK.add(origin, seconds)
            assert WORK.between(origin, end) == seconds, (origin, seconds)
            assert WORK.between(origin, end - dt.timedelta(seconds=1)) == seconds - 1


def test_wall_time_counts_every_second():
    wall = WallTime(SHANGHAI)
    assert wall.between(at("2026-09-30 10:00"), at("2026-10-02 10:00")) == 48 * H
    assert wall.between(at("2026-10-02 10:00"), at("2026-09-30 10:00")) == 0
    assert iso(wall.add(at("2026-09-30 10:00"), 48 * H)) == "2026-10-02 10:00:00"


# plan(): the same-day rule --------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # Cut-off 16:00 inclusive, close 17:00; the next working day after 30 Sep is 8 Oct.
        ("2026-09-30 15:59", "2026-09-30 17:00:00"),
        ("2026-09-30 16:00", "2026-09-30 17:00:00"),
        ("2026-09-30 16:00:01", "2026-10-08 17:00:00"),
        ("2026-09-30 16:01", "2026-10-08 17:00:00"),
        ("2026-10-01 10:00", "2026-10-08 17:00:00"),  # received on a holiday
        # Make-up Saturday 10 Oct 2026 is a working day with a cut-off of its own.
        ("2026-10-10 15:59", "2026-10-10 17:00:00"),
        ("2026-10-10 16:00", "2026-10-10 17:00:00"),
        ("2026-10-10 16:01", "2026-10-12 17:00:00"),
        ("2026-10-09 16:01", "2026-10-10 17:00:00"),
        # Make-up Sunday 20 Sep 2026.
        ("2026-09-19 10:00", "2026-09-20 17:00:00"),
        ("2026-09-20 16:00", "2026-09-20 17:00:00"),
        ("2026-09-20 16:01", "2026-09-21 17:00:00"),
        # National Day 2025 (1-8 Oct), make-up Sunday 28 Sep and Saturday 11 Oct 2025.
        ("2025-09-27 10:00", "2025-09-28 17:00:00"),
        ("2025-09-28 16:00", "2025-09-28 17:00:00"),
        ("2025-09-30 16:00", "2025-09-30 17:00:00"),
        ("2025-09-30 16:01", "2025-10-09 17:00:00"),
        ("2025-10-10 16:01", "2025-10-11 17:00:00"),
        ("2025-10-11 16:00", "2025-10-11 17:00:00"),
        ("2025-10-11 16:01", "2025-10-13 17:00:00"),
        # Spring Festival 2026 (15-23 Feb), make-up Saturdays 14 and 28 Feb.
        ("2026-02-13 16:01", "2026-02-14 17:00:00"),
        ("2026-02-14 16:00", "2026-02-14 17:00:00"),
        ("2026-02-14 16:01", "2026-02-24 17:00:00"),
        ("2026-02-20 10:00", "2026-02-24 17:00:00"),
        ("2026-02-27 16:01", "2026-02-28 17:00:00"),
        ("2026-02-28 16:01", "2026-03-02 17:00:00"),
    ],
)
def test_same_day_deadlines(received, due):
    p = make_plan(RULE_SAME_DAY, None, received)
    assert iso(p.due_at) == due
    assert p.provisional is False


def test_same_day_working_time_runs_from_receipt_to_close():
    p = make_plan(RULE_SAME_DAY, None, "2026-09-30 08:00")
    assert p.total_seconds == 8 * H
    assert [iso(w) for w in p.warn_at] == ["2026-09-30 13:00:00", "2026-09-30 15:00:00"]
    p = make_plan(RULE_SAME_DAY, None, "2026-09-30 16:00")
    assert p.total_seconds == H
    assert [iso(w) for w in p.warn_at] == ["2026-09-30 16:30:00", "2026-09-30 16:45:00"]
    # After the cut-off: the rest of the day and the whole next working day.
    p = make_plan(RULE_SAME_DAY, None, "2026-09-30 16:30")
    assert p.total_seconds == 8 * H + 30 * 60
    assert [iso(w) for w in p.warn_at] == ["2026-10-08 12:45:00", "2026-10-08 14:52:30"]


# plan(): N working days -----------------------------------------------------------


def test_the_supplement_window_spans_spring_festival_2026():
    # 10 working days from Tue 10 Feb: 11, 12, 13, Sat 14 (make-up), [15-23 off],
    # 24, 25, 26, 27, Sat 28 (make-up), Mon 2 Mar.
    p = make_plan(RULE_WORKING_DAYS, 10, "2026-02-10 10:00")
    assert iso(p.due_at) == "2026-03-02 17:00:00"
    assert p.total_seconds == 80 * H
    # 50 % = 40 h = five whole days: 24 Feb at close; 75 % = 60 h: 27 Feb 13:00.
    assert [iso(w) for w in p.warn_at] == ["2026-02-24 17:00:00", "2026-02-27 13:00:00"]
    assert p.effective_start == at("2026-02-11 00:00")


@pytest.mark.parametrize("received", ["2026-09-28 00:00", "2026-09-28 10:00", "2026-09-28 23:59"])
def test_the_day_of_receipt_never_counts(received):
    p = make_plan(RULE_WORKING_DAYS, 5, received)
    # 29, 30 Sep, [1-7 Oct off], 8, 9, Sat 10 Oct (make-up).
    assert iso(p.due_at) == "2026-10-10 17:00:00"
    assert p.total_seconds == 40 * H
    assert [iso(w) for w in p.warn_at] == ["2026-10-08 13:00:00", "2026-10-09 15:00:00"]


def test_a_threshold_exactly_at_a_days_close_is_that_close():
    p = make_plan(RULE_WORKING_DAYS, 2, "2026-09-28 10:00")
    assert iso(p.due_at) == "2026-09-30 17:00:00"
    assert iso(p.warn_at[0]) == "2026-09-29 17:00:00"  # 50 % of 16 h
    assert iso(p.warn_at[1]) == "2026-09-30 13:00:00"


def test_no_thresholds_no_warnings():
    assert make_plan(RULE_WORKING_DAYS, 3, "2026-09-28 10:00", thresholds=()).warn_at == ()


# plan(): pauses -------------------------------------------------------------------


def test_a_pause_across_national_day_pushes_the_deadline_by_its_working_time():
    # Worked by hand: 5 working days from Mon 28 Sep 10:00 end Sat 10 Oct 17:00.
    # Paused Tue 29 Sep 14:00 to Fri 9 Oct 10:00: 3 h + 8 h (30 Sep) + 8 h (8 Oct)
    # + 1 h (9 Oct) = 20 h. 20 h after Sat 10 Oct 17:00: Mon 12 (8 h), Tue 13 (8 h),
    # Wed 14 Oct 09:00-13:00.
    p = make_plan(
        RULE_WORKING_DAYS, 5, "2026-09-28 10:00", [("2026-09-29 14:00", "2026-10-09 10:00")]
    )
    assert iso(p.base.due_at) == "2026-10-10 17:00:00"
    assert iso(p.due_at) == "2026-10-14 13:00:00"
    assert p.paused_seconds == 20 * H
    ((pause, seconds, due_after),) = p.shifts
    assert (seconds, iso(due_after)) == (20 * H, "2026-10-14 13:00:00")
    assert pause.reason == "等待补正"
    # Both warnings were still ahead when the pause began: each moves by 20 h.
    assert [iso(w) for w in p.warn_at] == ["2026-10-10 17:00:00", "2026-10-13 11:00:00"]
    # The working time still allowed after the resume is what was left at the pause.
    left = WORK.between(at("2026-09-29 14:00"), at("2026-10-10 17:00"))
    assert WORK.between(at("2026-10-09 10:00"), p.due_at) == left == 35 * H


def test_several_pauses_add_up():
    p = make_plan(
        RULE_WORKING_DAYS,
        5,
        "2026-09-28 10:00",
        [
            ("2026-09-30 16:00", "2026-10-08 10:00"),  # 1 h + 1 h over National Day
            ("2026-09-29 10:00", "2026-09-29 11:00"),  # 1 h (listed out of order)
        ],
    )
    assert p.paused_seconds == 3 * H
    assert [(s, iso(d)) for _p, s, d in p.shifts] == [
        (H, "2026-10-12 10:00:00"),
        (2 * H, "2026-10-12 12:00:00"),
    ]
    assert iso(p.due_at) == "2026-10-12 12:00:00"


def test_a_pause_on_the_day_of_receipt_takes_no_working_time():
    # The period starts the next day: a pause within the receipt day changes nothing.
    p = make_plan(
        RULE_WORKING_DAYS, 5, "2026-09-28 10:00", [("2026-09-28 14:00", "2026-09-28 16:00")]
    )
    assert p.paused_seconds == 0
    assert iso(p.due_at) == "2026-10-10 17:00:00"
    # Reaching into the period, only its part inside the period counts (29 Sep 09:00-11:00).
    p = make_plan(
        RULE_WORKING_DAYS, 5, "2026-09-28 10:00", [("2026-09-28 14:00", "2026-09-29 11:00")]
    )
    assert p.paused_seconds == 2 * H
    assert iso(p.due_at) == "2026-10-12 11:00:00"
    assert [iso(w) for w in p.warn_at] == ["2026-10-08 15:00:00", "2026-10-09 17:00:00"]


def test_a_pause_outside_office_hours_moves_nothing():
    p = make_plan(
        RULE_WORKING_DAYS, 5, "2026-09-28 10:00", [("2026-09-30 17:00", "2026-10-08 09:00")]
    )
    assert p.paused_seconds == 0
    assert iso(p.due_at) == "2026-10-10 17:00:00"


@pytest.mark.parametrize(
    ("paused", "due"),
    [
        ("2026-10-10 16:59:59", "2026-10-12 11:00:01"),  # one second left: one second after
        ("2026-10-10 17:00", "2026-10-10 17:00:00"),  # at the deadline: nothing left
        ("2026-10-12 10:00", "2026-10-10 17:00:00"),  # after it: stays breached
    ],
)
def test_a_pause_just_before_at_and_after_the_deadline(paused, due):
    p = make_plan(RULE_WORKING_DAYS, 5, "2026-09-28 10:00", [(paused, "2026-10-12 11:00")])
    assert iso(p.due_at) == due


def test_a_pause_after_the_deadline_keeps_the_deadline_but_records_its_time():
    p = make_plan(
        RULE_WORKING_DAYS, 5, "2026-09-28 10:00", [("2026-10-12 10:00", "2026-10-13 10:00")]
    )
    assert iso(p.due_at) == "2026-10-10 17:00:00"
    assert p.paused_seconds == 8 * H
    assert [iso(w) for w in p.warn_at] == ["2026-10-08 13:00:00", "2026-10-09 15:00:00"]


def test_a_pause_after_the_first_warning_moves_only_the_second():
    p = make_plan(
        RULE_WORKING_DAYS, 5, "2026-09-28 10:00", [("2026-10-08 14:00", "2026-10-08 16:00")]
    )
    assert [iso(w) for w in p.warn_at] == ["2026-10-08 13:00:00", "2026-10-09 17:00:00"]
    assert iso(p.due_at) == "2026-10-12 11:00:00"


def test_an_open_pause_is_not_applied():
    p = make_plan(RULE_WORKING_DAYS, 5, "2026-09-28 10:00", [("2026-09-29 14:00", None)])
    assert iso(p.due_at) == "2026-10-10 17:00:00"
    assert p.paused_seconds == 0 and p.shifts == ()


def test_a_same_day_clock_paused_overnight_resumes_with_what_was_left():
    # Received 15:00, paused 16:30 with 30 min left, resumed next working day 10:00.
    p = make_plan(
        RULE_SAME_DAY, None, "2026-09-29 15:00", [("2026-09-29 16:30", "2026-09-30 10:00")]
    )
    assert p.paused_seconds == 90 * 60
    assert iso(p.due_at) == "2026-09-30 10:30:00"


# plan(): calendar days ------------------------------------------------------------


def test_calendar_days_count_holidays_and_pauses_in_wall_time():
    p = make_plan(RULE_CALENDAR_DAYS, 3, "2026-09-30 10:00")
    assert p.base is None
    assert iso(p.due_at) == "2026-10-03 17:00:00"  # holidays count
    assert p.total_seconds == 65 * H  # 1 Oct 00:00 to 3 Oct 17:00
    assert iso(p.warn_at[0]) == "2026-10-02 08:30:00"
    assert p.provisional is False
    paused = make_plan(
        RULE_CALENDAR_DAYS, 3, "2026-09-30 10:00", [("2026-10-01 12:00", "2026-10-02 12:00")]
    )
    assert iso(paused.due_at) == "2026-10-04 17:00:00"
    assert paused.paused_seconds == 24 * H


# plan(): years without a loaded calendar ------------------------------------------


def test_a_span_reaching_an_unloaded_year_is_provisional():
    # 23, 24, 25, 28, 29, 30, 31 Dec; 2027 not loaded: Fri 1 Jan is off by law
    # (元旦), Mon 4, Tue 5, Wed 6 Jan are assumed working (no 调休 known yet).
    p = make_plan(RULE_WORKING_DAYS, 10, "2026-12-22 10:00")
    assert iso(p.due_at) == "2027-01-06 17:00:00"
    assert (p.provisional, p.unloaded_years) == (True, (2027,))
    assert p.base.provisional is True
    # With 2027 loaded (1-4 Jan off) the same clock ends two working days later.
    loaded = make_plan(RULE_WORKING_DAYS, 10, "2026-12-22 10:00", calendar=official(with_2027=True))
    assert iso(loaded.due_at) == "2027-01-07 17:00:00"
    assert (loaded.provisional, loaded.unloaded_years) == (False, ())


def test_a_pause_pushing_the_deadline_into_an_unloaded_year_makes_it_provisional():
    p = make_plan(RULE_WORKING_DAYS, 3, "2026-12-21 10:00")
    assert iso(p.due_at) == "2026-12-24 17:00:00" and not p.provisional
    p = make_plan(
        RULE_WORKING_DAYS, 3, "2026-12-21 10:00", [("2026-12-22 09:00", "2026-12-30 09:00")]
    )
    # 30, 31 Dec, then 4 Jan (元旦 off by law, then the weekend).
    assert iso(p.due_at) == "2027-01-04 17:00:00"
    assert p.unloaded_years == (2027,)


def test_a_same_day_clock_in_an_unloaded_year_is_provisional():
    p = make_plan(RULE_SAME_DAY, None, "2027-01-05 10:00")
    assert iso(p.due_at) == "2027-01-05 17:00:00"
    assert p.provisional is True
    # Received on 元旦: the next working day.
    p = make_plan(RULE_SAME_DAY, None, "2027-01-01 10:00")
    assert iso(p.due_at) == "2027-01-04 17:00:00"
    assert p.provisional is True


# plan(): bad input ----------------------------------------------------------------


def test_plan_refuses_bad_input():
    with pytest.raises(ValueError, match="timezone-aware"):
        make_plan(RULE_WORKING_DAYS, 5, dt.datetime(2026, 9, 28, 10))
    with pytest.raises(ValueError, match="n >= 1"):
        make_plan(RULE_WORKING_DAYS, None, "2026-09-28 10:00")
    with pytest.raises(ValueError, match="n >= 1"):
        make_plan(RULE_CALENDAR_DAYS, 0, "2026-09-28 10:00")
    with pytest.raises(ValueError, match="unknown rule"):
        make_plan("fortnight", 1, "2026-09-28 10:00")
