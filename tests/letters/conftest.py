"""Shared by the letters tests: stored files in a temporary folder, after-commit
work run as a commit would run it, and an acceptance notice to issue (with
its after-commit render run, or not)."""

import pytest

from letters.commitments import commitment_create, commitment_sign
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


def acceptance_committed(record, officer, committed) -> Letter:
    """An acceptance notice issued and its after-commit work (the render) run, re-read."""
    letter = committed(acceptance, record, officer)
    letter.refresh_from_db()
    return letter


def commitment_signed(record, applicant, committed) -> Letter:
    """The applicant's credit commitment on `record`, drafted and signed
    from 203.0.113.7: the signed letter, re-read."""
    commitment = committed(commitment_create, record=record, actor=applicant)
    commitment.draft.refresh_from_db()
    signed = commitment_sign_committed(commitment, applicant, committed)
    signed.refresh_from_db()
    return signed


def commitment_sign_committed(commitment, applicant, committed) -> Letter:
    """The applicant signs the drafted `commitment` as read, from
    203.0.113.7, and the after-commit work runs: the signed letter."""
    return committed(
        commitment_sign,
        commitment=commitment,
        user=applicant,
        confirmed=True,
        draft_sha256=commitment.draft.sha256,
        ip="203.0.113.7",
        user_agent="test",
    ).signed
