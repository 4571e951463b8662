import io

import pytest
from django.core.management import CommandError, call_command

# A made-up 2027 for the tests (the official plan is not published yet): New
# Year 1-4 January, a make-up Saturday on 6 February.
CALENDAR_2027 = """\
# test arrangement, not the official one
date,kind,name
2027-01-01,holiday,元旦
2027-01-02,holiday,元旦
2027-01-03,holiday,元旦
2027-01-04,holiday,元旦
2027-02-06,workday,春节
"""


@pytest.fixture
def write_file(tmp_path):
    """`write_file(text, name=...)`: a file in a temporary directory, UTF-8 by default."""

    def write(text: str, name: str = "calendar.csv", encoding: str = "utf-8"):
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return write


@pytest.fixture
def load_calendar():
    """`load_calendar(path, *options)` -> (ok, stdout, stderr)."""

    def run(path, *options):
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command("load_calendar", str(path), *options, stdout=out, stderr=err)
        except CommandError as exc:
            err.write(f"CommandError: {exc}\n")
            return False, out.getvalue(), err.getvalue()
        return True, out.getvalue(), err.getvalue()

    return run


@pytest.fixture
def calendar_2027(db, write_file, load_calendar):
    """Loads the made-up 2027 arrangement."""
    ok, out, err = load_calendar(write_file(CALENDAR_2027, "2027.csv"))
    assert ok, err
    return out
