import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from flows.cases.eligibility import filing_answer, filing_answers
from flows.models import CaseStatus, ObjectionCase
from flows.web.common import refusal_messages
from records.models import (
    DecisionChangeKind,
    Department,
    PenaltyType,
    RecordStatus,
    Severity,
    SubjectBinding,
)
from records.selectors import (
    issuing_department_id,
    record_get_for_user,
    records_visible_to,
    subject_get_for_user,
)
from records.services import record_decision_change
from repair_flow.access import access_register, needs_registration, session_purpose
from repair_flow.models import Role
from sla.clocks import clocks_for


def _purpose_or_redirect(request, subject, what: str):
    """For staff viewing a natural person: the stated purpose (registering the
    view), or a redirect to the purpose form."""
    if not needs_registration(request.user, subject):
        return None
    purpose = session_purpose(request, subject)
    if purpose is None:
        url = reverse("access_purpose", args=[subject.pk])
        return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")
    access_register(user=request.user, subject=subject, what=what, purpose=purpose, channel="page")
    return None


@login_required
def record_list(request):
    records = records_visible_to(request.user)
    q = request.GET.get("q", "").strip()
    if q:
        records = records.filter(
            Q(decision_number__icontains=q)
            | Q(subject__name__icontains=q)
            | Q(subject__identifier=q.upper())
        )
    filters = {}
    for name in ("status", "severity", "department"):
        value = request.GET.get(name, "")
        if value:
            filters[name] = value
    if filters.get("status") in RecordStatus.values:
        records = records.filter(status=filters["status"])
    if filters.get("severity") in Severity.values:
        records = records.filter(severity=filters["severity"])
    if filters.get("department"):
        records = records.filter(department__code=filters["department"])
    page = Paginator(records.order_by("-decision_date", "-id"), 25).get_page(
        request.GET.get("page")
    )
    today = timezone.localdate()
    answers = filing_answers(page, on=today)
    rows = [(record, answers[record.pk]) for record in page]
    departments = Department.objects.all() if request.user.role != Role.APPLICANT else []
    return render(
        request,
        "records/record_list.html",
        {
            "page": page,
            "rows": rows,
            "q": q,
            "filters": filters,
            "statuses": RecordStatus.choices,
            "severities": Severity.choices,
            "departments": departments,
            "today": today,
            "query": urlencode({"q": q, **filters}),
        },
    )


def _shown_change(change: dict) -> dict:
    """A diff row as people read it: penalty types and severity by their names."""
    labels = {**dict(PenaltyType.choices), **dict(Severity.choices)}

    def shown(value: str) -> str:
        if change["field"] == "penalty_types":
            return "、".join(str(labels.get(code, code)) for code in value.split(",") if code)
        if change["field"] == "severity":
            return str(labels.get(value, value))
        return value

    return {**change, "old": shown(change["old"]), "new": shown(change["new"])}


def _detail_context(request, record) -> dict:
    # The same answer as the list's (flows/cases/eligibility.py): the period,
    # the limits and the cases open on the record.
    result = filing_answer(record)
    # The corrections objections made (更正), oldest first: whoever may see the
    # record sees what was changed, by whom and on what evidence.
    corrections = list(record.corrections.select_related("actor").order_by("at", "id"))
    for correction in corrections:
        correction.shown = [_shown_change(change) for change in correction.changes]
    own_draft = ObjectionCase.objects.filter(
        record=record, status=CaseStatus.DRAFT, applicant_id=request.user.pk
    ).first()
    # Any record of a subject the applicant acts for, whatever its repair eligibility.
    may_object = (
        request.user.role == Role.APPLICANT
        and SubjectBinding.objects.filter(user=request.user, subject=record.subject).exists()
    )
    decision_changes = list(record.decision_changes.select_related("actor").order_by("id"))
    for change in decision_changes:
        change.clock = clocks_for(change).order_by("-id").first()
    return {
        "record": record,
        "answer": result,
        "corrections": corrections,
        # An open objection (filed, not a draft) bars a new repair case until it closes.
        "open_objection": result.open_objection,
        "objection_draft": own_draft,
        "may_object": may_object,
        "decision_changes": decision_changes,
        # Art. 40: the issuing department's reviewer reports a revoked or changed decision.
        "may_report_change": request.user.role == Role.REVIEWER
        and issuing_department_id(request.user) == record.department_id,
        "change_kinds": DecisionChangeKind.choices,
        "severities": Severity.choices,
    }


@login_required
def record_detail(request, pk: int):
    record = record_get_for_user(user=request.user, pk=pk)
    response = _purpose_or_redirect(request, record.subject, f"record:{record.pk}")
    if response is not None:
        return response
    return render(request, "records/record_detail.html", _detail_context(request, record))


# The fields a changed decision may change, as the page names its inputs.
CHANGE_INPUTS = ("decision_date", "penalty_types", "fine_amount", "severity", "facts")


@login_required
@require_POST
def record_decision_change_view(request, pk: int):
    """The issuing department's reviewer reports the decision revoked or
    changed (Shandong Social Credit Regulation Art. 40)."""
    record = record_get_for_user(user=request.user, pk=pk)
    post = request.POST
    changes = {name: post[name].strip() for name in CHANGE_INPUTS if post.get(name, "").strip()}
    try:
        changed_on = dt.date.fromisoformat(post.get("changed_on", "").strip())
    except ValueError:
        changed_on = None
    try:
        if changed_on is None:
            raise ValidationError({"changed_on": [_("请填写撤销或变更日期（YYYY-MM-DD）。")]})
        record_decision_change(
            actor=request.user,
            record=record,
            kind=post.get("kind", ""),
            changed_on=changed_on,
            note=post.get("note", ""),
            changes=changes or None,
            source="page",
        )
    except (PermissionDenied, ValidationError) as error:
        record.refresh_from_db()
        context = _detail_context(request, record)
        context["change_errors"] = refusal_messages(error)
        context["change_form"] = post
        status = 403 if isinstance(error, PermissionDenied) else 400
        return render(request, "records/record_detail.html", context, status=status)
    messages.success(request, _("已登记处罚决定撤销或变更，记录已相应变更并通知其他平台。"))
    return redirect("record_detail", pk=record.pk)


@login_required
def subject_detail(request, pk: int):
    subject = subject_get_for_user(user=request.user, pk=pk)
    response = _purpose_or_redirect(request, subject, f"subject:{subject.pk}")
    if response is not None:
        return response
    records = records_visible_to(request.user).filter(subject=subject)
    answers = filing_answers(records)
    rows = [(record, answers[record.pk]) for record in records]
    return render(request, "records/subject_detail.html", {"subject": subject, "rows": rows})
