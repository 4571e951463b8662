"""The access register (shared domain reference section 8).

Staff state a purpose once per session and subject; every view of a natural
person's identifiers or records is then registered with that purpose.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from repair_flow.audit import current_client_request_id, current_request_id
from repair_flow.masking import mask_text
from repair_flow.models import AccessLogEntry, AccessPurpose, Role

SESSION_KEY = "access_purposes"
# The purpose stated for a whole session of work on many people's data (the
# admin's pages, a search): the purpose and when it was stated; it lapses after
# settings.ACCESS_PURPOSE_SESSION_SECONDS.
GENERAL_SESSION_KEY = "access_purpose_general"

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


def general_purpose(request) -> str | None:
    """The purpose stated for this session's work on many people's data, while it lasts."""
    stated = request.session.get(GENERAL_SESSION_KEY)
    if not isinstance(stated, dict) or not purpose_is_valid(stated.get("purpose")):
        return None
    try:
        at = dt.datetime.fromisoformat(stated["at"])
    except (KeyError, TypeError, ValueError):
        return None
    lasts = dt.timedelta(seconds=settings.ACCESS_PURPOSE_SESSION_SECONDS)
    if not at <= timezone.now() < at + lasts:
        return None
    return stated["purpose"]


def general_purpose_set(request, purpose: str) -> None:
    request.session[GENERAL_SESSION_KEY] = {
        "purpose": purpose,
        "at": timezone.now().isoformat(),
    }


@dataclass(frozen=True)
class Access:
    """One row of the register to write: whose data (None: a search that found
    no natural person), and what was seen."""

    subject: object | None
    what: str


def search_what(kind: str, term: str, found: int) -> str:
    """A search as the register names it: the term masked (a resident ID shows
    its first 6 and last 4 characters), and how many it found."""
    return f"search:{kind}:{mask_text(term.strip())[:120]}:{found}"


def access_register_many(
    *, user, accesses: Iterable[Access], purpose: str, channel: str
) -> list[AccessLogEntry]:
    """Register several views in one INSERT (a list page, a feed page, a search)."""
    now = timezone.now()
    rid, client_rid = current_request_id(), current_client_request_id()
    rows = [
        AccessLogEntry(
            at=now,
            user=user,
            subject=access.subject,
            what=access.what[:200],
            purpose=purpose,
            channel=channel,
            request_id=rid,
            client_request_id=client_rid,
        )
        for access in accesses
    ]
    if rows:
        AccessLogEntry.objects.bulk_create(rows)
    return rows


def search_register(
    *, user, what: str, records, purpose: str, channel: str
) -> list[AccessLogEntry]:
    """A search by staff is a view of whoever it showed (shared domain
    reference section 8): one row per natural person among the records shown,
    or one row naming the search when it showed none; one INSERT."""
    people = {record.subject_id: record.subject for record in records if record.subject.is_person}
    accesses = [Access(subject, what) for subject in people.values()] or [Access(None, what)]
    return access_register_many(user=user, accesses=accesses, purpose=purpose, channel=channel)


@transaction.atomic
def access_register(*, user, subject, what: str, purpose: str, channel: str) -> AccessLogEntry:
    return access_register_many(
        user=user, accesses=[Access(subject, what)], purpose=purpose, channel=channel
    )[0]


def registered(user) -> bool:
    return getattr(user, "role", None) in REGISTERED_ROLES


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
