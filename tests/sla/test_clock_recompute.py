"""Loading a calendar year recomputes the clocks it affects.

2027 is not published: clocks reaching it are provisional (weekends alone).
When an administrator loads it (`manage.py load_calendar`, which calls
sla.services.calendar_load_year), the open provisional clocks are computed
again in the same transaction: the flag clears, a deadline moves if a 2027
holiday falls in its span, and each move is recorded (DeadlineChange and an
audit event). The test 2027 of tests/sla/conftest.py has New Year 1-4 January
off and a make-up Saturday on 6 February.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from repair_flow.audit import verify_chain
from repair_flow.models import AuditEvent
from sla import clocks as clocks_module
from sla.calendar import HOLIDAY, CalendarEntry, YearArrangement, parse_calendar_csv
from sla.clocks import clock_explain, clock_pause, clock_resume, clock_start, clock_stop
from sla.models import CalendarDay, CalendarYear, DeadlineChange, SlaClock, Stage
from sla.services import calendar_load_year, work_calendar
from tests.conftest import make_record
from tests.sla.conftest import CALENDAR_2027

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).replace(tzinfo=SHANGHAI)


def local(instant: dt.datetime) -> str:
    return instant.astimezone(SHANGHAI).isoformat(sep=" ", timespec="minutes")[:-6]


@pytest.fixture
def case(department, enterprise):
    """`case(n)`: another penalty record standing in for a case."""

    def make(n: int):
        return make_record(
            department=department, subject=enterprise, decision_number=f"济市监罚〔2026〕{n}号"
        )

    return make


@pytest.fixture
def supplement_over_new_year(record, officer):
    """10 working days from Tue 22 Dec 2026: 23-31 Dec (7), then 2027 unloaded,
    where the statutory Fri 1 Jan is off: Mon 4, Tue 5, Wed 6 Jan. Provisional,
    due 6 Jan."""
    clock = clock_start(
        case=record, stage=Stage.SUPPLEMENT, actor=officer, at=at("2026-12-22 10:00")
    )
    assert clock.provisional and local(clock.due_at) == "2027-01-06 17:00"
    return clock


def test_loading_2027_moves_a_deadline_over_its_new_year(
    supplement_over_new_year, write_file, load_calendar
):
    ok, out, err = load_calendar(
        write_file(CALENDAR_2027, "2027.csv"), "--source", "国办发明电（测试）"
    )
    assert ok, err
    clock = SlaClock.objects.get()
    # 1-4 Jan off: 5, 6, 7 Jan are working days 8, 9, 10.
    assert local(clock.due_at) == "2027-01-07 17:00"
    assert clock.provisional is False
    assert local(clock.warn1_at) == "2026-12-29 17:00"  # 40 h: before New Year, unchanged
    assert local(clock.warn2_at) == "2027-01-05 13:00"  # 60 h: was 4 Jan 13:00
    assert clock.next_check_at == clock.warn1_at
    (change,) = DeadlineChange.objects.all()
    assert change.clock == clock
    assert local(change.old_due_at) == "2027-01-06 17:00"
    assert local(change.new_due_at) == "2027-01-07 17:00"
    assert change.reason == "载入2027年工作日历（国办发明电（测试））"
    (event,) = AuditEvent.objects.filter(action="sla.recompute")
    assert (event.object_type, event.object_id) == ("sla.SlaClock", str(clock.pk))
    assert event.actor_label == "manage.py load_calendar"
    assert event.summary["old_due_at"] == "2027-01-06T17:00:00+08:00"
    assert event.summary["new_due_at"] == "2027-01-07T17:00:00+08:00"
    assert event.summary["provisional"] is False
    assert verify_chain().broken_at is None
    assert "1 个进行中的期限因此调整" in out
    assert "  济市监罚〔2026〕1号 · 申请人补正：2027-01-06 17:00 → 2027-01-07 17:00" in out


def test_the_moved_deadline_explains_why(supplement_over_new_year, calendar_2027):
    lines = [line.text for line in clock_explain(SlaClock.objects.get()).lines]
    assert "2027-01-01 周五 元旦（法定节假日），不计" in lines
    assert "2027-01-04 周一 元旦（法定节假日），不计" in lines
    assert "2027-01-07 周四 工作日，计第10个工作日" in lines
    assert not any("尚未载入" in line for line in lines)
    change = next(line for line in lines if "期限由" in line)
    assert change.endswith(
        "期限由 2027-01-06 周三 17:00 调整为 2027-01-07 周四 17:00："
        "载入2027年工作日历（2027.csv sha256:" + change.split("sha256:")[1]
    )
    assert lines[-1] == "期限：2027-01-07 周四 17:00"


def test_a_provisional_clock_the_new_year_does_not_move_only_loses_its_flag(
    officer, case, write_file, load_calendar
):
    clock = clock_start(
        case=case(2), stage=Stage.DEPARTMENT_REVIEW, actor=officer, at=at("2027-01-11 10:00")
    )
    assert clock.provisional and local(clock.due_at) == "2027-01-18 17:00"
    ok, out, _err = load_calendar(write_file(CALENDAR_2027))
    assert ok
    clock.refresh_from_db()
    assert clock.provisional is False
    assert local(clock.due_at) == "2027-01-18 17:00"
    assert not DeadlineChange.objects.exists()
    assert not AuditEvent.objects.filter(action="sla.recompute").exists()
    assert "0 个进行中的期限因此调整" in out


def test_the_service_reports_the_moves(supplement_over_new_year, officer):
    arrangement = parse_calendar_csv(CALENDAR_2027)
    result = calendar_load_year(arrangement=arrangement, source="测试", actor=officer)
    (change,) = result.deadline_changes
    assert change.clock == supplement_over_new_year
    assert AuditEvent.objects.get(action="sla.recompute").actor == officer


def test_stopped_clocks_keep_their_history(
    supplement_over_new_year, record, officer, write_file, load_calendar
):
    clock_stop(case=record, stage=Stage.SUPPLEMENT, actor=officer, at=at("2026-12-23 10:00"))
    ok, out, _err = load_calendar(write_file(CALENDAR_2027))
    assert ok and "0 个进行中的期限因此调整" in out
    clock = SlaClock.objects.get()
    assert clock.provisional is True  # as it was when it stopped
    assert local(clock.due_at) == "2027-01-06 17:00"
    assert not DeadlineChange.objects.exists()


def test_a_clock_paused_before_the_load_keeps_its_points_until_resumed(
    supplement_over_new_year, record, officer, write_file, load_calendar
):
    clock_pause(case=record, stage=Stage.SUPPLEMENT, reason="等待补正", actor=officer,
                at=at("2026-12-24 10:00"))  # fmt: skip
    ok, out, _err = load_calendar(write_file(CALENDAR_2027))
    assert ok
    clock = SlaClock.objects.get()
    # Kept as it was when the pause began, flag included: these points are not
    # the ones the new calendar gives.
    assert local(clock.due_at) == "2027-01-06 17:00"
    assert clock.provisional is True
    assert not DeadlineChange.objects.exists()
    assert "0 个进行中的期限因此调整" in out
    # The resume computes them on the loaded calendar. 1 h of working time paused
    # (24 Dec 10:00-11:00); 7 Jan 17:00 plus 1 h is 8 Jan 10:00.
    clock = clock_resume(
        case=record, stage=Stage.SUPPLEMENT, actor=officer, at=at("2026-12-24 11:00")
    )
    assert local(clock.due_at) == "2027-01-08 10:00"
    assert clock.provisional is False


def test_a_paused_clock_whose_points_stand_loses_its_flag(officer, case, write_file, load_calendar):
    c = case(3)
    clock_start(case=c, stage=Stage.DEPARTMENT_REVIEW, actor=officer, at=at("2027-01-11 10:00"))
    clock_pause(case=c, stage=Stage.DEPARTMENT_REVIEW, reason="等待补正", actor=officer,
                at=at("2027-01-12 10:00"))  # fmt: skip
    load_calendar(write_file(CALENDAR_2027))
    clock = SlaClock.objects.get()
    assert clock.provisional is False
    assert local(clock.due_at) == "2027-01-18 17:00"


def test_replacing_a_loaded_year_moves_the_open_clocks_it_changes(record, officer):
    clock = clock_start(case=record, stage=Stage.DEPARTMENT_REVIEW, actor=officer,
                        at=at("2026-09-28 10:00"))  # fmt: skip
    assert local(clock.due_at) == "2026-10-10 17:00"
    # A revised 2026 arrangement: Friday 9 Oct becomes a holiday too.
    days = CalendarDay.objects.filter(calendar_year__year=2026)
    entries = [CalendarEntry(d.date, d.kind, d.name) for d in days]
    entries.append(CalendarEntry(dt.date(2026, 10, 9), HOLIDAY, "国庆节"))
    revised = YearArrangement(2026, tuple(sorted(entries, key=lambda e: e.date)))
    result = calendar_load_year(arrangement=revised, source="修订", actor=officer)
    clock.refresh_from_db()
    assert local(clock.due_at) == "2026-10-12 17:00"
    (change,) = result.deadline_changes
    assert change.reason == "载入2026年工作日历（修订）"
    # Loading the same arrangement again changes nothing.
    again = calendar_load_year(arrangement=revised, source="修订", actor=officer)
    assert again.unchanged and again.deadline_changes == ()


def test_the_load_and_the_recompute_are_one_transaction(
    supplement_over_new_year, write_file, load_calendar, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("recompute failed")

    monkeypatch.setattr(clocks_module, "clocks_recompute_provisional", broken)
    with pytest.raises(RuntimeError):
        load_calendar(write_file(CALENDAR_2027))
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not work_calendar().is_loaded(2027)
    clock = SlaClock.objects.get()
    assert clock.provisional and local(clock.due_at) == "2027-01-06 17:00"
    assert not AuditEvent.objects.filter(action="calendar.load_year").exists()


def test_a_dry_run_moves_nothing(supplement_over_new_year, write_file, load_calendar):
    ok, out, _err = load_calendar(write_file(CALENDAR_2027), "--dry-run")
    assert ok and "期限因此调整" not in out
    assert SlaClock.objects.get().provisional is True
