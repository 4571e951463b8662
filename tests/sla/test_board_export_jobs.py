"""Above EXPORT_BACKGROUND_ROWS the board's CSV export is a background job:
the request redirects to the job's page, which shows its progress, offers the
file when done (to the supervisor who asked, no one else), shows a failure,
and the periodic sweep re-queues a lost job and deletes expired files.

now: Wednesday 2026-10-14 15:00 in Asia/Shanghai; period 1-14 October.
"""

import datetime as dt
import re

import pytest
import time_machine
from django.core.files.storage import default_storage

import sla.exports
from repair_flow.celery import task_named
from repair_flow.models import AuditEvent, ExportJob, ExportState, Role
from sla.models import ClockState, Stage
from tests.conftest import make_user
from tests.sla.test_board import NOW, PERIOD, Cases, add_clock

pytestmark = pytest.mark.django_db

LIST = "/sla/board/list/"
QUERY = {**PERIOD, "metric": "open", "format": "csv"}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def three_open(department, enterprise, officer):
    """Three open clocks: the open list has three rows."""
    cases = Cases(department, enterprise)
    for i, (who, stage) in enumerate(
        [(officer, Stage.PRELIMINARY_REVIEW), (None, Stage.ACCEPTANCE), (None, Stage.SUPPLEMENT)]
    ):
        add_clock(cases[f"c{i}"], stage, department=department, assignee=who,
                  state=ClockState.RUNNING, started="2026-10-13T09:00",
                  due=f"2026-10-1{3 + i}T17:00")  # fmt: skip
    return cases


@pytest.fixture
def other_supervisor(db):
    return make_user("supervisor2", Role.SUPERVISOR)


def ask(client, **query):
    with time_machine.travel(NOW, tick=False):
        return client.get(LIST, {**QUERY, **query})


def ask_job(client, capture, *, run: bool = True) -> ExportJob:
    """Ask for the export (threshold below the rows) and, with `run`, let
    its after-commit task run; the job, re-read."""
    with capture(execute=run):
        response = ask(client)
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert response["Location"] == f"/sla/board/exports/{job.pk}/"
    job.refresh_from_db()
    return job


def page(client, job) -> str:
    response = client.get(f"/sla/board/exports/{job.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def download(client, job):
    return client.get(f"/sla/board/exports/{job.pk}/download/")


def streamed(client, settings) -> bytes:
    settings.EXPORT_BACKGROUND_ROWS = 1000
    response = ask(client)
    assert response.status_code == 200 and response.streaming
    return b"".join(response.streaming_content)


@pytest.mark.parametrize(("threshold", "job"), [(4, False), (3, False), (2, True)])
def test_more_rows_than_the_threshold_make_a_job_up_to_it_they_stream(
    client_for, supervisor, three_open, settings, threshold, job
):
    settings.EXPORT_BACKGROUND_ROWS = threshold
    response = ask(client_for(supervisor))
    if job:
        assert response.status_code == 302
        assert ExportJob.objects.get().requested_by == supervisor
    else:
        assert response.status_code == 200 and response.streaming
        assert len(b"".join(response.streaming_content).splitlines()) == 4
        assert not ExportJob.objects.exists()


def test_the_job_page_before_during_and_after(
    client_for, supervisor, three_open, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.EXPORT_BACKGROUND_ROWS = 2
    client = client_for(supervisor)
    job = ask_job(client, django_capture_on_commit_callbacks, run=False)
    before = page(client, job)
    assert job.state == ExportState.QUEUED
    assert '<meta http-equiv="refresh" content="3">' in before
    assert "排队中" in before and "0 行" in before and "下载 CSV" not in before
    assert AuditEvent.objects.filter(action="export.requested", object_id=str(job.pk)).exists()

    # During: the page as it is after the first row's chunk is written.
    monkeypatch.setattr(sla.exports, "CSV_CHUNK_ROWS", 1)
    source, seen = sla.exports.board_export_source, []

    def watched(job):
        total, chunks = source(job)

        def each():
            for i, chunk in enumerate(chunks):
                if i == 2:
                    seen.append(page(client, job))
                yield chunk

        return total, each()

    monkeypatch.setattr("sla.tasks.board_export_source", watched)
    task_named("sla.export_board")(job.pk)
    assert "生成中" in seen[0] and "1 / 3 行" in seen[0]
    assert '<meta http-equiv="refresh"' in seen[0]

    after = page(client, job)
    assert "已完成" in after and "3 / 3 行" in after
    assert '<meta http-equiv="refresh"' not in after
    assert f'href="/sla/board/exports/{job.pk}/download/"' in after


def test_the_download_equals_the_streamed_export_and_is_audited(
    client_for, supervisor, three_open, settings, django_capture_on_commit_callbacks
):
    client = client_for(supervisor)
    settings.EXPORT_BACKGROUND_ROWS = 2
    job = ask_job(client, django_capture_on_commit_callbacks)
    assert job.state == ExportState.DONE and job.rows_done == job.rows_total == 3
    response = download(client, job)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="sla-open-2026-10-01-2026-10-14.csv"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == streamed(client, settings)
    assert AuditEvent.objects.filter(action="export.downloaded", actor=supervisor).count() == 1


def test_the_board_list_links_the_requesters_recent_exports(
    client_for, supervisor, other_supervisor, three_open, settings,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.EXPORT_BACKGROUND_ROWS = 2
    job = ask_job(client_for(supervisor), django_capture_on_commit_callbacks)
    with time_machine.travel(NOW, tick=False):
        mine = client_for(supervisor).get(LIST, PERIOD).content.decode()
        theirs = client_for(other_supervisor).get(LIST, PERIOD).content.decode()
    assert f'href="/sla/board/exports/{job.pk}/"' in mine and "我的导出" in mine
    assert f"/sla/board/exports/{job.pk}/" not in theirs


@pytest.mark.parametrize("persona", ["officer", "reviewer", "applicant"])
def test_other_roles_are_refused_the_job_and_its_file(
    request, client_for, supervisor, three_open, settings, django_capture_on_commit_callbacks,
    persona,
):  # fmt: skip
    settings.EXPORT_BACKGROUND_ROWS = 2
    job = ask_job(client_for(supervisor), django_capture_on_commit_callbacks)
    client = client_for(request.getfixturevalue(persona))
    assert client.get(f"/sla/board/exports/{job.pk}/").status_code == 403
    assert download(client, job).status_code == 403


def test_another_supervisor_finds_no_such_job(
    client_for, supervisor, other_supervisor, three_open, settings,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.EXPORT_BACKGROUND_ROWS = 2
    job = ask_job(client_for(supervisor), django_capture_on_commit_callbacks)
    client = client_for(other_supervisor)
    assert client.get(f"/sla/board/exports/{job.pk}/").status_code == 404
    assert download(client, job).status_code == 404
    assert not AuditEvent.objects.filter(action="export.downloaded").exists()


def test_anonymous_visitors_are_sent_to_log_in(
    client, client_for, supervisor, three_open, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_BACKGROUND_ROWS = 2
    job = ask_job(client_for(supervisor), django_capture_on_commit_callbacks)
    client.logout()
    for url in (f"/sla/board/exports/{job.pk}/", f"/sla/board/exports/{job.pk}/download/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_a_requester_no_longer_a_supervisor_cannot_download(
    client_for, supervisor, three_open, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_BACKGROUND_ROWS = 2
    client = client_for(supervisor)
    job = ask_job(client, django_capture_on_commit_callbacks)
    supervisor.role = Role.OFFICER
    supervisor.save(update_fields=["role"])
    assert download(client, job).status_code == 403


def test_a_failing_export_shows_its_error_and_leaves_no_file(
    client_for, supervisor, three_open, settings, django_capture_on_commit_callbacks,
    monkeypatch, media,
):  # fmt: skip
    settings.EXPORT_BACKGROUND_ROWS = 2
    monkeypatch.setattr(sla.exports, "CSV_CHUNK_ROWS", 1)
    rows = sla.exports.export_rows

    def breaks(clocks, now):
        for i, row in enumerate(rows(clocks, now)):
            if i == 2:
                raise OSError("disk full")
            yield row

    monkeypatch.setattr(sla.exports, "export_rows", breaks)
    client = client_for(supervisor)
    job = ask_job(client, django_capture_on_commit_callbacks)
    assert job.state == ExportState.FAILED and job.file == "" and job.rows_done == 2
    html = page(client, job)
    assert "失败" in html and "生成文件时出错：OSError: disk full" in html
    assert '<meta http-equiv="refresh"' not in html and "下载 CSV" not in html
    assert not list(media.rglob("*.csv"))
    assert download(client, job).status_code == 404


def test_the_sweep_deletes_an_expired_file_and_not_before(
    client_for, supervisor, three_open, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_BACKGROUND_ROWS = 2
    settings.EXPORT_KEEP_HOURS = 24
    client = client_for(supervisor)
    job = ask_job(client, django_capture_on_commit_callbacks)
    name = job.file
    assert default_storage.exists(name)
    sweep = task_named("repair_flow.exports_sweep")
    with time_machine.travel(job.expires_at - dt.timedelta(seconds=1), tick=False):
        assert "'expired': 0" in sweep()
    assert default_storage.exists(name)
    with time_machine.travel(job.expires_at, tick=False):
        assert "'expired': 1" in sweep()
        assert "'expired': 0" in sweep()  # a second run finds nothing to do
    job.refresh_from_db()
    assert job.state == ExportState.EXPIRED and job.file == ""
    assert not default_storage.exists(name)
    assert "已过期" in page(client, job)
    assert download(client, job).status_code == 404


def test_the_sweep_requeues_a_job_its_worker_lost(
    client_for, supervisor, three_open, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_BACKGROUND_ROWS = 2
    job = ask_job(client_for(supervisor), django_capture_on_commit_callbacks, run=False)
    sweep = task_named("repair_flow.exports_sweep")
    queued = job.queued_at
    with time_machine.travel(queued + dt.timedelta(minutes=10), tick=False):
        assert "'requeued': 0" in sweep()
    job.refresh_from_db()
    assert job.state == ExportState.QUEUED
    with time_machine.travel(queued + dt.timedelta(minutes=10, seconds=1), tick=False):
        assert "'requeued': 1" in sweep()
    job.refresh_from_db()
    assert job.state == ExportState.DONE and default_storage.exists(job.file)


def test_the_sweep_requeues_a_running_job_gone_silent_and_gives_up_after_three_tries(
    client_for, supervisor, three_open, settings, django_capture_on_commit_callbacks
):
    settings.EXPORT_BACKGROUND_ROWS = 2
    client = client_for(supervisor)
    job = ask_job(client, django_capture_on_commit_callbacks, run=False)
    silent_since = job.created_at
    ExportJob.objects.filter(pk=job.pk).update(
        state=ExportState.RUNNING, attempts=1, progress_at=silent_since
    )
    sweep = task_named("repair_flow.exports_sweep")
    with time_machine.travel(silent_since + dt.timedelta(minutes=15, seconds=1), tick=False):
        assert "'requeued': 1" in sweep()
    job.refresh_from_db()
    assert job.state == ExportState.DONE and job.attempts == 2
    ExportJob.objects.filter(pk=job.pk).update(
        state=ExportState.RUNNING, attempts=3, progress_at=silent_since, file=""
    )
    with time_machine.travel(silent_since + dt.timedelta(minutes=15, seconds=1), tick=False):
        assert "'failed': 1" in sweep()
    assert "多次中断" in page(client, job)


def test_a_job_written_after_it_was_taken_over_leaves_no_file(
    client_for, supervisor, three_open, settings, django_capture_on_commit_callbacks,
    monkeypatch, media,
):  # fmt: skip
    """A worker that lost its job to the sweep stops at its next chunk."""
    settings.EXPORT_BACKGROUND_ROWS = 2
    monkeypatch.setattr(sla.exports, "CSV_CHUNK_ROWS", 1)
    job = ask_job(client_for(supervisor), django_capture_on_commit_callbacks, run=False)
    source = sla.exports.board_export_source

    def taken_over(job):
        total, chunks = source(job)

        def each():
            for i, chunk in enumerate(chunks):
                if i == 2:
                    ExportJob.objects.filter(pk=job.pk).update(state=ExportState.QUEUED)
                yield chunk

        return total, each()

    monkeypatch.setattr("sla.tasks.board_export_source", taken_over)
    assert task_named("sla.export_board")(job.pk).endswith("taken over")
    job.refresh_from_db()
    assert job.state == ExportState.QUEUED and job.file == ""
    assert not list(media.rglob("*.csv"))


def test_the_progress_counts_rows_with_thousands_separators(client_for, supervisor):
    job = ExportJob.objects.create(
        kind=sla.exports.EXPORT_KIND, title="t", language="zh-hans", requested_by=supervisor,
        download_name="x.csv", created_at=NOW, queued_at=NOW, state=ExportState.RUNNING,
        rows_done=12000, rows_total=80000,
    )  # fmt: skip
    assert re.search(r"12,000 / 80,000 行", page(client_for(supervisor), job))
