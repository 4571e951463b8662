"""No full identifier in any log (issue 17 finding 5): every record is masked
where it is made, so runserver's request lines, Django's "Not Found" line,
gunicorn's or Celery's own handlers and pytest's capture all get it masked."""

import io
import logging
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from records.identifiers import mask_phone, mask_resident_id

# The demo persons' kind of identifier: a valid resident ID and a mobile number.
RESIDENT_ID = "11010519491231002X"
PHONE = "13912345678"
BASE_DIR = Path(__file__).resolve().parents[2]


def test_djangos_not_found_line_is_masked_at_the_root(client, db, caplog):
    caplog.set_level(logging.INFO)
    assert client.get(f"/verify/{RESIDENT_ID}/nothing/").status_code == 404
    assert client.get(f"/records/{RESIDENT_ID}/").status_code in (302, 404)
    lines = [r.getMessage() for r in caplog.records]
    assert any(mask_resident_id(RESIDENT_ID) in line for line in lines), lines
    assert RESIDENT_ID not in caplog.text


def test_a_handler_added_by_a_library_gets_masked_records_too():
    # gunicorn's access log and Celery's worker attach handlers of their own,
    # with no filter of ours; the record is masked before any handler sees it.
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    for name in ("gunicorn.access", "celery.app.trace"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate, was = False, logger.propagate
        try:
            logger.warning('"GET /verify/%s HTTP/1.1" 404 phone %s', RESIDENT_ID, PHONE)
            try:
                raise ValueError(f"no letter for {RESIDENT_ID}")
            except ValueError:
                logger.exception("task failed for %s", RESIDENT_ID)
        finally:
            logger.removeHandler(handler)
            logger.propagate = was
    written = stream.getvalue()
    assert RESIDENT_ID not in written and PHONE not in written
    assert mask_resident_id(RESIDENT_ID) in written and mask_phone(PHONE) in written
    assert "Traceback" in written  # the traceback is kept, masked


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_running_servers_whole_log_holds_no_full_identifier(tmp_path):
    """A real `runserver` process (its request lines are written by its own
    handler, which the test client never reaches): requests with the ID in
    the path and the query string, a 404 and a redirect; then its whole
    stderr and stdout are grepped. Costs a server start (a few seconds)."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "repair_flow.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "0",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    command = ["manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [sys.executable, *command],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    started = []
    try:
        # runserver says so on stdout once it listens.
        for line in server.stdout:
            started.append(line)
            if b"Quit the server" in line:
                break
        assert server.poll() is None, b"".join(started).decode()
        urls = [
            f"/no-such-page/{RESIDENT_ID}/",
            f"/records/?q={RESIDENT_ID}",
            f"/records/{RESIDENT_ID}/?phone={PHONE}",
        ]
        answered = []
        opener = urllib.request.build_opener(NoRedirect)
        for url in urls:
            try:
                answered.append(opener.open(f"http://127.0.0.1:{port}{url}", timeout=30).status)
            except urllib.error.HTTPError as error:
                answered.append(error.code)
        assert answered == [404, 302, 404]
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    log = (b"".join(started) + out + err).decode()
    assert f"/no-such-page/{mask_resident_id(RESIDENT_ID)}/" in log  # the lines are there
    assert "Not Found" in log
    assert RESIDENT_ID not in log and RESIDENT_ID.lower() not in log
    assert PHONE not in log


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
