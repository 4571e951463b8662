"""Channels beyond email: SMS, the channel Chinese applicants expect.

A deployment names its backend in settings.SMS_BACKEND (a dotted path to a
class with `send(*, phone, text)`). The default writes to the log (console),
like Django's console email backend. A production backend wraps the
provider's SDK, e.g. Alibaba Cloud SMS (`alibabacloud-dysmsapi20170525`,
SendSms with a signed template) or Tencent Cloud SMS
(`tencentcloud-sdk-python-sms`).
"""

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("letters.sms")


class SmsBackend(Protocol):
    def send(self, *, phone: str, text: str) -> None: ...


class ConsoleSmsBackend:
    """Writes the message to the log instead of sending it."""

    def send(self, *, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", phone, text)


class LocmemSmsBackend:
    """Keeps the messages in `LocmemSmsBackend.outbox` (tests)."""

    outbox: list[tuple[str, str]] = []

    def send(self, *, phone: str, text: str) -> None:
        LocmemSmsBackend.outbox.append((phone, text))


def sms_backend() -> SmsBackend:
    path = getattr(settings, "SMS_BACKEND", "letters.channels.ConsoleSmsBackend")
    return import_string(path)()
