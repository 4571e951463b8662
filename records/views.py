import datetime as dt
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
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
from records.disclosure import status_choices
from records.models import (
    DecisionChangeKind,
    Department,
    PenaltyType,
    RecordStatus,
    Severity,
    Subject,
    SubjectBinding,
    SubjectKind,
)
from records.selectors import (
    EqualsAny,
    issuing_department_id,
    record_get_for_user,
    records_visible_to,
    subject_get_for_user,
)
from records.services import record_decision_change
from repair_flow.access import (
    access_register,
    general_purpose,
    general_purpose_set,
    needs_registration,
    purpose_is_valid,
    registered,
    search_register,
    search_what,
    session_purpose,
)
from repair_flow.encryption import DecryptionError, blind_indexes, decrypt, encrypt
from repair_flow.masking import looks_like_identifier
from repair_flow.models import AccessPurpose, Role
from repair_flow.paging import EstimatedCountPaginator, list_count
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


SEARCHES_SESSION_KEY = "record_searches"
SEARCH_TERM_CONTEXT = "session.record_searches.q"
# Searches kept per session (each under an opaque id): the newest ones.
MAX_STORED_SEARCHES = 20


def _list_filters(params) -> dict:
    return {name: params[name] for name in ("status", "severity", "department") if params.get(name)}


# A search term matching more subjects than this (by name) is too broad to
# list their ids in the records query: it joins the subjects instead.
SEARCH_SUBJECTS_LISTED = 5000


def _search(records, q: str, *, persons: bool):
    """The records a term finds, each part through its own index (issue 18):
    a decision number by its prefix (record_decision_number_prefix), a whole
    identifier by its blind index (encrypted at rest), a name from
    RECORD_NAME_SEARCH_MIN_LENGTH characters by trigrams
    (records_subject_name_trgm, PostgreSQL). The subjects are found first, on
    their own table, and the records query gets their ids: `subject_id IN
    (ids) OR decision_number LIKE 'q%'` is one table's two indexes, with row
    estimates the planner can trust, where the name ORed across the join was a
    scan of every record. Without `persons`, natural persons' records are left
    out here: the subjects found by name are organisations already, so only
    the decision numbers need the subject's kind, and only when one matches
    (otherwise the join to every subject was the count's costliest step)."""
    found = Q(identifier_index__in=blind_indexes(q))
    if len(q) >= settings.RECORD_NAME_SEARCH_MIN_LENGTH:
        found |= Q(name__icontains=q)
    subjects = Subject.objects.filter(found)
    if not persons:
        subjects = subjects.exclude(kind=SubjectKind.PERSON)
    match = Q()
    if records.filter(decision_number__startswith=q).exists():
        by_number = Q(decision_number__startswith=q)
        if not persons:
            by_number &= ~Q(subject__kind=SubjectKind.PERSON)
        match |= by_number
    ids = list(subjects.values_list("id", flat=True)[: SEARCH_SUBJECTS_LISTED + 1])
    if len(ids) > SEARCH_SUBJECTS_LISTED:
        match |= Q(subject__in=subjects)
    elif ids:
        match |= Q(EqualsAny("subject_id", ids))
    if not match:
        return records.none()
    return records.filter(match)


def _filtered(records, q: str, filters: dict, *, persons: bool = True):
    if q:
        records = _search(records, q, persons=persons)
    if filters.get("status") in RecordStatus.values:
        records = records.filter(status=filters["status"])
    if filters.get("severity") in Severity.values:
        records = records.filter(severity=filters["severity"])
    if filters.get("department"):
        records = records.filter(department__code=filters["department"])
    return records


def _stored_search(request, search_id: str) -> dict | None:
    search = request.session.get(SEARCHES_SESSION_KEY, {}).get(search_id)
    if not isinstance(search, dict):
        return None
    try:
        at = dt.datetime.fromisoformat(search["at"])
    except (KeyError, TypeError, ValueError):
        return None
    if timezone.now() >= at + dt.timedelta(seconds=settings.ACCESS_PURPOSE_SESSION_SECONDS):
        return None
    try:
        q = decrypt(search.get("q", ""), context=SEARCH_TERM_CONTEXT)
    except DecryptionError:
        # Stored before a key was retired: as good as lapsed.
        return None
    return {**search, "q": q}


def _search_store(request, *, q: str, filters: dict, purpose: str | None) -> str:
    searches = dict(request.session.get(SEARCHES_SESSION_KEY, {}))
    search_id = secrets.token_urlsafe(12)
    searches[search_id] = {
        # The session is a database row: the term (perhaps a resident ID) is
        # kept encrypted, as personal data at rest is (repair_flow/encryption.py).
        "q": encrypt(q, context=SEARCH_TERM_CONTEXT),
        "filters": filters,
        "purpose": purpose,
        "at": timezone.now().isoformat(),
    }
    newest = sorted(searches.items(), key=lambda item: item[1].get("at", ""))[-MAX_STORED_SEARCHES:]
    request.session[SEARCHES_SESSION_KEY] = dict(newest)
    return search_id


def _list_page(request, *, q: str, filters: dict, search_id: str = "", status: int = 200, **extra):
    staff = registered(request.user)
    # Staff see natural persons only through the purpose form (shared domain
    # reference section 8: every view of a person's data has a stated purpose
    # and is registered). The plain list and a search in a URL list
    # organisations; the plain list says how many persons' records it leaves
    # out (a count over the filters only, so it tells nothing of anyone).
    enterprises_only = staff and not search_id
    records = _filtered(records_visible_to(request.user), q, filters, persons=not enterprises_only)
    persons_hidden, persons_estimated = 0, False
    if enterprises_only:
        if not q and status == 200:
            # Counted like the list's own total: exactly up to
            # LIST_EXACT_COUNT_LIMIT, beyond it an estimate the page says is one.
            persons_hidden, persons_estimated = list_count(
                records.filter(subject__kind=SubjectKind.PERSON)
            )
        if not q:
            # A search has left them out already (_search).
            records = records.exclude(subject__kind=SubjectKind.PERSON)
    if status != 200:
        records = records.none()
    page = EstimatedCountPaginator(records.order_by("-decision_date", "-id"), 25).get_page(
        request.GET.get("page")
    )
    if search_id and staff:
        search_register(
            user=request.user,
            what=search_what("records", extra["search"]["q"], page.paginator.count),
            records=page,
            purpose=extra["search"]["purpose"],
            channel="page",
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
    query = {"search": search_id} if search_id else {"q": q, **filters}
    return render(
        request,
        "records/record_list.html",
        {
            "page": page,
            "rows": rows,
            # The GET form never shows a term searched through the purpose form.
            "q": "" if search_id else q,
            "search_q": extra.get("search_q", q if search_id else ""),
            "search_id": search_id,
            "filters": filters,
            "statuses": status_choices(person=person_only),
            "severities": Severity.choices,
            "departments": departments,
            "today": today,
            "query": urlencode(query),
            "staff_search": staff,
            "enterprises_only": enterprises_only and bool(q),
            "persons_hidden": persons_hidden,
            "persons_estimated": persons_estimated,
            "purposes": AccessPurpose.choices,
            "purpose": extra.get("purpose") or general_purpose(request),
            "search_error": extra.get("search_error", ""),
        },
        status=status,
    )


@login_required
def record_list(request):
    search_id = request.GET.get("search", "")
    if search_id:
        search = _stored_search(request, search_id)
        if search is None:
            messages.info(request, _("查询已过期或不存在，请重新查询。"))
            return redirect("record_list")
        return _list_page(
            request, q=search["q"], filters=search["filters"], search_id=search_id, search=search
        )
    q = request.GET.get("q", "").strip()
    filters = _list_filters(request.GET)
    if q and registered(request.user) and looks_like_identifier(q):
        return _list_page(
            request,
            q="",
            filters=filters,
            status=400,
            search_error=_(
                "按身份证号码查询须使用“按自然人查询”表单并说明查询目的，号码不能出现在网址中。"
            ),
        )
    return _list_page(request, q=q, filters=filters)


@login_required
@require_POST
def record_search(request):
    """The search that may find natural persons: the term in the body, never in
    a URL; staff state a purpose, and the results (at an opaque search id) are
    registered as views (shared domain reference section 8)."""
    q = request.POST.get("q", "").strip()[:100]
    filters = _list_filters(request.POST)
    purpose = None
    if registered(request.user):
        purpose = request.POST.get("purpose")
        if not purpose_is_valid(purpose):
            return _list_page(
                request,
                q="",
                filters=filters,
                status=400,
                search_q=q,
                search_error=_("请选择查询目的：查询自然人信息须说明目的，并依法登记。"),
            )
        general_purpose_set(request, purpose)
    search_id = _search_store(request, q=q, filters=filters, purpose=purpose)
    return redirect(f"{reverse('record_list')}?{urlencode({'search': search_id})}")


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
