"""Repair case services: each one transaction that fires the transition, moves
the SLA clocks, writes the timeline row and the audit event, and issues the
letters (rendered and mailed after commit by letters/).

Every service that changes a case locks its row first (select_for_update), so
two people acting on one case at once queue, and the second sees the first's
result and is refused with a clear message instead of acting twice.
"""

import datetime as dt

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows import engine
from flows.cases.assignment import case_claim
from flows.cases.common import (
    at_or_now,
    binding_of,
    case_commitment,
    case_letter_issue,
    case_locked,
    case_number_and_start,
    clean_list,
    clean_text,
    clocks_stop_all,
    local_date,
    require_applicant,
    require_status,
    transition_fire,
)
from flows.cases.eligibility import eligibility_problem, filing_check
from flows.cases.guards import (
    require_holder,
)
from flows.cases.materials import case_material_add
from flows.cases.review import case_close_refused
from flows.models import (
    CaseStatus,
    MaterialKind,
    RepairCase,
)
from flows.monitoring.services import monitoring_open
from letters.commitments import commitment_case, commitment_create, commitment_sign
from letters.models import Commitment, CommitmentStatus, Letter, LetterKind
from letters.render import chinese_date
from records.disclosure import is_natural_person
from records.models import BindingCapacity, CreditRecord, RecordStatus, SyncKind
from records.services import record_status_set
from records.sync import sync_event_queue
from repair_flow.audit import audit_record
from sla.clocks import clock_start, clock_stop, clocks_for
from sla.models import Stage

REJECTION_REASONS = (
    ("obligations", gettext_lazy("未履行行政处罚决定规定的义务")),
    ("not_corrected", gettext_lazy("违法行为未整改到位")),
    ("false_materials", gettext_lazy("提交的材料不真实")),
    ("forbidden", gettext_lazy("法律、法规规定不得修复")),
)

# Domain section 3 (国办发〔2025〕22号 simplified the materials): the proof that
# the obligations were performed, and the signed commitment (not an upload: it
# is generated from the filing and signed on the platform). No 营业执照 or ID
# copy: the platform holds the subject's registration data; the online filing
# is the application itself.
REQUIRED_MATERIALS = (MaterialKind.PERFORMANCE_PROOF,)


@transaction.atomic
def repair_case_draft_save(*, applicant, record: CreditRecord, details: str, capacity: str):
    """Create the applicant's draft for a record, or update the draft they have."""
    at = timezone.now()
    record = CreditRecord.objects.select_related("department", "subject").get(pk=record.pk)
    draft = (
        RepairCase.objects.select_for_update()
        .filter(record=record, applicant=applicant, status=CaseStatus.DRAFT)
        .first()
    )
    binding = filing_check(applicant=applicant, record=record, at=at, case=draft)
    if capacity not in BindingCapacity.values:
        raise ValidationError(_("申请人身份无效：%(capacity)s") % {"capacity": capacity})
    if capacity != binding.capacity:
        raise ValidationError(
            _("您绑定该主体的身份是“%(bound)s”，不能以“%(capacity)s”身份申请。")
            % {
                "bound": BindingCapacity(binding.capacity).label,
                "capacity": BindingCapacity(capacity).label,
            }
        )
    details = (details or "").strip()
    if draft is None:
        try:
            with transaction.atomic():
                draft = RepairCase.objects.create(
                    record=record,
                    subject=record.subject,
                    applicant=applicant,
                    filed_by_capacity=capacity,
                    details=details,
                )
        except IntegrityError:
            # Someone else opened a case on the record a moment ago.
            raise ValidationError(
                _("该记录已有正在办理的信用修复申请，不能重复申请。"), code="open_case"
            ) from None
        action = "flows.repair_case.draft_create"
    else:
        draft.details, draft.filed_by_capacity = details, capacity
        draft.save(update_fields=["details", "filed_by_capacity"])
        action = "flows.repair_case.draft_save"
    # The commitment is part of the filing: generated from it now, read and
    # signed by the applicant before submission (one per record).
    commitment_create(record=record, actor=applicant, case=draft)
    audit_record(
        actor=applicant,
        action=action,
        object_type="flows.RepairCase",
        object_id=draft.pk,
        summary={"record": record.decision_number, "capacity": capacity},
    )
    return draft


# Materials that are the same for every record of one filing: uploaded once,
# stored with each case (each case file stays complete on its own).
SHARED_MATERIALS = (MaterialKind.POWER_OF_ATTORNEY,)

MAX_RECORDS_PER_FILING = 50


@transaction.atomic
def repair_cases_draft_many(
    *, applicant, records: list[CreditRecord], details: str, shared: dict | None = None
) -> list[RepairCase]:
    """一网通办: one filing for several records, one draft case each, with the
    shared materials attached to every one. All or nothing: when any record
    or file is refused, every problem is named and nothing is saved."""
    records = list(dict.fromkeys(records))
    if not records:
        raise ValidationError(_("请至少选择一条行政处罚信息。"), code="no_records")
    if len(records) > MAX_RECORDS_PER_FILING:
        raise ValidationError(
            _("一次最多申请 %(n)d 条记录。") % {"n": MAX_RECORDS_PER_FILING}, code="too_many"
        )
    shared = shared or {}
    unknown = [kind for kind in shared if kind not in SHARED_MATERIALS]
    if unknown:
        labels = [str(MaterialKind(k).label) if k in MaterialKind.values else k for k in unknown]
        raise ValidationError(
            _("这些材料须按每条记录分别上传：%(kinds)s。") % {"kinds": "、".join(labels)},
            code="not_shared",
        )
    cases, problems = [], []
    for record in records:
        binding = binding_of(applicant, record.subject)
        try:
            with transaction.atomic():
                case = repair_case_draft_save(
                    applicant=applicant,
                    record=record,
                    details=details,
                    capacity=binding.capacity if binding else "",
                )
                for kind, upload in shared.items():
                    case_material_add(case=case, user=applicant, kind=kind, upload=upload)
        except (ValidationError, PermissionDenied) as error:
            messages = error.messages if isinstance(error, ValidationError) else [str(error)]
            problems.extend(
                ValidationError(
                    _("%(decision)s：%(problem)s")
                    % {"decision": record.decision_number, "problem": message},
                    code="records",
                )
                for message in messages
            )
        else:
            cases.append(case)
    if problems:
        raise ValidationError(problems)
    return cases


def required_materials(case: RepairCase) -> list[str]:
    kinds = list(REQUIRED_MATERIALS)
    if case.filed_by_capacity == BindingCapacity.AGENT:
        kinds.append(MaterialKind.POWER_OF_ATTORNEY)
    return kinds


def commitment_signed_for(case: RepairCase) -> Commitment | None:
    """The case's record's commitment when it is signed, else None."""
    commitment = case_commitment(case)
    if commitment is None or commitment.status != CommitmentStatus.SIGNED:
        return None
    return commitment


def commitment_missing_error(*, staff: bool = False) -> ValidationError:
    """The refusal naming the unsigned commitment: to the applicant at
    submission, to the officer or the department on a case accepted before
    the commitment became part of the filing."""
    if staff:
        message = _("申请人尚未签署信用修复承诺书（承诺书是申请材料的一部分），签署后方可办理。")
    else:
        message = _(
            "请先阅读并签署信用修复承诺书：承诺书是申请材料的一部分，未签署的申请不能提交。"
        )
    return ValidationError(message, code="commitment_not_signed")


@transaction.atomic
def repair_case_submit(*, applicant, case: RepairCase, at: dt.datetime | None = None):
    """Submit a draft: the materials and the signed commitment complete; number
    it and start the same-day preliminary review clock."""
    at = at_or_now(at)
    case = case_locked(case)
    require_applicant(case, applicant)
    require_status(case, CaseStatus.DRAFT)
    binding = filing_check(applicant=applicant, record=case.record, at=at, case=case)
    if binding.capacity != case.filed_by_capacity:
        raise ValidationError(
            _("您绑定该主体的身份已变更为“%(bound)s”，请重新保存申请后提交。")
            % {"bound": BindingCapacity(binding.capacity).label}
        )
    have = set(case.materials.filter(round=0).values_list("kind", flat=True))
    missing = [
        str(MaterialKind(kind).label) for kind in required_materials(case) if kind not in have
    ]
    problems = []
    if missing:
        problems.append(
            ValidationError(
                _("申请材料不齐全，请上传：%(missing)s。") % {"missing": "、".join(missing)},
                code="missing_materials",
            )
        )
    if commitment_signed_for(case) is None:
        problems.append(commitment_missing_error())
    if problems:
        # Every problem at once, nothing saved.
        raise ValidationError(problems)
    case = case_number_and_start(case, applicant=applicant, at=at)
    # The commitment's letters were issued to the draft: they now name the case by its number.
    Letter.objects.filter(
        case_type=ContentType.objects.get_for_model(RepairCase), case_id=case.pk
    ).update(case_label=case.label)
    return case


@transaction.atomic
def preliminary_review_accept(*, officer, case: RepairCase) -> RepairCase:
    """Accept: the 受理通知书, and the clocks for the department's review and
    for the whole decision (10 working days). The commitment was signed with
    the filing."""
    at = timezone.now()
    case = case_locked(case)
    require_holder(officer, case, "preliminary_review")
    require_status(case, CaseStatus.IN_PRELIMINARY_REVIEW)
    problem = eligibility_problem(case.record, at, filed_at=case.submitted_at)
    if problem:
        raise ValidationError(problem, code="not_eligible")
    if commitment_signed_for(case) is None:
        raise commitment_missing_error(staff=True)
    letter = case_letter_issue(case, LetterKind.ACCEPTANCE, actor=officer, at=at)
    clock_stop(case=case, stage=Stage.PRELIMINARY_REVIEW, actor=officer, at=at)
    clock_stop(case=case, stage=Stage.ACCEPTANCE, actor=officer, at=at)
    transition_fire(
        case,
        "accept",
        actor=officer,
        at=at,
        params={"at": at},
        summary={"letter": letter.number},
    )
    engine.task_done(case, "preliminary_review", officer)
    clock_start(case=case, stage=Stage.WHOLE_DECISION, actor=officer, at=at, label=case.label)
    department_clock_start(case, actor=officer, at=at)
    return case


def department_clock_start(case: RepairCase, *, actor, at: dt.datetime) -> None:
    """The issuing department's review clock ("谁认定、谁修复"), once per case."""
    if clocks_for(case).filter(stage=Stage.DEPARTMENT_REVIEW, stopped_at=None).exists():
        return
    clock_start(
        case=case,
        stage=Stage.DEPARTMENT_REVIEW,
        actor=actor,
        at=at,
        department=case.record.department,
        label=case.label,
    )


def commitment_agent_authorised(commitment: Commitment) -> bool:
    """An agent signs as agent only under the power of attorney uploaded to
    the repair filing the commitment belongs to."""
    case = commitment_case(commitment)
    return isinstance(case, RepairCase) and (
        case.materials.filter(kind=MaterialKind.POWER_OF_ATTORNEY).exists()
    )


@transaction.atomic
def case_commitment_sign(*, commitment: Commitment, user, **signature) -> Commitment:
    """The applicant signs the commitment (letters.commitments.commitment_sign).

    A case accepted before the commitment became part of the filing (flows
    migration 0011_commitment_at_filing moved it on unsigned) gets its
    department review clock from the signature: until then it waited for the
    applicant.
    """
    case = commitment_case(commitment)
    commitment = commitment_sign(
        commitment=commitment,
        user=user,
        agent_authorised=commitment_agent_authorised(commitment),
        **signature,
    )
    if isinstance(case, RepairCase) and case.status == CaseStatus.ACCEPTED:
        department_clock_start(case, actor=user, at=commitment.signed_at or timezone.now())
    return commitment


@transaction.atomic
def department_review_claim(*, reviewer, case: RepairCase) -> RepairCase:
    """Take an accepted case for the issuing department's review (谁认定、谁修复).
    A case accepted under the old order whose commitment is still unsigned
    waits for the applicant's signature first."""
    if commitment_signed_for(case) is None:
        raise commitment_missing_error(staff=True)
    # A case the migration moved on already signed has no clock yet: it starts
    # now. Only an accepted case: any other is refused by the claim itself,
    # and its own open clock (a preliminary review's) admits no second task stage.
    if case.status == CaseStatus.ACCEPTED:
        department_clock_start(case, actor=reviewer, at=timezone.now())
    return case_claim(user=reviewer, case=case, task="department_review")


@transaction.atomic
def department_review_approve(*, reviewer, case: RepairCase, basis: str) -> RepairCase:
    """Repair the record: the 信用修复决定书, the record marked repaired, and
    the sync clock (3 working days to pass the result on)."""
    at = timezone.now()
    case = case_locked(case)
    require_holder(reviewer, case, "department_review")
    require_status(case, CaseStatus.IN_DEPARTMENT_REVIEW)
    basis = clean_text(basis, _("修复依据"))
    record = CreditRecord.objects.select_related("department", "subject").get(pk=case.record_id)
    # The record may have changed since filing (an objection, a correction).
    problem = eligibility_problem(record, at, filed_at=case.submitted_at)
    if problem:
        raise ValidationError(problem, code="not_eligible")
    if commitment_signed_for(case) is None:
        raise commitment_missing_error(staff=True)
    day = local_date(at)
    # Shandong Social Credit Regulation Art. 20: a natural person's record was
    # never published; its repair ends its use as a negative record in sharing.
    # Literal Chinese with a Chinese date: the decision is the letter's text.
    if is_natural_person(record.subject):
        decision = (
            f"准予信用修复，自{chinese_date(day)}起该条行政处罚信息不再作为失信信息共享和使用。"
        )
    else:
        decision = f"准予信用修复，自{chinese_date(day)}起停止公示该条行政处罚信息。"
    letter = case_letter_issue(
        case,
        LetterKind.REPAIR_DECISION,
        actor=reviewer,
        at=at,
        decision=decision,
        basis=basis,
        effective_on=day.isoformat(),
    )
    record_status_set(
        actor=reviewer,
        record=record,
        status=RecordStatus.REPAIRED,
        reason=_("信用修复申请 %(case)s 准予修复（%(letter)s）")
        % {"case": case.label, "letter": letter.number},
    )
    clocks_stop_all(case, actor=reviewer, at=at)
    transition_fire(
        case,
        "approve",
        actor=reviewer,
        at=at,
        params={"basis": basis, "letter": letter, "at": at},
        summary={"letter": letter.number},
    )
    engine.task_done(case, "department_review", reviewer)
    monitoring_open(case, at=at)
    # Other platforms learn of the repair through the sync feed (records/sync.py).
    sync_event_queue(
        record=record,
        kind=SyncKind.REPAIRED,
        source=f"flows.RepairCase:{case.pk}",
        key=f"repair_case:{case.pk}:approved",
        actor=reviewer,
        facts={"case_number": case.number, "letter_number": letter.number},
        at=at,
    )
    clock_start(case=case, stage=Stage.SYNC, actor=reviewer, at=at, label=case.label)
    return case


@transaction.atomic
def department_review_reject(
    *, reviewer, case: RepairCase, reasons: list[str], basis: str
) -> RepairCase:
    at = timezone.now()
    case = case_locked(case)
    require_holder(reviewer, case, "department_review")
    require_status(case, CaseStatus.IN_DEPARTMENT_REVIEW)
    reasons = clean_list(reasons, _("不予修复的理由"))
    basis = clean_text(basis, _("不予修复的依据"))
    return case_close_refused(
        case, "reject", LetterKind.REPAIR_REFUSAL, actor=reviewer, at=at, reasons=reasons,
        basis=basis, task="department_review",
    )  # fmt: skip
