"""Outbound sync: telling other credit platforms (信用中国, the provincial
platform) that a record's publication changed because of a decision.

- `sync_event_queue` writes one SyncEvent row in the decision's transaction:
  the decision and its event commit or roll back together. The idempotency
  key makes a repeat (a retried transaction, a re-run) return the row already
  stored instead of writing a second one.
- Integration accounts pull the feed (records.api) and acknowledge what they
  have posted with `sync_events_ack`; each consumer has its own acks, so
  every platform gets every event.
"""

import datetime as dt
import json

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from records.models import CreditRecord, RecordStatus, SyncAck, SyncEvent, SyncKind
from records.selectors import disclosure_past
from repair_flow.audit import audit_record
from repair_flow.models import Role
from repair_flow.roles import has_role

SYNC_CONSUMER_ROLES = (Role.INTEGRATION, Role.ADMINISTRATOR)
MAX_ACK_IDS = 1000


def _payload(*, event: SyncEvent, record: CreditRecord, facts: dict) -> dict:
    subject = record.subject
    return {
        "event_id": event.pk,
        "kind": event.kind,
        "occurred_at": timezone.localtime(event.occurred_at).isoformat(),
        "department_code": record.department.code,
        "department_name": record.department.name,
        "decision_number": record.decision_number,
        "decision_date": record.decision_date.isoformat(),
        "subject_type": subject.kind,
        "subject_name": subject.name,
        # Natural persons' records are never public: other platforms get the
        # resident ID masked (shared domain reference section 8); USCCs in full.
        "subject_identifier": subject.display_identifier,
        # Shandong Social Credit Regulation Art. 20: a natural person's record
        # is shared between authorities, never published: `public` says whether
        # the platform may show it, and its status is never "published".
        "public": not subject.is_person,
        "record_status": (
            "shared"
            if subject.is_person and record.status == RecordStatus.PUBLISHED
            else record.status
        ),
        "reference": {"source": event.source, **facts},
    }


def sync_event_queue(
    *,
    record: CreditRecord,
    kind: str,
    source: str,
    key: str,
    actor,
    facts: dict | None = None,
    at: dt.datetime | None = None,
) -> SyncEvent:
    """Write one event in the caller's transaction (call it inside the
    decision's `transaction.atomic()`; a rollback leaves no event).

    `facts` are the source references the integration forwards (e.g.
    `case_number`, `letter_number`); the record's status is read as stored in
    this transaction. A key already stored returns that event unchanged.
    """
    if kind not in SyncKind.values:
        raise ValueError(f"unknown sync kind {kind!r}")
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("sync events need a timezone-aware time")
    existing = SyncEvent.objects.filter(key=key).first()
    if existing is not None:
        return _same_event(existing, record=record, kind=kind)
    # Round-trip so the payload holds exactly what the JSON column stores.
    facts = json.loads(json.dumps(facts or {}, cls=DjangoJSONEncoder))
    record = CreditRecord.objects.select_related("department", "subject").get(pk=record.pk)
    try:
        # A savepoint: losing a race for the key must not break the caller's
        # transaction (PostgreSQL aborts it on an IntegrityError otherwise).
        with transaction.atomic():
            event = SyncEvent.objects.create(
                key=key, record=record, kind=kind, source=source, payload={}, occurred_at=at
            )
            event.payload = _payload(event=event, record=record, facts=facts)
            event.save(update_fields=["payload"])
    except IntegrityError:
        return _same_event(SyncEvent.objects.get(key=key), record=record, kind=kind)
    audit_record(
        actor=actor,
        action="records.sync_queue",
        object_type="records.SyncEvent",
        object_id=event.pk,
        summary={
            "record": record.pk,
            "kind": kind,
            "source": source,
            "key": key,
            "record_status": record.status,
        },
    )
    return event


def _same_event(event: SyncEvent, *, record: CreditRecord, kind: str) -> SyncEvent:
    # One key names one event: reusing it for another record or kind is a
    # programming error, not a repeat.
    if event.record_id != record.pk or event.kind != kind:
        raise ValueError(
            f"sync key {event.key!r} already names a {event.kind} event of record {event.record_id}"
        )
    return event


def sync_events_pending(*, consumer, after: int | None = None):
    """Events the consumer has not acknowledged, oldest first; none of a
    record past its disclosure ceiling (Shandong Social Credit Regulation
    Art. 38), which leaves every shared output."""
    past = CreditRecord.objects.filter(disclosure_past(timezone.localdate()))
    events = SyncEvent.objects.filter(
        ~Exists(SyncAck.objects.filter(event=OuterRef("pk"), consumer=consumer))
    ).exclude(record__in=past)
    if after is not None:
        events = events.filter(pk__gt=after)
    return events.order_by("pk")


@transaction.atomic
def sync_events_ack(*, consumer, ids: list[int]) -> int:
    """Record that `consumer` has posted these events; returns how many acks
    are new (0 for a repeat). Unknown ids reject the whole call."""
    if not has_role(consumer, *SYNC_CONSUMER_ROLES):
        raise PermissionDenied(_("您的账号角色无权确认同步事件。"))
    wanted = sorted(set(ids))
    if not wanted:
        raise ValidationError({"ids": _("请至少提供一个事件编号。")}, code="empty")
    if len(wanted) > MAX_ACK_IDS:
        raise ValidationError(
            {"ids": _("一次最多确认%(max)d个事件，请分批提交。") % {"max": MAX_ACK_IDS}},
            code="too_many",
        )
    known = set(SyncEvent.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    unknown = [pk for pk in wanted if pk not in known]
    if unknown:
        raise ValidationError(
            {
                "ids": _("以下事件编号不存在：%(ids)s，本次未确认任何事件。")
                % {"ids": pgettext("list separator", "、").join(str(pk) for pk in unknown)}
            },
            code="unknown",
        )
    acked = set(
        SyncAck.objects.filter(consumer=consumer, event_id__in=wanted).values_list(
            "event_id", flat=True
        )
    )
    new = [pk for pk in wanted if pk not in acked]
    if not new:
        return 0
    now = timezone.now()
    # ignore_conflicts: a concurrent ack of the same event by the same
    # consumer is a repeat, not an error.
    SyncAck.objects.bulk_create(
        [SyncAck(event_id=pk, consumer=consumer, acked_at=now) for pk in new],
        ignore_conflicts=True,
    )
    audit_record(
        actor=consumer,
        action="records.sync_ack",
        object_type="records.SyncEvent",
        summary={"ids": new},
    )
    return len(new)
