"""The periodic jobs are declared once (repair_flow/jobs.py): Celery beat and
the embedded scheduler run the same tasks at the same intervals."""

from django.conf import settings

from repair_flow import scheduler
from repair_flow.celery import task_named


def test_the_scheduler_and_celery_beat_run_the_same_jobs():
    beat = {
        (name, entry["task"], entry["schedule"])
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    }
    embedded = {(job.name, job.task, float(job.every_seconds)) for job in scheduler.JOBS}
    assert beat == embedded
    assert len(beat) == len(scheduler.JOBS) == 10


def test_every_job_names_a_registered_task():
    for job in scheduler.JOBS:
        assert task_named(job.task).name == job.task


def test_a_due_job_runs_its_task_and_a_failing_one_does_not_stop_the_others(db, monkeypatch):
    ran = []

    def fake_task(name):
        def run():
            ran.append(name)
            if name == "sla.sweep":
                raise RuntimeError("boom")
            return "done"

        return run

    monkeypatch.setattr(scheduler, "task_named", fake_task)
    last_run: dict[str, float] = {}
    scheduler.run_due_jobs(last_run, now=10_000.0)
    assert ran == [job.task for job in scheduler.JOBS]
    ran.clear()
    scheduler.run_due_jobs(last_run, now=10_000.0 + 60)
    assert ran == [
        "sla.sweep",
        "letters.repair_info_issue_due",
        "letters.sweep",
        "flows.lapse_due",
    ]
    ran.clear()
    scheduler.run_due_jobs(last_run, now=10_000.0 + 300)
    assert "records.expire_due" in ran and "flows.monitor_commitments" not in ran
