"""The embedded scheduler: periodic jobs run in a thread of `manage.py serve`
(the scale-out set-up runs the same jobs from Celery beat instead; both are
built from repair_flow/jobs.py).

A job runs its Celery task's function in this thread, synchronously, the
code a worker would run for beat. Each task is idempotent and claims its rows
with conditional UPDATEs, so a second scheduler or a beat worker running the
same job does no harm.
"""

import logging
import threading
import time

from django.db import close_old_connections

from repair_flow.celery import task_named
from repair_flow.jobs import JOBS, Job

log = logging.getLogger(__name__)


def run_job(job: Job) -> str:
    """Run one job's task here and now; its result as the log shows it."""
    return str(task_named(job.task)())


def run_due_jobs(last_run: dict[str, float], now: float) -> None:
    for job in JOBS:
        if now - last_run.get(job.name, 0) < job.every_seconds:
            continue
        last_run[job.name] = now
        close_old_connections()
        try:
            result = run_job(job)
            log.info("scheduler: %s: %s", job.name, result)
        except Exception:
            log.exception("scheduler: %s failed; it will run again", job.name)
        finally:
            close_old_connections()


def start(stop: threading.Event, tick_seconds: float = 5.0) -> threading.Thread:
    def loop():
        last_run: dict[str, float] = {}
        while not stop.is_set():
            run_due_jobs(last_run, time.monotonic())
            stop.wait(tick_seconds)

    thread = threading.Thread(target=loop, name="scheduler", daemon=True)
    thread.start()
    return thread
