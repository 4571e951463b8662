from celery import shared_task


@shared_task(name="flows.lapse_due")
def lapse_due() -> str:
    """Periodic: close the repair cases whose supplement window has ended."""
    from django.utils import timezone

    from flows.services import cases_lapse_due

    return f"{cases_lapse_due(now=timezone.now())} repair cases lapsed"
