from celery import shared_task

from repair_flow.exports import export_job_run
from sla.exports import EXPORT_KIND, board_export_source
from sla.sweep import clocks_sweep


@shared_task(name="sla.sweep")
def sweep() -> str:
    """Periodic (repair_flow/jobs.py: Celery beat, or the embedded scheduler)."""
    return str(clocks_sweep(actor="scheduler"))


@shared_task(name=EXPORT_KIND)
def export_board(job_id: int) -> str:
    """An export of the board's list too large to stream (sla.exports),
    queued after commit by repair_flow.exports.export_job_request."""
    return export_job_run(job_id=job_id, source=board_export_source)
