"""The periodic jobs, declared once.

Celery beat's schedule (settings.CELERY_BEAT_SCHEDULE, the scale-out set-up)
and the embedded scheduler of `manage.py serve` (repair_flow/scheduler.py) are
both built from JOBS, so they run the same tasks at the same intervals. Each
job is a Celery task named here by its registered name; the task is
idempotent and claims its rows with conditional UPDATEs, so a second runner
does no harm. Plain data: settings imports this module, so it imports no app.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    name: str  # the beat schedule's key
    task: str  # the Celery task's registered name
    every_seconds: int


JOBS: tuple[Job, ...] = (
    # Publicity periods end on a date: every five minutes is soon enough.
    Job("records-expire-due", "records.expire_due", 300),
    Job("sla-sweep", "sla.sweep", 60),
    # 两书同送: notices an import marked due that no worker issued after
    # commit (no worker running, or a crash between the two); before the
    # letters sweep, which then renders and sends what it issued.
    Job("letters-repair-info-due", "letters.repair_info_issue_due", 60),
    Job("letters-sweep", "letters.sweep", 60),
    Job("flows-lapse-due", "flows.lapse_due", 60),
    # Daily in name: hourly, so a window is completed within the hour it ends.
    Job("flows-monitor-commitments", "flows.monitor_commitments", 3600),
    # Reminders two days ahead: hourly is soon enough, and each is sent once.
    Job("flows-notify-deadlines", "flows.notify_deadlines", 3600),
    # The audit chain's daily anchor: hourly, and the first run of each day
    # writes it (a restarted scheduler never skips a day).
    Job("audit-anchor", "repair_flow.anchor_audit", 3600),
    # Retention periods are counted in days: hourly is soon enough, and what
    # one run destroyed is not due for the next.
    Job("retention-destroy-expired", "retention.destroy_expired", 3600),
    # Export jobs whose worker was lost are re-queued after ten minutes, and
    # files are kept for hours: every five minutes is soon enough.
    Job("exports-sweep", "repair_flow.exports_sweep", 300),
)


def beat_schedule(jobs: tuple[Job, ...] = JOBS) -> dict[str, dict]:
    """CELERY_BEAT_SCHEDULE for `jobs`."""
    return {job.name: {"task": job.task, "schedule": float(job.every_seconds)} for job in jobs}
