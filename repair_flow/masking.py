"""Masking of personal identifiers in logs (shared domain reference section 8)."""

import logging
import re

from records.identifiers import IdentifierError, mask_phone, mask_resident_id, validate_resident_id

_ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE_PATTERN = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


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
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
