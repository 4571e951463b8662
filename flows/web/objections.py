"""The applicant's objection pages (异议): filing from the record page (grounds
and statement, evidence, the signed objection commitment), and the
objection's page (status, deadline, timeline, letters, supplement, withdrawal).

The repair pages' helpers (flows/web/applicant.py) serve both kinds of case; the
rules live in flows.objections.services and the shared flows/cases/, and each
refusal is shown as the service worded it, beside the field it is about.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from flows.cases.materials import materials_removable
from flows.cases.selectors import cases_for_user
from flows.models import CLOSED_STATUSES, CaseStatus, ObjectionCase
from flows.objections.services import (
    attestation_signer,
    objection_draft_save,
    objection_required_materials,
    objection_signer,
    objection_submit,
)
from flows.web.applicant import (
    OBJECTION_NEXT_STEP,
    CaseKind,
    applicant_materials,
    applicant_required,
    case_for_page,
    case_page,
    material_file,
    material_slots,
    missing_anchor,
    refusal_messages,
)
from flows.web.common import (
    error_summary,
    objection_ground_choices,
    objection_ground_labels,
    upload_summary,
)
from records.models import BindingCapacity, SubjectBinding
from records.selectors import record_get_for_user

# The objection commitment the applicant signs: by ticking it, as the
# logged-in account's person in their binding's capacity (no typed name).
COMMITMENT_TEXT = gettext_lazy(
    "本人承诺所提交的材料真实、准确、完整，如有不实，愿承担相应法律责任。"
)


SIGNER_POINTER = gettext_lazy("当前账号还不能签署本承诺，原因见“异议承诺”中的签署人一栏。")


def _by_field(error: ValidationError | PermissionDenied, fields: dict[str, str]) -> dict:
    """The service's messages by the form field their code is about ("" for the rest)."""
    if not isinstance(error, ValidationError):
        return {"": refusal_messages(error)}
    items = [error] if hasattr(error, "error_dict") else error.error_list
    errors: dict[str, list[str]] = {}
    for item in items:
        errors.setdefault(fields.get(getattr(item, "code", None), ""), []).extend(item.messages)
    return errors


def _get(request, pk: int) -> ObjectionCase:
    return case_for_page(request, pk, OBJECTION)


def _ground_labels(case: ObjectionCase) -> list[str]:
    return objection_ground_labels(case.grounds, case.subject)


def _page(request, case, **kwargs):
    return case_page(
        request,
        case,
        template="flows/objection_detail.html",
        next_steps=OBJECTION_NEXT_STEP,
        extra={"ground_labels": _ground_labels(case), "attestation": attestation_signer(case)},
        **kwargs,
    )


# Filing


@applicant_required
def objection_new(request, record_pk: int):
    """提出异议 on one record of the applicant's subject, whatever its repair
    eligibility: grounds and statement, saved as a draft."""
    record = record_get_for_user(user=request.user, pk=record_pk)
    binding = SubjectBinding.objects.filter(user=request.user, subject=record.subject).first()
    existing = (
        cases_for_user(request.user, ObjectionCase)
        .filter(record=record)
        .exclude(status__in=CLOSED_STATUSES)
        .first()
    )
    own_draft = (
        existing if existing is not None and existing.applicant_id == request.user.pk else None
    )
    grounds = own_draft.grounds if own_draft else []
    statement = own_draft.details if own_draft else ""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        grounds = request.POST.getlist("grounds")
        statement = request.POST.get("statement", "")
        try:
            case = objection_draft_save(
                applicant=request.user,
                record=record,
                grounds=grounds,
                statement=statement,
                capacity=request.POST.get("capacity", ""),
            )
        except (ValidationError, PermissionDenied) as error:
            errors = _by_field(error, {"grounds": "grounds"})
        else:
            messages.success(request, _("异议已保存为草稿，请上传异议证明材料。"))
            return redirect("flows:objection_materials", pk=case.pk)
    return render(
        request,
        "flows/objection_new.html",
        {
            "record": record,
            "binding": binding,
            "capacity_label": BindingCapacity(binding.capacity).label if binding else "",
            "existing": existing,
            "grounds_choices": objection_ground_choices(record.subject),
            "grounds": grounds,
            "statement": statement,
            "errors": errors.get("", []),
            "grounds_errors": errors.get("grounds", []),
        },
        status=400 if errors else 200,
    )


def _materials_page(request, case, *, upload_errors=None, submit=None, status=200):
    submit = submit or {}
    error = submit.get("error")
    slots, stray = material_slots(
        case, objection_required_materials(case), upload_errors, submit_error=error
    )
    errors = submit.get("errors", {})
    # Who signs, in which capacity, and why they may not: said before they try.
    signer, signer_problem, signer_code = objection_signer(case=case, user=request.user)
    submit_errors = [e for e in errors.get("", []) if e != signer_problem]
    anchors = {
        "missing_materials": missing_anchor(slots),
        "confirmed": "#confirmed",
        "statement": "#statement-error",
    }
    if signer_code:
        anchors[signer_code] = "#signer-problem"
    return render(
        request,
        "flows/objection_materials.html",
        {
            "case": case,
            "slots": slots,
            "materials": applicant_materials(case),
            "removable": materials_removable(case, request.user),
            "upload_errors_other": stray,
            "ground_labels": _ground_labels(case),
            "commitment_text": COMMITMENT_TEXT,
            "signer": signer,
            "signer_problem": signer_problem,
            "confirmed": submit.get("confirmed", False),
            "submit_errors": submit_errors,
            "confirmed_errors": errors.get("confirmed", []),
            "statement_errors": errors.get("statement", []),
            # At the top of the page, each line leading to its field.
            "summary": upload_summary(slots, stray)
            + [
                # The signer's problem is said once, beside the signer: pointed to here.
                {**item, "message": SIGNER_POINTER} if item["message"] == signer_problem else item
                for item in error_summary(error, anchors)
            ],
        },
        status=status,
    )


OBJECTION = CaseKind(
    model=ObjectionCase,
    detail="flows:objection_detail",
    materials="flows:objection_materials",
    page=_page,
    materials_page=_materials_page,
    withdrawn=gettext_lazy("异议已撤回。"),
)


@applicant_required
@require_POST
def objection_submit_view(request, pk: int):
    """Submit with the objection commitment: the ticked confirmation, signed
    as the logged-in account (a name typed into the form is not read)."""
    case = _get(request, pk)
    confirmed = request.POST.get("confirmed") == "on"
    try:
        case = objection_submit(
            applicant=request.user,
            case=case,
            confirmed=confirmed,
            ip=request.META.get("REMOTE_ADDR") or None,
        )
    except (ValidationError, PermissionDenied) as error:
        case.refresh_from_db()
        if case.status != CaseStatus.DRAFT:
            for problem in refusal_messages(error):
                messages.error(request, problem)
            return redirect("flows:objection_detail", pk=case.pk)
        fields = {"confirmed": "confirmed", "statement": "statement"}
        submit = {"confirmed": confirmed, "errors": _by_field(error, fields), "error": error}
        return _materials_page(request, case, submit=submit, status=400)
    messages.success(request, _("异议已提交，申请编号 %(number)s。") % {"number": case.number})
    return redirect("flows:objection_detail", pk=case.pk)


@login_required
def objection_material(request, pk: int, material_pk: int):
    """An objection's material: for the applicant and for the staff who may
    see the objection (natural persons' files registered with a stated purpose)."""
    return material_file(request, _get(request, pk), material_pk, "objection_material")
