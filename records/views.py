from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from flows.cases.eligibility import filing_answer, filing_answers
from flows.models import CaseStatus, ObjectionCase
from records.disclosure import status_choices
from records.models import (
    Department,
    PenaltyType,
    RecordStatus,
    Severity,
    SubjectBinding,
    SubjectKind,
)
from records.selectors import record_get_for_user, records_visible_to, subject_get_for_user
from repair_flow.access import access_register, needs_registration, session_purpose
from repair_flow.models import Role


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
    # An applicant who acts only for natural persons never reads 公示 (Shandong Art. 20).
    bindings = SubjectBinding.objects.filter(user=request.user)
    person_only = (
        request.user.role == Role.APPLICANT
        and bindings.exists()
        and not bindings.exclude(subject__kind=SubjectKind.PERSON).exists()
    )
    return render(
        request,
        "records/record_list.html",
        {
            "page": page,
            "rows": rows,
            "q": q,
            "filters": filters,
            "statuses": status_choices(person=person_only),
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


@login_required
def record_detail(request, pk: int):
    record = record_get_for_user(user=request.user, pk=pk)
    response = _purpose_or_redirect(request, record.subject, f"record:{record.pk}")
    if response is not None:
        return response
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
    return render(
        request,
        "records/record_detail.html",
        {
            "record": record,
            "answer": result,
            "corrections": corrections,
            # An open objection (filed, not a draft) bars a new repair case until it closes.
            "open_objection": result.open_objection,
            "objection_draft": own_draft,
            "may_object": may_object,
        },
    )


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
