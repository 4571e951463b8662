"""Logging helpers: a refused request logged as one line, and the seeding's
chatter kept off the console."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from repair_flow.masking import MaskingLogFilter


class ForbiddenInOneLine(logging.Filter):
    """Django's django.request logs a PermissionDenied with its traceback. A
    403 is a refusal working as intended, not a fault: keep the line, drop
    the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True


class LibraryWarningInOneLine(logging.Filter):
    """pyHanko logs a certificate it cannot trust or whose dates have passed
    (met on the public verification page, where the page says so) as a
    warning carrying certvalidator's traceback. An expected answer, not a
    fault: one line, with the error's own words, no traceback. Set on the
    handler, as a logger's filter would not see its children's records."""

    LOGGERS = ("pyhanko", "pyhanko_certvalidator")

    def filter(self, record: logging.LogRecord) -> bool:
        library = record.name.split(".", 1)[0]
        if library in self.LOGGERS and record.levelno < logging.ERROR and record.exc_info:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})".replace(
                "\n", " "
            )
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


@contextmanager
def info_to_file(path: Path) -> Iterator[None]:
    """While the block runs, INFO lines (WeasyPrint's progress, Celery's
    task lines) go to the file only; warnings and errors still reach the
    console as well."""
    root = logging.getLogger()
    consoles = [
        handler
        for handler in root.handlers
        if type(handler) is logging.StreamHandler  # not a FileHandler, not pytest's capture
    ]
    levels = [handler.level for handler in consoles]
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    to_file.addFilter(MaskingLogFilter())
    to_file.addFilter(LibraryWarningInOneLine())
    root.addHandler(to_file)
    for handler in consoles:
        handler.setLevel(max(handler.level, logging.WARNING))
    try:
        yield
    finally:
        for handler, level in zip(consoles, levels, strict=True):
            handler.setLevel(level)
        root.removeHandler(to_file)
        to_file.close()
