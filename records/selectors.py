"""Permission-scoped reads: what each role may see of the registry."""

from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from records.models import CreditRecord, Subject
from repair_flow.models import Role


def reviewer_department_id(user) -> int | None:
    """The department whose records a reviewer reviews (谁认定、谁修复);
    None for anyone who is not a department's reviewer."""
    if getattr(user, "role", None) != Role.REVIEWER:
        return None
    membership = getattr(user, "department_membership", None)
    return membership.department_id if membership is not None else None


def issuing_department_id(user) -> int | None:
    """The department a user acts for as the issuer of its penalties: its
    reviewer's, or the department system's integration account bound to it
    (Shandong Social Credit Regulation Art. 40: the providing department
    reports a revoked or changed decision); None for anyone else."""
    if getattr(user, "role", None) not in (Role.REVIEWER, Role.INTEGRATION):
        return None
    membership = getattr(user, "department_membership", None)
    return membership.department_id if membership is not None else None


def subjects_visible_to(user) -> QuerySet[Subject]:
    if not user.is_authenticated:
        return Subject.objects.none()
    if user.role == Role.APPLICANT:
        return Subject.objects.filter(bindings__user=user)
    if user.role == Role.REVIEWER:
        department_id = reviewer_department_id(user)
        if department_id is None:
            return Subject.objects.none()
        return Subject.objects.filter(records__department_id=department_id).distinct()
    if user.role in (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR, Role.INTEGRATION):
        return Subject.objects.all()
    return Subject.objects.none()


def records_visible_to(user) -> QuerySet[CreditRecord]:
    records = CreditRecord.objects.select_related("department", "subject")
    if not user.is_authenticated:
        return records.none()
    if user.role == Role.APPLICANT:
        return records.filter(subject__bindings__user=user)
    if user.role == Role.REVIEWER:
        department_id = reviewer_department_id(user)
        if department_id is None:
            return records.none()
        return records.filter(department_id=department_id)
    if user.role in (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR, Role.INTEGRATION):
        return records
    return records.none()


def record_get_for_user(*, user, pk: int) -> CreditRecord:
    try:
        return records_visible_to(user).get(pk=pk)
    except CreditRecord.DoesNotExist:
        raise Http404(_("没有这条记录，或您无权查看。")) from None


def subject_get_for_user(*, user, pk: int) -> Subject:
    try:
        return subjects_visible_to(user).get(pk=pk)
    except Subject.DoesNotExist:
        raise Http404(_("没有这个信用主体，或您无权查看。")) from None
