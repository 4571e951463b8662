"""What other apps do, in the import's own transaction, once a batch of
records is saved: a hook each, registered by name when the app is ready
(flows.apps: post-repair monitoring matches new penalties against the
monitored subjects). records/ calls them without importing their apps, so
the dependencies keep pointing one way; unlike a signal, a hook is a plain
named function with keyword arguments, run in the order registered, and its
failure fails the import's batch (nothing half-saved)."""

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# hook(*, record_ids: list[int], actor, at: datetime) -> None
RecordsSavedHook = Callable[..., None]

REGISTERED: dict[str, RecordsSavedHook] = {}


def records_saved_hook_register(name: str, hook: RecordsSavedHook) -> None:
    """Register (or replace) the hook called `name`."""
    REGISTERED[name] = hook


def records_saved_hooks_run(*, record_ids: list[int], actor, at: dt.datetime) -> None:
    """Run every hook on the records (new or changed) a batch just saved."""
    for hook in list(REGISTERED.values()):
        hook(record_ids=record_ids, actor=actor, at=at)


@contextmanager
def records_saved_hook_replaced(name: str, hook: RecordsSavedHook | None) -> Iterator[None]:
    """Replace the hook called `name` (None: without it) for a while, as a
    benchmark that times it does."""
    before = REGISTERED.pop(name, None)
    if hook is not None:
        REGISTERED[name] = hook
    try:
        yield
    finally:
        REGISTERED.pop(name, None)
        if before is not None:
            REGISTERED[name] = before
