"""Objection services (异议): filing with the objection commitment, the
shared same-day preliminary review and one-time supplement notice (in
flows/cases/ and flows/repair/services.py), acceptance that flags the record 异议处理中 and routes
the check, and the four outcomes: correct, delete, maintain, cannot be verified.

Each one transaction that fires the transition, moves the clocks and the
flow, writes the timeline and audit, issues the letter and queues the sync
event, as the repair services do; the shared helpers are theirs.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from flows import engine
from flows.cases.assignment import case_claim, verification_stage
from flows.cases.common import (
    SUPPLEMENT_WAIT,
    at_or_now,
    binding_of,
    case_letter_issue,
    case_locked,
    case_number_and_start,
    clean_list,
    clean_text,
    clocks_stop_all,
    local_date,
    record_status_change,
    require_applicant,
    require_status,
    transition_fire,
)
from flows.cases.guards import require_holder, unstaffed_problem
from flows.models import (
    CLOSED_STATUSES,
    CaseStatus,
    MaterialKind,
    ObjectionCase,
    ObjectionGround,
    ObjectionScope,
)
from letters.commitments import Signer, commitment_signer, signer_problem
from letters.models import LetterKind
from records.models import BindingCapacity, CreditRecord, RecordStatus, SyncKind
from records.services import record_correct, record_objection_note_set
from records.sync import sync_event_queue
from repair_flow.audit import audit_record
from sla.clocks import clock_start
from sla.models import Stage
from sla.worktime import Pause

# The usual reasons for not accepting an objection (the repair's, such as its
# waiting periods and repeat limits, do not apply to an objection).
OBJECTION_REFUSAL_REASONS = (
    ("not_credit_information", gettext_lazy("所提事项不属于对公共信用信息的异议")),
    ("not_applicant", gettext_lazy("申请人不是该信息的信用主体或其授权代理人")),
    ("no_grounds", gettext_lazy("未说明异议的事实和理由")),
    ("repeat", gettext_lazy("同一事项已作出异议处理结果，且未提供新的事实或证据")),
)
# The usual reasons for maintaining a record, offered as a list (plus free text).
MAINTAIN_REASONS = (
    ("accurate", gettext_lazy("经核查，该记录与处罚决定书内容一致")),
    # Worded for every subject: a natural person's record is shared, never
    # published (Shandong Social Credit Regulation Art. 20).
    ("in_period", gettext_lazy("该记录仍在规定的披露期限内，依法应予披露")),
    ("no_evidence", gettext_lazy("申请人未能提供足以证明记录有误的材料")),
)
OUTCOMES = {
    CaseStatus.CORRECTED: ("correct", SyncKind.CORRECTED),
    CaseStatus.DELETED: ("delete", SyncKind.DELETED),
    CaseStatus.MAINTAINED: ("maintain", SyncKind.MAINTAINED),
    CaseStatus.UNVERIFIABLE: ("unverifiable", SyncKind.UNVERIFIABLE),
}
# The usual reasons why an objection cannot be verified, offered as a list (plus free text).
UNVERIFIABLE_REASONS = (
    (
        "no_source",
        gettext_lazy("认定单位未能提供该记录所依据的原始材料，现有材料无法证实或否定异议内容"),
    ),
    ("conflicting", gettext_lazy("申请人与认定单位提供的材料相互矛盾，无法确认哪一方属实")),
)


def objection_required_materials(case: ObjectionCase) -> list[str]:
    kinds = [MaterialKind.EVIDENCE]
    if case.filed_by_capacity == BindingCapacity.AGENT:
        kinds.append(MaterialKind.POWER_OF_ATTORNEY)
    return kinds


# What the applicant signs when filing an objection (letters.commitments.signer_problem's `what`).
ATTESTATION = pgettext_lazy("signed document", "异议承诺")


def objection_agent_authorised(case: ObjectionCase) -> bool:
    """An agent attests as agent only under the power of attorney uploaded to
    the objection (the material objection_required_materials asks of an agent)."""
    return case.materials.filter(kind=MaterialKind.POWER_OF_ATTORNEY).exists()


def objection_signer(*, case: ObjectionCase, user) -> tuple[Signer | None, str, str]:
    """Who attests the objection if `user` does, and why they may not
    (message and code, "" when they may): the logged-in account's person by
    their own name, in the capacity of their binding to the subject, as the
    repair commitment is signed (letters.commitments). Said on the page
    before the applicant tries, and again when they submit."""
    signer = commitment_signer(user=user, subject=case.subject)
    message, code = signer_problem(
        signer, case.subject, agent_authorised=objection_agent_authorised(case), what=ATTESTATION
    )
    if not message and signer.capacity != case.filed_by_capacity:
        # The binding changed since the draft: the materials asked of the
        # applicant follow the capacity the objection was filed in.
        message, code = (
            _(
                "您绑定该主体的身份已变更为“%(bound)s”，与本异议的申请人身份“%(filed)s”"
                "不一致；请以现在的身份重新保存异议后再提交。"
            )
            % {
                "bound": BindingCapacity(signer.capacity).label,
                "filed": BindingCapacity(case.filed_by_capacity).label,
            },
            "capacity_changed",
        )
    return signer, message, code


def attestation_signer(case: ObjectionCase) -> Signer | None:
    """The signer of an attested objection as the case recorded them (None
    before the attestation); `.block` is the signature line."""
    if case.attested_at is None:
        return None
    return Signer(
        name=case.attested_name, capacity=case.attested_capacity, principal=case.subject.name
    )


def _clean_grounds(grounds) -> list[str]:
    grounds = [g for g in dict.fromkeys(grounds or []) if g]
    unknown = [g for g in grounds if g not in ObjectionGround.values]
    if unknown:
        raise ValidationError(
            _("异议理由无效：%(grounds)s") % {"grounds": "、".join(map(str, unknown))},
            code="grounds",
        )
    if not grounds:
        raise ValidationError(_("请至少选择一项异议理由。"), code="grounds")
    return grounds


@transaction.atomic
def objection_draft_save(
    *, applicant, record: CreditRecord, grounds: list[str], statement: str, capacity: str
) -> ObjectionCase:
    """Create or update the applicant's objection draft on a record of a
    subject they act for, whatever the record's repair eligibility."""
    record = CreditRecord.objects.select_related("department", "subject").get(pk=record.pk)
    binding = binding_of(applicant, record.subject)
    if binding is None:
        raise ValidationError(
            _("您的账号没有绑定信用主体“%(subject)s”，不能对其记录提出异议。")
            % {"subject": record.subject.name},
            code="not_bound",
        )
    if capacity != binding.capacity:
        raise ValidationError(
            _("您绑定该主体的身份是“%(bound)s”，请以该身份提出异议。")
            % {"bound": BindingCapacity(binding.capacity).label},
            code="capacity",
        )
    grounds = _clean_grounds(grounds)
    statement = (statement or "").strip()
    draft = (
        ObjectionCase.objects.select_for_update()
        .filter(record=record, applicant=applicant, status=CaseStatus.DRAFT)
        .first()
    )
    other = (
        ObjectionCase.objects.filter(record=record)
        .exclude(status__in=CLOSED_STATUSES)
        .exclude(pk=getattr(draft, "pk", None))
        .first()
    )
    if other is not None:
        raise ValidationError(
            _("该记录已有正在处理的异议（%(case)s），不能重复提出。")
            % {"case": other.number or _("草稿")},
            code="open_case",
        )
    if draft is None:
        try:
            with transaction.atomic():
                draft = ObjectionCase.objects.create(
                    record=record,
                    subject=record.subject,
                    applicant=applicant,
                    filed_by_capacity=capacity,
                    grounds=grounds,
                    details=statement,
                )
        except IntegrityError:
            raise ValidationError(
                _("该记录已有正在处理的异议，不能重复提出。"), code="open_case"
            ) from None
        action = "flows.objection_case.draft_create"
    else:
        draft.grounds, draft.details, draft.filed_by_capacity = grounds, statement, capacity
        draft.save(update_fields=["grounds", "details", "filed_by_capacity"])
        action = "flows.objection_case.draft_save"
    audit_record(
        actor=applicant,
        action=action,
        object_type="flows.ObjectionCase",
        object_id=draft.pk,
        summary={"record": record.decision_number, "grounds": grounds},
    )
    return draft


@transaction.atomic
def objection_submit(
    *,
    applicant,
    case: ObjectionCase,
    confirmed: bool,
    ip: str | None = None,
    at: dt.datetime | None = None,
) -> ObjectionCase:
    """Submit with the objection commitment (the materials are true), attested
    by the explicit act of the logged-in applicant (`confirmed`), by the name
    on their account and in the capacity of their binding: an agent only
    under a power of attorney uploaded to the objection. No typed name:
    typing someone else's name is not a signature.

    Raises ValidationError with every problem at once; nothing is saved then.
    """
    at = at_or_now(at)
    case = case_locked(case)
    require_applicant(case, applicant)
    require_status(case, CaseStatus.DRAFT)
    if binding_of(applicant, case.subject) is None:
        raise ValidationError(_("您的账号已不再绑定该信用主体。"), code="not_bound")
    signer, signer_message, signer_code = objection_signer(case=case, user=applicant)
    problems = []
    if not case.details.strip():
        problems.append(ValidationError(_("请填写异议说明。"), code="statement"))
    have = set(case.materials.values_list("kind", flat=True))
    missing = [
        str(MaterialKind(k).label)
        for k in objection_required_materials(case)
        if k not in have
        # The signer's refusal already asks an agent for the power of attorney.
        and not (k == MaterialKind.POWER_OF_ATTORNEY and signer_code == "no_power_of_attorney")
    ]
    if missing:
        problems.append(
            ValidationError(
                _("申请材料不齐全，请上传：%(missing)s。") % {"missing": "、".join(missing)},
                code="missing_materials",
            )
        )
    if signer_message:
        problems.append(ValidationError(signer_message, code=signer_code))
    if not confirmed:
        problems.append(
            ValidationError(_("请确认承诺：所提交的材料真实、准确、完整。"), code="confirmed")
        )
    if problems:
        raise ValidationError(problems)
    case.attested_name, case.attested_capacity = signer.name, signer.capacity
    case.attested_at, case.attested_ip = at, ip
    case.save(update_fields=["attested_name", "attested_capacity", "attested_at", "attested_ip"])
    audit_record(
        actor=applicant,
        action="flows.objection_case.attest",
        object_type="flows.ObjectionCase",
        object_id=case.pk,
        summary={"signer": signer.name, "capacity": signer.capacity, "ip": ip or ""},
    )
    return case_number_and_start(case, applicant=applicant, at=at)


# The article each check's time limit comes from, as the acceptance notice cites it.
CHECK_ARTICLES = {
    Stage.OBJECTION_OWN: "《山东省社会信用条例》第三十九条",
    Stage.OBJECTION_OTHER: "《山东省社会信用条例》第三十九条",
    Stage.RECORD_CHANGE: "《山东省社会信用条例》第四十条",
}


def applicant_waits(case: ObjectionCase) -> list[Pause]:
    """The answered supplement notices: the time the case waited for the
    applicant, which the check's clock does not count."""
    return [
        Pause(request.requested_at, request.answered_at, SUPPLEMENT_WAIT)
        for request in case.supplement_requests.exclude(answered_at=None).order_by("requested_at")
    ]


@transaction.atomic
def objection_accept(*, officer, case: ObjectionCase, scope: str) -> ObjectionCase:
    """Accept: the record shows 异议处理中 until the case closes; the check goes
    to the platform's officers or to the issuing department's reviewers, on
    its clock (Shandong Social Credit Regulation Arts. 39-40), which runs from
    receipt of the objection, not from acceptance; the acceptance notice
    states the limit and its date."""
    at = timezone.now()
    case = case_locked(case)
    require_holder(officer, case, "preliminary_review")
    require_status(case, CaseStatus.IN_PRELIMINARY_REVIEW)
    if scope not in ObjectionScope.values:
        raise ValidationError(_("请选择核查方式：平台自行核查或认定单位核实。"), code="scope")
    if scope == ObjectionScope.DEPARTMENT:
        # Routed to a department nobody works for, the check would sit unseen.
        problem = unstaffed_problem(case.record.department, platform_may_check=True)
        if problem:
            raise ValidationError(problem, code="unstaffed")
    record = CreditRecord.objects.get(pk=case.record_id)
    before = record.status
    record_status_change(
        record,
        RecordStatus.UNDER_OBJECTION,
        actor=officer,
        reason=_("异议申请 %(case)s 已受理") % {"case": case.label},
    )
    clocks_stop_all(case, actor=officer, at=at)
    stage = verification_stage(case, scope)
    department = case.record.department if scope == ObjectionScope.DEPARTMENT else None
    # Art. 39: "自收到异议申请之日起": the day after receipt is day 1. The
    # supplement rounds are paused (the SLA policy's basis says how, UNCONFIRMED).
    waits = applicant_waits(case)
    clock = clock_start(
        case=case,
        stage=stage,
        actor=officer,
        at=case.submitted_at,
        department=department,
        label=case.label,
        pauses=waits,
    )
    letter = case_letter_issue(
        case,
        LetterKind.ACCEPTANCE,
        actor=officer,
        at=at,
        next_step=_("异议已受理，该记录在异议处理期间标注“异议处理中”。处理结果将书面告知。"),
        time_limit={
            "days": clock.policy.n,
            "basis": CHECK_ARTICLES[stage],
            "due": timezone.localtime(clock.due_at).isoformat(),
            "supplement_excluded": bool(waits),
            "provisional": clock.provisional,
        },
    )
    transition_fire(
        case,
        "accept",
        actor=officer,
        at=at,
        params={"at": at, "scope": scope, "record_status_before": before},
        summary={"letter": letter.number, "scope": scope},
    )
    engine.task_done(case, "preliminary_review", officer)
    return case


def verification_claim(*, user, case: ObjectionCase) -> ObjectionCase:
    """Take an accepted objection's check (the platform's, or the issuing department's)."""
    return case_claim(user=user, case=case, task="verification")


def _decide(
    case: ObjectionCase,
    target: str,
    *,
    verifier,
    reasons,
    basis: str,
    record_after: str,
    changes: list | None = None,
    params: dict | None = None,
) -> ObjectionCase:
    """An outcome: the record's status given back (or deleted), the result
    notice, every clock stopped, the transition, the flow, the sync event."""
    at = timezone.now()
    transition, sync_kind = OUTCOMES[target]
    record = CreditRecord.objects.select_related("department", "subject").get(pk=case.record_id)
    record_status_change(
        record,
        record_after,
        actor=verifier,
        reason=_("异议申请 %(case)s 办结") % {"case": case.label},
    )
    if target == CaseStatus.UNVERIFIABLE:
        # Literal Chinese, as the letters: the note is part of the record.
        record_objection_note_set(
            actor=verifier,
            record=record,
            note="经异议核查无法核实（{case}，{day}）：{reasons}".format(
                case=case.label, day=local_date(at).isoformat(), reasons="；".join(reasons)
            ),
        )
    letter = case_letter_issue(
        case,
        LetterKind.OBJECTION_RESULT,
        actor=verifier,
        at=at,
        outcome=transition,
        reasons=reasons,
        basis=basis,
        changes=[{"field": c["label"], "old": c["old"], "new": c["new"]} for c in changes or []],
    )
    clocks_stop_all(case, actor=verifier, at=at)
    name = {
        "correct": "correct",
        "delete": "delete_record",
        "maintain": "maintain",
        "unverifiable": "find_unverifiable",
    }[transition]
    transition_fire(
        case,
        name,
        actor=verifier,
        at=at,
        comment="；".join(reasons),
        params={"reasons": reasons, "basis": basis, "letter": letter, "at": at, **(params or {})},
        summary={"letter": letter.number},
    )
    engine.task_done(case, "verification", verifier)
    sync_event_queue(
        record=record,
        kind=sync_kind,
        source=f"flows.ObjectionCase:{case.pk}",
        key=f"objection_case:{case.pk}:{transition}",
        actor=verifier,
        facts={"case_number": case.number, "letter_number": letter.number},
        at=at,
    )
    return case


def _ready(case: ObjectionCase, verifier, reasons, basis: str):
    case = case_locked(case)
    require_status(case, CaseStatus.IN_VERIFICATION)
    require_holder(verifier, case, "verification")
    return case, clean_list(reasons, _("理由")), clean_text(basis, _("依据"))


@transaction.atomic
def objection_correct(
    *, verifier, case: ObjectionCase, changes: dict, evidence: str, reasons, basis: str
) -> ObjectionCase:
    """更正: the record's fields corrected (validated as an import row; the
    diff kept with the evidence and shown in the record's history)."""
    case, reasons, basis = _ready(case, verifier, reasons, basis)
    record = CreditRecord.objects.get(pk=case.record_id)
    diff = record_correct(
        actor=verifier,
        record=record,
        changes=changes,
        evidence=evidence,
        source=f"{case.label}",
    )
    return _decide(
        case,
        CaseStatus.CORRECTED,
        verifier=verifier,
        reasons=reasons,
        basis=basis,
        record_after=case.record_status_before or RecordStatus.PUBLISHED,
        changes=diff,
        params={"changes": diff, "evidence": " ".join(evidence.split())},
    )


@transaction.atomic
def objection_delete(
    *, verifier, case: ObjectionCase, evidence: str, reasons, basis: str
) -> ObjectionCase:
    """删除: the record is no longer published (kept, as deleted, for audit)."""
    case, reasons, basis = _ready(case, verifier, reasons, basis)
    evidence = clean_text(evidence, _("依据材料"))
    return _decide(
        case,
        CaseStatus.DELETED,
        verifier=verifier,
        reasons=reasons,
        basis=basis,
        record_after=RecordStatus.DELETED,
        params={"evidence": evidence},
    )


@transaction.atomic
def objection_maintain(*, verifier, case: ObjectionCase, reasons, basis: str) -> ObjectionCase:
    """维持: the record stays as it is, with the reasons told to the applicant."""
    case, reasons, basis = _ready(case, verifier, reasons, basis)
    return _decide(
        case,
        CaseStatus.MAINTAINED,
        verifier=verifier,
        reasons=reasons,
        basis=basis,
        record_after=case.record_status_before or RecordStatus.PUBLISHED,
    )


@transaction.atomic
def objection_unverifiable(*, verifier, case: ObjectionCase, reasons, basis: str) -> ObjectionCase:
    """无法核实: the record stays, with a visible note saying so wherever it is
    shown; the applicant is told, with the reasons (domain section 5)."""
    case, reasons, basis = _ready(case, verifier, reasons, basis)
    return _decide(
        case,
        CaseStatus.UNVERIFIABLE,
        verifier=verifier,
        reasons=reasons,
        basis=basis,
        record_after=case.record_status_before or RecordStatus.PUBLISHED,
    )
