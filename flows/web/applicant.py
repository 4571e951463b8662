"""The applicant's repair pages: 我的申请, filing a repair (draft, materials,
submission), and the case page (timeline, letters, supplement, withdrawal).

Views read through the selectors and write through the services; every
rule (eligibility, binding, materials, statuses) lives there, and each
refusal a service raises is shown to the applicant as it was worded.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from flows.cases.common import case_commitment
from flows.cases.eligibility import filing_answer, filing_answers
from flows.cases.materials import (
    case_material_add,
    case_material_remove,
    material_download_name,
    materials_removable,
)
from flows.cases.review import supplement_answer
from flows.cases.selectors import case_get_for_user, cases_for_user, materials_for_user
from flows.cases.withdrawal import case_withdraw
from flows.models import (
    CLOSED_STATUSES,
    WITHDRAWABLE,
    CaseStatus,
    MaterialKind,
    ObjectionCase,
    RepairCase,
)
from flows.repair.services import (
    SHARED_MATERIALS,
    repair_case_draft_save,
    repair_case_submit,
    repair_cases_draft_many,
    required_materials,
)
from flows.web.common import error_summary, refusal_messages, upload_summary
from flows.web.monitoring import case_monitoring
from letters.commitments import letters_for_user
from letters.models import CommitmentStatus
from records.models import BindingCapacity, CreditRecord, SubjectBinding
from records.selectors import record_get_for_user
from repair_flow.access import purpose_or_redirect
from repair_flow.models import Role
from repair_flow.paging import EstimatedCountPaginator
from repair_flow.roles import role_required
from sla.clocks import clock_explain, clocks_for
from sla.models import APPLICANT_STAGES, INTERNAL_STAGES, ClockState, SlaClock

FILE_FIELD = "file_"

# What the applicant can expect next, per status (shown in 我的申请 and on the case).
NEXT_STEP = {
    CaseStatus.DRAFT: gettext_lazy("上传申请材料、阅读并签署信用修复承诺书后提交申请。"),
    CaseStatus.SUBMITTED: gettext_lazy("等待信用平台工作人员初审。"),
    CaseStatus.IN_PRELIMINARY_REVIEW: gettext_lazy("信用平台工作人员正在初审。"),
    CaseStatus.AWAITING_SUPPLEMENT: gettext_lazy("请在补正期限前上传补正材料并提交补正。"),
    CaseStatus.RESUBMITTED: gettext_lazy("已补正，等待信用平台工作人员再次初审。"),
    CaseStatus.NOT_ACCEPTED: gettext_lazy("申请不予受理，详见不予受理通知书。"),
    CaseStatus.LAPSED: gettext_lazy("逾期未补正，申请已终止；如仍需修复，可以重新申请。"),
    CaseStatus.ACCEPTED: gettext_lazy("已受理，等待认定单位审核。"),
    CaseStatus.IN_DEPARTMENT_REVIEW: gettext_lazy("认定单位正在审核。"),
    CaseStatus.APPROVED: gettext_lazy("准予修复，详见信用修复决定书。"),
    CaseStatus.REJECTED: gettext_lazy("不予修复，详见不予修复决定书。"),
    CaseStatus.WITHDRAWN: gettext_lazy("申请已撤回。"),
    CaseStatus.COMPLETED: gettext_lazy(
        "信用承诺履约监管期满，监管期内未发现违反承诺的情形，本案办结。"
    ),
    CaseStatus.REVOKED: gettext_lazy(
        # Worded for every subject: a natural person's record is never published
        # (Shandong Social Credit Regulation Art. 20).
        "经认定违反信用修复承诺，信用修复决定已撤销，该记录在剩余期限内重新披露，"
        "详见撤销信用修复决定书。"
    ),
}
# The same for an objection (异议): the front half is repair's, the check its own.
OBJECTION_NEXT_STEP = {
    **NEXT_STEP,
    CaseStatus.DRAFT: gettext_lazy("上传异议证明材料后，签署承诺并提交异议。"),
    CaseStatus.NOT_ACCEPTED: gettext_lazy("异议不予受理，详见不予受理通知书。"),
    CaseStatus.LAPSED: gettext_lazy("逾期未补正，异议已终止；如仍有异议，可以重新提出。"),
    CaseStatus.ACCEPTED: gettext_lazy("异议已受理，记录标注“异议处理中”，等待核查。"),
    CaseStatus.IN_VERIFICATION: gettext_lazy("正在核查，处理结果将书面告知。"),
    CaseStatus.CORRECTED: gettext_lazy("记录已更正，详见异议处理结果告知书。"),
    CaseStatus.DELETED: gettext_lazy("记录已删除，详见异议处理结果告知书。"),
    CaseStatus.MAINTAINED: gettext_lazy("记录维持不变，理由详见异议处理结果告知书。"),
    CaseStatus.UNVERIFIABLE: gettext_lazy(
        "经核查无法核实，记录保留并标注“无法核实”，理由详见异议处理结果告知书。"
    ),
    CaseStatus.WITHDRAWN: gettext_lazy("异议已撤回。"),
}

applicant_required = role_required(Role.APPLICANT)


def _open_clocks(case) -> list:
    """The open clocks an applicant is shown: their own and the office's
    promises to them, not the platform's internal steps (the sync)."""
    return list(
        clocks_for(case)
        .filter(stopped_at=None)
        .exclude(stage__in=INTERNAL_STAGES)
        .order_by("due_at")
    )


def _open_clocks_of(cases) -> dict[tuple[type, int], list]:
    """`_open_clocks` of many cases (of any kinds) in one query, by (model, pk)."""
    by_type: dict[int, type] = {}
    q = Q(pk__in=[])
    for model in {type(case) for case in cases}:
        content_type = ContentType.objects.get_for_model(model)
        by_type[content_type.pk] = model
        q |= Q(case_type=content_type, case_id__in=[c.pk for c in cases if type(c) is model])
    clocks: dict[tuple[type, int], list] = {}
    if not by_type:
        return clocks
    # The list shows each clock's deadline and stage, nothing it relates to.
    open_clocks = (
        SlaClock.objects.filter(q, stopped_at=None)
        .exclude(stage__in=INTERNAL_STAGES)
        .order_by("due_at", "id")
    )
    for clock in open_clocks:
        clocks.setdefault((by_type[clock.case_type_id], clock.case_id), []).append(clock)
    return clocks


def applicant_deadlines(case) -> list[dict]:
    """Each open deadline as the applicant reads it: theirs or the office's."""
    return [
        {
            "clock": clock,
            "stage": clock.get_stage_display(),
            "yours": clock.stage in APPLICANT_STAGES,
            "paused": clock.state == ClockState.PAUSED,
            "rule": clock.policy.describe(),
            "explanation": clock_explain(clock, for_applicant=True),
        }
        for clock in _open_clocks(case)
    ]


def applicant_materials(case: RepairCase) -> list:
    """The applicant's pages: the case's materials but the staff-only ones."""
    return list(materials_for_user(case, None))


def _upload(request, case: RepairCase) -> tuple[int, dict[str, list[str]]]:
    """Each chosen file through case_material_add (one transaction each):
    the accepted ones are kept, each rejected one keeps its own message;
    the page says how many were kept, or that none was chosen."""
    added, errors = 0, {}
    for field in request.FILES:
        kind = field.removeprefix(FILE_FIELD)
        for upload in request.FILES.getlist(field):
            try:
                case_material_add(case=case, user=request.user, kind=kind, upload=upload)
            except (ValidationError, PermissionDenied) as error:
                errors.setdefault(kind, []).extend(refusal_messages(error))
            else:
                added += 1
    if not added and not errors:
        messages.error(request, _("请选择要上传的文件。"))
    elif added:
        messages.success(request, _("已上传 %(n)d 个文件。") % {"n": added})
    return added, errors


# 我的申请

CASE_PAGE_SIZE = 50


@applicant_required
def case_list(request):
    # Paged, and each page's deadlines read in one query: an agent acting for
    # many subjects has hundreds of cases (issue 18: 105 queries for 100 cases).
    # A row shows its record and subject: not the staff, the department or
    # the applicant the selector also joins for other pages.
    page = EstimatedCountPaginator(
        cases_for_user(request.user)
        .select_related(None)
        .select_related("record", "subject")
        .order_by("-created_at", "-id"),
        CASE_PAGE_SIZE,
    )
    cases = page.get_page(request.GET.get("page"))
    objection_page = EstimatedCountPaginator(
        cases_for_user(request.user, ObjectionCase)
        .select_related(None)
        .select_related("record", "subject")
        .order_by("-created_at", "-id"),
        CASE_PAGE_SIZE,
    ).get_page(request.GET.get("objection_page"))
    clocks = _open_clocks_of(list(cases) + list(objection_page))
    rows = [
        (case, NEXT_STEP.get(case.status, ""), clocks.get((RepairCase, case.pk), [])[:1])
        for case in cases
    ]
    objection_rows = [
        (
            case,
            OBJECTION_NEXT_STEP.get(case.status, ""),
            clocks.get((ObjectionCase, case.pk), [])[:1],
        )
        for case in objection_page
    ]
    return render(
        request,
        "flows/case_list.html",
        {
            "rows": rows,
            "objection_rows": objection_rows,
            "page_obj": cases,
            "objection_page_obj": objection_page,
        },
    )


# Filing


@applicant_required
def case_new(request, record_pk: int):
    """申请信用修复 for one record: details and capacity, saved as a draft."""
    record = record_get_for_user(user=request.user, pk=record_pk)
    binding = SubjectBinding.objects.filter(user=request.user, subject=record.subject).first()
    existing = (
        cases_for_user(request.user).filter(record=record).exclude(status__in=CLOSED_STATUSES)
    ).first()
    # The applicant's own draft is the one this page edits: it does not stand in its way.
    own_draft = (
        existing if existing is not None and existing.applicant_id == request.user.pk else None
    )
    eligibility = filing_answer(record, exclude_case=own_draft)
    errors: list[str] = []
    details = existing.details if existing is not None else ""
    if request.method == "POST":
        details = request.POST.get("details", "")
        try:
            case = repair_case_draft_save(
                applicant=request.user,
                record=record,
                details=details,
                capacity=request.POST.get("capacity", ""),
            )
        except (ValidationError, PermissionDenied) as error:
            errors = refusal_messages(error)
        else:
            messages.success(request, _("申请已保存为草稿，请上传申请材料。"))
            return redirect("flows:materials", pk=case.pk)
    return render(
        request,
        "flows/case_new.html",
        {
            "record": record,
            "answer": eligibility,
            "eligible": eligibility.may_file,
            "binding": binding,
            "capacity_label": BindingCapacity(binding.capacity).label if binding else "",
            "existing": existing,
            "open_objection": eligibility.open_objection,
            "details": details,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


def _fileable(request) -> list[dict]:
    """The records of the applicant's subjects that are repairable by their
    period, each with whether it can be filed now and, if not, why (the same
    answer as the record list and page)."""
    bound = SubjectBinding.objects.filter(user=request.user).values("subject_id")
    records = (
        CreditRecord.objects.filter(subject_id__in=bound)
        .select_related("department", "subject")
        .order_by("subject__name", "-decision_date", "id")
    )
    answers = filing_answers(records)
    return [
        {"record": record, "answer": answers[record.pk], "why": answers[record.pk].why_not}
        for record in records
        if answers[record.pk].fileable_later
    ]


SHARED_FIELDS = {kind: f"{FILE_FIELD}{kind}" for kind in SHARED_MATERIALS}


@applicant_required
def case_new_many(request):
    """One filing for several records (一网通办): a draft case for each ticked
    record, the shared materials attached to every one; then each case gets
    its own proof of performance and is submitted from 我的申请."""
    rows = _fileable(request)
    errors: list[str] = []
    details, picked = "", set()
    if request.method == "POST":
        details = request.POST.get("details", "")
        picked = {int(pk) for pk in request.POST.getlist("record") if pk.isdigit()}
        bound = SubjectBinding.objects.filter(user=request.user).values("subject_id")
        chosen = list(
            CreditRecord.objects.filter(pk__in=picked, subject_id__in=bound)
            .select_related("subject")
            .order_by("id")
        )
        if len(chosen) != len(picked):
            errors.append(_("所选记录中有不属于您绑定主体的记录。"))
        shared = {
            kind: request.FILES[field]
            for kind, field in SHARED_FIELDS.items()
            if field in request.FILES
        }
        if not errors:
            try:
                cases = repair_cases_draft_many(
                    applicant=request.user, records=chosen, details=details, shared=shared
                )
            except (ValidationError, PermissionDenied) as error:
                errors = refusal_messages(error)
            else:
                messages.success(
                    request,
                    _(
                        "已为 %(n)d 条记录分别保存申请草稿。请逐一上传履行义务证明、"
                        "阅读并签署该条记录的信用修复承诺书后提交。"
                    )
                    % {"n": len(cases)},
                )
                return redirect("flows:list")
    agent = SubjectBinding.objects.filter(
        user=request.user, capacity=BindingCapacity.AGENT
    ).exists()
    shared_slots = [
        {"kind": kind, "label": MaterialKind(kind).label, "field": field}
        for kind, field in SHARED_FIELDS.items()
        if kind != MaterialKind.POWER_OF_ATTORNEY or agent
    ]
    return render(
        request,
        "flows/case_new_many.html",
        {
            "rows": rows,
            "picked": picked,
            "details": details,
            "errors": errors,
            "shared_slots": shared_slots,
        },
        status=400 if errors else 200,
    )


def material_slots(
    case, required: list[str], upload_errors=None, *, submit_error=None
) -> tuple[list, list]:
    """The upload slots of a draft (each required kind, then other material,
    each with its own errors; after a submission refused for missing
    materials, each missing one says so), and the errors about any other kind."""
    have = {m.kind for m in case.materials.all() if m.round == 0}
    kinds = [*required, MaterialKind.OTHER]
    slots = [
        {
            "kind": kind,
            "label": MaterialKind(kind).label,
            "required": kind in required,
            "uploaded": kind in have,
            "errors": (upload_errors or {}).get(kind, []),
        }
        for kind in kinds
    ]
    stray = [
        message
        for kind, problems in (upload_errors or {}).items()
        if kind not in kinds
        for message in problems
    ]
    if messages_for(submit_error, "missing_materials"):
        for slot in slots:
            if slot["required"] and not slot["uploaded"]:
                slot["missing"] = _("尚未上传%(kind)s，提交前请上传。") % {"kind": slot["label"]}
    return slots, stray


def messages_for(error, code: str) -> list[str]:
    """The messages of a refusal that have this code."""
    if not isinstance(error, ValidationError) or hasattr(error, "error_dict"):
        return []
    return [m for item in error.error_list if item.code == code for m in item.messages]


def missing_anchor(slots: list[dict]) -> str:
    """Where the summary's "materials missing" line leads: the first missing slot."""
    first = next((slot for slot in slots if slot.get("missing")), None)
    return f"#file_{first['kind']}" if first else ""


def commitment_slot(case) -> dict:
    """The filing's commitment (part of the application, domain section 3):
    generated from the draft, read and signed before submission."""
    commitment = case_commitment(case)
    signed = commitment is not None and commitment.status == CommitmentStatus.SIGNED
    return {
        "commitment": commitment,
        "signed": signed,
        "block": (commitment.signed.facts.get("signature") or {}).get("block", "")
        if signed and commitment.signed
        else "",
        "agent": case.filed_by_capacity == BindingCapacity.AGENT,
    }


def _materials_page(request, case, *, upload_errors=None, submit_error=None, status=200):
    slots, stray = material_slots(
        case, required_materials(case), upload_errors, submit_error=submit_error
    )
    slot = commitment_slot(case)
    slot["errors"] = messages_for(submit_error, "commitment_not_signed")
    anchors = {"missing_materials": missing_anchor(slots), "commitment_not_signed": "#commitment"}
    return render(
        request,
        "flows/case_materials.html",
        {
            "case": case,
            "commitment_slot": slot,
            "slots": slots,
            "materials": applicant_materials(case),
            "removable": materials_removable(case, request.user),
            "upload_errors_other": stray,
            "submit_errors": refusal_messages(submit_error) if submit_error else [],
            # At the top of the page, each line leading to its field.
            "summary": upload_summary(slots, stray) + error_summary(submit_error, anchors),
        },
        status=status,
    )


@applicant_required
@require_POST
def case_submit(request, pk: int):
    case = case_get_for_user(user=request.user, pk=pk)
    try:
        case = repair_case_submit(applicant=request.user, case=case)
    except (ValidationError, PermissionDenied) as error:
        case.refresh_from_db()
        if case.status != CaseStatus.DRAFT:
            for problem in refusal_messages(error):
                messages.error(request, problem)
            return redirect("flows:detail", pk=case.pk)
        return _materials_page(request, case, submit_error=error, status=400)
    messages.success(request, _("申请已提交，申请编号 %(number)s。") % {"number": case.number})
    return redirect("flows:detail", pk=case.pk)


# The case page


def case_page(
    request,
    case,
    *,
    upload_errors=None,
    supplement_errors=None,
    withdraw=None,
    template="flows/case_detail.html",
    next_steps=NEXT_STEP,
    extra=None,
):
    """The applicant's page of a repair case, or (with its template and next
    steps) of an objection."""
    supplement = None
    if case.status == CaseStatus.AWAITING_SUPPLEMENT:
        supplement = (
            case.supplement_requests.filter(answered_at=None).order_by("-requested_at").first()
        )
    answered = set()
    if supplement is not None:
        answered = set(
            case.materials.filter(round=1, uploaded_at__gte=supplement.requested_at).values_list(
                "kind", flat=True
            )
        )
    items = [
        {
            **item,
            "label": MaterialKind(item["material"]).label,
            "uploaded": item["material"] in answered,
            "errors": (upload_errors or {}).pop(item["material"], []),
        }
        for item in (supplement.items if supplement else [])
    ]
    letters = letters_for_user(request.user).filter(
        case_type=ContentType.objects.get_for_model(type(case)), case_id=case.pk
    )
    # A case accepted before the commitment became part of the filing may
    # still wait for its signature (flows migration
    # 0011_commitment_at_filing).
    commitment = case_commitment(case) if isinstance(case, RepairCase) and case.is_open else None
    if commitment is not None and commitment.status != CommitmentStatus.DRAFT:
        commitment = None
    withdraw = withdraw or {}
    monitoring = case_monitoring(request.user, case)
    return render(
        request,
        template,
        {
            "case": case,
            "next_step": next_steps.get(case.status, ""),
            "events": case.events.select_related("actor"),
            "materials": applicant_materials(case),
            "removable": materials_removable(case, request.user),
            "letters": letters.order_by("issued_at", "id"),
            "commitment": commitment,
            "monitoring": monitoring,
            "supplement": supplement,
            "supplement_items": items,
            "supplement_errors": [
                *(supplement_errors or []),
                *(m for problems in (upload_errors or {}).values() for m in problems),
            ],
            "deadlines": applicant_deadlines(case),
            "withdrawable": case.status in WITHDRAWABLE,
            "withdraw_reason": withdraw.get("reason", ""),
            "withdraw_errors": withdraw.get("errors", []),
            **(extra or {}),
        },
        status=400 if upload_errors or supplement_errors or withdraw.get("errors") else 200,
    )


def material_file(request, case, material_pk: int, purpose: str):
    """One of a case's materials, for whoever may see the case (a natural
    person's file registered under purpose:<pk>)."""
    material = materials_for_user(case, request.user).filter(pk=material_pk).first()
    if material is None:
        raise Http404(_("没有这份材料。"))
    response = purpose_or_redirect(request, case.subject, f"{purpose}:{material.pk}")
    if response is not None:
        return response
    try:
        handle = material.file.open("rb")
    except OSError:
        # Gone from the disk or the object store: a clear 404, never a 500.
        raise Http404(_("材料文件暂时无法读取，请联系信用平台。")) from None
    response = FileResponse(
        handle,
        content_type=material.content_type,
        # Always a download: the browser neither renders it in our origin nor
        # guesses another type (nosniff), whatever the file holds.
        as_attachment=True,
        filename=material_download_name(material),
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# The applicant's views shared by a repair case and an objection, each given its kind.


@dataclass(frozen=True)
class CaseKind:
    """What differs between the applicant's pages of a repair case and of an objection."""

    model: type
    detail: str  # the URL name of the case's page
    materials: str  # the URL name of the draft's materials page
    page: Callable  # (request, case, **errors) -> the case's page
    materials_page: Callable  # (request, case, *, upload_errors, status) -> the materials page
    withdrawn: str  # the message after a withdrawal


REPAIR = CaseKind(
    model=RepairCase,
    detail="flows:detail",
    materials="flows:materials",
    page=case_page,
    materials_page=_materials_page,
    withdrawn=gettext_lazy("申请已撤回。"),
)


def case_for_page(request, pk: int, kind: CaseKind):
    return case_get_for_user(user=request.user, pk=pk, model=kind.model)


@applicant_required
def case_materials(request, pk: int, kind: CaseKind = REPAIR):
    """The draft's materials: upload each required kind, then submit."""
    case = case_for_page(request, pk, kind)
    if case.status != CaseStatus.DRAFT:
        return redirect(kind.detail, pk=case.pk)
    if request.method == "POST":
        _added, errors = _upload(request, case)
        if errors:
            return kind.materials_page(request, case, upload_errors=errors, status=400)
        return redirect(kind.materials, pk=case.pk)
    return kind.materials_page(request, case)


@applicant_required
def case_detail(request, pk: int, kind: CaseKind = REPAIR):
    return kind.page(request, case_for_page(request, pk, kind))


@applicant_required
@require_POST
def case_supplement_upload(request, pk: int, kind: CaseKind = REPAIR):
    """Upload the files the supplement notice asked for (the service refuses any other kind)."""
    case = case_for_page(request, pk, kind)
    _added, errors = _upload(request, case)
    if errors:
        case.refresh_from_db()
        return kind.page(request, case, upload_errors=errors)
    return redirect(kind.detail, pk=case.pk)


@applicant_required
@require_POST
def case_material_remove_view(request, pk: int, material_pk: int, kind: CaseKind = REPAIR):
    """Take back a file uploaded by mistake, before it is submitted; a
    refusal is said at the top of the page it came from."""
    case = case_for_page(request, pk, kind)
    try:
        removed = case_material_remove(case=case, user=request.user, material_pk=material_pk)
    except (ValidationError, PermissionDenied) as error:
        case.refresh_from_db()
        for problem in refusal_messages(error):
            messages.error(request, problem)
        if case.status == CaseStatus.DRAFT:
            response = kind.materials_page(request, case, status=400)
        else:
            response = kind.page(request, case)
        response.status_code = 403 if isinstance(error, PermissionDenied) else 400
        return response
    messages.success(request, _("已删除文件“%(name)s”。") % {"name": removed.original_name})
    if case.status == CaseStatus.DRAFT:
        return redirect(kind.materials, pk=case.pk)
    return redirect(kind.detail, pk=case.pk)


@applicant_required
@require_POST
def case_supplement_answer(request, pk: int, kind: CaseKind = REPAIR):
    case = case_for_page(request, pk, kind)
    try:
        supplement_answer(applicant=request.user, case=case)
    except (ValidationError, PermissionDenied) as error:
        case.refresh_from_db()
        return kind.page(request, case, supplement_errors=refusal_messages(error))
    messages.success(request, _("补正材料已提交，等待再次初审。"))
    return redirect(kind.detail, pk=case.pk)


@applicant_required
@require_POST
def case_withdraw_view(request, pk: int, kind: CaseKind = REPAIR):
    case = case_for_page(request, pk, kind)
    reason = request.POST.get("reason", "")
    try:
        case_withdraw(applicant=request.user, case=case, reason=reason)
    except (ValidationError, PermissionDenied) as error:
        case.refresh_from_db()
        return kind.page(
            request, case, withdraw={"reason": reason, "errors": refusal_messages(error)}
        )
    messages.success(request, str(kind.withdrawn))
    return redirect(kind.detail, pk=case.pk)
