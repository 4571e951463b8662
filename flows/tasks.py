from celery import shared_task


@shared_task(name="flows.lapse_due")
def lapse_due() -> str:
    """Periodic: close the repair cases whose supplement window has ended."""
    from django.utils import timezone

    from flows.cases.review import cases_lapse_due

    return f"{cases_lapse_due(now=timezone.now())} repair cases lapsed"


@shared_task(name="flows.monitor_commitments")
def monitor_commitments() -> str:
    """Periodic: the post-repair monitoring sweep (flows/monitoring.py)."""
    from flows.monitoring.services import monitoring_sweep

    return str(monitoring_sweep(actor="scheduler"))
