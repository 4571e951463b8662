"""The embedded render worker: with no broker, `manage.py serve` renders
letters on a thread after the response, so no request waits for WeasyPrint;
a page shows 生成中 until the PDF exists, and one failed render neither stops
the thread nor loses the letter (marked failed, retried by the sweep)."""

import logging
import threading

import pytest
from django.db import connection

from letters import render
from letters.commitments import commitment_create
from letters.models import Commitment, Letter, RenderStatus
from repair_flow import background
from tests.letters.conftest import acceptance

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(embedded_database):
    # On SQLite a database file with a busy timeout, as `manage.py serve` runs.
    background.start("thread")  # the gate and spies below live in this process
    yield background.worker
    background.stop(timeout=30)
    assert not background.worker.running()


@pytest.fixture
def gate(monkeypatch):
    """Renders wait until the test opens the gate: the test sees the page
    while the PDF is still being made, whatever the machine's speed."""
    opened = threading.Event()
    real = render.render_letter_pdf

    def held(letter):
        assert opened.wait(30), "the test never opened the gate"
        return real(letter)

    monkeypatch.setattr(render, "render_letter_pdf", held)
    return opened


def test_signing_returns_before_the_signed_letter_renders_then_the_page_links_it(
    record, applicant, client_for, worker, gate
):
    gate.set()  # the draft renders now: it must exist before anyone signs
    commitment = commitment_create(record=record, actor=applicant)
    worker.join()
    commitment.draft.refresh_from_db()
    assert commitment.draft.status == RenderStatus.RENDERED
    gate.clear()

    client = client_for(applicant)
    url = f"/letters/commitments/{commitment.pk}/"
    response = client.post(
        url, {"confirmed": "on", "draft_sha256": commitment.draft.sha256}, follow=True
    )

    assert response.status_code == 200
    commitment.refresh_from_db()
    signed = commitment.signed
    assert signed.status in (RenderStatus.PENDING, RenderStatus.RENDERING)
    page = client.get(url).content.decode()
    assert "生成中" in page
    assert "signed-pdf" not in page

    gate.set()
    worker.join()

    signed.refresh_from_db()
    assert signed.status == RenderStatus.RENDERED
    page = client.get(url).content.decode()
    assert f"/letters/{signed.pk}/pdf" in page or "signed-pdf" in page
    assert "生成中" not in page


def test_a_letter_issued_with_the_worker_running_renders_on_its_thread(
    record, officer, worker, monkeypatch
):
    threads = []
    real = render.render_letter_pdf

    def spy(letter):
        threads.append(threading.current_thread().name)
        return real(letter)

    monkeypatch.setattr(render, "render_letter_pdf", spy)
    letter = acceptance(record, officer)  # autocommit: the after-commit task is queued now
    worker.join()

    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED
    assert threads == ["render-worker"]


def test_one_failed_render_is_marked_for_retry_and_the_next_letter_still_renders(
    record, officer, worker, monkeypatch
):
    real = render.render_letter_pdf
    calls = []

    def flaky(letter):
        calls.append(letter.pk)
        if len(calls) == 1:
            raise RuntimeError("字体缺失")
        return real(letter)

    monkeypatch.setattr(render, "render_letter_pdf", flaky)
    # A task the worker cannot even find fails too, and the thread goes on.
    background.worker.queue.put(("letters.no-such-task", (1,)))
    first = acceptance(record, officer)  # queued first: its render is the one that fails
    second = acceptance(record, officer)
    worker.join()

    assert worker.running()
    assert calls == [first.pk, second.pk]
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.status == RenderStatus.RENDERED
    assert first.status == RenderStatus.FAILED
    assert "字体缺失" in first.last_error
    assert first.attempts == 1 and first.next_attempt_at is not None
    assert not first.file


def test_without_the_worker_letters_render_in_the_caller_as_before(record, officer, caplog):
    assert not background.worker.running()
    with caplog.at_level(logging.WARNING):
        letter = acceptance(record, officer)
    # No broker is configured: nothing reaches for one (kombu's "No hostname
    # was supplied. Reverting to default 'localhost'").
    assert not [r for r in caplog.records if r.name.startswith(("kombu", "celery"))]
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED
    assert Letter.objects.filter(status=RenderStatus.RENDERED).count() == 1
    assert not Commitment.objects.exists()


def test_with_the_process_worker_letters_render_in_a_child_process_not_in_this_one(
    record, officer, monkeypatch
):
    """`serve`'s mode: a render holds the GIL for seconds, so it runs in a
    child process and requests answered meanwhile keep their speed."""
    if connection.vendor == "sqlite":
        pytest.skip("a child process cannot see SQLite's in-memory test database")

    def here(letter):
        raise AssertionError("rendered in the web process")

    # The child imports its own letters.render: this patch only bites here.
    monkeypatch.setattr(render, "render_letter_pdf", here)
    background.start("process")
    try:
        first = acceptance(record, officer)
        second = acceptance(record, officer)
        background.worker.join()
    finally:
        background.stop(timeout=60)

    for letter in (first, second):
        letter.refresh_from_db()
        assert letter.status == RenderStatus.RENDERED
        assert letter.file and letter.sha256
    assert not background.worker.running()


def test_on_an_in_memory_database_the_process_mode_runs_tasks_on_the_thread(settings):
    """The tests' SQLite database lives in this process's memory: a child
    could not see it, so the worker keeps the task on its own thread."""
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        pytest.skip("only an in-memory SQLite database keeps the task on the thread")
    settings.RENDER_WORKER = "process"
    background.start()
    try:
        assert background.worker.running()
        assert background.worker.pool is None
    finally:
        background.stop(timeout=30)
    assert not background.worker.running()
