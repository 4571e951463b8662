"""Shared by the letters tests: stored files in a temporary folder, after-commit
work run as a commit would run it, and an acceptance notice to issue."""

import pytest

from letters.kinds import addressee_facts, record_facts
from letters.models import Letter
from letters.services import letter_issue


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`committed(fn, ...)`: call it, then its after-commit work (letters render)."""

    def run(fn, /, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def acceptance(record, officer, **extra) -> Letter:
    return letter_issue(
        kind="acceptance",
        facts={
            "addressee": addressee_facts(record.subject),
            "record": record_facts(record),
            "received_on": "2026-11-20",
        },
        record=record,
        actor=officer,
        **extra,
    )
