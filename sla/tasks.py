from celery import shared_task


@shared_task(name="sla.sweep")
def sweep() -> str:
    """Periodic (Celery beat in the scale-out set-up; the embedded scheduler otherwise)."""
    from sla.sweep import clocks_sweep

    return str(clocks_sweep(actor="celery-beat"))
