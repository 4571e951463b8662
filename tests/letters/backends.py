"""An email backend for the outbox tests: an ESP that fails when told to.

    FlakyBackend.reset(errors=[ConnectionError("ESP down")] * 2)
    settings.EMAIL_BACKEND = "tests.letters.backends.FlakyBackend"

Each call to the ESP takes the next entry of `errors`: an exception is
raised (a BaseException too, to kill the "worker" mid-call), a callable is
called first (to run something while the ESP holds the message) and the
message is then delivered. With `errors` empty it delivers to mail.outbox as
Django's locmem backend does. `calls` counts the calls, under a lock: two
sending threads share the class.
"""

import threading

from django.core.mail.backends import locmem


class FlakyBackend(locmem.EmailBackend):
    errors: list = []
    calls = 0
    _lock = threading.Lock()

    @classmethod
    def reset(cls, errors=()) -> None:
        with cls._lock:
            cls.errors = list(errors)
            cls.calls = 0

    def send_messages(self, messages):
        with self._lock:
            type(self).calls += 1
            step = type(self).errors.pop(0) if type(self).errors else None
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            step()
        return super().send_messages(messages)
