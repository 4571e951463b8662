"""A step that issues a letter answers before the letter's PDF exists (the
embedded render worker makes it after the response); the case page says
生成中 until then, and links the PDF once it is there."""

import threading

import pytest

from flows.models import CaseStatus
from letters import render
from letters.models import Letter, LetterKind, RenderStatus
from repair_flow import background

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gate(monkeypatch):
    opened = threading.Event()
    real = render.render_letter_pdf

    def held(letter):
        assert opened.wait(30), "the test never opened the gate"
        return real(letter)

    monkeypatch.setattr(render, "render_letter_pdf", held)
    yield opened
    opened.set()


@pytest.fixture
def worker(embedded_database):
    # On SQLite a database file with a busy timeout, as `manage.py serve` runs.
    background.start("thread")  # the gate and spies below live in this process
    yield background.worker
    background.stop(timeout=30)


def test_accepting_answers_first_and_the_case_page_shows_generating_then_the_link(
    drive, officer, applicant, client_for, worker, gate
):
    gate.set()
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    worker.join()
    gate.clear()

    staff = client_for(officer)
    response = staff.post(f"/cases/{case.pk}/work/accept/")
    assert response.status_code == 302
    letter = Letter.objects.get(case_id=case.pk, kind=LetterKind.ACCEPTANCE)
    assert letter.status in (RenderStatus.PENDING, RenderStatus.RENDERING)

    mine = client_for(applicant)
    page = mine.get(f"/cases/{case.pk}/").content.decode()
    item = page[page.index(f'data-letter="{letter.pk}"') :].split("</li>")[0]
    assert "生成中" in item
    assert f"/letters/{letter.pk}/pdf" not in item

    gate.set()
    worker.join()
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED
    page = mine.get(f"/cases/{case.pk}/").content.decode()
    item = page[page.index(f'data-letter="{letter.pk}"') :].split("</li>")[0]
    assert "生成中" not in item
    assert "查看 PDF" in item
