"""The destroy_expired job: what is due under each retention rule, and its
destruction (issue 17, finding 14; PIPL Art. 47).

Deleted: materials (rows and files) and access register entries.
Anonymised in place, so the rows that hold them through protected links
(cases, clocks, sync events, letters, the audit chain) keep working and the
law's own traces stay:
- records at the end of their disclosure (Shandong Social Credit Regulation
  Art. 38): subject link, facts, fine, penalty types and the objection note
  blanked, the decision number replaced by its digest (a re-import of the
  same decision is recognised), status "destroyed"; hidden from every query
  (records.models.LiveRecordManager). Their sync event payloads,
  corrections' and decision changes' diffs go with them. A record with a
  case or monitoring still running waits for it.
- case files (repair and objection cases): the applicant's text, the
  decision's reasons, attestations, supplement items, breach-review
  statements, commitment signatures, the workflow's data;
- letters of a case, and credit-repair notices that have no case (the PDF
  removed, the frozen facts and the messages that carried them emptied, the
  subject link cleared when the subject goes; the number, hash and code
  stay, so the series has no gap and a verification says the letter
  existed);
- audit events (the payload destroyed, the digest and link kept, so the
  chain still verifies);
- subjects with nothing left (every record destroyed, every case file and
  letter anonymised) and no account bound: deleted, or anonymised in place
  when a case file or the access register still points at them.

Every destroyed item gets a register row naming its type and id, never its
content. Files are removed after the commit; the names to remove are written
in the same transaction (PendingFileDeletion), so a crash between the commit
and the removal leaves the list, and the next run removes them.
"""

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import (
    BigIntegerField,
    Exists,
    OuterRef,
    ProtectedError,
    Q,
)
from django.db.models.functions import Cast
from django.utils import timezone
from viewflow.workflow.models import Process, Task

from flows.models import (
    CLOSED_STATUSES,
    BreachReview,
    CaseEvent,
    CaseMaterial,
    CaseStatus,
    MonitoringStatus,
    MonitoringWindow,
    ObjectionCase,
    ObjectionProcess,
    RepairCase,
    RepairProcess,
    SupplementRequest,
)
from letters.models import (
    Commitment,
    DeliveryEvent,
    Letter,
    LetterKind,
    MessageStatus,
    OutboundMessage,
)
from letters.preview import letter_preview_names
from records.models import (
    CreditRecord,
    DecisionChange,
    RecordCorrection,
    RecordStatus,
    Subject,
    SubjectBinding,
    SyncEvent,
    destroyed_decision_number,
)
from repair_flow.audit import audit_payloads_blank, audit_record
from repair_flow.encryption import blind_index
from repair_flow.models import AccessLogEntry, AuditEvent
from retention.models import (
    DataKind,
    DestructionAction,
    DestructionEntry,
    DestructionRun,
    PendingFileDeletion,
    RetentionRule,
)
from sla.models import SlaClock

log = logging.getLogger(__name__)

MATERIAL_FILE = "flows.CaseMaterial.file"
LETTER_FILE = "letters.Letter.file"


@dataclass(frozen=True)
class DueItem:
    rule: RetentionRule
    object_type: str
    object_id: int
    action: str
    # (field label "app.Model.field", stored name) of each file to remove.
    files: tuple[tuple[str, str], ...] = ()


@dataclass
class Plan:
    items: list[DueItem] = field(default_factory=list)
    # Due but held by something still running: kind -> how many.
    held: dict[str, int] = field(default_factory=dict)
    # Due beyond this run's share (RETENTION_MAX_PER_RUN): kind -> how many.
    left: dict[str, int] = field(default_factory=dict)
    # Files an earlier run destroyed the rows of but could not remove yet.
    pending_files: int = 0

    def counts(self) -> dict[str, int]:
        return dict(Counter(item.rule.kind for item in self.items))

    def ids(self, kind: str, object_type: str | None = None) -> list[int]:
        return [
            item.object_id
            for item in self.items
            if item.rule.kind == kind and (object_type is None or item.object_type == object_type)
        ]


def end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after `day` in the platform's time zone."""
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def registered(model) -> "Q":
    """Rows of `model` the register says were destroyed already (the register
    is the one record of it for rows that keep no mark of their own)."""
    ids = (
        DestructionEntry.objects.filter(object_type=model._meta.label)
        .annotate(pk_int=Cast("object_id", BigIntegerField()))
        .values("pk_int")
    )
    return Q(id__in=ids)


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


def file_of(label: str, row) -> tuple[tuple[str, str], ...]:
    return ((label, row.file.name),) if row.file else ()


def materials_due(rule: RetentionRule, before: dt.datetime) -> list[DueItem]:
    # Evidence of a breach review stays with the review (its links protect
    # it): breach reviews are not deleted by this job.
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
            file_of(MATERIAL_FILE, row),
        )
        for row in rows.only("id", "file")
    ]


def not_anonymised_letters():
    return Letter.objects.exclude(file="", facts={})


def letter_items(rule: RetentionRule, rows) -> list[DueItem]:
    return [
        DueItem(
            rule,
            Letter._meta.label,
            row.id,
            DestructionAction.ANONYMISED,
            letter_files(row),
        )
        for row in rows.order_by("id").only("id", "file", "sha256", "pages")
    ]


def letter_files(letter: Letter) -> tuple[tuple[str, str], ...]:
    """A letter's PDF and the page images made from it (copies of its
    content, letters/preview.py): all go when the letter is anonymised."""
    if not letter.file:
        return ()
    storage = letter.file.storage
    images = [name for name in letter_preview_names(letter) if storage.exists(name)]
    return tuple((LETTER_FILE, name) for name in (letter.file.name, *images))


def letters_due(rule: RetentionRule, before: dt.datetime) -> list[DueItem]:
    # A letter is part of its case's file: counted from the case's closing.
    # Letters with no case have their own rule (repair_notices_due).
    types = ContentType.objects.get_for_models(RepairCase, ObjectionCase)
    of_closed_case = Q(
        case_type=types[RepairCase], case_id__in=closed_cases(RepairCase, before)
    ) | Q(case_type=types[ObjectionCase], case_id__in=closed_cases(ObjectionCase, before))
    return letter_items(rule, not_anonymised_letters().filter(of_closed_case))


def repair_notices_due(rule: RetentionRule, before: dt.datetime) -> list[DueItem]:
    # The credit-repair notice sent with a penalty, before any case: it
    # tells of the record, so it is counted from the record's disclosure end
    # (the end date is the last day shown: due the day after).
    last_shown = timezone.localtime(before).date() - dt.timedelta(days=1)
    rows = not_anonymised_letters().filter(
        kind=LetterKind.REPAIR_INFO,
        case_type__isnull=True,
        record__in=CreditRecord.all_objects.filter(publicity_ends_on__lt=last_shown).values("id"),
    )
    return letter_items(rule, rows)


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


def records_running():
    """Records a case or a monitoring window still works on: they wait for
    it (a decision cannot be made on a record that is gone)."""
    open_repair = RepairCase.objects.exclude(status__in=CLOSED_STATUSES).values("record")
    open_objection = ObjectionCase.objects.exclude(status__in=CLOSED_STATUSES).values("record")
    monitored = MonitoringWindow.objects.filter(status=MonitoringStatus.OPEN).values("case__record")
    return Q(id__in=open_repair) | Q(id__in=open_objection) | Q(id__in=monitored)


def records_due(rule: RetentionRule, before: dt.datetime, plan: Plan) -> list[DueItem]:
    # Shandong Social Credit Regulation Art. 38: deleted when the disclosure
    # period ends; the end date is the last day shown, so due the day after.
    last_shown = timezone.localtime(before).date() - dt.timedelta(days=1)
    due = CreditRecord.all_objects.exclude(status=RecordStatus.DESTROYED).filter(
        publicity_ends_on__lt=last_shown
    )
    held = due.filter(records_running()).count()
    if held:
        plan.held[rule.kind] = held
    ids = due.exclude(records_running()).order_by("id").values_list("id", flat=True)
    return [DueItem(rule, CreditRecord._meta.label, pk, DestructionAction.ANONYMISED) for pk in ids]


def case_files_due(rule: RetentionRule, before: dt.datetime, plan: Plan) -> list[DueItem]:
    items = []
    for model in (RepairCase, ObjectionCase):
        ids = (
            model.objects.filter(id__in=closed_cases(model, before))
            .exclude(registered(model))
            .order_by("id")
            .values_list("id", flat=True)
        )
        items += [DueItem(rule, model._meta.label, pk, DestructionAction.ANONYMISED) for pk in ids]
    return items


def subjects_due(rule: RetentionRule, plan: Plan) -> list[DueItem]:
    """Subjects with nothing left once this run is done, and no account
    bound to them (an account's subject stays: its owner still signs in)."""
    records_gone = set(plan.ids(DataKind.RECORD))
    letters_gone = set(plan.ids(DataKind.LETTER)) | set(plan.ids(DataKind.REPAIR_NOTICE))
    repairs_gone = set(plan.ids(DataKind.CASE_FILE, RepairCase._meta.label))
    objections_gone = set(plan.ids(DataKind.CASE_FILE, ObjectionCase._meta.label))
    live_records = (
        CreditRecord.all_objects.exclude(status=RecordStatus.DESTROYED)
        .exclude(id__in=records_gone)
        .values("subject")
    )
    # Only subjects that had data destroyed: a subject is never destroyed
    # merely for having nothing yet. A destroyed record keeps no subject, so
    # a subject is found through this run's records, or through its
    # anonymised case files and letters (they keep the link until the
    # subject itself goes). A subject whose records all went while it was
    # bound to an account, and that has no case or letter, is not found
    # again after it is unbound.
    had_data = (
        Q(id__in=CreditRecord.all_objects.filter(id__in=records_gone).values("subject"))
        | Q(id__in=Letter.objects.filter(file="", facts={}).values("subject"))
        | Q(id__in=RepairCase.objects.filter(registered(RepairCase)).values("subject"))
        | Q(id__in=ObjectionCase.objects.filter(registered(ObjectionCase)).values("subject"))
    )
    ids = (
        Subject.objects.filter(had_data)
        .exclude(Exists(SubjectBinding.objects.filter(subject=OuterRef("pk"))))
        .exclude(registered(Subject))
        .exclude(id__in=live_records)
        .exclude(
            id__in=RepairCase.objects.exclude(registered(RepairCase))
            .exclude(id__in=repairs_gone)
            .values("subject")
        )
        .exclude(
            id__in=ObjectionCase.objects.exclude(registered(ObjectionCase))
            .exclude(id__in=objections_gone)
            .values("subject")
        )
        .exclude(id__in=not_anonymised_letters().exclude(id__in=letters_gone).values("subject"))
        .order_by("id")
        .values_list("id", flat=True)
    )
    return [DueItem(rule, Subject._meta.label, pk, DestructionAction.DELETED) for pk in ids]


# Each kind's "what is due" (the subjects' rule runs last: it looks at what
# the others destroy in the same run).
DESTROYERS = {
    DataKind.MATERIAL: materials_due,
    DataKind.LETTER: letters_due,
    DataKind.REPAIR_NOTICE: repair_notices_due,
    DataKind.ACCESS_REGISTER: access_entries_due,
    DataKind.AUDIT_PAYLOAD: audit_payloads_due,
}
PLANNED = {
    DataKind.RECORD: records_due,
    DataKind.CASE_FILE: case_files_due,
}


def destruction_plan(*, today: dt.date) -> Plan:
    """Everything due on `today` (the platform's local date) under the rules."""
    plan = Plan(pending_files=PendingFileDeletion.objects.count())
    share = settings.RETENTION_MAX_PER_RUN

    def add(kind: str, items: list[DueItem]) -> None:
        if len(items) > share:
            plan.left[kind] = len(items) - share
        plan.items.extend(items[:share])

    rules = {rule.kind: rule for rule in RetentionRule.objects.all()}
    for kind, rule in rules.items():
        before = end_of_day(rule.cutoff(today))
        if destroyer := DESTROYERS.get(kind):
            add(kind, destroyer(rule, before))
        elif planner := PLANNED.get(kind):
            add(kind, planner(rule, before, plan))
    if rule := rules.get(DataKind.SUBJECT):
        add(DataKind.SUBJECT, subjects_due(rule, plan))
    return plan


def records_anonymise(ids: list[int]) -> None:
    """Shandong Social Credit Regulation Art. 38: the record's content and
    whose it was go; the row stays (cases and letters point at it) with its
    department, dates and the digest of its number."""
    if not ids:
        return
    rows = list(
        CreditRecord.all_objects.filter(id__in=ids).only("id", "department_id", "decision_number")
    )
    for record in rows:
        record.decision_number = destroyed_decision_number(
            record.department_id, record.decision_number
        )
    # Only the digest differs per row: one CASE over it, one plain UPDATE
    # for the rest (a CASE per field made 2,000 records take 15 s).
    CreditRecord.all_objects.bulk_update(rows, ["decision_number"], batch_size=500)
    CreditRecord.all_objects.filter(id__in=ids).update(
        subject=None,
        facts="",
        fine_amount=None,
        penalty_types=[],
        objection_note="",
        status=RecordStatus.DESTROYED,
        updated_at=timezone.now(),
    )
    # What told other platforms of it, and the record's history, name it.
    SyncEvent.objects.filter(record_id__in=ids).update(payload={})
    RecordCorrection.objects.filter(record_id__in=ids).update(changes=[], evidence="")
    changes = DecisionChange.objects.filter(record_id__in=ids)
    SlaClock.objects.filter(
        case_type=ContentType.objects.get_for_model(DecisionChange),
        case_id__in=changes.values("id"),
    ).update(case_label="")
    changes.update(changes=[], note="")


def case_files_anonymise(model, ids: list[int]) -> None:
    """A case file past its period: what the applicant wrote and what was
    decided about them goes; the case's number, dates and statuses stay
    (the SLA board, the number series and the audit chain refer to them)."""
    if not ids:
        return
    model.objects.filter(id__in=ids).update(details="", decision_reasons=[], decision_basis="")
    link = "case" if model is RepairCase else "objection"
    if model is ObjectionCase:
        model.objects.filter(id__in=ids).update(
            attested_name="", attested_ip=None, changes=[], evidence=""
        )
    CaseEvent.objects.filter(**{f"{link}_id__in": ids}).update(comment="")
    SupplementRequest.objects.filter(**{f"{link}_id__in": ids}).update(items=[], override_reason="")
    if model is RepairCase:
        BreachReview.objects.filter(case_id__in=ids).update(
            statement="", reasons=[], notice_facts="", representation="", answer=""
        )
    Commitment.objects.filter(
        case_type=ContentType.objects.get_for_model(model), case_id__in=ids
    ).update(signer_name="", signed_ip=None, signed_user_agent="")
    process = RepairProcess if model is RepairCase else ObjectionProcess
    processes = process.objects.filter(case_id__in=ids).values("pk")
    Process.objects.filter(pk__in=processes).update(data={})
    Task.objects.filter(process__in=processes).update(data={})


def letters_anonymise(ids: list[int]) -> None:
    """The PDF and frozen facts go, and the messages that carried the letter
    (the address it went to, its text); a message still waiting is never
    sent empty: it is failed."""
    Letter.objects.filter(id__in=ids).update(file="", facts={})
    messages = OutboundMessage.objects.filter(letter_id__in=ids)
    messages.filter(status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]).update(
        status=MessageStatus.FAILED
    )
    messages.update(to="", subject="", body="", last_error="")
    DeliveryEvent.objects.filter(message__in=messages.values("id")).update(description="")


def subjects_still_referenced(ids: list[int]) -> set[int]:
    """Those of these subjects a protected link still points at (an
    anonymised case file, the access register kept its own period): one
    query per kind of link, not a delete attempt per subject."""
    held: set[int] = set()
    for relation in Subject._meta.related_objects:
        if relation.on_delete not in (models.PROTECT, models.RESTRICT):
            continue
        name = relation.field.name
        held.update(
            relation.related_model._base_manager.filter(**{f"{name}__in": ids})
            .values_list(name, flat=True)
            .distinct()
        )
    return held


def subjects_destroy(ids: list[int]) -> dict[int, str]:
    """Delete these subjects, or anonymise those a protected link still
    points at. Returns what was done to each."""
    if not ids:
        return {}
    # Their letters are all anonymised already (subjects_due): the link goes.
    Letter.objects.filter(subject_id__in=ids).update(subject=None)
    held = subjects_still_referenced(ids)
    free = [pk for pk in ids if pk not in held]
    try:
        with transaction.atomic():
            Subject.objects.filter(id__in=free).delete()
    except ProtectedError:
        # A link written since the check above (a new row in the same
        # second): anonymise them all instead, the next run changes nothing.
        held.update(free)
        free = []
    # The identifier is unique: a placeholder that is no resident ID or
    # USCC, so no search finds it. Row by row: the placeholder is encrypted
    # and its blind index written with it (the old index would still find
    # the subject by its old identifier).
    for pk in sorted(held):
        placeholder = f"DESTROYED-{pk}"
        Subject.objects.filter(pk=pk).update(
            identifier=placeholder,
            identifier_index=blind_index(placeholder),
            name="",
            legal_representative="",
            contact_email="",
            contact_phone="",
        )
    anonymised, deleted = DestructionAction.ANONYMISED, DestructionAction.DELETED
    return {pk: anonymised if pk in held else deleted for pk in ids}


def pending_files_remove() -> int:
    """Remove the files the register's runs destroyed the rows of. Run after
    the destruction commits, and at the start of every run for what a crash
    or a storage error left; removing a file already gone is no error
    (Django's storages ignore a missing name), so it is idempotent."""
    removed = 0
    for pending in PendingFileDeletion.objects.order_by("id"):
        app_model, field_name = pending.field.rsplit(".", 1)
        storage = apps.get_model(app_model)._meta.get_field(field_name).storage
        try:
            storage.delete(pending.name)
        except Exception as error:  # kept for the next run, which retries it
            log.warning("retention: file %s #%s not removed: %r", pending.field, pending.pk, error)
            PendingFileDeletion.objects.filter(pk=pending.pk).update(
                attempts=pending.attempts + 1, last_error=repr(error)[:300]
            )
            continue
        PendingFileDeletion.objects.filter(pk=pending.pk).delete()
        removed += 1
    return removed


def expired_destroy(*, trigger: str, today: dt.date | None = None) -> DestructionRun:
    """Destroy what is due and register it. Idempotent: what was destroyed is
    no longer due, so a second run (or a second scheduler) finds nothing."""
    today = today or timezone.localdate()
    now = timezone.now()
    # What an earlier run could not remove (a crash after its commit).
    leftovers = pending_files_remove()
    with transaction.atomic():
        plan = destruction_plan(today=today)
        run = DestructionRun.objects.create(started_at=now, trigger=trigger, counts={})
        if ids := plan.ids(DataKind.MATERIAL):
            CaseMaterial.objects.filter(id__in=ids).delete()
        if ids := plan.ids(DataKind.LETTER) + plan.ids(DataKind.REPAIR_NOTICE):
            letters_anonymise(ids)
        if ids := plan.ids(DataKind.ACCESS_REGISTER):
            AccessLogEntry.objects.filter(id__in=ids).delete()
        if ids := plan.ids(DataKind.AUDIT_PAYLOAD):
            audit_payloads_blank(event_ids=ids)
        records_anonymise(plan.ids(DataKind.RECORD))
        for model in (RepairCase, ObjectionCase):
            case_files_anonymise(model, plan.ids(DataKind.CASE_FILE, model._meta.label))
        subjects = subjects_destroy(plan.ids(DataKind.SUBJECT))
        items = [
            DueItem(item.rule, item.object_type, item.object_id, subjects[item.object_id])
            if item.rule.kind == DataKind.SUBJECT
            else item
            for item in plan.items
        ]
        run.counts = {
            "destroyed": plan.counts(),
            "held": plan.held,
            "left_for_next_run": plan.left,
            "files_left_by_earlier_runs": leftovers,
        }
        run.save(update_fields=["counts"])
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
                for item in items
            ],
            batch_size=1000,
        )
        # In the same transaction: a crash after the commit leaves this list.
        PendingFileDeletion.objects.bulk_create(
            [
                PendingFileDeletion(field=label, name=name, run=run)
                for item in items
                for label, name in item.files
            ],
            batch_size=1000,
        )
        if items:
            audit_record(
                actor=trigger,
                action="retention.destroyed",
                object_type=DestructionRun._meta.label,
                object_id=run.pk,
                summary=run.counts,
            )
        # After the commit: a rolled-back run keeps its files.
        transaction.on_commit(pending_files_remove)
    return run
