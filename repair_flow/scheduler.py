"""The embedded scheduler: periodic jobs run in a thread of `manage.py serve`
(the scale-out set-up runs the same jobs from Celery beat instead).

Each job is idempotent and claims its rows with conditional UPDATEs, so a
second scheduler or a beat worker running the same job does no harm.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: int
    run: Callable[[], str]


def _expire_records() -> str:
    from django.utils import timezone

    from records.services import records_expire_due

    count = records_expire_due(actor="scheduler", today=timezone.localdate())
    return f"{count} records reached the end of their publicity period"


def _sla_sweep() -> str:
    from sla.sweep import clocks_sweep

    return str(clocks_sweep(actor="scheduler"))


def _letters_sweep() -> str:
    from letters.outbox import letters_sweep

    return str(letters_sweep(actor="scheduler"))


def _lapse_cases() -> str:
    from django.utils import timezone

    from flows.cases.review import cases_lapse_due

    return f"{cases_lapse_due(now=timezone.now())} repair cases lapsed (no supplement in time)"


def _monitor_commitments() -> str:
    from flows.monitoring.services import monitoring_sweep

    return str(monitoring_sweep(actor="scheduler"))


JOBS: list[Job] = [
    Job("expire_records", 60, _expire_records),
    Job("sla_sweep", 60, _sla_sweep),
    Job("letters_sweep", 60, _letters_sweep),
    Job("lapse_cases", 60, _lapse_cases),
    # Daily in name: hourly, so a window is completed within the hour it ends.
    Job("monitor_commitments", 3600, _monitor_commitments),
]


def run_due_jobs(last_run: dict[str, float], now: float) -> None:
    for job in JOBS:
        if now - last_run.get(job.name, 0) < job.every_seconds:
            continue
        last_run[job.name] = now
        close_old_connections()
        try:
            result = job.run()
            log.info("scheduler: %s: %s", job.name, result)
        except Exception:
            log.exception("scheduler: %s failed; it will run again", job.name)
        finally:
            close_old_connections()


def start(stop: threading.Event, tick_seconds: float = 5.0) -> threading.Thread:
    import time

    def loop():
        last_run: dict[str, float] = {}
        while not stop.is_set():
            run_due_jobs(last_run, time.monotonic())
            stop.wait(tick_seconds)

    thread = threading.Thread(target=loop, name="scheduler", daemon=True)
    thread.start()
    return thread
