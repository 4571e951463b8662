"""`manage.py verify_letters`: every stored letter still has its recorded hash."""

import io
import os

import pytest
from django.core.management import call_command

from letters.kinds import addressee_facts, record_facts
from letters.models import Letter, RenderStatus
from letters.services import letter_issue


def issue(record, officer) -> Letter:
    letter = letter_issue(
        kind="acceptance",
        facts={
            "addressee": addressee_facts(record.subject),
            "record": record_facts(record),
            "received_on": "2026-11-20",
        },
        record=record,
        actor=officer,
    )
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED
    return letter


def run() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_letters", stdout=out, stderr=err)
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_it_passes_when_every_file_is_intact_and_names_each_changed_or_missing_one(
    record, officer, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    first, second, third = (issue(record, officer) for _ in range(3))
    assert run() == (
        0,
        "3 letters verified: every stored file has its recorded hash and a valid signature\n",
        "",
    )

    with open(first.file.path, "r+b") as f:
        f.seek(200)
        f.write(b"X")
    os.remove(third.file.path)
    code, _, err = run()
    assert code == 1
    assert f"{first.number}: file changed" in err
    assert f"{third.number}: file missing" in err
    assert second.number not in err
    assert "2 of 3 letters fail verification" in err
