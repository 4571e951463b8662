"""`manage.py load_calendar PATH`: how an administrator adds next year's arrangement."""

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from repair_flow.audit import verify_chain
from repair_flow.models import AuditEvent
from sla.models import CalendarDay, CalendarYear
from sla.services import work_calendar
from tests.sla.conftest import CALENDAR_2027

pytestmark = pytest.mark.django_db

EXAMPLE = Path(settings.BASE_DIR) / "sla" / "data" / "calendar-example.csv"


def rows(year: int) -> list[tuple[str, str, str]]:
    return [
        (d.date.isoformat(), d.kind, d.name)
        for d in CalendarDay.objects.filter(calendar_year__year=year).order_by("date")
    ]


def test_it_loads_a_new_year_and_marks_it_loaded(write_file, load_calendar):
    ok, out, err = load_calendar(write_file(CALENDAR_2027, "2027.csv"))
    assert ok, err
    assert "已载入：2027年：4 个放假日，1 个调休上班日" in out
    assert "2027年已标记为已载入（来源：2027.csv sha256:" in out
    year = CalendarYear.objects.get(year=2027)
    assert year.source.startswith("2027.csv sha256:")
    assert rows(2027) == [
        ("2027-01-01", "holiday", "元旦"),
        ("2027-01-02", "holiday", "元旦"),
        ("2027-01-03", "holiday", "元旦"),
        ("2027-01-04", "holiday", "元旦"),
        ("2027-02-06", "workday", "春节"),
    ]
    assert work_calendar().is_loaded(2027)
    assert not work_calendar().is_working_day(dt.date(2027, 1, 4))
    assert work_calendar().is_working_day(dt.date(2027, 2, 6))


def test_it_records_an_audit_event(write_file, load_calendar):
    load_calendar(write_file(CALENDAR_2027), "--source", "国办发明电〔2026〕99号（测试）")
    event = AuditEvent.objects.get(action="calendar.load_year")
    assert (event.object_type, event.object_id) == ("sla.CalendarYear", "2027")
    assert event.actor is None
    assert event.actor_label == "manage.py load_calendar"
    assert event.summary["source"] == "国办发明电〔2026〕99号（测试）"
    assert event.summary["holidays"] == 4
    assert event.summary["workdays"] == 1
    assert event.summary["replaced"] is False
    assert "2027-01-01 holiday 元旦" in event.summary["added"]
    assert CalendarYear.objects.get(year=2027).source == "国办发明电〔2026〕99号（测试）"
    assert verify_chain().broken_at is None


def test_reloading_the_same_file_is_idempotent(write_file, load_calendar):
    path = write_file(CALENDAR_2027)
    load_calendar(path)
    first = rows(2027)
    ok, out, _err = load_calendar(path)
    assert ok
    assert "重新载入，内容无变化：2027年：4 个放假日，1 个调休上班日" in out
    assert rows(2027) == first
    assert CalendarYear.objects.filter(year=2027).count() == 1
    assert AuditEvent.objects.filter(action="calendar.load_year").count() == 2
    assert AuditEvent.objects.order_by("-seq").first().summary["replaced"] is True


def test_reloading_a_year_replaces_it_entirely(write_file, load_calendar):
    load_calendar(write_file(CALENDAR_2027))
    revised = "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-08,holiday,春节\n"
    ok, out, _err = load_calendar(write_file(revised, "revised.csv"))
    assert ok
    assert "已替换原有安排：2027年：2 个放假日，0 个调休上班日" in out
    assert "  新增 2027-02-08 holiday 春节" in out
    assert "  删除 2027-01-04 holiday 元旦" in out
    assert "  删除 2027-02-06 workday 春节" in out
    assert rows(2027) == [("2027-01-01", "holiday", "元旦"), ("2027-02-08", "holiday", "春节")]
    calendar = work_calendar()
    assert calendar.is_working_day(dt.date(2027, 1, 4))
    assert not calendar.is_working_day(dt.date(2027, 2, 6))


def test_it_can_replace_a_year_the_migration_loaded(write_file, load_calendar):
    assert not work_calendar().is_working_day(dt.date(2026, 5, 4))
    only_national_day = "date,kind,name\n" + "".join(
        f"2026-10-0{d},holiday,国庆节\n" for d in range(1, 8)
    )
    ok, _out, err = load_calendar(write_file(only_national_day), "--year", "2026")
    assert ok, err
    calendar = work_calendar()
    assert calendar.is_working_day(dt.date(2026, 5, 4))
    assert not calendar.is_working_day(dt.date(2026, 10, 5))
    assert not calendar.is_working_day(dt.date(2026, 10, 10))  # the make-up day is gone too
    assert CalendarDay.objects.filter(date__year=2026).count() == 7
    assert CalendarDay.objects.filter(date__year=2025).count() == 33  # other years untouched


BAD_LINES = [
    ("2027-13-01,holiday,元旦", "第3行：日期“2027-13-01”无效，应为 YYYY-MM-DD 格式的真实日期"),
    ("2027-02-29,holiday,元旦", "第3行：日期“2027-02-29”无效"),
    ("27-1-1,holiday,元旦", "第3行：日期“27-1-1”无效"),
    ("2026-12-31,holiday,元旦", "第3行：日期 2026-12-31 不在2027年（一个文件只载入一个年度）"),
    ("2027-01-05,off,元旦", "第3行：类型“off”未知，应为 holiday（放假）或 workday（调休上班）"),
    ("2027-01-01,holiday,元旦", "第3行：日期 2027-01-01 重复（已在第2行出现）"),
    ("2027-01-05,workday,元旦", "第3行：2027-01-05 是周二，本来就是工作日，不能登记为调休上班"),
    ("2027-01-05,holiday,", "第3行：放假日须写明节日名称（第3列）"),
    ("2027-01-05,holiday", "第3行：应有3列（date,kind,name），实际为2列"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_a_bad_line_is_named_and_nothing_is_loaded(write_file, load_calendar, line, message):
    path = write_file(f"date,kind,name\n2027-01-01,holiday,元旦\n{line}\n")
    ok, out, err = load_calendar(path)
    assert not ok
    assert message in err
    assert f"CommandError: {path} 有 1 处错误，未载入任何内容" in err
    assert out == ""
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not CalendarDay.objects.filter(date__year=2027).exists()
    assert not AuditEvent.objects.filter(action="calendar.load_year").exists()


def test_every_problem_is_reported_at_once(write_file, load_calendar):
    text = "date,kind,name\n2027-01-01,holiday,元旦\n2027-01-32,holiday,x\n2027-01-06,workday,x\n"
    ok, _out, err = load_calendar(write_file(text))
    assert not ok
    assert "第3行：日期“2027-01-32”无效" in err
    assert "第4行：2027-01-06 是周三" in err
    assert "有 2 处错误" in err


def test_a_bad_file_leaves_the_loaded_year_as_it_was(write_file, load_calendar):
    load_calendar(write_file(CALENDAR_2027))
    before = rows(2027)
    ok, _out, _err = load_calendar(write_file("date,kind,name\n2027-01-01,holiday,元旦\nx,y,z\n"))
    assert not ok
    assert rows(2027) == before


def test_the_year_option_must_match_the_dates(write_file, load_calendar):
    ok, _out, err = load_calendar(write_file(CALENDAR_2027), "--year", "2028")
    assert not ok
    assert "第3行：日期 2027-01-01 不在2028年" in err
    assert "有 5 处错误" in err
    ok, _out, err = load_calendar(write_file(CALENDAR_2027), "--year", "99999")
    assert not ok
    assert "--year 99999 超出范围" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "文件是空的：缺少表头 date,kind,name 和日期行"),
        ("date,kind,name\n", "文件中没有任何日期行"),
        ("日期,类型,名称\n2027-01-01,holiday,元旦\n", "第1行：表头应为 date,kind,name"),
    ],
)
def test_an_empty_or_headless_file_is_refused(write_file, load_calendar, text, message):
    ok, _out, err = load_calendar(write_file(text))
    assert not ok
    assert message in err


def test_a_missing_file_is_refused_with_the_reason(load_calendar, tmp_path):
    ok, _out, err = load_calendar(tmp_path / "2027.csv")
    assert not ok
    assert f"文件不存在：{tmp_path / '2027.csv'}" in err


def test_from_the_shell_a_missing_file_exits_non_zero(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "load_calendar", str(tmp_path / "nope.csv")],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "文件不存在" in result.stderr


def test_a_file_that_is_not_utf8_is_refused(write_file, load_calendar):
    ok, _out, err = load_calendar(write_file(CALENDAR_2027, encoding="gbk"))
    assert not ok
    assert "不是 UTF-8 编码" in err


def test_a_byte_order_mark_and_windows_line_ends_are_accepted(write_file, load_calendar):
    path = write_file("\ufeff" + CALENDAR_2027.replace("\n", "\r\n"))
    ok, _out, err = load_calendar(path)
    assert ok, err
    assert len(rows(2027)) == 5


def test_dry_run_checks_and_changes_nothing(write_file, load_calendar):
    ok, out, _err = load_calendar(write_file(CALENDAR_2027), "--dry-run")
    assert ok
    assert "校验通过，未写入（--dry-run）：2027年：4 个放假日，1 个调休上班日" in out
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not AuditEvent.objects.exists()


def test_the_shipped_example_is_labelled_as_an_example_and_loads(load_calendar):
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "示例" in text
    assert "不是任何官方安排" in text
    assert "EXAMPLE ONLY" in text
    ok, out, err = load_calendar(EXAMPLE)
    assert ok, err
    assert "2099年" in out
    assert work_calendar().is_loaded(2099)
    assert not work_calendar().is_working_day(dt.date(2099, 10, 1))
    assert work_calendar().is_working_day(dt.date(2099, 10, 10))
