"""Exports too large to stream in a request: a job, a file in storage, a sweep.

    export_job_request(*, kind, title, parameters, requested_by, ...) -> ExportJob
    export_job_run(*, job_id, source)      the writer, called by the kind's task
    export_job_get_for_user(*, user, pk, kind) -> ExportJob (404 unless theirs)
    export_job_download(*, job, user)      -> an open file, the download audited
    exports_recent_for_user(*, user, kind) -> their latest jobs of that kind
    exports_sweep(now=...)                 re-queues lost jobs, deletes expired files

A kind is the registered name of the Celery task that writes it (sla's
"sla.export_board"): this module enqueues it by name and never imports the
app above it. The task rebuilds the rows from the job's parameters and hands
`export_job_run` a source of (text, rows in it) chunks.

The file is written a chunk at a time to a temporary file, progress saved
after each chunk, then handed to the storage API (`default_storage`: the
local disk, or S3, which uploads it in parts): storage only ever holds a
whole file, and a job is marked done only after it is there. Every change of
state is a conditional UPDATE on the state (and, while running, the attempt
it belongs to), so a worker that lost its job to the sweep stops at its next
chunk and a second sweeper does nothing twice.
"""

import datetime as dt
import logging
import tempfile
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from repair_flow.audit import audit_record
from repair_flow.background import task_enqueue
from repair_flow.models import ExportJob, ExportState

log = logging.getLogger(__name__)

# A queued job no worker has started for this long was lost (a worker
# restarted with the queue in memory, a broker message dropped): put it on
# the queue again. The writer claims a job once, so a duplicate does nothing.
STUCK_QUEUED = dt.timedelta(minutes=10)
# A running job that reported no progress for this long lost its worker
# (a chunk takes seconds): written again from the start, up to MAX_ATTEMPTS.
STUCK_RUNNING = dt.timedelta(minutes=15)
MAX_ATTEMPTS = 3
RECENT = 10

Source = Callable[[ExportJob], tuple[int, Iterable[tuple[str | bytes, int]]]]


class ExportTakenOver(Exception):
    """The job is no longer this writer's (the sweep re-queued it)."""


def export_job_request(
    *,
    kind: str,
    title: str,
    parameters: dict,
    requested_by,
    download_name: str,
    language: str | None = None,
) -> ExportJob:
    """Ask for a file to be written in the background; its task is queued
    after commit."""
    now = timezone.now()
    with transaction.atomic():
        job = ExportJob.objects.create(
            kind=kind,
            title=title[:300],
            parameters=parameters,
            language=language or translation.get_language() or settings.LANGUAGE_CODE,
            requested_by=requested_by,
            download_name=download_name,
            created_at=now,
            queued_at=now,
        )
        audit_record(
            actor=requested_by,
            action="export.requested",
            object_type="export_job",
            object_id=job.pk,
            summary={"kind": kind, "parameters": parameters},
        )
        transaction.on_commit(lambda: task_enqueue(kind, job.pk))
    return job


def progress(job_id: int, attempt: int, **fields) -> None:
    """Save the writer's progress, or stop it if the job is no longer its own."""
    mine = ExportJob.objects.filter(pk=job_id, state=ExportState.RUNNING, attempts=attempt)
    if not mine.update(progress_at=timezone.now(), **fields):
        raise ExportTakenOver


def export_job_run(*, job_id: int, source: Source) -> str:
    """Write job `job_id`'s file from `source(job)` -> (rows in all, chunks).
    Claims the job first: a job already taken, done or expired is left alone."""
    now = timezone.now()
    claimed = ExportJob.objects.filter(pk=job_id, state=ExportState.QUEUED).update(
        state=ExportState.RUNNING,
        started_at=now,
        progress_at=now,
        attempts=F("attempts") + 1,
        rows_done=0,
        error="",
    )
    if not claimed:
        return f"export {job_id}: not queued"
    job = ExportJob.objects.get(pk=job_id)
    attempt = job.attempts
    name = ""
    try:
        with translation.override(job.language), tempfile.TemporaryFile() as tmp:
            total, chunks = source(job)
            progress(job.pk, attempt, rows_total=total)
            done = write_chunks(tmp, chunks, job.pk, attempt)
            tmp.seek(0)
            name = default_storage.save(f"exports/{job.pk}/{job.download_name}", File(tmp))
        finished = timezone.now()
        marked = ExportJob.objects.filter(
            pk=job.pk, state=ExportState.RUNNING, attempts=attempt
        ).update(
            state=ExportState.DONE,
            file=name,
            rows_done=done,
            rows_total=done,
            finished_at=finished,
            progress_at=finished,
            expires_at=finished + dt.timedelta(hours=settings.EXPORT_KEEP_HOURS),
        )
        if not marked:
            raise ExportTakenOver
    except ExportTakenOver:
        if name:
            default_storage.delete(name)
        return f"export {job_id}: taken over"
    except Exception as error:
        log.exception("export %s (%s) failed", job_id, job.kind)
        if name:
            default_storage.delete(name)
        with translation.override(job.language):
            message = _("生成文件时出错：%(error)s") % {"error": f"{type(error).__name__}: {error}"}
        ExportJob.objects.filter(pk=job.pk, state=ExportState.RUNNING, attempts=attempt).update(
            state=ExportState.FAILED, error=message[:2000], finished_at=timezone.now(), file=""
        )
        return f"export {job_id}: failed"
    return f"export {job_id}: {done} rows"


def write_chunks(out, chunks: Iterable[tuple[str | bytes, int]], job_id: int, attempt: int) -> int:
    done = 0
    for text, rows in chunks:
        out.write(text.encode() if isinstance(text, str) else text)
        if rows:
            done += rows
            progress(job_id, attempt, rows_done=done)
    return done


# --- reading ---------------------------------------------------------------------------------


def export_job_get_for_user(*, user, pk: int, kind: str) -> ExportJob:
    """The job `pk` if `user` asked for it; 404 for anyone else (an id is
    not a secret, and another person's export is not theirs to see)."""
    job = ExportJob.objects.filter(pk=pk, kind=kind, requested_by=user).first()
    if job is None:
        raise Http404
    return job


def exports_recent_for_user(*, user, kind: str, limit: int = RECENT) -> list[ExportJob]:
    return list(ExportJob.objects.filter(requested_by=user, kind=kind)[:limit])


def export_job_download(*, job: ExportJob, user) -> File:
    """The finished file, opened from storage, its download in the audit
    trail. 404 while it is not done (or after it expired)."""
    if job.state != ExportState.DONE or not job.file:
        raise Http404
    try:
        handle = default_storage.open(job.file, "rb")
    except FileNotFoundError as error:
        raise Http404 from error
    with transaction.atomic():
        audit_record(
            actor=user,
            action="export.downloaded",
            object_type="export_job",
            object_id=job.pk,
            summary={"kind": job.kind, "rows": job.rows_done},
        )
    return handle


# --- the sweep -------------------------------------------------------------------------------


def exports_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Periodic (repair_flow/jobs.py): re-queue jobs whose worker was lost,
    fail those lost too often, delete files past their expiry. Idempotent:
    each step claims its row with a conditional UPDATE."""
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0, "expired": 0}
    for job in ExportJob.objects.filter(
        state=ExportState.QUEUED, queued_at__lt=now - STUCK_QUEUED
    ).only("pk", "kind", "queued_at"):
        if ExportJob.objects.filter(
            pk=job.pk, state=ExportState.QUEUED, queued_at=job.queued_at
        ).update(queued_at=now):
            task_enqueue(job.kind, job.pk)
            counts["requeued"] += 1
    for job in ExportJob.objects.filter(
        state=ExportState.RUNNING, progress_at__lt=now - STUCK_RUNNING
    ).only("pk", "kind", "attempts", "language"):
        mine = ExportJob.objects.filter(pk=job.pk, state=ExportState.RUNNING, attempts=job.attempts)
        if job.attempts >= MAX_ATTEMPTS:
            with translation.override(job.language):
                message = _("生成文件的进程多次中断，已停止重试，请重新导出")
            counts["failed"] += mine.update(
                state=ExportState.FAILED, error=message, finished_at=now
            )
        elif mine.update(state=ExportState.QUEUED, queued_at=now):
            task_enqueue(job.kind, job.pk)
            counts["requeued"] += 1
    for job in ExportJob.objects.filter(state=ExportState.DONE, expires_at__lte=now).only(
        "pk", "file"
    ):
        # The file first: deleting it twice is harmless, a job marked expired
        # with its file left behind would keep it forever.
        if job.file:
            default_storage.delete(job.file)
        counts["expired"] += ExportJob.objects.filter(pk=job.pk, state=ExportState.DONE).update(
            state=ExportState.EXPIRED, file=""
        )
    return counts
