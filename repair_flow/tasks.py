from celery import shared_task

from repair_flow.anchors import audit_anchor_write


@shared_task(name="repair_flow.anchor_audit")
def anchor_audit() -> str:
    """Periodic (repair_flow/jobs.py: Celery beat, or the embedded scheduler)."""
    return audit_anchor_write().message
