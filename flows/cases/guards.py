"""Who may act on a case at a stage: platform officers, the issuing
department's reviewers (谁认定、谁修复), supervisors. Services call these;
views and the API only translate the refusal.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from flows.models import (
    ObjectionScope,
    RepairCase,
)
from records.models import CreditRecord
from repair_flow.models import Role


def require_officer(case: RepairCase, officer) -> None:
    if getattr(officer, "role", None) != Role.OFFICER:
        raise PermissionDenied(_("只有平台工作人员可以办理初审。"))
    if case.officer_id is not None and case.officer_id != officer.pk:
        raise PermissionDenied(
            _("案件 %(case)s 由 %(officer)s 初审，其他人员不能办理。")
            % {"case": case.label, "officer": case.officer.get_full_name() or case.officer}
        )


def is_department_reviewer(user, record: CreditRecord) -> bool:
    if getattr(user, "role", None) != Role.REVIEWER:
        return False
    membership = getattr(user, "department_membership", None)
    return membership is not None and membership.department_id == record.department_id


def require_reviewer(case: RepairCase, reviewer) -> None:
    if not is_department_reviewer(reviewer, case.record):
        raise PermissionDenied(
            _("按“谁认定、谁修复”，只有%(department)s的审核人员可以审核本案。")
            % {"department": case.record.department.name}
        )
    if case.reviewer_id is not None and case.reviewer_id != reviewer.pk:
        raise PermissionDenied(
            _("案件 %(case)s 由 %(reviewer)s 审核，其他人员不能办理。")
            % {"case": case.label, "reviewer": case.reviewer.get_full_name() or case.reviewer}
        )


def holder_role(case, task: str) -> str:
    """Who works the task: platform officers, or the issuing department's reviewers."""
    if task == "preliminary_review" or (
        task == "verification" and case.scope == ObjectionScope.PLATFORM
    ):
        return Role.OFFICER
    return Role.REVIEWER


def may_hold(user, case, task: str) -> bool:
    if not getattr(user, "is_active", False):
        return False
    if holder_role(case, task) == Role.OFFICER:
        return getattr(user, "role", None) == Role.OFFICER
    return is_department_reviewer(user, case.record)
