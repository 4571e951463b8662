from celery import shared_task

from sla.sweep import clocks_sweep


@shared_task(name="sla.sweep")
def sweep() -> str:
    """Periodic (repair_flow/jobs.py: Celery beat, or the embedded scheduler)."""
    return str(clocks_sweep(actor="scheduler"))
