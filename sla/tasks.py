from celery import shared_task

from sla.sweep import clocks_sweep


@shared_task(name="sla.sweep")
def sweep() -> str:
    """Periodic (Celery beat in the scale-out set-up; the embedded scheduler otherwise)."""
    return str(clocks_sweep(actor="celery-beat"))
