from celery import shared_task

from repair_flow.anchors import audit_anchor_write
from repair_flow.exports import exports_sweep as exports_sweep_run


@shared_task(name="repair_flow.anchor_audit")
def anchor_audit() -> str:
    """Periodic (repair_flow/jobs.py: Celery beat, or the embedded scheduler)."""
    return audit_anchor_write().message


@shared_task(name="repair_flow.exports_sweep")
def exports_sweep() -> str:
    """Periodic (repair_flow/jobs.py): lost export jobs re-queued, expired files deleted."""
    return str(exports_sweep_run())
