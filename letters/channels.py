"""Channels beyond email: SMS, the channel Chinese applicants expect.

An SMS is an outbox row like an email (letters.models.OutboundMessage with
channel "sms"): written with its event, sent by the same sender and sweep
(letters.outbox.message_send), claimed with a conditional UPDATE, retried
with backoff, and a failure shows on the officers' outbox page as an email's
does. This module is only the last step, the provider call.

A deployment names its backend in settings.SMS_BACKEND (a dotted path to a
class with `send(*, phone, text) -> provider message id or None`). The
default writes to the log (console), like Django's console email backend. A
production backend wraps the provider's SDK, e.g. Alibaba Cloud SMS
(`alibabacloud-dysmsapi20170525`, SendSms with a signed template) or Tencent
Cloud SMS (`tencentcloud-sdk-python`, module `tencentcloud.sms`); it raises
`SmsRejected` when the provider refuses the number (not retried) and any
other exception for a failure worth retrying.
"""

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from records.identifiers import mask_phone

log = logging.getLogger("letters.sms")


class SmsRejected(Exception):
    """The provider refused the number or the text: sending again will not help."""


class SmsBackend(Protocol):
    def send(self, *, phone: str, text: str) -> str | None: ...


class ConsoleSmsBackend:
    """Writes the message to the log instead of sending it; the number
    masked (3 + 4, shared domain reference section 8)."""

    def send(self, *, phone: str, text: str) -> str | None:
        log.info("SMS to %s: %s", mask_phone(phone), text)
        return None


class LocmemSmsBackend:
    """Keeps the messages in `LocmemSmsBackend.outbox` (tests)."""

    outbox: list[tuple[str, str]] = []

    def send(self, *, phone: str, text: str) -> str | None:
        LocmemSmsBackend.outbox.append((phone, text))
        return f"locmem-{len(LocmemSmsBackend.outbox)}"


def sms_backend() -> SmsBackend:
    path = getattr(settings, "SMS_BACKEND", "letters.channels.ConsoleSmsBackend")
    return import_string(path)()
