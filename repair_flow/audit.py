"""The audit trail: one function appends, one verifies.

Every service writes its events through `audit_record` inside its own
transaction, so an event exists exactly when the change it describes does.
"""

import contextvars
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from repair_flow.models import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64
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


def _event_hash(event: AuditEvent) -> str:
    payload = json.dumps(
        [
            event.seq,
            event.at.isoformat(),
            event.actor_id,
            event.actor_label,
            event.action,
            event.object_type,
            str(event.object_id),
            event.summary,
            event.request_id,
            event.prev_hash,
        ]
        # Sealed only where sent, so events written before the field existed keep their hash.
        + ([event.client_request_id] if event.client_request_id else []),
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


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
            event.hash = prev = _event_hash(event)
            events.append(event)
        AuditEvent.objects.bulk_create(events)
        head.last_seq, head.last_hash = seq, prev
        head.save(update_fields=["last_seq", "last_hash"])
    return events


def _jsonable(value):
    # Round-trip so the hash is computed over exactly what the database stores.
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


@dataclass
class ChainReport:
    verified: int
    broken_at: int | None = None
    reason: str = ""


def verify_chain(events: Iterator[AuditEvent] | None = None) -> ChainReport:
    """Recompute every hash in sequence order; stop at the first broken link."""
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
        digest = _event_hash(event)
        if digest != event.hash:
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
    return ChainReport(count)
