"""The access register (shared domain reference section 8).

Staff state a purpose once per session and subject; every view of a natural
person's identifiers or records is then registered with that purpose.
"""

from urllib.parse import urlencode

from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from repair_flow.audit import current_request_id
from repair_flow.models import AccessLogEntry, AccessPurpose, Role

SESSION_KEY = "access_purposes"

# Roles whose reads of personal data are registered: platform staff, and
# system accounts, which read on behalf of another body.
REGISTERED_ROLES = frozenset(
    {Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMINISTRATOR, Role.INTEGRATION}
)


def needs_registration(user, subject) -> bool:
    return subject.is_person and user.role in REGISTERED_ROLES


def session_purpose(request, subject) -> str | None:
    return request.session.get(SESSION_KEY, {}).get(str(subject.pk))


def session_purpose_set(request, subject, purpose: str) -> None:
    purposes = dict(request.session.get(SESSION_KEY, {}))
    purposes[str(subject.pk)] = purpose
    request.session[SESSION_KEY] = purposes


def purpose_is_valid(purpose: str | None) -> bool:
    return purpose in AccessPurpose.values


@transaction.atomic
def access_register(*, user, subject, what: str, purpose: str, channel: str) -> AccessLogEntry:
    return AccessLogEntry.objects.create(
        at=timezone.now(),
        user=user,
        subject=subject,
        what=what[:200],
        purpose=purpose,
        channel=channel,
        request_id=current_request_id(),
    )


def purpose_or_redirect(request, subject, what: str):
    """Staff viewing a natural person's letter, case or material state a purpose first (domain
    section 8); the view is then registered."""
    if subject is None or not needs_registration(request.user, subject):
        return None
    purpose = session_purpose(request, subject)
    if purpose is None:
        url = reverse("access_purpose", args=[subject.pk])
        return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")
    access_register(user=request.user, subject=subject, what=what, purpose=purpose, channel="page")
    return None
