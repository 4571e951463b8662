"""The destroy_expired job: what is due under each retention rule, and its
destruction (issue 17, finding 14; PIPL Art. 47).

Deleted: materials (rows and files) and access register entries.
Anonymised: letters (the PDF removed, the frozen facts emptied; the number,
hash and verification code stay, so the number series has no gap and a
verification says the letter existed) and audit events (the payload
destroyed, the digest and link kept, so the chain still verifies).
Counted, not yet destroyed (they are held by cases, SLA clocks, sync events
and letters through protected links): records and case files; the dry run
and the run's counts show how many are due.

Every destroyed item gets a register row naming its type and id, never its
content. Files are removed after the rows' transaction commits, so a
failure never leaves a row whose file is gone.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from flows.models import BreachReview, CaseMaterial, CaseStatus, ObjectionCase, RepairCase
from letters.models import Letter
from letters.preview import letter_preview_names
from records.models import CreditRecord
from repair_flow.audit import audit_payloads_blank, audit_record
from repair_flow.models import AccessLogEntry, AuditEvent
from retention.models import (
    DataKind,
    DestructionAction,
    DestructionEntry,
    DestructionRun,
    RetentionRule,
)


@dataclass(frozen=True)
class DueItem:
    rule: RetentionRule
    object_type: str
    object_id: int
    action: str
    files: tuple[str, ...] = ()


@dataclass
class Plan:
    items: list[DueItem] = field(default_factory=list)
    # Kinds due but not destroyed by this job yet: kind -> how many.
    not_destroyed: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return dict(Counter(item.rule.kind for item in self.items))


def end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after `day` in the platform's time zone."""
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def closed_cases(model, before: dt.datetime):
    """The ids of the cases of `model` that ended before `before`."""
    ended = Q(closed_at__lt=before)
    if model is RepairCase:
        # A repair granted ends with its monitoring (completed, or revoked
        # for a breach): the case itself keeps no closing time then.
        ended |= Q(
            closed_at__isnull=True,
            status__in=[CaseStatus.COMPLETED, CaseStatus.REVOKED],
            monitoring__closed_at__lt=before,
        )
    return model.objects.filter(ended).values("id")


def materials_due(rule: RetentionRule, before: dt.datetime) -> list[DueItem]:
    # Evidence of a breach review stays with the review (its links protect
    # it): breach reviews are not destroyed by this job yet.
    evidence = BreachReview.objects.filter(evidence__isnull=False).values("evidence")
    statements = BreachReview.objects.filter(representation_evidence__isnull=False).values(
        "representation_evidence"
    )
    rows = (
        CaseMaterial.objects.filter(
            Q(case__in=closed_cases(RepairCase, before))
            | Q(objection__in=closed_cases(ObjectionCase, before))
        )
        .exclude(id__in=evidence)
        .exclude(id__in=statements)
        .order_by("id")
    )
    return [
        DueItem(
            rule,
            CaseMaterial._meta.label,
            row.id,
            DestructionAction.DELETED,
            (row.file.name,) if row.file else (),
        )
        for row in rows.only("id", "file")
    ]


def letters_due(rule: RetentionRule, before: dt.datetime) -> list[DueItem]:
    # A letter is part of its case's file: counted from the case's closing.
    # Letters with no case (the credit-repair notice sent with a penalty)
    # have no closing day and are not destroyed under this rule.
    types = ContentType.objects.get_for_models(RepairCase, ObjectionCase)
    of_closed_case = Q(
        case_type=types[RepairCase], case_id__in=closed_cases(RepairCase, before)
    ) | Q(case_type=types[ObjectionCase], case_id__in=closed_cases(ObjectionCase, before))
    rows = (
        Letter.objects.filter(of_closed_case)
        .exclude(file="", facts={})  # already anonymised
        .order_by("id")
        .only("id", "file", "sha256", "pages")
    )
    return [
        DueItem(
            rule,
            Letter._meta.label,
            row.id,
            DestructionAction.ANONYMISED,
            letter_files(row),
        )
        for row in rows
    ]


def letter_files(letter: Letter) -> tuple[str, ...]:
    """A letter's PDF and the page images made from it (copies of its
    content, letters/preview.py): all go when the letter is anonymised."""
    if not letter.file:
        return ()
    storage = letter.file.storage
    images = [name for name in letter_preview_names(letter) if storage.exists(name)]
    return (letter.file.name, *images)


def access_entries_due(rule: RetentionRule, before: dt.datetime) -> list[DueItem]:
    ids = AccessLogEntry.objects.filter(at__lt=before).order_by("id").values_list("id", flat=True)
    return [DueItem(rule, AccessLogEntry._meta.label, pk, DestructionAction.DELETED) for pk in ids]


def audit_payloads_due(rule: RetentionRule, before: dt.datetime) -> list[DueItem]:
    ids = (
        AuditEvent.objects.filter(at__lt=before, summary__isnull=False)
        .order_by("seq")
        .values_list("id", flat=True)
    )
    return [DueItem(rule, AuditEvent._meta.label, pk, DestructionAction.ANONYMISED) for pk in ids]


DESTROYERS = {
    DataKind.MATERIAL: materials_due,
    DataKind.LETTER: letters_due,
    DataKind.ACCESS_REGISTER: access_entries_due,
    DataKind.AUDIT_PAYLOAD: audit_payloads_due,
}


def not_destroyed_count(rule: RetentionRule, cutoff: dt.date) -> int:
    if rule.kind == DataKind.RECORD:
        # The end date is the last day shown (Shandong Art. 38: deleted when
        # the disclosure period ends).
        return CreditRecord.objects.filter(publicity_ends_on__lt=cutoff).count()
    if rule.kind == DataKind.CASE_FILE:
        before = end_of_day(cutoff)
        return (
            closed_cases(RepairCase, before).count() + closed_cases(ObjectionCase, before).count()
        )
    return 0


def destruction_plan(*, today: dt.date) -> Plan:
    """Everything due on `today` (the platform's local date) under the rules."""
    plan = Plan()
    for rule in RetentionRule.objects.all():
        cutoff = rule.cutoff(today)
        destroyer = DESTROYERS.get(rule.kind)
        if destroyer is None:
            count = not_destroyed_count(rule, cutoff)
            if count:
                plan.not_destroyed[rule.kind] = count
            continue
        plan.items.extend(destroyer(rule, end_of_day(cutoff)))
    return plan


def expired_destroy(*, trigger: str, today: dt.date | None = None) -> DestructionRun:
    """Destroy what is due and register it. Idempotent: what was destroyed is
    no longer due, so a second run (or a second scheduler) finds nothing."""
    today = today or timezone.localdate()
    now = timezone.now()
    with transaction.atomic():
        plan = destruction_plan(today=today)
        run = DestructionRun.objects.create(
            started_at=now,
            trigger=trigger,
            counts={"destroyed": plan.counts(), "not_destroyed": plan.not_destroyed},
        )
        by_kind: dict[str, list[int]] = {}
        for item in plan.items:
            by_kind.setdefault(item.rule.kind, []).append(item.object_id)
        if ids := by_kind.get(DataKind.MATERIAL):
            CaseMaterial.objects.filter(id__in=ids).delete()
        if ids := by_kind.get(DataKind.LETTER):
            Letter.objects.filter(id__in=ids).update(file="", facts={})
        if ids := by_kind.get(DataKind.ACCESS_REGISTER):
            AccessLogEntry.objects.filter(id__in=ids).delete()
        if ids := by_kind.get(DataKind.AUDIT_PAYLOAD):
            audit_payloads_blank(event_ids=ids)
        DestructionEntry.objects.bulk_create(
            [
                DestructionEntry(
                    run=run,
                    rule=item.rule,
                    at=now,
                    object_type=item.object_type,
                    object_id=str(item.object_id),
                    action=item.action,
                    files_removed=len(item.files),
                )
                for item in plan.items
            ],
            batch_size=1000,
        )
        if plan.items:
            audit_record(
                actor=trigger,
                action="retention.destroyed",
                object_type=DestructionRun._meta.label,
                object_id=run.pk,
                summary=run.counts,
            )
    # After the commit: a rolled-back run keeps its files.
    for item in plan.items:
        for name in item.files:
            default_storage.delete(name)
    return run
