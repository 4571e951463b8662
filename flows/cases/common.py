"""The shared case kernel: locking, numbering, transitions with their timeline
row and audit event, the applicant and status guards, letters and clocks of a
case. Used by every case kind (repair, objection); imports none of them.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from flows import engine
from flows.models import (
    CaseEvent,
    CaseKind,
    CaseSequence,
    CaseStatus,
    ObjectionCase,
    ObjectionScope,
    RepairCase,
)
from flows.notify import Event, notify, notify_letter
from letters.commitments import commitment_open_for_record
from letters.kinds import addressee_facts, record_facts
from letters.models import Commitment
from letters.services import letter_issue
from records.models import SubjectBinding
from records.services import RecordStatusError, record_status_set
from repair_flow.audit import audit_record
from repair_flow.sequences import sequence_next
from sla.clocks import clock_pause, clock_resume, clock_start, clock_stop, clocks_for
from sla.models import ClockState, Stage

CASE_NUMBER_PREFIX = "济信修申"

CASE_NUMBER_PREFIXES = {CaseKind.REPAIR: CASE_NUMBER_PREFIX, CaseKind.OBJECTION: "济信异申"}
# Why an office clock paused, as the pause ledger stores it: data, in Chinese
# whatever the officer's interface language (as the letters are).
SUPPLEMENT_WAIT = "等待申请人补正材料"


def at_or_now(at: dt.datetime | None) -> dt.datetime:
    return at or timezone.now()


def local_date(at: dt.datetime) -> dt.date:
    return timezone.localtime(at).date()


def case_locked(case):
    """The case row (repair case or objection), locked for this transaction, as it is now."""
    return (
        type(case)
        .objects.select_for_update(of=("self",))
        .select_related("record__department", "record__subject", "subject", "applicant")
        .get(pk=case.pk)
    )


def owned_by(case) -> dict:
    """The link from a material, notice or timeline row to its case."""
    return {"objection": case} if isinstance(case, ObjectionCase) else {"case": case}


def next_case_serial(year: int, kind: str = CaseKind.REPAIR) -> int:
    """The filing's serial: gap-free, a rolled-back submission gives its number back."""
    return sequence_next(CaseSequence, kind=kind, year=year)


def case_number(*, year: int, serial: int, kind: str = CaseKind.REPAIR) -> str:
    """济信修申〔2026〕1号; an objection 济信异申〔2026〕1号"""
    return f"{CASE_NUMBER_PREFIXES[kind]}〔{year}〕{serial}号"


def transition_fire(
    case: RepairCase,
    name: str,
    *,
    actor,
    at: dt.datetime,
    comment: str = "",
    params: dict | None = None,
    summary: dict | None = None,
) -> RepairCase:
    """Fire one transition (with `params`), save the case, and write its
    timeline row and audit event."""
    before = case.status
    fields = [f for f in case._meta.concrete_fields if not f.primary_key]
    values = {f.attname: f.value_from_object(case) for f in fields}
    getattr(case, name)(**(params or {}))
    # Save exactly what the transition changed (always the status).
    changed = [f.name for f in fields if f.value_from_object(case) != values[f.attname]]
    case.save(update_fields=sorted({"status", *changed}))
    return case_note(
        case, name, actor=actor, at=at, before=before, comment=comment, summary=summary
    )


def case_note(
    case: RepairCase,
    action: str,
    *,
    actor,
    at: dt.datetime,
    before: str | None = None,
    comment: str = "",
    summary: dict | None = None,
) -> RepairCase:
    """The timeline row and the audit event of one action on the case."""
    before = before or case.status
    CaseEvent.objects.create(
        **owned_by(case),
        at=at,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        from_status=before,
        to_status=case.status,
        comment=comment,
    )
    audit_record(
        actor=actor,
        action=f"flows.{case.kind}_case.{action}",
        object_type=case._meta.label,
        object_id=case.pk,
        summary={
            "case": case.label,
            "record": case.record.decision_number,
            "before": before,
            "after": case.status,
            **({"comment": comment} if comment else {}),
            **(summary or {}),
        },
    )
    return case


def require_status(case: RepairCase, *statuses: str) -> None:
    if case.status not in statuses:
        raise ValidationError(
            _("案件 %(case)s 当前状态为“%(status)s”，不能办理此操作。")
            % {"case": case.label, "status": CaseStatus(case.status).label},
            code="wrong_status",
        )


def binding_of(applicant, subject) -> SubjectBinding | None:
    return SubjectBinding.objects.filter(user=applicant, subject=subject).first()


def require_applicant(case: RepairCase, user) -> None:
    if getattr(user, "pk", None) != case.applicant_id:
        raise PermissionDenied(_("只有本案申请人可以办理此操作。"))


def clean_list(values, what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    cleaned = [" ".join(str(v).split()) for v in values or [] if str(v).strip()]
    if not cleaned:
        raise ValidationError(_("请填写%(what)s。") % {"what": what})
    return cleaned


def clean_text(value: str, what: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ValidationError(_("请填写%(what)s。") % {"what": what})
    return value


def letter_facts(case, **facts) -> dict:
    if isinstance(case, ObjectionCase):
        facts.setdefault("matter", "异议申请")
    return {
        "addressee": addressee_facts(case.subject),
        "record": record_facts(case.record),
        "received_on": local_date(case.submitted_at).isoformat(),
        # Every letter on a case cites its application number (申请编号).
        "case_number": case.number or "",
        **facts,
    }


def case_letter_issue(case: RepairCase, kind: str, *, actor, at: dt.datetime, **facts):
    """A letter on the case, issued as letters.issuers.ISSUER_RULES says: an
    objection's notices in the objection series, and its result in the name
    of the department when the department checked the record."""
    objection = isinstance(case, ObjectionCase)
    checked_by_department = objection and case.scope == ObjectionScope.DEPARTMENT
    letter = letter_issue(
        kind=kind,
        facts=letter_facts(case, **facts),
        actor=actor,
        case=case,
        record=case.record,
        recipient=case.applicant,
        at=at,
        objection=objection,
        department=case.record.department if checked_by_department else None,
    )
    due = facts.get("deadline")
    notify_letter(letter, case=case, deadline=dt.datetime.fromisoformat(due) if due else None)
    return letter


def open_stages(case: RepairCase) -> list[str]:
    return list(clocks_for(case).filter(stopped_at=None).values_list("stage", flat=True))


def clocks_stop_all(case: RepairCase, *, actor, at: dt.datetime, cancel: bool = False) -> None:
    for stage, state in clocks_for(case).filter(stopped_at=None).values_list("stage", "state"):
        # A clock paused for the applicant when the case ends (lapsed,
        # withdrawn) measured a step that never happened: cancelled, never met.
        paused = state == ClockState.PAUSED
        clock_stop(case=case, stage=stage, actor=actor, at=at, cancel=cancel or paused)


def clocks_wait_for_applicant(case, *, actor, at: dt.datetime, reason: str) -> list[str]:
    """The case now waits for the applicant: every office clock still running
    pauses (domain section 5: the applicant's time never counts against the
    office). Returns the stages paused."""
    stages = list(
        clocks_for(case)
        .filter(stopped_at=None, state__in=[ClockState.RUNNING, ClockState.BREACHED])
        .values_list("stage", flat=True)
    )
    for stage in stages:
        clock_pause(case=case, stage=stage, reason=reason, actor=actor, at=at)
    return stages


def clocks_resume_for_office(case, *, actor, at: dt.datetime) -> list[str]:
    """The applicant has answered: the office clocks paused for them run on,
    their deadlines pushed out by the working time the wait took."""
    stages = list(
        clocks_for(case)
        .filter(stopped_at=None, state=ClockState.PAUSED)
        .values_list("stage", flat=True)
    )
    for stage in stages:
        clock_resume(case=case, stage=stage, actor=actor, at=at)
    return stages


def acceptance_clock_start(case, *, actor, at: dt.datetime) -> None:
    # Domain section 5: the acceptance decision is due 2 working days after the
    # materials are complete (UNCONFIRMED, a policy): from submission, paused
    # while a supplement is awaited. The same-day preliminary review runs beside it.
    if case.kind != CaseKind.REPAIR:
        return
    clock_start(case=case, stage=Stage.ACCEPTANCE, actor=actor, at=at, label=case.label)


def case_number_and_start(case, *, applicant, at: dt.datetime):
    """Number the filing, start its flow and the same-day preliminary review clock."""
    year = timezone.localtime(at).year
    serial = next_case_serial(year, case.kind)
    number = case_number(year=year, serial=serial, kind=case.kind)
    transition_fire(case, "submit", actor=applicant, at=at, params={"number": number, "at": at})
    engine.process_start(case)
    clock_start(case=case, stage=Stage.PRELIMINARY_REVIEW, actor=applicant, at=at, label=number)
    acceptance_clock_start(case, actor=applicant, at=at)
    notify(Event.FILED, case=case, key=f"{case.kind}:{case.pk}")
    return case


def case_commitment(case: RepairCase) -> Commitment | None:
    """The record's open commitment (one per record, domain section 3)."""
    return commitment_open_for_record(case.record)


def record_status_change(record, status: str, *, actor, reason: str) -> None:
    try:
        record_status_set(actor=actor, record=record, status=status, reason=reason)
    except RecordStatusError as error:
        raise ValidationError(str(error), code="record_status") from None
