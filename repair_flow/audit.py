"""The audit trail: one function appends, one verifies.

Every service writes its events through `audit_record` inside its own
transaction, so an event exists exactly when the change it describes does.

What protects the trail, and what each measure defeats (issue 17, finding 4):

- The chain (each event links to the one before) catches an edited, removed
  or reordered row, but alone anyone with SQL access could recompute it.
- The link is an HMAC-SHA256 under AUDIT_CHAIN_KEY, a key kept out of the
  database (environment or a key file). Defeats: a database administrator or
  an intruder with SQL access but not the application's environment editing
  or deleting events and re-sealing the chain. Does not defeat: whoever holds
  the key as well (the application host's administrators can re-seal
  everything after the last anchor), nor deleting the newest rows and
  rewinding the head row, which needs no key: the anchors catch that.
- The daily anchor (repair_flow/anchors.py): the head's seq and link in a
  file signed with a second key (AUDIT_ANCHOR_KEY) outside the database and,
  when AUDIT_ANCHOR_EMAIL is set, mailed to an auditor. Defeats: removing the
  newest events (and rewinding the head) back past an anchor, and re-sealing
  with a stolen chain key any event up to an anchor (the anchored link would
  change). Does not defeat: removing events written after the last anchor
  (within the day), or someone who can also rewrite the anchor directory and
  holds the anchor key (the mailed copy is then the evidence).
- On PostgreSQL a trigger refuses UPDATE and DELETE of audit rows (payload
  blanking for retention excepted). Defeats: the application's own bugs and
  an intruder using the application's database role. Does not defeat: a
  role that may drop the trigger or TRUNCATE the table (the table's owner, a
  superuser): the chain and the anchors are the check for that. SQLite has
  no trigger: Django's test flush deletes rows with DELETE.
- The model's queryset and save() refuse updates and deletes: only a guard
  against the application's own code.

The link covers a digest of the payload, not the payload, so retention may
blank a payload (summary NULL) and the chain still verifies.
"""

import contextvars
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from repair_flow.audit_seal import GENESIS_HASH, chain_link, payload_digest
from repair_flow.models import AuditChainHead, AuditEvent

# (the server's id, the id the client or proxy sent); set per request by
# repair_flow.middleware.RequestIdMiddleware.
_request_ids: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "request_ids", default=("", "")
)


def current_request_id() -> str:
    return _request_ids.get()[0]


def current_client_request_id() -> str:
    return _request_ids.get()[1]


def set_request_id(value: str, client: str = "") -> contextvars.Token:
    return _request_ids.set((value, client))


def reset_request_id(token: contextvars.Token) -> None:
    _request_ids.reset(token)


def event_link(event: AuditEvent, key: bytes | None = None) -> str:
    """The HMAC this event's `hash` must hold (AUDIT_CHAIN_KEY unless `key`)."""
    return chain_link(
        settings.AUDIT_CHAIN_KEY if key is None else key,
        [
            event.seq,
            event.at.isoformat(),
            event.actor_id,
            event.actor_label,
            event.action,
            event.object_type,
            str(event.object_id),
            event.payload_digest,
            event.request_id,
            event.prev_hash,
        ]
        # Sealed only where sent, so events written before the field existed keep their link.
        + ([event.client_request_id] if event.client_request_id else []),
    )


@dataclass(frozen=True)
class AuditEntry:
    action: str
    object_type: str
    object_id: str = ""
    summary: dict | None = None


def audit_record(*, actor, action: str, object_type: str, object_id="", summary=None) -> AuditEvent:
    """Append one event. Call inside the service's transaction."""
    return audit_record_many(
        actor=actor, entries=[AuditEntry(action, object_type, str(object_id), summary)]
    )[0]


def audit_record_many(*, actor, entries: Iterable[AuditEntry]) -> list[AuditEvent]:
    """Append several events in one locked step (bulk import writes one per batch)."""
    entries = list(entries)
    actor_id = getattr(actor, "pk", None)
    actor_label = actor.get_username() if actor_id else (actor or "system")
    # No savepoint of its own: a failure here fails the caller's transaction
    # (an action without its audit event must not commit), and a bulk caller
    # saves two round trips per call.
    with transaction.atomic(savepoint=False):
        # The head row is locked until commit: concurrent writers queue here,
        # so the chain never forks.
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_seq": 0, "last_hash": GENESIS_HASH}
        )
        seq, prev = head.last_seq, head.last_hash
        now = timezone.now()
        rid, client_rid = _request_ids.get()
        events = []
        for entry in entries:
            seq += 1
            event = AuditEvent(
                seq=seq,
                at=now,
                actor_id=actor_id,
                actor_label=actor_label,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                summary=_jsonable(entry.summary or {}),
                request_id=rid,
                client_request_id=client_rid,
                prev_hash=prev,
            )
            event.payload_digest = payload_digest(event.summary)
            event.hash = prev = event_link(event)
            events.append(event)
        AuditEvent.objects.bulk_create(events)
        head.last_seq, head.last_hash = seq, prev
        head.save(update_fields=["last_seq", "last_hash"])
    return events


def audit_payloads_blank(*, event_ids: Iterable[int]) -> int:
    """Retention (PIPL Art. 47): destroy these events' payloads (summary set
    NULL). Their payload digests and links stay, so the chain still verifies;
    the PostgreSQL trigger lets exactly this update through. The model's
    guard queryset refuses every update, so this one goes around it."""
    return (
        models.QuerySet(AuditEvent)
        .filter(id__in=list(event_ids), summary__isnull=False)
        .update(summary=None)
    )


def _jsonable(value):
    # Round-trip so the hash is computed over exactly what the database stores.
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


@dataclass
class ChainReport:
    verified: int
    broken_at: int | None = None
    reason: str = ""
    head_hash: str = GENESIS_HASH


def verify_chain(
    events: Iterator[AuditEvent] | None = None, *, key: bytes | None = None
) -> ChainReport:
    """Recompute every link in sequence order; stop at the first broken one.
    Raises AuditKeyMissing when no key is configured."""
    if events is None:
        events = AuditEvent.objects.order_by("seq").iterator(chunk_size=5000)
    expected_seq, prev = 1, GENESIS_HASH
    count = 0
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(
                count,
                expected_seq,
                f"event #{expected_seq} is missing (next present is #{event.seq})",
            )
        if event.prev_hash != prev:
            return ChainReport(
                count,
                event.seq,
                f"event #{event.seq} does not link to the hash of #{event.seq - 1}",
            )
        # A destroyed payload (retention) is NULL; its kept digest is still linked.
        if event.summary is not None and payload_digest(event.summary) != event.payload_digest:
            return ChainReport(
                count, event.seq, f"event #{event.seq}'s payload was altered after it was written"
            )
        if event_link(event, key) != event.hash:
            return ChainReport(
                count, event.seq, f"event #{event.seq} was altered after it was written"
            )
        prev = event.hash
        expected_seq += 1
        count += 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head and (head.last_seq != count or head.last_hash != prev):
        return ChainReport(
            count,
            count + 1,
            f"events after #{count} were removed (the chain head records #{head.last_seq})",
        )
    return ChainReport(count, head_hash=prev)
