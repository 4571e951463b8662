"""Who may act on a case at a stage: platform officers for the preliminary
review and the platform's own checks, the issuing department's reviewers for
its repair reviews and department checks (谁认定、谁修复), supervisors for
reassignment and the second-notice override. Services ask these; views and
the API only translate the refusal (PermissionDenied).
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from flows.holders import (
    HOLDER_FIELDS,
    department_reviewers,
    may_hold,
)
from flows.models import ObjectionScope
from records.models import SubjectBinding
from records.selectors import reviewer_department_id
from repair_flow.models import Role


def unstaffed_problem(department, *, platform_may_check: bool = False) -> str:
    """Why work routed to `department` would sit with nobody to take it, with
    the way out; "" when it has a reviewer in post."""
    if department_reviewers(department.pk).exists():
        return ""
    if platform_may_check:
        return _("%(department)s没有在岗的审核人：请先为其设置审核人，或由平台自行核查。") % {
            "department": department.name
        }
    return _("%(department)s没有在岗的审核人，案件将无人审核：请先请系统管理员为其设置审核人。") % {
        "department": department.name
    }


def _not_eligible(case, task: str) -> str:
    if task == "preliminary_review":
        return _("只有平台工作人员可以办理初审。")
    if task == "verification":
        if case.scope == ObjectionScope.PLATFORM:
            return _("本异议由平台工作人员核查。")
        return _("按“谁认定、谁核实”，只有%(department)s的审核人员可以核查本异议。") % {
            "department": case.record.department.name
        }
    return _("按“谁认定、谁修复”，只有%(department)s的审核人员可以审核本案。") % {
        "department": case.record.department.name
    }


def _held_by_other(case, task: str) -> str:
    if task == "verification":
        return _("只有领取本异议核查的人员可以作出核查结论。")
    holder = getattr(case, HOLDER_FIELDS[task])
    facts = {"case": case.label, "who": holder.get_full_name() or holder}
    if task == "preliminary_review":
        return _("案件 %(case)s 由 %(who)s 初审，其他人员不能办理。") % facts
    return _("案件 %(case)s 由 %(who)s 审核，其他人员不能办理。") % facts


def require_may_hold(user, case, task: str) -> None:
    """The claim's guard: the right role, or the issuing department's reviewer."""
    if not may_hold(user, case, task):
        raise PermissionDenied(_not_eligible(case, task))


def require_holder(user, case, task: str) -> None:
    """The guard of every act on a task: the person may hold the task and,
    once someone has claimed it, is that person (a check is decided only by
    the one who claimed it)."""
    holder_id = getattr(case, f"{HOLDER_FIELDS[task]}_id")
    if task == "verification" and (
        holder_id is None
        or holder_id != getattr(user, "pk", None)
        or not may_hold(user, case, task)
    ):
        raise PermissionDenied(_held_by_other(case, task))
    require_may_hold(user, case, task)
    if holder_id is not None and holder_id != user.pk:
        raise PermissionDenied(_held_by_other(case, task))


# Breach reviews (post-repair monitoring) ---------------------------------------


def may_decide_breach(user, review) -> bool:
    """A reviewer of the department that made the repair decision (the review's
    department): it issues the notice of intended revocation and decides. The
    department that issued a new penalty is informed, and only reads."""
    department_id = reviewer_department_id(user)
    return department_id is not None and department_id == review.department_id


def require_breach_decider(user, review) -> None:
    if not may_decide_breach(user, review):
        raise PermissionDenied(
            _("履约核查由作出信用修复决定的%(department)s的审核人员办理，其他人员不能办理。")
            % {"department": review.department.name}
        )


def acts_for_subject(user, subject_id: int) -> bool:
    """An applicant account bound to the subject (itself, its legal
    representative or its agent)."""
    return (
        getattr(user, "is_active", False)
        and getattr(user, "role", None) == Role.APPLICANT
        and SubjectBinding.objects.filter(user=user, subject_id=subject_id).exists()
    )


def require_acts_for_subject(user, review) -> None:
    """The guard of the applicant's statement (陈述申辩)."""
    if not acts_for_subject(user, review.subject_id):
        raise PermissionDenied(_("只有该信用主体的申请人可以陈述申辩。"))
