"""The public address of a letter: printed on it (with its QR code), put in
the email that carries it, and answered by /verify/<code>."""

from django.conf import settings

from letters.models import Letter


def verify_url(letter: Letter) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/verify/{letter.verification_code}"
