"""Staff pages of breach reviews (履约核查): the list of the reviews a user may
see, a review's page with the deciding department's forms (the notice of
intended revocation, then revoke once the applicant's statement is in or its
period ended; dismiss at any time), and the officer's report that a repair
rested on false materials (from the repair's work page).

Reads go through flows.monitoring.reviews_for_user, writes through its
services; a refusal is shown on the page as the service worded it, nothing is
half-saved: 400 for input to correct, 403 for the wrong persona, 409 for a
review or case no longer in a state to act on.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from flows.cases.guards import may_decide_breach
from flows.cases.selectors import cases_for_user, cases_numbered
from flows.models import (
    PENDING_BREACH_STATUSES,
    BreachReview,
    BreachSource,
    BreachStatus,
    RepairCase,
)
from flows.monitoring.services import (
    CONFIRM_REASONS,
    DISMISS_REASONS,
    breach_confirm,
    breach_dismiss,
    breach_notice_issue,
    false_materials_report,
    hearing_over,
    review_deadlines_fill,
    reviews_by_deadline,
    reviews_for_user,
    statement_clock,
)
from flows.web.staff import (
    DEFAULT_BASIS,
    reason_rows,
    reasons_picked,
    refusal_messages,
    staff_case,
    staff_required,
    work_page,
)
from repair_flow.access import purpose_or_redirect
from repair_flow.paging import EstimatedCountPaginator
from sla.clocks import clock_explain, clocks_for

# Refusals that mean "no longer in a state to act on", not "correct your input".
CONFLICT_CODES = frozenset(
    {"wrong_status", "already_reported", "notice_first", "statement_pending"}
)


def _status_for(error: ValidationError) -> int:
    codes = set() if hasattr(error, "error_dict") else {e.code for e in error.error_list}
    return 409 if codes & CONFLICT_CODES else 400


@staff_required
def breach_list(request):
    status = request.GET.get("status", "")
    source = request.GET.get("source", "")
    q = " ".join(request.GET.get("q", "").split())
    reviews = reviews_for_user(request.user)
    if status in BreachStatus.values:
        reviews = reviews.filter(status=status)
    if source in BreachSource.values:
        reviews = reviews.filter(source=source)
    if q:
        # Numbers by their beginning, as the task queue searches them.
        reviews = reviews.filter(
            cases_numbered(RepairCase, q, "case_id") | Q(record__decision_number__startswith=q)
        )
    # Pending first by deadline, then the decided ones: two index-ordered
    # parts (flows.monitoring.reviews_by_deadline); counted as the other
    # long lists are, estimated beyond LIST_EXACT_COUNT_LIMIT.
    ordered = reviews_by_deadline(reviews, status=status if status in BreachStatus.values else "")
    page = EstimatedCountPaginator(ordered, 50).get_page(request.GET.get("page"))
    review_deadlines_fill(page.object_list)
    now = timezone.now()
    rows = [
        {
            "review": review,
            "overdue": review.status in PENDING_BREACH_STATUSES
            and review.due_at is not None
            and review.due_at < now,
        }
        for review in page
    ]
    filters = {"status": status, "source": source, "q": q}
    return render(
        request,
        "flows/breach_list.html",
        {
            "rows": rows,
            "page_obj": page,
            "status": status,
            "source": source,
            "q": q,
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "statuses": BreachStatus.choices,
            "sources": BreachSource.choices,
        },
    )


def _review_for_user(request, pk: int) -> BreachReview:
    review = (
        reviews_for_user(request.user)
        .select_related(
            "case__applicant",
            "reported_by",
            "evidence",
            "decided_by",
            "letter",
            "notice_letter",
            "representation_evidence",
        )
        .filter(pk=pk)
        .first()
    )
    if review is None:
        raise Http404(_("没有这个履约核查，或您无权查看。"))
    return review


def _detail_page(request, review: BreachReview, *, errors=None, form=None, status=200):
    errors = errors or {}
    form = form or {}
    deciding = review.status in PENDING_BREACH_STATUSES and may_decide_breach(request.user, review)
    now = timezone.now()
    clock = statement_clock(review)
    explanations = [clock_explain(clock) for clock in clocks_for(review).order_by("due_at", "id")]
    noticing = deciding and review.status == BreachStatus.OPEN
    revoking = deciding and hearing_over(review, at=now)
    # The forms on the page; a refusal of any other action is shown at the top.
    shown = {"notice"} if noticing else set()
    shown |= {"confirm"} if revoking else set()
    shown |= {"dismiss"} if deciding else set()
    context = {
        "review": review,
        "case": review.case,
        "window": review.window,
        # A reviewer of the department that issued a new penalty may not see
        # the repair itself (another department's): no link to a 404.
        "case_visible": cases_for_user(request.user).filter(pk=review.case_id).exists(),
        "explanations": explanations,
        "deciding": deciding,
        # The hearing: notice first; revoke once the statement is in or its period ended.
        "noticing": noticing,
        "revoking": revoking,
        "statement_due": clock.due_at if clock else None,
        "informed": review.record_id is not None
        and review.record.department_id != review.department_id,
        "confirm_reasons": reason_rows(CONFIRM_REASONS, form.get("confirm")),
        "dismiss_reasons": reason_rows(DISMISS_REASONS, form.get("dismiss")),
        "default_basis": DEFAULT_BASIS,
        "errors": errors,
        "form": form,
        # A refusal whose form is not on the page is shown at the top instead.
        "stray_errors": [m for action, msgs in errors.items() if action not in shown for m in msgs],
    }
    return render(request, "flows/breach_detail.html", context, status=status)


@staff_required
def breach_detail(request, pk: int):
    review = _review_for_user(request, pk)
    response = purpose_or_redirect(request, review.subject, f"breach_review:{review.pk}")
    if response is not None:
        return response
    return _detail_page(request, review)


def _decide(request, pk: int, action: str):
    review = _review_for_user(request, pk)
    post = request.POST
    try:
        if action == "notice":
            breach_notice_issue(reviewer=request.user, review=review, facts=post.get("facts", ""))
            done = _("拟撤销信用修复告知书已发出，等待申请人陈述申辩。")
        elif action == "confirm":
            breach_confirm(
                reviewer=request.user,
                review=review,
                reasons=reasons_picked(post, CONFIRM_REASONS),
                basis=post.get("basis", ""),
                answer=post.get("answer", ""),
            )
            done = _("已认定违反信用承诺，信用修复决定已撤销，撤销信用修复决定书已发出。")
        else:
            breach_dismiss(
                reviewer=request.user,
                review=review,
                reasons=reasons_picked(post, DISMISS_REASONS),
                basis=post.get("basis", ""),
            )
            done = _("已作出不予认定决定，履约监管继续进行，已告知申请人。")
    except PermissionDenied as error:
        review.refresh_from_db()
        return _detail_page(
            request,
            review,
            errors={action: refusal_messages(error)},
            form={action: post},
            status=403,
        )
    except ValidationError as error:
        review.refresh_from_db()
        return _detail_page(
            request,
            review,
            errors={action: refusal_messages(error)},
            form={action: post},
            status=_status_for(error),
        )
    messages.success(request, done)
    return redirect("flows:breach_detail", pk=review.pk)


@staff_required
@require_POST
def breach_notice_view(request, pk: int):
    return _decide(request, pk, "notice")


@staff_required
@require_POST
def breach_confirm_view(request, pk: int):
    return _decide(request, pk, "confirm")


@staff_required
@require_POST
def breach_dismiss_view(request, pk: int):
    return _decide(request, pk, "dismiss")


@staff_required
@require_POST
def false_materials_report_view(request, pk: int):
    case = staff_case(request, pk)
    post = request.POST
    try:
        review = false_materials_report(
            officer=request.user,
            case=case,
            statement=post.get("statement", ""),
            evidence=request.FILES.get("evidence"),
        )
    except PermissionDenied as error:
        case.refresh_from_db()
        return work_page(
            request,
            case,
            errors={"report_false": refusal_messages(error)},
            form={"report_false": post},
            status=403,
        )
    except ValidationError as error:
        case.refresh_from_db()
        return work_page(
            request,
            case,
            errors={"report_false": refusal_messages(error)},
            form={"report_false": post},
            status=_status_for(error),
        )
    messages.success(request, _("已报告申请材料不实，由认定单位核查。"))
    return redirect(review.get_absolute_url())
