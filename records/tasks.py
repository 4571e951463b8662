from celery import shared_task
from django.utils import timezone

from records.services import records_expire_due


@shared_task(name="records.expire_due")
def expire_due() -> int:
    """Periodic (repair_flow/jobs.py: Celery beat, or the embedded scheduler)."""
    return records_expire_due(actor="scheduler", today=timezone.localdate())
