"""The platform's preliminary review, shared by every case kind: the claim,
the one-time supplement notice (一次性告知) and the applicant's answer, the
lapse of an unanswered notice, the refusal to accept.
"""

import datetime as dt

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows import engine
from flows.cases.assignment import case_claim
from flows.cases.common import (
    SUPPLEMENT_WAIT,
    acceptance_clock_start,
    at_or_now,
    case_letter_issue,
    case_locked,
    clean_list,
    clean_text,
    clocks_resume_for_office,
    clocks_stop_all,
    clocks_wait_for_applicant,
    open_stages,
    owned_by,
    require_applicant,
    require_status,
    transition_fire,
)
from flows.cases.guards import require_holder
from flows.cases.materials import supplement_open
from flows.models import (
    CaseKind,
    CaseStatus,
    MaterialKind,
    ObjectionCase,
    RepairCase,
    SupplementRequest,
)
from letters.models import LetterKind
from letters.outbox import message_queue
from records.models import BindingCapacity
from repair_flow.audit import audit_record
from repair_flow.models import Role
from sla.clocks import clock_start, clock_stop, clocks_for
from sla.models import SlaClock, Stage

# The usual reasons, offered as a list on the task page (plus free text).
REFUSAL_REASONS = (
    ("scope", gettext_lazy("不属于信用修复受理范围")),
    # Worded for every subject: a natural person's record is never published
    # (Shandong Social Credit Regulation Art. 20).
    ("period", gettext_lazy("该行政处罚信息未届满可申请信用修复的最短期限")),
    ("not_repairable", gettext_lazy("该行政处罚信息属于不可提前修复的情形")),
    ("not_applicant", gettext_lazy("申请人不是信用主体或其授权代理人")),
    ("repeat", gettext_lazy("不符合信用修复次数或间隔的限制")),
)


def preliminary_review_claim(*, officer, case: RepairCase) -> RepairCase:
    """Take a submitted (or resubmitted) case for preliminary review."""
    return case_claim(user=officer, case=case, task="preliminary_review")


# The materials a one-time notice may ask for, per case kind. A repair: the
# proof of performance (domain section 3; the platform holds the registration
# data, so no 营业执照 or ID copy). An objection: its evidence and the
# subject's identity. A power of attorney only when an agent filed.
SUPPLEMENT_KINDS = {
    CaseKind.REPAIR: (
        MaterialKind.PERFORMANCE_PROOF,
        MaterialKind.POWER_OF_ATTORNEY,
        MaterialKind.OTHER,
    ),
    CaseKind.OBJECTION: (
        MaterialKind.EVIDENCE,
        MaterialKind.IDENTITY_DOCUMENT,
        MaterialKind.POWER_OF_ATTORNEY,
        MaterialKind.OTHER,
    ),
}
# What a notice sent another way (the API) may also name: the subject's
# identity papers, which a repair does not ask for by default.
ALSO_ACCEPTED_KINDS = (MaterialKind.IDENTITY_DOCUMENT, MaterialKind.LEGAL_REP_PROOF)
IDENTITY_LABELS = {
    # A natural person is never asked for a 营业执照.
    True: gettext_lazy("本人身份证件"),
    False: gettext_lazy("营业执照等主体资格证明"),
}


def supplement_kinds(case, *, offered: bool = True) -> list[tuple[str, str]]:
    """(material, label) the case's one-time notice offers (or, `offered`
    False, accepts), worded for its kind of subject: an objection's evidence
    only for an objection, a legal representative's proof never for a
    natural person."""
    kinds = []
    candidates = SUPPLEMENT_KINDS[case.kind]
    if not offered:
        candidates = (*candidates, *ALSO_ACCEPTED_KINDS)
    for kind in dict.fromkeys(candidates):
        if kind == MaterialKind.LEGAL_REP_PROOF and case.subject.is_person:
            continue
        if (
            kind == MaterialKind.POWER_OF_ATTORNEY
            and case.filed_by_capacity != BindingCapacity.AGENT
        ):
            continue
        label = kind.label
        if kind == MaterialKind.IDENTITY_DOCUMENT:
            label = IDENTITY_LABELS[case.subject.is_person]
        kinds.append((kind.value, label))
    return kinds


def supplement_items_clean(items, case=None) -> list[dict]:
    if not items:
        raise ValidationError(_("请列明需要补正的全部材料及其问题。"), code="no_items")
    cleaned, errors = [], []
    for n, item in enumerate(items, start=1):
        material = (item or {}).get("material")
        problem = " ".join(str((item or {}).get("problem") or "").split())
        if material not in MaterialKind.values:
            errors.append(_("第 %(n)d 项没有写明补正哪种材料。") % {"n": n})
            continue
        allowed = dict(supplement_kinds(case, offered=False)) if case is not None else None
        if allowed is not None and material not in allowed:
            errors.append(
                _("第 %(n)d 项：本案不能要求补正“%(material)s”，可以要求的是%(allowed)s。")
                % {
                    "n": n,
                    "material": MaterialKind(material).label,
                    "allowed": "、".join(str(label) for label in allowed.values()),
                }
            )
            continue
        if not problem:
            errors.append(_("第 %(n)d 项没有写明问题。") % {"n": n})
            continue
        label = (allowed or {}).get(material) or MaterialKind(material).label
        name = " ".join(str(item.get("name") or "").split()) or str(label)
        cleaned.append({"material": material, "name": name, "problem": problem})
    if errors:
        raise ValidationError(errors, code="bad_items")
    return cleaned


@transaction.atomic
def supplement_request(
    *,
    officer,
    case: RepairCase,
    items: list[dict],
    at: dt.datetime | None = None,
    override_reason: str = "",
    supervisor=None,
) -> SupplementRequest:
    """The one-time notice (一次性告知, Jinan plan): every item in one letter,
    with the applicant's 10-working-day window from the supplement policy."""
    at = at_or_now(at)
    case = case_locked(case)
    require_holder(officer, case, "preliminary_review")
    require_status(case, CaseStatus.IN_PRELIMINARY_REVIEW)
    items = supplement_items_clean(items, case)
    override_reason = " ".join((override_reason or "").split())
    if case.supplement_requests.exists():
        # Jinan plan: one notice per case; a second one breaks the promise
        # unless a supervisor overrides it, and every override is recorded.
        if supervisor is None or getattr(supervisor, "role", None) != Role.SUPERVISOR:
            raise ValidationError(
                _("本案已一次性告知过补正材料，再次告知须经监督人员批准并说明理由。"),
                code="second_request",
            )
        if not override_reason:
            raise ValidationError(_("请填写再次告知补正的理由。"), code="override_reason")
    elif supervisor is not None:
        # The supervisor only overrides; a first notice is the officer's own
        # act (and would otherwise be recorded as the officer's without them).
        raise PermissionDenied(_("首次补正告知由初审人员办理，监督人员只能批准再次告知。"))
    # The notice is the preliminary review's outcome: that step is done. The
    # other office clocks (the acceptance decision's) pause until the answer:
    # they are neither met nor late for a step that has not happened.
    if Stage.PRELIMINARY_REVIEW in open_stages(case):
        clock_stop(case=case, stage=Stage.PRELIMINARY_REVIEW, actor=officer, at=at)
    clocks_wait_for_applicant(case, actor=officer, at=at, reason=SUPPLEMENT_WAIT)
    clock = clock_start(case=case, stage=Stage.SUPPLEMENT, actor=officer, at=at, label=case.label)
    letter = case_letter_issue(
        case,
        LetterKind.SUPPLEMENT,
        actor=officer,
        at=at,
        items=[{"name": i["name"], "problem": i["problem"]} for i in items],
        deadline=timezone.localtime(clock.due_at).isoformat(),
        window_days=clock.policy.n,
    )
    request = SupplementRequest.objects.create(
        **owned_by(case),
        items=items,
        deadline=clock.due_at,
        requested_by=officer,
        requested_at=at,
        letter=letter,
        override_reason=override_reason,
        override_by=supervisor,
    )
    transition_fire(
        case,
        "request_supplement",
        actor=officer,
        at=at,
        comment=override_reason,
        summary={"items": len(items), "letter": letter.number},
    )
    engine.task_done(case, "preliminary_review", officer)
    if supervisor is not None:
        audit_record(
            actor=supervisor,
            action="flows.supplement.override",
            object_type="flows.SupplementRequest",
            object_id=request.pk,
            summary={
                "case": case.label,
                "reason": override_reason,
                "officer": officer.pk,
                "round": case.supplement_count,
            },
        )
    return request


@transaction.atomic
def supplement_answer(*, applicant, case: RepairCase, at: dt.datetime | None = None) -> RepairCase:
    """The applicant has uploaded everything the notice asked for: back to
    preliminary review, on a new same-day clock; the office clocks paused by
    the notice run on."""
    at = at_or_now(at)
    case = case_locked(case)
    require_applicant(case, applicant)
    require_status(case, CaseStatus.AWAITING_SUPPLEMENT)
    request = supplement_open(case)
    if at > request.deadline:
        raise ValidationError(
            _("补正期限已于 %(deadline)s 届满，申请已逾期。")
            % {"deadline": timezone.localtime(request.deadline).strftime("%Y-%m-%d %H:%M")},
            code="late",
        )
    have = set(
        case.materials.filter(round=1, uploaded_at__gte=request.requested_at).values_list(
            "kind", flat=True
        )
    )
    missing = [i["name"] for i in request.items if i["material"] not in have]
    if missing:
        raise ValidationError(
            _("还有补正材料未上传：%(missing)s。") % {"missing": "、".join(missing)},
            code="missing_materials",
        )
    request.answered_at = at
    request.save(update_fields=["answered_at"])
    clock_stop(case=case, stage=Stage.SUPPLEMENT, actor=applicant, at=at)
    resumed = clocks_resume_for_office(case, actor=applicant, at=at)
    transition_fire(case, "resubmit", actor=applicant, at=at)
    engine.task_done(case, "supplement")
    clock_start(case=case, stage=Stage.PRELIMINARY_REVIEW, actor=applicant, at=at, label=case.label)
    if Stage.ACCEPTANCE not in resumed:
        # A notice sent before acceptance clocks paused stopped that clock:
        # the acceptance decision is then due from the complete materials.
        acceptance_clock_start(case, actor=applicant, at=at)
    return case


def _tell_applicant_lapsed(case, due_at: dt.datetime) -> None:
    """The notice of the lapse: an email through the outbox (in this
    transaction), when the applicant has an address; the case page shows it too."""
    if not case.applicant.email:
        return
    with translation.override("zh-hans"):
        facts = {
            "number": case.number,
            "decision": case.record.decision_number,
            "deadline": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M"),
        }
        if case.kind == CaseKind.OBJECTION:
            subject = _("【异议】%(number)s 逾期未补正，异议申请已终止") % facts
            body = (
                _(
                    "您好：\n\n您的异议申请 %(number)s（行政处罚决定书 %(decision)s）"
                    "未在补正期限 %(deadline)s 前补正材料，视为撤回申请，本案已终止。"
                    "如仍有异议，可以重新提出。\n\n本邮件由系统自动发送，请勿直接回复。"
                )
                % facts
            )
        else:
            subject = _("【信用修复】%(number)s 逾期未补正，申请已终止") % facts
            body = (
                _(
                    "您好：\n\n您的信用修复申请 %(number)s（行政处罚决定书 %(decision)s）"
                    "未在补正期限 %(deadline)s 前补正材料，视为撤回申请，本案已终止。"
                    "如仍需修复，可以重新提出申请。\n\n本邮件由系统自动发送，请勿直接回复。"
                )
                % facts
            )
    message_queue(
        # Per kind: a repair case and an objection may share a primary key.
        key=f"{case.kind}_case:{case.pk}:lapsed",
        to=case.applicant.email,
        subject=subject,
        body=body,
        user=case.applicant,
    )


def cases_lapse_due(*, now: dt.datetime) -> int:
    """Close, as lapsed, the cases whose supplement window ended before `now`
    (a deadline is met up to and including its instant). Each case in its own
    transaction; a case answered or withdrawn meanwhile is left alone, so two
    sweeps never lapse one case twice."""
    lapsed = 0
    for model in (RepairCase, ObjectionCase):
        lapsed += _lapse_due(model, now=now)
    return lapsed


def _lapse_due(model, *, now: dt.datetime) -> int:
    due = SlaClock.objects.filter(
        case_type=ContentType.objects.get_for_model(model),
        stage=Stage.SUPPLEMENT,
        stopped_at=None,
        due_at__lt=now,
    ).values_list("case_id", flat=True)
    lapsed = 0
    for case_id in list(due):
        with transaction.atomic():
            case = (
                model.objects.select_for_update(of=("self",))
                .select_related("record")
                .filter(pk=case_id, status=CaseStatus.AWAITING_SUPPLEMENT)
                .first()
            )
            if case is None:
                continue
            clock = clocks_for(case).filter(stage=Stage.SUPPLEMENT, stopped_at=None).first()
            if clock is None or clock.due_at >= now:
                continue
            clocks_stop_all(case, actor="system", at=now)
            transition_fire(
                case,
                "lapse",
                actor="system",
                at=now,
                params={"at": now},
                comment=_("逾期未补正，视为撤回申请。"),
            )
            engine.task_done(case, "supplement")
            _tell_applicant_lapsed(case, clock.due_at)
            lapsed += 1
    return lapsed


@transaction.atomic
def preliminary_review_refuse(
    *, officer, case: RepairCase, reasons: list[str], basis: str
) -> RepairCase:
    at = timezone.now()
    case = case_locked(case)
    require_holder(officer, case, "preliminary_review")
    require_status(case, CaseStatus.IN_PRELIMINARY_REVIEW)
    reasons = clean_list(reasons, _("不予受理的理由"))
    basis = clean_text(basis, _("不予受理的依据"))
    return case_close_refused(
        case, "refuse", LetterKind.REFUSAL_TO_ACCEPT, actor=officer, at=at, reasons=reasons,
        basis=basis, task="preliminary_review",
    )  # fmt: skip


def case_close_refused(
    case: RepairCase,
    transition: str,
    kind: str,
    *,
    actor,
    at,
    reasons: list[str],
    basis: str,
    task: str,
) -> RepairCase:
    """A refusal (to accept, or to repair): its letter with the reasons and the
    rule, every clock stopped, the transition."""
    letter = case_letter_issue(case, kind, actor=actor, at=at, reasons=reasons, basis=basis)
    clocks_stop_all(case, actor=actor, at=at)
    transition_fire(
        case,
        transition,
        actor=actor,
        at=at,
        comment="；".join(reasons),
        params={"reasons": reasons, "basis": basis, "letter": letter, "at": at},
        summary={"letter": letter.number},
    )
    engine.task_done(case, task, actor)
    return case
