"""anymail's tracking webhooks arrive as its `tracking` signal; this adapts
them to the outbox service (no rules here)."""

from anymail.signals import tracking
from django.dispatch import receiver

from letters.outbox import message_track


@receiver(tracking, dispatch_uid="letters.outbox.tracking")
def on_tracking(sender, event, esp_name, **kwargs):
    message_track(
        esp_message_id=event.message_id or "",
        event_type=event.event_type or "unknown",
        event_id=event.event_id or "",
        at=event.timestamp,
        description=event.description or event.reject_reason or "",
    )
