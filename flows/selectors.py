"""Permission-scoped reads of repair cases."""

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from flows.models import CaseStatus, RepairCase
from records.models import SubjectBinding
from repair_flow.models import Role

ALL_CASES_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR})


def cases_for_user(user) -> QuerySet[RepairCase]:
    """Applicants: the cases of subjects they act for; platform staff: every
    filed case; department reviewers: filed cases on their department's
    records; anyone else: none. Drafts are the applicant's own business."""
    cases = RepairCase.objects.select_related(
        "record__department", "subject", "applicant", "officer", "reviewer"
    )
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return cases.none()
    if user.role == Role.APPLICANT:
        bound = SubjectBinding.objects.filter(user=user).values("subject_id")
        return cases.filter(subject_id__in=bound)
    filed = cases.exclude(status=CaseStatus.DRAFT)
    if user.role in ALL_CASES_ROLES:
        return filed
    if user.role == Role.REVIEWER:
        membership = getattr(user, "department_membership", None)
        if membership is None:
            return cases.none()
        return filed.filter(record__department_id=membership.department_id)
    return cases.none()


def case_get_for_user(*, user, pk: int) -> RepairCase:
    try:
        return cases_for_user(user).get(pk=pk)
    except RepairCase.DoesNotExist:
        raise Http404(_("没有这个案件，或您无权查看。")) from None
