"""What the proxy's health probe (/healthz) checks: each dependency a request
or a job needs, each answered "ok", "fail" or "off" (not configured). Cheap
by design: one `SELECT 1`, one broker connection, one storage probe; no
table is read and nothing about any person is returned."""

import logging
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from kombu import Connection

log = logging.getLogger(__name__)

# A probe must answer well inside the proxy's own timeout (nginx and most
# load balancers wait 5 s): a dependency slower than this counts as down.
BROKER_TIMEOUT_SECONDS = 2


def database_check() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def broker_check() -> bool:
    """False when no broker is configured (tasks run in-process)."""
    if not settings.CELERY_BROKER_URL:
        return False
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS
        )
    return True


def storage_check() -> None:
    """The local disk: MEDIA_ROOT exists and this process may write there
    (a temporary file, removed at once; web and worker must share it). Any
    other backend (an object store): one existence query."""
    if isinstance(default_storage, FileSystemStorage):
        root = Path(default_storage.location)
        # As the storage itself would on its first save.
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".healthz-{uuid.uuid4().hex}"
        probe.touch(exist_ok=False)
        os.unlink(probe)
        return
    default_storage.exists(".healthz")


CHECKS = {"database": database_check, "broker": broker_check, "storage": storage_check}


def health() -> tuple[bool, dict[str, str]]:
    """(all well, each check's answer). A failure is logged with its reason;
    the answer only says "fail", so the public probe discloses nothing."""
    answers = {}
    for name, check in CHECKS.items():
        try:
            answers[name] = "off" if check() is False else "ok"
        except Exception:
            log.exception("health check %s failed", name)
            answers[name] = "fail"
    return all(answer != "fail" for answer in answers.values()), answers
