"""Masking of personal identifiers in logs (shared domain reference section 8)."""

import logging
import re

from records.identifiers import IdentifierError, mask_phone, mask_resident_id, validate_resident_id

_ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE_PATTERN = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# A resident ID, or most of one, in a search term or a URL's query string:
# such a search answers only through a POST with a purpose.
_IDENTIFIER_LIKE = re.compile(r"\d{14,17}[\dXx]?")


def looks_like_identifier(text: str) -> bool:
    return bool(_IDENTIFIER_LIKE.search(text))


def _mask_id(match: re.Match) -> str:
    text = match.group(0)
    try:
        validate_resident_id(text)
    except IdentifierError:
        return text  # an all-digit USCC or another number: not personal
    return mask_resident_id(text.upper())


def mask_text(text: str) -> str:
    text = _ID_PATTERN.sub(_mask_id, text)
    return _PHONE_PATTERN.sub(lambda m: mask_phone(m.group(0)), text)


class MaskingLogFilter(logging.Filter):
    """On the handlers as well, for records made before the app was ready."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record's message, and its traceback if any, with identifiers masked."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it as logging does
        return record
    masked = mask_text(message)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        # Formatted now, masked, and kept: handlers' formatters use exc_text
        # as it is (an Http404's message carries the path it was asked for).
        record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)
    return record


def install_record_masking() -> None:
    """Mask every log record where it is made, so no handler can bypass the
    mask: one added by a library later (gunicorn's access log, Celery's
    worker, runserver's django.server, pytest's capture) included. Records are
    made only for enabled levels, so a DEBUG line switched off costs nothing."""
    current = logging.getLogRecordFactory()
    if getattr(current, "masks_identifiers", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        return mask_record(current(*args, **kwargs))

    factory.masks_identifiers = True
    logging.setLogRecordFactory(factory)
