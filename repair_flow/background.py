"""The embedded worker: after-commit tasks run in a thread, after the response.

Without a Celery broker (CELERY_TASK_ALWAYS_EAGER) a task runs in the
caller (`.apply()`), so a step that issues a letter would wait for WeasyPrint inside
the request. `manage.py serve` starts this worker instead: `task_enqueue`
puts the task's name and arguments on an in-process queue, and one daemon
thread runs them in order, as a Celery worker would. With a broker, `task_enqueue`
is plain `.delay()`; with none and no worker running (tests, management
commands), the task runs in the caller.

A task that raises is logged and the thread goes on with the next one; the
task's own bookkeeping (a render marked failed with its next attempt) and the
periodic sweep retry it. Work still queued when the process stops is not
lost: its rows stay pending and the sweep picks them up.

Where the task runs (RENDER_WORKER): "process", as `serve` runs it, hands
each task to one child process and the thread only waits for it; "thread"
runs it on the thread itself. A render is seconds of pure Python and holds
the GIL: on the thread it slowed every request answered meanwhile two to
three times (a step that answers in 0.1 s of CPU took 0.5-1 s, measured
with tests/bench/bench_pages.py), so the render moves to a process of its
own. The child starts from this process's settings (the address `serve`
follows, a test's database). An in-memory SQLite database (the tests') is
invisible to another process: there the thread runs tasks itself.
"""

import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import django
from django.conf import settings
from django.db import close_old_connections, connections

from repair_flow.celery import task_named

log = logging.getLogger(__name__)

_STOP = object()
MODES = ("process", "thread")


def settings_snapshot() -> dict:
    """Every setting as this process has it now, for a child process to
    start from (what cannot cross a process boundary is left out)."""
    snapshot = {}
    for name in dir(settings):
        if not name.isupper():
            continue
        value = getattr(settings, name)
        try:
            pickle.dumps(value)
        except Exception as error:
            # The child keeps the settings module's own value for it.
            log.debug("worker: setting %s stays the module's in the child: %s", name, error)
            continue
        snapshot[name] = value
    return snapshot


def child_setup(snapshot: dict) -> None:
    """The child process: this process's settings, then Django."""
    threading.Thread(target=exit_with_parent, name="parent-watch", daemon=True).start()
    for name, value in snapshot.items():
        setattr(settings, name, value)
    django.setup()


def exit_with_parent() -> None:
    """A server stopped by a signal never reaches `stop()`: the child ends
    when its parent does instead of living on (what it had queued stays
    pending for the sweep)."""
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os._exit(0)


def child_run(name: str, args: tuple) -> str:
    """One task in the child, with fresh database connections around it."""
    close_old_connections()
    try:
        return repr(task_named(name)(*args))
    finally:
        close_old_connections()


def child_ready() -> bool:
    return True


def shares_memory_database() -> bool:
    """True when a database lives in this process's memory (SQLite's
    in-memory test database), where a child process cannot see it."""
    return any(
        connection.vendor == "sqlite" and connection.is_in_memory_db()
        for connection in connections.all()
    )


class Worker:
    """One in-process queue and the daemon thread that empties it, running
    each task in a child process ("process") or on itself ("thread")."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.thread: threading.Thread | None = None
        self.pool: ProcessPoolExecutor | None = None

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, mode: str | None = None) -> threading.Thread:
        if self.running():
            return self.thread
        mode = mode or settings.RENDER_WORKER
        if mode not in MODES:
            raise ValueError(f"render worker mode {mode!r} must be one of {', '.join(MODES)}")
        if mode == "process" and shares_memory_database():
            log.info("worker: the database is in this process's memory; tasks run on the thread")
            mode = "thread"
        if mode == "process":
            self.pool = self.new_pool()
            # The child starts now (Django's setup takes a while), not at the first letter.
            self.pool.submit(child_ready)
        self.thread = threading.Thread(target=self.loop, name="render-worker", daemon=True)
        self.thread.start()
        return self.thread

    def new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a server with threads and open database
        # connections copies locks and sockets mid-use.
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=child_setup,
            initargs=(settings_snapshot(),),
        )

    def stop(self, timeout: float | None = None) -> None:
        """Finish what is queued, then end the thread (and the child)."""
        if self.running():
            self.queue.put(_STOP)
            self.thread.join(timeout)
        if self.pool is not None:
            self.pool.shutdown(wait=not self.running(), cancel_futures=True)
            self.pool = None
        self.thread = None

    def run(self, name: str, args: tuple) -> str:
        if self.pool is None:
            return repr(task_named(name)(*args))
        try:
            return self.pool.submit(child_run, name, args).result()
        except BrokenProcessPool:
            # The child died (killed, out of memory): a new one for the next task.
            self.pool = self.new_pool()
            raise

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
                    result = self.run(name, args)
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
        return
    task = task_named(name)
    if task.app.conf.task_always_eager:
        # No broker configured: run here. `.delay()` would still take a
        # producer on Celery's default broker (amqp://, no host) only to
        # serialise the arguments, and kombu warns "No hostname was supplied".
        task.apply(args=args)
    else:
        task.delay(*args)


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


def start(mode: str | None = None) -> threading.Thread:
    return worker.start(mode)


def stop(timeout: float | None = None) -> None:
    worker.stop(timeout)
