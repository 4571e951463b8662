"""The retention job (declared with the others in repair_flow/jobs.py)."""

from celery import shared_task

from retention.services import expired_destroy


@shared_task(name="retention.destroy_expired")
def destroy_expired() -> str:
    """Periodic: destroy what the retention rules say is due, and register it."""
    run = expired_destroy(trigger="scheduler")
    return f"destruction run #{run.pk}: {run.counts}"
