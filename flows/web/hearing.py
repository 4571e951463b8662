"""The applicant's statement (陈述申辩) on a notice of intended revocation,
from their case page: the statement and its evidence go through
flows.monitoring's `breach_statement_submit`; a refusal comes back on the
case page, with what was typed kept, nothing saved."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from flows.monitoring.services import breach_statement_submit, hearings_for_applicant
from flows.web.applicant import REPAIR, applicant_required, case_for_page, case_page
from flows.web.common import refusal_messages

# Refusals that mean "no longer possible", not "correct your input".
CONFLICT_CODES = frozenset({"wrong_status", "already_stated", "statement_late"})


def _status_for(error) -> int:
    if isinstance(error, PermissionDenied):
        return 403
    codes = set() if hasattr(error, "error_dict") else {e.code for e in error.error_list}
    return 409 if codes & CONFLICT_CODES else 400


@applicant_required
@require_POST
def breach_statement_view(request, pk: int, review_pk: int):
    case = case_for_page(request, pk, REPAIR)
    review = hearings_for_applicant(request.user).filter(pk=review_pk, case=case).first()
    if review is None:
        raise Http404(_("没有这个履约核查，或您无权查看。"))
    text = request.POST.get("statement", "")
    try:
        breach_statement_submit(
            applicant=request.user,
            review=review,
            text=text,
            evidence=request.FILES.get("evidence"),
        )
    except (ValidationError, PermissionDenied) as error:
        case.refresh_from_db()
        response = case_page(
            request,
            case,
            extra={"statement_errors": refusal_messages(error), "statement_text": text},
        )
        response.status_code = _status_for(error)
        return response
    messages.success(request, _("陈述申辩已提交，认定单位将在复核后作出决定并告知您。"))
    return redirect("flows:detail", pk=case.pk)
