"""The embedded worker: after-commit tasks run in a thread, after the response.

Without a Celery broker (CELERY_TASK_ALWAYS_EAGER) `.delay()` runs a task in
the caller, so a step that issues a letter would wait for WeasyPrint inside
the request. `manage.py serve` starts this worker instead: `task_enqueue`
puts the task's name and arguments on an in-process queue, and one daemon
thread runs them in order, as a Celery worker would. With a broker, or when
no worker is running (tests, management commands), `task_enqueue` is plain
`.delay()`.

A task that raises is logged and the thread goes on with the next one; the
task's own bookkeeping (a render marked failed with its next attempt) and the
periodic sweep retry it. Work still queued when the process stops is not
lost: its rows stay pending and the sweep picks them up.
"""

import logging
import queue
import threading

from django.conf import settings
from django.db import close_old_connections

from repair_flow.celery import task_named

log = logging.getLogger(__name__)

_STOP = object()


class Worker:
    """One in-process queue and the daemon thread that empties it."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.thread: threading.Thread | None = None

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> threading.Thread:
        if self.running():
            return self.thread
        self.thread = threading.Thread(target=self.loop, name="render-worker", daemon=True)
        self.thread.start()
        return self.thread

    def stop(self, timeout: float | None = None) -> None:
        """Finish what is queued, then end the thread."""
        if self.running():
            self.queue.put(_STOP)
            self.thread.join(timeout)
        self.thread = None

    def join(self) -> None:
        """Wait until every task queued so far has run."""
        self.queue.join()

    def loop(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is _STOP:
                    return
                name, args = item
                close_old_connections()
                try:
                    result = task_named(name)(*args)
                    log.info("worker: %s%s: %s", name, tuple(args), result)
                except Exception:
                    log.exception("worker: %s%s failed; the sweep retries it", name, tuple(args))
                finally:
                    close_old_connections()
            finally:
                self.queue.task_done()


worker = Worker()


def task_enqueue(name: str, *args) -> None:
    """Run task `name` in the background: on the embedded worker's thread
    when it runs, else through Celery (a broker, or eagerly here)."""
    if worker.running():
        worker.queue.put((name, args))
    else:
        task_named(name).delay(*args)


def task_enqueue_in_background(name: str, *args) -> bool:
    """`task_enqueue` where the task runs in the background (the embedded
    worker, or a broker's workers); False, and nothing run, where it would
    run in the caller (an eager Celery: management commands, tests), whose
    work is then left to the periodic sweep. For work a bulk writer (an
    import) must not wait for."""
    if not worker.running() and settings.CELERY_TASK_ALWAYS_EAGER:
        return False
    task_enqueue(name, *args)
    return True


def start() -> threading.Thread:
    return worker.start()


def stop(timeout: float | None = None) -> None:
    worker.stop(timeout)
