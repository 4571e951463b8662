"""Who may hold a task of a case: platform officers for the preliminary
review and the platform's own checks, the issuing department's reviewers for
its repair reviews and department checks (谁认定、谁修复). Plain reads of
the models, on the engine's floor: the flows tell the people who may take a
queued task (flows.notify), and the kernel's guards refuse everyone else.
"""

from django.db.models import QuerySet

from flows.models import ObjectionScope
from records.models import CreditRecord
from records.selectors import reviewer_department_id
from repair_flow.models import Role, User

# Per human task: the case field naming who holds it.
HOLDER_FIELDS = {
    "preliminary_review": "officer",
    "department_review": "reviewer",
    "verification": "verifier",
}


def is_department_reviewer(user, record: CreditRecord) -> bool:
    """A reviewer of the department that issued the record (谁认定、谁修复)."""
    department_id = reviewer_department_id(user)
    return department_id is not None and department_id == record.department_id


def holder_role(case, task: str) -> str:
    """Who works the task: platform officers, or the issuing department's reviewers."""
    if task == "preliminary_review" or (
        task == "verification" and case.scope == ObjectionScope.PLATFORM
    ):
        return Role.OFFICER
    return Role.REVIEWER


def may_hold(user, case, task: str) -> bool:
    """May `user` work `task` of `case` at all (claim it, be assigned it)?"""
    if not getattr(user, "is_active", False):
        return False
    if holder_role(case, task) == Role.OFFICER:
        return getattr(user, "role", None) == Role.OFFICER
    return is_department_reviewer(user, case.record)


def department_reviewers(department_id: int) -> QuerySet[User]:
    """The department's reviewers in post (active accounts)."""
    return User.objects.filter(
        is_active=True, role=Role.REVIEWER, department_membership__department_id=department_id
    )


def assignees_for(case, task: str) -> list[User]:
    """Everyone who may be given the task (the service's own rule, may_hold)."""
    if holder_role(case, task) == Role.OFFICER:
        people = User.objects.filter(is_active=True, role=Role.OFFICER)
    else:
        people = department_reviewers(case.record.department_id)
    return [u for u in people.order_by("username") if may_hold(u, case, task)]
