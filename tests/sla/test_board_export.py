"""The board's CSV export on PostgreSQL is a COPY of one query whose columns
are the final cells; its bytes equal the Python formatter's (SQLite's path and
the reference) on a set that visits every label and rule, in Chinese and in
English; a background job's file holds the same bytes.

now: Wednesday 2026-10-14 15:00 in Asia/Shanghai; period 1-14 October.
"""

import pytest
import time_machine
from django.conf import settings
from django.db import connection

import sla.exports
from repair_flow.models import ExportJob, Role
from sla.models import ClockState, SlaClock, Stage
from tests.conftest import make_user
from tests.sla.test_board import NOW, PERIOD, Cases, add_clock

pytestmark = pytest.mark.django_db

R, P, B, M, C = (
    ClockState.RUNNING,
    ClockState.PAUSED,
    ClockState.BREACHED,
    ClockState.MET,
    ClockState.CANCELLED,
)


@pytest.fixture
def varied(department, other_department, enterprise, officer):
    """Every label: running, running overdue, paused before and after a
    breach, stopped met / breached / cancelled, the applicant's stages,
    nobody, no department, names that start a formula, durations of every
    shape, and cells the CSV must quote."""
    cases = Cases(department, enterprise)
    d1, d2 = department, other_department
    other_department.name = "=SUM(1,2)"
    other_department.save(update_fields=["name"])
    plus = make_user("plus", Role.OFFICER, first_name="", last_name="+cmd")
    minus = make_user("minus", Role.OFFICER, first_name="-x", last_name="y")
    at_ = make_user("at", Role.OFFICER, first_name="@a", last_name="")
    bare = make_user("bare", Role.OFFICER, first_name="", last_name="")
    spaced = make_user("spaced", Role.REVIEWER, first_name="\u3000\t", last_name="张 三 ")
    quoted = make_user("quoted", Role.REVIEWER, first_name='say "hi",', last_name="x\ny")
    prelim, review, accept = Stage.PRELIMINARY_REVIEW, Stage.DEPARTMENT_REVIEW, Stage.ACCEPTANCE

    def clock(name, stage, dept, who, state, started, due, **fields):
        return add_clock(cases[name], stage, department=dept, assignee=who, state=state,
                         started=started, due=due, **fields)  # fmt: skip

    # open
    clock("run", prelim, d1, officer, R, "2026-10-14T09:00", "2026-10-14T17:00")
    clock("days_hours", review, d2, plus, R, "2026-10-08T09:00", "2026-10-12T17:00")
    clock("days", review, d2, minus, B, "2026-10-08T09:00", "2026-10-13T15:00",
          breached_at="2026-10-13T15:00")  # fmt: skip
    clock("hours", accept, None, None, R, "2026-10-14T09:00", "2026-10-14T12:00")
    clock("minutes", accept, None, at_, R, "2026-10-14T09:00", "2026-10-14T14:15")
    clock("under", accept, d1, bare, R, "2026-10-14T09:00", "2026-10-14T14:59:30")
    clock("paused_before", review, d1, spaced, P, "2026-10-13T09:00", "2026-10-16T17:00",
          paused_at="2026-10-14T10:00")  # fmt: skip
    clock("paused_after", review, d1, quoted, P, "2026-10-13T09:00", "2026-10-14T09:00",
          paused_at="2026-10-14T11:20", breached_at="2026-10-14T09:00")  # fmt: skip
    clock("waiting", Stage.SUPPLEMENT, d1, officer, R, "2026-10-10T09:00", "2026-10-13T17:00")
    clock("statement", Stage.STATEMENT, d2, None, R, "2026-10-12T09:00", "2026-10-20T17:00")
    # stopped
    clock("met", prelim, d1, officer, M, "2026-10-09T09:00", "2026-10-09T17:00",
          stopped_at="2026-10-09T15:00")  # fmt: skip
    clock("late3h", review, d2, plus, B, "2026-10-05T09:00", "2026-10-09T17:00",
          stopped_at="2026-10-09T20:00", breached_at="2026-10-09T17:00")  # fmt: skip
    clock("late45m", prelim, None, minus, B, "2026-10-12T09:00", "2026-10-12T17:00",
          stopped_at="2026-10-12T17:45", breached_at="2026-10-12T17:00")  # fmt: skip
    clock("late30s", prelim, None, minus, B, "2026-10-12T09:00", "2026-10-12T17:00",
          stopped_at="2026-10-12T17:00:30", breached_at="2026-10-12T17:00")  # fmt: skip
    clock("late2d", review, d1, None, B, "2026-10-01T09:00", "2026-10-07T17:00",
          stopped_at="2026-10-09T17:00", breached_at="2026-10-07T17:00")  # fmt: skip
    clock("cancelled", Stage.SUPPLEMENT, d1, None, C, "2026-10-05T09:00", "2026-10-08T17:00",
          stopped_at="2026-10-06T10:00")  # fmt: skip
    clock("cancelled_late", Stage.SUPPLEMENT, d1, None, C, "2026-10-02T09:00",
          "2026-10-03T17:00", stopped_at="2026-10-06T10:00")  # fmt: skip
    labels = {
        "@cmd": "run",
        '-1,"quoted"\nnext line': "days_hours",
        "\tTAB": "hours",
        "\rCR": "minutes",
        "+1": "late3h",
        "": "under",
    }
    for label, name in labels.items():
        SlaClock.objects.filter(case_id=cases[name].pk).update(case_label=label)
    return cases


def export(client, metric, python: bool, monkeypatch, language="zh-hans") -> bytes:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    with monkeypatch.context() as patch:
        if python:
            patch.setattr(sla.exports, "uses_copy", lambda: False)
        with time_machine.travel(NOW, tick=False):
            response = client.get("/sla/board/list/", {**PERIOD, "metric": metric, "format": "csv"})
            assert response.status_code == 200
            return b"".join(response.streaming_content)


METRICS = ["open", "breached", "rated", "one_time"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("metric", METRICS)
def test_copy_writes_the_bytes_the_python_formatter_writes(
    client_for, supervisor, varied, monkeypatch, metric, language
):
    client = client_for(supervisor)
    by_copy = export(client, metric, False, monkeypatch, language)
    by_python = export(client, metric, True, monkeypatch, language)
    assert by_copy.count(b"\r\n") > 2
    assert by_copy.startswith(("\ufeffCase,Stage," if language == "en" else "\ufeff案件,").encode())
    assert by_copy == by_python


def test_the_varied_set_visits_every_label(client_for, supervisor, varied, monkeypatch):
    """The comparison above is only as good as the set: each label is in it."""
    client = client_for(supervisor)
    text = b"".join(export(client, metric, True, monkeypatch) for metric in METRICS).decode(
        "utf-8-sig"
    )
    for label in [
        "1 天 22 小时", "1 天", "2 天", "3 小时", "2 小时 20 分钟", "45 分钟", "不足 1 分钟",
        "计时中", "已暂停", "已超时", "按时办结", "超时办结", "已取消",
        "等待申请人", "未分配", "'=SUM(1,2)", "'+cmd", "'-x y", "'@a", "bare", "张 三",
        "'@cmd", "'\tTAB", "'\rCR", "'+1", '"\'-1,""quoted""\nnext line"',
    ]:  # fmt: skip
        assert label in text, label


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("metric", METRICS)
def test_a_jobs_file_holds_the_bytes_of_the_streamed_export(
    client_for, supervisor, varied, monkeypatch, settings, tmp_path, metric, language,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    """Above the threshold the same rows are written by the background job
    (on PostgreSQL the computed cells through a cursor, not COPY), in the
    language of the page that asked."""
    settings.MEDIA_ROOT = tmp_path / "media"
    client = client_for(supervisor)
    streamed = export(client, metric, False, monkeypatch, language)
    settings.EXPORT_BACKGROUND_ROWS = 0
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = client.get("/sla/board/list/", {**PERIOD, "metric": metric, "format": "csv"})
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.language == language
    download = client.get(f"/sla/board/exports/{job.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == streamed
