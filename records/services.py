"""Writes to the registry of penalty records."""

import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from itertools import islice

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from records.hooks import records_saved_hooks_run
from records.identifiers import IdentifierError, validate_mobile
from records.ingest import RecordRow, RowError, ValidationContext, validate_row
from records.models import (
    BindingCapacity,
    CreditRecord,
    DecisionChange,
    DecisionChangeKind,
    Department,
    DepartmentMembership,
    RecordCorrection,
    RecordStatus,
    Subject,
    SubjectBinding,
    SubjectKind,
    SyncKind,
    destroyed_decision_number,
)
from records.selectors import issuing_department_id
from records.sync import sync_event_queue
from repair_flow.audit import AuditEntry, audit_record, audit_record_many
from repair_flow.models import Role
from sla.clocks import clock_start, clock_stop
from sla.models import Stage
from sla.office import office_hours

INGEST_BATCH_SIZE = 1000
# A concurrent writer may insert the same subject or record between our read
# and our insert; the batch is then rolled back and read again.
_INGEST_ATTEMPTS = 3
_SUBJECT_CACHE_LIMIT = 200_000
_RECORD_FIELDS = (
    "subject_id",
    "decision_date",
    "conduct_end_date",
    "penalty_types",
    "fine_amount",
    "severity",
    "facts",
    "publicity_starts_on",
    "publicity_ends_on",
)


@dataclass(frozen=True, slots=True)
class SavedRow:
    line: int
    record_id: int
    created: bool


@dataclass
class IngestResult:
    """What happened to each row: `saved` (created or updated, in row order) or
    `rejected` (one RowError per failed field; a row may have several).

    Counts are per row: a record created by one row and corrected by a later
    row of the same import counts once as created and once as updated; a row
    that matches a record without changing it counts as updated."""

    first_line: int | None = None
    last_line: int | None = None
    saved: list[SavedRow] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(1 for row in self.saved if row.created)

    @property
    def updated(self) -> int:
        return sum(1 for row in self.saved if not row.created)

    @property
    def rejected_lines(self) -> list[int]:
        return sorted({error.line for error in self.rejected})

    @property
    def ids(self) -> list[int]:
        """The records written, each once, in the order first written."""
        return list(dict.fromkeys(row.record_id for row in self.saved))

    def extend(self, other: "IngestResult") -> None:
        if self.first_line is None:
            self.first_line = other.first_line
        self.last_line = other.last_line if other.last_line is not None else self.last_line
        self.saved.extend(other.saved)
        self.rejected.extend(other.rejected)


def records_ingest(
    *,
    rows: Iterable[tuple[int, Mapping | RowError]],
    actor,
    source: str,
    batch_size: int = INGEST_BATCH_SIZE,
    on_batch: Callable[[IngestResult], None] | None = None,
) -> IngestResult:
    """Validate and save penalty records pushed in by departments.

    `rows` are `(line, row)` pairs: the row a mapping of the fields named in
    records.ingest.FIELDS, `line` its place in the source (file line number or
    API item index), or a RowError for a line the reader could not parse.

    A record is keyed by (department, decision number): a new key creates a
    record, a known key updates it and leaves its status alone. Subjects are
    keyed by their normalised identifier: created when new, renamed when the
    name differs. Each row is saved whole (subject and record) or not at all.
    Rows are handled in batches, each in one transaction with one audit event
    ("records.import"); `on_batch` is called after each batch commits.
    `actor` is the user (or a label such as "import_records") for the audit trail.

    A department's system account (role integration) writes only its own
    department's records: a row of another department is refused naming
    both, and an account bound to no department writes nothing. An existing
    subject is renamed only by a row of its issuing source (the department
    that first supplied it), with the old and new names in the audit; a
    rename from any other department is refused.
    """
    context = ValidationContext.load()
    scope = IngestScope.of(actor)
    known_subjects: dict[str, Subject] = {}
    result = IngestResult()
    iterator = iter(rows)
    while batch := list(islice(iterator, batch_size)):
        outcome = _ingest_batch(
            batch,
            context=context,
            known_subjects=known_subjects,
            actor=actor,
            source=source,
            scope=scope,
        )
        result.extend(outcome)
        if on_batch is not None:
            on_batch(outcome)
    return result


def department_names(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {pk for pk in ids if pk is not None}
    return dict(Department.objects.filter(pk__in=wanted).values_list("pk", "name"))


@dataclass(frozen=True)
class IngestScope:
    """Which departments' records an import may write: all (platform staff,
    an operator's file) or one (a department's system account)."""

    scoped: bool = False
    department_id: int | None = None

    @classmethod
    def of(cls, actor) -> "IngestScope":
        if getattr(actor, "role", None) != Role.INTEGRATION:
            return cls()
        return cls(scoped=True, department_id=issuing_department_id(actor))

    def refusals(self, rows: list[RecordRow]) -> dict[int, RowError]:
        """The rows outside this scope, by line, each with its reason."""
        if not self.scoped:
            return {}
        outside = [row for row in rows if row.department_id != self.department_id]
        if not outside:
            return {}
        if self.department_id is None:
            message = _("本系统对接账号未绑定认定单位，不能导入记录；请管理员为其指定所属认定单位")
            return {
                row.line: RowError(row.line, "department_code", message, "no_department")
                for row in outside
            }
        names = department_names([self.department_id, *(row.department_id for row in outside)])
        return {
            row.line: RowError(
                row.line,
                "department_code",
                _(
                    "本系统对接账号属于“%(own)s”，只能导入该单位的记录；"
                    "本行的认定单位是“%(other)s”，未导入"
                )
                % {"own": names.get(self.department_id, ""), "other": names.get(row.department_id)},
                "other_department",
            )
            for row in outside
        }


def _ingest_batch(
    batch,
    *,
    context: ValidationContext,
    known_subjects: dict[str, Subject],
    actor,
    source: str,
    scope: IngestScope,
) -> IngestResult:
    rejected: list[RowError] = []
    valid: list[RecordRow] = []
    changed: list[RecordRow] = []
    for line, raw in batch:
        if isinstance(raw, RowError):
            rejected.append(raw)
        elif not isinstance(raw, Mapping):
            rejected.append(RowError(line, "json", _("每一项应为一个 JSON 对象"), "not_object"))
        else:
            checked = validate_row(raw, line=line, context=context)
            if isinstance(checked, list):
                rejected.extend(checked)
            elif checked.decision_change:
                # Rare and consequential: each one through the Art. 40 service.
                changed.append(checked)
            else:
                valid.append(checked)
    outside = scope.refusals(valid + changed) | _destroyed_refusals(valid + changed)
    if outside:
        rejected.extend(outside.values())
        valid = [row for row in valid if row.line not in outside]
        changed = [row for row in changed if row.line not in outside]

    saved: list[SavedRow] = []
    if valid:
        for attempt in range(1, _INGEST_ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    saved, conflicts, subjects = _save_batch(
                        valid,
                        known_subjects=known_subjects,
                        actor=actor,
                        source=source,
                        lines=(batch[0][0], batch[-1][0]),
                        rejected=rejected,
                    )
                break
            except IntegrityError:
                # Someone else wrote the same subject or record meanwhile, or
                # removed a subject we remembered: read everything again.
                known_subjects.clear()
                if attempt == _INGEST_ATTEMPTS:
                    raise
        # Remembered only once committed, so a rolled-back batch leaves no ghosts.
        if len(known_subjects) > _SUBJECT_CACHE_LIMIT:
            known_subjects.clear()
        known_subjects.update(subjects)
        rejected.extend(conflicts)
    for row in changed:
        outcome = _decision_change_row(row, actor=actor, source=source)
        if isinstance(outcome, SavedRow):
            saved.append(outcome)
        else:
            rejected.extend(outcome)
    if changed:
        saved.sort(key=lambda row: row.line)
    rejected.sort(key=lambda error: error.line)
    return IngestResult(
        first_line=batch[0][0], last_line=batch[-1][0], saved=saved, rejected=rejected
    )


def _destroyed_refusals(rows: list[RecordRow]) -> dict[int, RowError]:
    """Rows re-importing a decision whose record was destroyed at the end of
    its disclosure (Shandong Social Credit Regulation Art. 38): refused, or
    the penalty would be shown again. One indexed query per batch."""
    if not rows:
        return {}
    digests: dict[str, list[RecordRow]] = {}
    for row in rows:
        digest = destroyed_decision_number(row.department_id, row.decision_number)
        digests.setdefault(digest, []).append(row)
    found = CreditRecord.all_objects.filter(
        status=RecordStatus.DESTROYED,
        department_id__in={row.department_id for row in rows},
        decision_number__in=digests,
    ).values_list("decision_number", flat=True)
    message = _("该处罚决定的信用信息已于公示期届满后销毁，不再导入")
    return {
        row.line: RowError(row.line, "decision_number", message, "destroyed")
        for digest in found
        for row in digests[digest]
    }


def _decision_change_row(row: RecordRow, *, actor, source: str) -> SavedRow | list[RowError]:
    """A row reporting its decision revoked or changed: the registered record,
    through record_decision_change; its refusal as the row's errors."""
    record = CreditRecord.objects.filter(
        department_id=row.department_id, decision_number=row.decision_number
    ).first()
    if record is None:
        message = _("该处罚决定尚未登记，无法登记其撤销或变更")
        return [RowError(row.line, "decision_change", message, "unknown_record")]
    changes = None
    if row.decision_change == DecisionChangeKind.CHANGED:
        changes = {
            "decision_date": row.decision_date.isoformat(),
            "penalty_types": row.penalty_types,
            "fine_amount": "" if row.fine_amount is None else str(row.fine_amount),
            "severity": row.severity,
            "facts": row.facts,
        }
    try:
        with transaction.atomic():
            record_decision_change(
                actor=actor,
                record=record,
                kind=row.decision_change,
                changed_on=row.decision_change_date,
                note=row.decision_change_basis,
                changes=changes,
                source=source,
            )
    except PermissionDenied as error:
        return [RowError(row.line, "decision_change", str(error), "not_issuer")]
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            return [
                RowError(row.line, name, message, "invalid")
                for name, messages in error.message_dict.items()
                for message in messages
            ]
        return [RowError(row.line, "decision_change", m, "invalid") for m in error.messages]
    return SavedRow(row.line, record.pk, False)


def _records_with_keys(numbers: dict[int, set[str]]) -> Iterable[CreditRecord]:
    """The records among these (department id -> decision numbers), in one query."""
    if connection.vendor == "postgresql":
        # Joined against the keys, PostgreSQL probes the (department,
        # decision_number) unique index once per key whatever its statistics
        # say; during a first bulk load they say the table is tiny, and an IN
        # filter then scans every row for every batch.
        departments = [dept for dept, nums in numbers.items() for _ in nums]
        decision_numbers = [number for nums in numbers.values() for number in nums]
        table = connection.ops.quote_name(CreditRecord._meta.db_table)
        return CreditRecord.objects.raw(
            f"SELECT r.* FROM {table} r"  # noqa: S608 - the table name is our own
            " JOIN unnest(%s::bigint[], %s::text[]) AS k(department_id, decision_number)"
            " ON r.department_id = k.department_id AND r.decision_number = k.decision_number",
            [departments, decision_numbers],
        )
    return CreditRecord.objects.filter(
        reduce(
            operator.or_,
            (Q(department_id=dept, decision_number__in=nums) for dept, nums in numbers.items()),
        )
    ).order_by()


def _kind_conflict(row: RecordRow, existing_kind: str) -> RowError:
    return RowError(
        row.line,
        "subject_type",
        _("该证件号码已登记为“%(kind)s”，与本行的主体类型不符")
        % {"kind": SubjectKind(existing_kind).label},
        "kind_conflict",
    )


def _subjects_of(valid: list[RecordRow], known: dict[str, Subject]) -> dict[str, Subject]:
    """The batch's existing subjects by identifier.

    Subjects recur across a file: those read or written by earlier batches of
    this import are remembered, and only the others are read.
    """
    wanted = {row.subject_identifier for row in valid}
    subjects = {key: known[key] for key in wanted if key in known}
    unknown = wanted - subjects.keys()
    if unknown:
        subjects.update(
            (subject.identifier, subject)
            # By blind index: the identifier is encrypted at rest.
            for subject in Subject.objects.identified_by_any(unknown)
            .only(
                "id",
                "kind",
                "identifier",
                "name",
                "source_department_id",
                "contact_email",
                "contact_phone",
            )
            .order_by()
        )
    return subjects


def _records_of(valid: list[RecordRow]) -> dict[tuple[int, str], CreditRecord]:
    """The batch's existing records by (department, decision number)."""
    numbers: dict[int, set[str]] = {}
    for row in valid:
        numbers.setdefault(row.department_id, set()).add(row.decision_number)
    return {
        (record.department_id, record.decision_number): record
        for record in _records_with_keys(numbers)
    }


@dataclass
class _SubjectWrites:
    accepted: list[tuple[RecordRow, Subject]] = field(default_factory=list)
    conflicts: list[RowError] = field(default_factory=list)
    created: dict[str, Subject] = field(default_factory=dict)
    renamed: dict[str, Subject] = field(default_factory=dict)
    # identifier -> (subject id, name before this batch, name after)
    renames: dict[str, list] = field(default_factory=dict)
    contact_set: dict[str, Subject] = field(default_factory=dict)


def _not_source(row: RecordRow, subject: Subject) -> RowError:
    names = department_names([subject.source_department_id])
    if subject.source_department_id is None:
        message = _(
            "该主体登记的名称为“%(old)s”，本行为“%(new)s”；该主体没有报送来源单位，"
            "导入不能更改其名称，请联系平台管理员"
        ) % {"old": subject.name, "new": row.subject_name}
    else:
        message = _(
            "该主体登记的名称为“%(old)s”，本行为“%(new)s”；主体名称只能由其报送来源单位"
            "“%(source)s”更改，本行未导入"
        ) % {
            "old": subject.name,
            "new": row.subject_name,
            "source": names.get(subject.source_department_id, ""),
        }
    return RowError(row.line, "subject_name", message, "not_subject_source")


def _save_subjects(valid: list[RecordRow], subjects: dict[str, Subject], now) -> _SubjectWrites:
    """Create the new subjects and rename the renamed, in two statements; a row
    whose subject exists with the other kind, or that would rename a subject
    it is not the issuing source of, is refused. `subjects` gains the new ones."""
    writes = _SubjectWrites()
    for row in valid:
        subject = subjects.get(row.subject_identifier)
        if subject is None:
            subject = Subject(
                kind=row.subject_kind,
                identifier=row.subject_identifier,
                name=row.subject_name,
                source_department_id=row.department_id,
                contact_email=row.subject_email,
                contact_phone=row.subject_phone,
            )
            subjects[row.subject_identifier] = writes.created[row.subject_identifier] = subject
        elif subject.kind != row.subject_kind:
            writes.conflicts.append(_kind_conflict(row, subject.kind))
            continue
        else:
            if subject.name != row.subject_name:
                if subject.source_department_id != row.department_id:
                    writes.conflicts.append(_not_source(row, subject))
                    continue
                if row.subject_identifier not in writes.created:
                    change = writes.renames.setdefault(
                        row.subject_identifier, [subject.pk, subject.name, None]
                    )
                    change[2] = row.subject_name
                    subject.updated_at = now
                    writes.renamed[row.subject_identifier] = subject
                subject.name = row.subject_name
            if _contact_from_row(subject, row) and row.subject_identifier not in writes.created:
                subject.updated_at = now
                writes.contact_set[row.subject_identifier] = subject
        writes.accepted.append((row, subject))
    if writes.created:
        Subject.objects.bulk_create(writes.created.values())
    updated = {**writes.renamed, **writes.contact_set}
    if updated:
        fields = ["name", "updated_at"]
        if writes.contact_set:
            fields += ["contact_email", "contact_phone"]
        Subject.objects.bulk_update(updated.values(), fields)
    return writes


def _contact_from_row(subject: Subject, row: RecordRow) -> bool:
    """A row's contact replaces the subject's; an empty one leaves it. True if changed."""
    changed = False
    if row.subject_email and row.subject_email != subject.contact_email:
        subject.contact_email, changed = row.subject_email, True
    if row.subject_phone and row.subject_phone != subject.contact_phone:
        subject.contact_phone, changed = row.subject_phone, True
    return changed


@dataclass
class _RecordWrites:
    placed: list[tuple[int, CreditRecord, bool]] = field(
        default_factory=list
    )  # (line, record, new)
    created: dict[tuple[int, str], CreditRecord] = field(default_factory=dict)
    changed: dict[tuple[int, str], CreditRecord] = field(default_factory=dict)
    matched: dict[tuple[int, str], CreditRecord] = field(default_factory=dict)


def _save_records(
    accepted: list[tuple[RecordRow, Subject]],
    records: dict[tuple[int, str], CreditRecord],
    now,
) -> _RecordWrites:
    """Create the new records and update the changed, in two statements (the
    subjects have their ids by now). A key repeated in the batch is one record."""
    writes = _RecordWrites()
    for row, subject in accepted:
        key = row.key
        values = (
            subject.pk,
            row.decision_date,
            row.conduct_end_date,
            row.penalty_types,
            row.fine_amount,
            row.severity,
            row.facts,
            row.publicity_starts_on,
            row.publicity_ends_on,
        )
        record = records.get(key)
        if record is None:
            record = CreditRecord(
                department_id=row.department_id,
                decision_number=row.decision_number,
                **dict(zip(_RECORD_FIELDS, values, strict=True)),
            )
            records[key] = writes.created[key] = record
            writes.placed.append((row.line, record, True))
            continue
        writes.placed.append((row.line, record, False))
        if key not in writes.created:
            writes.matched[key] = record
        if any(
            getattr(record, name) != value
            for name, value in zip(_RECORD_FIELDS, values, strict=True)
        ):
            for name, value in zip(_RECORD_FIELDS, values, strict=True):
                setattr(record, name, value)
            if key not in writes.created:
                record.updated_at = now
                writes.changed[key] = record
    if writes.created:
        CreditRecord.objects.bulk_create(writes.created.values())
    if writes.changed:
        CreditRecord.objects.bulk_update(writes.changed.values(), [*_RECORD_FIELDS, "updated_at"])
    return writes


def _save_batch(
    valid: list[RecordRow],
    *,
    known_subjects: dict[str, Subject],
    actor,
    source: str,
    lines: tuple[int, int],
    rejected: list[RowError],
) -> tuple[list[SavedRow], list[RowError], dict[str, Subject]]:
    now = timezone.now()
    subjects = _subjects_of(valid, known_subjects)
    records = _records_of(valid)
    # Subjects first, so that every record has its subject's id.
    subject_writes = _save_subjects(valid, subjects, now)
    record_writes = _save_records(subject_writes.accepted, records, now)

    saved = [SavedRow(line, record.pk, created) for line, record, created in record_writes.placed]
    touched = [
        record.pk for record in (*record_writes.created.values(), *record_writes.changed.values())
    ]
    if touched:
        records_saved_hooks_run(record_ids=touched, actor=actor, at=now)
    if saved:
        summary = {
            "source": source,
            "lines": list(lines),
            "created": sum(1 for row in saved if row.created),
            "updated": sum(1 for row in saved if not row.created),
            "unchanged": len(record_writes.matched) - len(record_writes.changed),
            "rejected": len(
                {e.line for e in rejected} | {c.line for c in subject_writes.conflicts}
            ),
            "subjects_created": len(subject_writes.created),
            "subjects_renamed": len(subject_writes.renamed),
            # Each rename with the name it replaced (issue 17, finding 6).
            "renamed_subjects": [
                {"subject": pk, "old_name": old, "new_name": new}
                for pk, old, new in subject_writes.renames.values()
            ],
            "subjects_contact_set": len(subject_writes.contact_set),
            "created_ids": [record.pk for record in record_writes.created.values()],
            "updated_ids": [record.pk for record in record_writes.changed.values()],
        }
        audit_record_many(
            actor=actor,
            entries=[
                AuditEntry(
                    action="records.import",
                    object_type="records.CreditRecord",
                    summary=summary,
                )
            ],
        )
    return saved, subject_writes.conflicts, subjects


@transaction.atomic
def department_upsert(*, actor, code: str, name: str, sector: str) -> Department:
    """Create a department or update its name and sector (by code)."""
    department = Department.objects.select_for_update().filter(code=code).first()
    if department is None:
        department = Department.objects.create(code=code, name=name, sector=sector)
        audit_record(
            actor=actor,
            action="department.create",
            object_type="records.Department",
            object_id=department.pk,
            summary={"after": {"code": code, "name": name, "sector": sector}},
        )
        return department
    before = {"name": department.name, "sector": department.sector}
    after = {"name": name, "sector": sector}
    if before != after:
        department.name, department.sector = name, sector
        department.save(update_fields=["name", "sector"])
        audit_record(
            actor=actor,
            action="department.update",
            object_type="records.Department",
            object_id=department.pk,
            summary={"before": before, "after": after},
        )
    return department


_EXPIRE_CHUNK = 5000


def records_expire_due(*, actor, today) -> int:
    """Publication stops automatically at the end of the maximum period
    (shared domain reference section 2): published records whose window has
    ended become expired. Claims each chunk with a conditional UPDATE, so two
    schedulers running at once neither skip nor double-count a record."""
    expired = 0
    while True:
        ids = list(
            CreditRecord.objects.filter(
                status=RecordStatus.PUBLISHED, publicity_ends_on__lte=today
            ).values_list("id", flat=True)[:_EXPIRE_CHUNK]
        )
        if not ids:
            return expired
        with transaction.atomic():
            claimed = list(
                CreditRecord.objects.filter(id__in=ids, status=RecordStatus.PUBLISHED)
                .select_for_update(
                    skip_locked=connection.features.has_select_for_update_skip_locked
                )
                .values_list("id", flat=True)
            )
            if not claimed:
                # Another sweeper holds these rows; it will finish them.
                return expired
            count = CreditRecord.objects.filter(
                id__in=claimed, status=RecordStatus.PUBLISHED
            ).update(status=RecordStatus.EXPIRED, updated_at=timezone.now())
            if count:
                audit_record(
                    actor=actor,
                    action="records.expire",
                    object_type="records.CreditRecord",
                    summary={
                        "before": {"status": "published"},
                        "after": {"status": "expired"},
                        "as_of": today.isoformat(),
                        "ids": claimed,
                    },
                )
        expired += count
        if len(ids) < _EXPIRE_CHUNK:
            return expired


class RecordStatusError(ValueError):
    pass


# Status changes the registry itself makes. Repair and objection outcomes come
# from their cases; these cover what happens outside a case.
# The fields an objection may correct (更正), by the import format's names.
CORRECTABLE_FIELDS = ("decision_date", "penalty_types", "fine_amount", "severity", "facts")


@transaction.atomic
def record_correct(
    *, actor, record: CreditRecord, changes: Mapping, evidence: str, source: str
) -> list[dict]:
    """Correct a record's fields after an objection: validated exactly as an
    import row is (the publicity window follows a new date or severity), the
    diff stored with its evidence and source, audited. The row is locked and
    the diff taken against what it holds now, so a concurrent change is never
    overwritten unseen. Returns the diff; raises ValidationError naming every
    bad field."""
    evidence = " ".join((evidence or "").split())
    if not evidence:
        raise ValidationError({"evidence": [_("请写明更正所依据的材料。")]})
    unknown = sorted(set(changes) - set(CORRECTABLE_FIELDS))
    if unknown:
        raise ValidationError({name: [_("该项不能通过异议更正。")] for name in unknown})
    record = (
        CreditRecord.objects.select_for_update(of=("self",))
        .select_related("department", "subject")
        .get(pk=record.pk)
    )
    current = {
        "decision_number": record.decision_number,
        "department_code": record.department.code,
        "subject_type": record.subject.kind,
        "subject_identifier": record.subject.identifier,
        "subject_name": record.subject.name,
        "decision_date": record.decision_date.isoformat(),
        "conduct_end_date": record.conduct_ended_on.isoformat(),
        "penalty_types": ";".join(record.penalty_types),
        "fine_amount": "" if record.fine_amount is None else str(record.fine_amount),
        "severity": record.severity,
        "facts": record.facts,
    }
    raw = {**current, **changes}
    if isinstance(raw["penalty_types"], list | tuple):
        raw["penalty_types"] = ";".join(raw["penalty_types"])
    row = validate_row(raw, line=1, context=ValidationContext.load())
    if isinstance(row, list):
        errors: dict[str, list[str]] = {}
        for error in row:
            errors.setdefault(error.field, []).append(error.message)
        raise ValidationError(errors)
    labels = {name: CreditRecord._meta.get_field(name).verbose_name for name in CORRECTABLE_FIELDS}
    diff, fields = [], []
    for name in CORRECTABLE_FIELDS:
        old, new = getattr(record, name), getattr(row, name)
        if old != new:
            diff.append(
                {"field": name, "label": str(labels[name]), "old": _plain(old), "new": _plain(new)}
            )
            setattr(record, name, new)
            fields.append(name)
    if not diff:
        raise ValidationError(_("更正内容与记录现有内容相同，没有需要更正的项。"), code="no_change")
    for name in ("publicity_starts_on", "publicity_ends_on"):
        if getattr(record, name) != getattr(row, name):
            setattr(record, name, getattr(row, name))
            fields.append(name)
    record.updated_at = timezone.now()
    record.save(update_fields=[*fields, "updated_at"])
    RecordCorrection.objects.create(
        record=record,
        changes=diff,
        evidence=evidence,
        source=source,
        actor=actor,
        at=record.updated_at,
    )
    audit_record(
        actor=actor,
        action="records.correct",
        object_type="records.CreditRecord",
        object_id=record.pk,
        summary={"changes": diff, "evidence": evidence, "source": source},
    )
    return diff


def _plain(value) -> str:
    if isinstance(value, list):
        return ",".join(value)
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


_STATUS_CHANGES = {
    # Shandong Social Credit Regulation Art. 40: the underlying decision was
    # revoked, so the record is removed.
    (RecordStatus.PUBLISHED, RecordStatus.DELETED),
    (RecordStatus.EXPIRED, RecordStatus.DELETED),
    # Art. 40 also when the record had been repaired: the decision is gone.
    (RecordStatus.REPAIRED, RecordStatus.DELETED),
    # A repair concluded before this platform took over the work.
    (RecordStatus.PUBLISHED, RecordStatus.REPAIRED),
    # An objection flags the record while it is handled (征信业管理条例 Art. 25
    # as the model) and gives the status back when it closes, or deletes it.
    (RecordStatus.PUBLISHED, RecordStatus.UNDER_OBJECTION),
    (RecordStatus.REPAIRED, RecordStatus.UNDER_OBJECTION),
    (RecordStatus.EXPIRED, RecordStatus.UNDER_OBJECTION),
    (RecordStatus.UNDER_OBJECTION, RecordStatus.PUBLISHED),
    (RecordStatus.UNDER_OBJECTION, RecordStatus.REPAIRED),
    (RecordStatus.UNDER_OBJECTION, RecordStatus.EXPIRED),
    (RecordStatus.UNDER_OBJECTION, RecordStatus.DELETED),
    # A repair revoked (false materials, a broken commitment): the record is
    # published again for the rest of its period, or stays off if it is over.
    (RecordStatus.REPAIRED, RecordStatus.PUBLISHED),
    (RecordStatus.REPAIRED, RecordStatus.EXPIRED),
}


@transaction.atomic
def record_status_set(*, actor, record: CreditRecord, status: str, reason: str) -> CreditRecord:
    if not reason.strip():
        raise RecordStatusError(_("请说明变更原因"))
    if (record.status, status) not in _STATUS_CHANGES:
        raise RecordStatusError(
            _("不能把记录状态从“%(old)s”改为“%(new)s”")
            % {"old": RecordStatus(record.status).label, "new": RecordStatus(status).label}
        )
    # Conditional UPDATE: a concurrent change of the same record makes this fail
    # instead of silently overwriting it.
    count = CreditRecord.objects.filter(pk=record.pk, status=record.status).update(
        status=status, updated_at=timezone.now()
    )
    if count != 1:
        raise RecordStatusError(_("记录状态已被他人修改，请刷新后重试"))
    audit_record(
        actor=actor,
        action="records.status",
        object_type="records.CreditRecord",
        object_id=record.pk,
        summary={
            "before": {"status": record.status},
            "after": {"status": status},
            "reason": reason,
        },
    )
    record.status = status
    return record


@transaction.atomic
def record_objection_note_set(*, actor, record: CreditRecord, note: str) -> CreditRecord:
    """Put a visible note on a record that an objection could not verify
    (无法核实): the record stays; whoever sees it sees the note."""
    note = " ".join((note or "").split())[:500]
    if not note:
        raise ValidationError(_("请写明标注内容"))
    before = record.objection_note
    record.objection_note, record.updated_at = note, timezone.now()
    record.save(update_fields=["objection_note", "updated_at"])
    audit_record(
        actor=actor,
        action="records.objection_note",
        object_type="records.CreditRecord",
        object_id=record.pk,
        summary={"before": before, "after": note},
    )
    return record


@transaction.atomic
def subject_legal_representative_set(*, actor, subject: Subject, name: str) -> Subject:
    """Record who legally represents an enterprise (the commitment's signer)."""
    name = " ".join(name.split())
    if subject.is_person:
        raise ValidationError(_("自然人没有法定代表人"))
    if not name:
        raise ValidationError(_("请填写法定代表人姓名"))
    before = subject.legal_representative
    subject.legal_representative = name
    subject.save(update_fields=["legal_representative", "updated_at"])
    audit_record(
        actor=actor,
        action="records.subject.legal_representative",
        object_type="records.Subject",
        object_id=subject.pk,
        summary={"before": before, "after": name},
    )
    return subject


# Who an applicant account may be for a subject: a natural person acts as
# themself or through an agent; an enterprise through its legal representative
# or an agent (shared domain reference section 1).
BINDING_CAPACITIES = {
    SubjectKind.PERSON: (BindingCapacity.SELF, BindingCapacity.AGENT),
    SubjectKind.ENTERPRISE: (BindingCapacity.LEGAL_REPRESENTATIVE, BindingCapacity.AGENT),
}


def subject_binding_check(*, user, subject: Subject, capacity: str) -> None:
    """Raise ValidationError naming what is wrong with binding `user` to `subject`."""
    errors: dict[str, list[str]] = {}
    if getattr(user, "role", None) != Role.APPLICANT:
        errors["user"] = [_("只有申请人账号可以绑定信用主体。")]
    if capacity not in BINDING_CAPACITIES[subject.kind]:
        errors["capacity"] = [
            _("%(kind)s不能以“%(capacity)s”身份绑定。")
            % {
                "kind": SubjectKind(subject.kind).label,
                "capacity": BindingCapacity(capacity).label
                if capacity in BindingCapacity.values
                else capacity,
            }
        ]
    if (
        capacity == BindingCapacity.SELF
        and SubjectBinding.objects.filter(subject=subject, capacity=BindingCapacity.SELF)
        .exclude(user=user)
        .exists()
    ):
        errors["capacity"] = [_("该自然人已有本人账号；其他账号只能作为委托代理人绑定。")]
    if errors:
        raise ValidationError(errors)


def _binding_audit(*, actor, action: str, user, subject: Subject, before, after) -> None:
    # What the account may see follows its bindings (flows.cases.selectors,
    # records.selectors): the event names the subjects it acts for afterwards.
    audit_record(
        actor=actor,
        action=action,
        object_type="records.SubjectBinding",
        object_id=f"{user.pk}:{subject.pk}",
        summary={
            "user": user.get_username(),
            "subject": subject.pk,
            "subject_label": str(subject),
            "before": before,
            "after": after,
            "subjects_now": sorted(
                SubjectBinding.objects.filter(user=user).values_list("subject_id", flat=True)
            ),
        },
    )


@transaction.atomic
def subject_binding_add(*, actor, user, subject: Subject, capacity: str) -> SubjectBinding:
    """Let an applicant account act for a subject (it then sees the subject's
    records, cases and letters), audited."""
    subject_binding_check(user=user, subject=subject, capacity=capacity)
    if SubjectBinding.objects.filter(user=user, subject=subject).exists():
        raise ValidationError(_("该账号已绑定这个信用主体。"))
    binding = SubjectBinding.objects.create(user=user, subject=subject, capacity=capacity)
    _binding_audit(
        actor=actor,
        action="records.binding_add",
        user=user,
        subject=subject,
        before=None,
        after={"capacity": capacity},
    )
    return binding


@transaction.atomic
def subject_binding_capacity_set(*, actor, binding: SubjectBinding, capacity: str):
    """Change the capacity an account acts in for a subject, audited."""
    binding = (
        SubjectBinding.objects.select_for_update()
        .select_related("user", "subject")
        .get(pk=binding.pk)
    )
    subject_binding_check(user=binding.user, subject=binding.subject, capacity=capacity)
    before = binding.capacity
    if before == capacity:
        return binding
    binding.capacity = capacity
    binding.save(update_fields=["capacity"])
    _binding_audit(
        actor=actor,
        action="records.binding_change",
        user=binding.user,
        subject=binding.subject,
        before={"capacity": before},
        after={"capacity": capacity},
    )
    return binding


@transaction.atomic
def subject_binding_remove(*, actor, binding: SubjectBinding) -> None:
    """End an account's acting for a subject: from the next request it no
    longer sees the subject's records, cases or letters. Audited."""
    binding = (
        SubjectBinding.objects.select_for_update()
        .select_related("user", "subject")
        .get(pk=binding.pk)
    )
    user, subject, capacity = binding.user, binding.subject, binding.capacity
    binding.delete()
    _binding_audit(
        actor=actor,
        action="records.binding_remove",
        user=user,
        subject=subject,
        before={"capacity": capacity},
        after=None,
    )


@transaction.atomic
def department_membership_set(*, actor, user, department: Department) -> DepartmentMembership:
    """Put a reviewer (or a department's system account) in a department, or
    move it: it then sees and decides that department's records. Audited."""
    if getattr(user, "role", None) not in (Role.REVIEWER, Role.INTEGRATION):
        raise ValidationError({"user": [_("只有认定单位审核人和系统对接账号可以属于认定单位")]})
    membership = DepartmentMembership.objects.select_for_update().filter(user=user).first()
    before = membership.department.code if membership else None
    if membership is None:
        membership = DepartmentMembership.objects.create(user=user, department=department)
    elif membership.department_id != department.pk:
        membership.department = department
        membership.save(update_fields=["department"])
    else:
        return membership
    audit_record(
        actor=actor,
        action="records.membership_set",
        object_type="records.DepartmentMembership",
        object_id=membership.pk,
        summary={
            "user": user.get_username(),
            "before": {"department": before},
            "after": {"department": department.code},
        },
    )
    return membership


@transaction.atomic
def department_membership_remove(*, actor, membership: DepartmentMembership) -> None:
    membership = DepartmentMembership.objects.select_related("user", "department").get(
        pk=membership.pk
    )
    pk, username, code = membership.pk, membership.user.get_username(), membership.department.code
    membership.delete()
    audit_record(
        actor=actor,
        action="records.membership_remove",
        object_type="records.DepartmentMembership",
        object_id=pk,
        summary={"user": username, "before": {"department": code}, "after": None},
    )


@transaction.atomic
def subject_contact_set(*, actor, subject: Subject, email: str, phone: str) -> Subject:
    """Record how the platform reaches a subject (两书同送): an email address
    and a mainland mobile number, each optional; empty clears it."""
    email = (email or "").strip()
    phone = (phone or "").strip()
    errors = {}
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["contact_email"] = _("不是有效的电子邮件地址")
    if phone:
        try:
            phone = validate_mobile(phone)
        except IdentifierError as error:
            errors["contact_phone"] = error.message
    if errors:
        raise ValidationError(errors)
    before = {"email": subject.contact_email, "phone": subject.display_phone}
    subject.contact_email, subject.contact_phone = email, phone
    subject.save(update_fields=["contact_email", "contact_phone", "updated_at"])
    # The audit trail names the number masked, as every log does (domain.md section 8).
    audit_record(
        actor=actor,
        action="records.subject.contact",
        object_type="records.Subject",
        object_id=subject.pk,
        summary={"before": before, "after": {"email": email, "phone": subject.display_phone}},
    )
    return subject


NOT_ISSUER = gettext_lazy(
    "只有作出该处罚决定的认定单位（其审核人员或其系统对接账号）可以登记处罚决定的撤销或变更。"
)


@transaction.atomic
def record_decision_change(
    *,
    actor,
    record: CreditRecord,
    kind: str,
    changed_on: dt.date,
    note: str = "",
    changes: Mapping | None = None,
    source: str,
) -> DecisionChange:
    """The issuing department reports that its penalty decision was revoked
    or changed (Shandong Social Credit Regulation Art. 40). A revoked
    decision's record is deleted; a changed one is corrected (validated as an
    import row, the diff kept). The record-change clock runs from the date of
    revocation or change (the day after is day 1) to this report, so a late
    report shows as breached; other platforms get a sync event. The same
    report again (same kind and date) returns the one stored."""
    if issuing_department_id(actor) != record.department_id:
        raise PermissionDenied(NOT_ISSUER)
    errors = {}
    if kind not in DecisionChangeKind.values:
        errors["kind"] = [_("应为 revoked（撤销）或 changed（变更）")]
    today = timezone.localdate()
    if not isinstance(changed_on, dt.date):
        errors["changed_on"] = [_("请填写撤销或变更日期")]
    elif changed_on > today:
        errors["changed_on"] = [_("撤销或变更日期不能晚于今天（%(today)s）") % {"today": today}]
    elif changed_on < record.decision_date:
        errors["changed_on"] = [
            _("撤销或变更日期不能早于处罚决定日期（%(day)s）") % {"day": record.decision_date}
        ]
    note = " ".join((note or "").split())
    if len(note) > 300:
        errors["note"] = [_("依据文书最多%(max)d个字符") % {"max": 300}]
    if kind == DecisionChangeKind.CHANGED and not changes:
        errors["changes"] = [_("处罚决定变更的，请填写变更后的内容。")]
    if errors:
        raise ValidationError(errors)
    record = (
        CreditRecord.objects.select_for_update(of=("self",))
        .select_related("department", "subject")
        .get(pk=record.pk)
    )
    repeat = DecisionChange.objects.filter(record=record, kind=kind, changed_on=changed_on).first()
    if repeat is not None:
        return repeat
    at = timezone.now()
    label = DecisionChangeKind(kind).label
    diff: list[dict] = []
    if kind == DecisionChangeKind.REVOKED:
        if record.status == RecordStatus.DELETED:
            raise ValidationError(_("该记录已删除，无需再登记处罚决定撤销。"), code="deleted")
        try:
            record_status_set(
                actor=actor,
                record=record,
                status=RecordStatus.DELETED,
                reason=_("处罚决定已于 %(day)s 撤销（%(note)s）")
                % {"day": changed_on.isoformat(), "note": note or source},
            )
        except RecordStatusError as error:
            raise ValidationError(str(error), code="record_status") from None
    else:
        diff = record_correct(
            actor=actor,
            record=record,
            changes=changes,
            evidence=note or _("处罚决定于 %(day)s 变更") % {"day": changed_on.isoformat()},
            source=_("处罚决定变更"),
        )
    change = DecisionChange.objects.create(
        record=record,
        kind=kind,
        changed_on=changed_on,
        changes=diff,
        note=note,
        source=source,
        actor=actor,
        recorded_at=at,
    )
    # Art. 40: 3 working days from the date of revocation or change; the
    # report is the change, so the clock stops here, met or late.
    start = dt.datetime.combine(changed_on, dt.time.min, tzinfo=office_hours().tz)
    clock_start(
        case=change, stage=Stage.RECORD_CHANGE, actor=actor, at=start, label=change.sla_label
    )
    clock = clock_stop(case=change, stage=Stage.RECORD_CHANGE, actor=actor, at=at)
    sync_event_queue(
        record=record,
        kind=SyncKind.DECISION_REVOKED
        if kind == DecisionChangeKind.REVOKED
        else SyncKind.DECISION_CHANGED,
        source=f"records.DecisionChange:{change.pk}",
        key=f"decision_change:{change.pk}",
        actor=actor,
        facts={"changed_on": changed_on.isoformat(), "basis": note, "changes": diff},
        at=at,
    )
    audit_record(
        actor=actor,
        action="records.decision_change",
        object_type="records.CreditRecord",
        object_id=record.pk,
        summary={
            "kind": kind,
            "label": str(label),
            "changed_on": changed_on.isoformat(),
            "note": note,
            "source": source,
            "changes": diff,
            "clock": clock.state,
        },
    )
    return change
