"""The flows' periodic tasks (declared with the others in repair_flow/jobs.py)."""

from celery import shared_task
from django.utils import timezone

from flows.cases.review import cases_lapse_due
from flows.monitoring.services import monitoring_sweep
from flows.notify import applicant_deadlines_notify


@shared_task(name="flows.lapse_due")
def lapse_due() -> str:
    """Periodic: close the cases whose supplement window has ended."""
    return f"{cases_lapse_due(now=timezone.now())} repair cases lapsed"


@shared_task(name="flows.monitor_commitments")
def monitor_commitments() -> str:
    """Periodic: the post-repair monitoring sweep (flows/monitoring/services.py)."""
    return str(monitoring_sweep(actor="scheduler"))


@shared_task(name="flows.notify_deadlines")
def notify_deadlines() -> str:
    """Periodic: remind applicants of their deadlines ending soon (flows/notify.py)."""
    return f"{applicant_deadlines_notify()} deadline reminders"
