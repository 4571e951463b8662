"""Issue 17, finding 4: the audit chain is keyed and guarded.

1. Each event gets a payload digest; the link becomes an HMAC under
   AUDIT_CHAIN_KEY over the event's fields and that digest (so retention can
   blank a payload and keep the chain).
2. The existing chain is checked with the old unkeyed hashes, then re-sealed
   with the key, and the re-sealing is itself recorded as an event (how many
   events, the old head, and whether the old chain was intact), so the
   migration is visible in the trail it changed.
3. On PostgreSQL a trigger refuses UPDATE and DELETE of audit rows, except
   blanking a payload (summary to NULL, every other column unchanged).
"""

import hashlib
import json

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from repair_flow.audit_seal import GENESIS_HASH, chain_link, payload_digest

BATCH = 2000


def _legacy_hash(event) -> str:
    # The unkeyed formula the chain was written with before this migration.
    payload = json.dumps(
        [
            event.seq, event.at.isoformat(), event.actor_id, event.actor_label, event.action,
            event.object_type, str(event.object_id), event.summary, event.request_id,
            event.prev_hash,
        ]
        + ([event.client_request_id] if event.client_request_id else []),
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _link(key, event) -> str:
    return chain_link(
        key,
        [
            event.seq, event.at.isoformat(), event.actor_id, event.actor_label, event.action,
            event.object_type, str(event.object_id), event.payload_digest, event.request_id,
            event.prev_hash,
        ]
        # As repair_flow.audit.event_link: the client's id is sealed only where sent.
        + ([event.client_request_id] if event.client_request_id else []),
    )


def reseal(apps, schema_editor):
    AuditEvent = apps.get_model("repair_flow", "AuditEvent")
    AuditChainHead = apps.get_model("repair_flow", "AuditChainHead")
    if not AuditEvent.objects.exists():
        return
    key = settings.AUDIT_CHAIN_KEY
    if not key:
        raise RuntimeError(
            "Set AUDIT_CHAIN_KEY (or AUDIT_CHAIN_KEY_FILE) before migrating: "
            "the existing audit chain is re-sealed with it."
        )
    legacy_prev, new_prev, expected, broken_at = GENESIS_HASH, GENESIS_HASH, 1, None
    batch = []
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=BATCH):
        if broken_at is None and (
            event.seq != expected
            or event.prev_hash != legacy_prev
            or _legacy_hash(event) != event.hash
        ):
            broken_at = expected
        legacy_prev, expected = event.hash, event.seq + 1
        event.payload_digest = payload_digest(event.summary)
        event.prev_hash = new_prev
        event.hash = new_prev = _link(key, event)
        batch.append(event)
        if len(batch) >= BATCH:
            AuditEvent.objects.bulk_update(batch, ["payload_digest", "prev_hash", "hash"])
            batch = []
    if batch:
        AuditEvent.objects.bulk_update(batch, ["payload_digest", "prev_hash", "hash"])
    head = AuditChainHead.objects.select_for_update().get(id=1)
    if broken_at is None and (head.last_seq != expected - 1 or head.last_hash != legacy_prev):
        broken_at = expected
    summary = {
        "resealed": expected - 1,
        "legacy_head": {"seq": head.last_seq, "hash": head.last_hash},
        "legacy_intact": broken_at is None,
        "legacy_broken_at": broken_at,
    }
    event = AuditEvent(
        seq=expected,
        at=timezone.now(),
        actor_id=None,
        actor_label="migration",
        action="audit.chain_keyed",
        object_type="repair_flow.AuditEvent",
        object_id="",
        summary=summary,
        payload_digest=payload_digest(summary),
        request_id="",
        prev_hash=new_prev,
    )
    event.hash = _link(key, event)
    event.save()
    head.last_seq, head.last_hash = event.seq, event.hash
    head.save(update_fields=["last_seq", "last_hash"])


_PG_GUARD = """
CREATE OR REPLACE FUNCTION repair_flow_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    -- Retention may destroy a payload and nothing else (the digest stays linked).
    IF TG_OP = 'UPDATE' AND NEW.summary IS NULL
       AND (NEW.id, NEW.seq, NEW.at, NEW.actor_id, NEW.actor_label, NEW.action,
            NEW.object_type, NEW.object_id, NEW.payload_digest, NEW.request_id,
            NEW.prev_hash, NEW.hash, NEW.client_request_id)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.seq, OLD.at, OLD.actor_id, OLD.actor_label, OLD.action,
            OLD.object_type, OLD.object_id, OLD.payload_digest, OLD.request_id,
            OLD.prev_hash, OLD.hash, OLD.client_request_id)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER repair_flow_auditevent_append_only
    BEFORE UPDATE OR DELETE ON repair_flow_auditevent
    FOR EACH ROW EXECUTE FUNCTION repair_flow_auditevent_append_only();
"""

_PG_UNGUARD = """
DROP TRIGGER IF EXISTS repair_flow_auditevent_append_only ON repair_flow_auditevent;
DROP FUNCTION IF EXISTS repair_flow_auditevent_append_only();
"""


def guard(apps, schema_editor):
    # PostgreSQL only: on SQLite, Django's test flush empties tables with
    # DELETE, which a trigger would refuse (the chain and anchors still check).
    if schema_editor.connection.vendor == "postgresql":
        # A cursor without parameters: the function's body holds a literal %.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(_PG_GUARD)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(_PG_UNGUARD)


class Migration(migrations.Migration):

    dependencies = [
        ('repair_flow', '0005_access_register_searches_and_client_ids'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditevent',
            name='payload_digest',
            field=models.CharField(default='', max_length=64),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='summary',
            field=models.JSONField(default=dict, null=True),
        ),
        migrations.RunPython(reseal, migrations.RunPython.noop),
        migrations.RunPython(guard, unguard),
    ]
