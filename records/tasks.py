from celery import shared_task
from django.utils import timezone

from records.services import records_expire_due


@shared_task(name="records.expire_due")
def expire_due() -> int:
    """Periodic (Celery beat in the scale-out set-up; the embedded scheduler otherwise)."""
    return records_expire_due(actor="celery-beat", today=timezone.localdate())
