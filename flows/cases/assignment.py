"""Per human task: who holds it, how it is claimed, released and reassigned."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows import engine
from flows.cases.common import case_locked, case_note, clean_text, require_status, transition_fire
from flows.cases.guards import require_may_hold
from flows.holders import holder_role, may_hold
from flows.models import (
    CaseKind,
    CaseStatus,
    ObjectionCase,
    ObjectionGround,
    ObjectionScope,
    RepairCase,
)
from flows.notify import Event, notify
from repair_flow.models import Role
from sla.clocks import clock_assign
from sla.models import Stage

# Per human task: the statuses of a case waiting in its queue and being worked,
# the claim and release transitions, and the SLA stage.
TASKS = {
    "preliminary_review": {
        "queued": (CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED),
        "working": CaseStatus.IN_PRELIMINARY_REVIEW,
        "claim": "claim_preliminary_review",
        "release": "release_preliminary_review",
        "holder": "officer",
        "stage": Stage.PRELIMINARY_REVIEW,
    },
    "department_review": {
        "queued": (CaseStatus.ACCEPTED,),
        "working": CaseStatus.IN_DEPARTMENT_REVIEW,
        "claim": "claim_department_review",
        "release": "release_department_review",
        "holder": "reviewer",
        "stage": Stage.DEPARTMENT_REVIEW,
    },
    "verification": {
        "queued": (CaseStatus.ACCEPTED,),
        "working": CaseStatus.IN_VERIFICATION,
        "claim": "claim_verification",
        "release": "release_verification",
        "holder": "verifier",
        "stage": None,  # chosen by the routing: task_stage()
    },
}

KIND_TASKS = {
    CaseKind.REPAIR: ("preliminary_review", "department_review"),
    CaseKind.OBJECTION: ("preliminary_review", "verification"),
}


TAKEN = {
    "preliminary_review": gettext_lazy("案件 %(case)s 已由 %(who)s 领取初审。"),
    "department_review": gettext_lazy("案件 %(case)s 已由 %(who)s 领取审核。"),
    "verification": gettext_lazy("案件 %(case)s 已由 %(who)s 领取核查。"),
}


@transaction.atomic
def case_claim(*, user, case, task: str | None = None):
    """Take the case's human task (`task`, or the one it waits for): the
    preliminary review, the issuing department's review, an objection's
    check. Of two people claiming at once, the row lock makes the second wait
    and then find the case taken."""
    case = case_locked(case)
    task = task or case_task(case)
    if task is None:
        raise ValidationError(
            _("案件 %(case)s 当前状态为“%(status)s”，没有可领取的办理任务。")
            % {"case": case.label, "status": CaseStatus(case.status).label},
            code="no_task",
        )
    spec = TASKS[task]
    require_may_hold(user, case, task)
    if case.status == spec["working"]:
        holder = getattr(case, spec["holder"])
        raise ValidationError(
            TAKEN[task] % {"case": case.label, "who": holder.get_full_name() or holder},
            code="taken",
        )
    require_status(case, *spec["queued"])
    at = timezone.now()
    transition_fire(case, spec["claim"], actor=user, at=at, params={spec["holder"]: user})
    clock_assign(case=case, stage=task_stage(case, task), assignee=user, actor=user)
    engine.task_assign(case, task, user)
    return case


def case_task(case) -> str | None:
    """The human task the case waits for or is in, if any."""
    for name in KIND_TASKS[case.kind]:
        task = TASKS[name]
        if case.status in task["queued"] or case.status == task["working"]:
            return name
    return None


def verification_stage(case: ObjectionCase, scope: str = "") -> str:
    """Shandong Social Credit Regulation Art. 40: a record whose decision was
    revoked or changed is changed within 3 working days; otherwise Art. 39:
    3 working days in the platform's own scope, 7 when the department checks.
    `scope` is the one being chosen, before the case records it."""
    if ObjectionGround.DECISION_REVOKED in case.grounds:
        return Stage.RECORD_CHANGE
    if (scope or case.scope) == ObjectionScope.PLATFORM:
        return Stage.OBJECTION_OWN
    return Stage.OBJECTION_OTHER


def task_stage(case, task: str) -> str:
    return TASKS[task]["stage"] or verification_stage(case)


@transaction.atomic
def case_release(*, user, case: RepairCase, reason: str = "") -> RepairCase:
    """Put a claimed case back in its queue: by the person holding it, or by a
    supervisor (who must say why)."""
    at = timezone.now()
    case = case_locked(case)
    task = case_task(case)
    if task is None or case.status != TASKS[task]["working"]:
        raise ValidationError(
            _("案件 %(case)s 当前没有人在办理，无需退回。") % {"case": case.label},
            code="not_claimed",
        )
    spec = TASKS[task]
    holder_id = getattr(case, f"{spec['holder']}_id")
    is_supervisor = getattr(user, "role", None) == Role.SUPERVISOR
    if getattr(user, "pk", None) != holder_id and not is_supervisor:
        raise PermissionDenied(_("只有办理人或监督人员可以把案件退回待办队列。"))
    reason = " ".join((reason or "").split())
    if is_supervisor and getattr(user, "pk", None) != holder_id and not reason:
        raise ValidationError(_("请填写退回的理由。"), code="reason")
    transition_fire(
        case, spec["release"], actor=user, at=at, comment=reason, summary={"holder": holder_id}
    )
    clock_assign(case=case, stage=task_stage(case, task), assignee=None, actor=user)
    engine.task_release(case, task)
    return case


@transaction.atomic
def case_reassign(*, supervisor, case: RepairCase, assignee, reason: str) -> RepairCase:
    """A supervisor gives the case's task to a named officer (preliminary
    review) or reviewer of the issuing department (department review),
    whether it waits in the queue or someone holds it."""
    if getattr(supervisor, "role", None) != Role.SUPERVISOR:
        raise PermissionDenied(_("只有监督人员可以指派或改派案件。"))
    at = timezone.now()
    case = case_locked(case)
    reason = clean_text(reason, _("指派理由"))
    task = case_task(case)
    if task is None:
        raise ValidationError(
            _("案件 %(case)s 当前状态为“%(status)s”，没有可指派的办理任务。")
            % {"case": case.label, "status": CaseStatus(case.status).label},
            code="no_task",
        )
    spec = TASKS[task]
    if assignee is None or not may_hold(assignee, case, task):
        raise ValidationError(
            _("只能指派给平台工作人员。")
            if holder_role(case, task) == Role.OFFICER
            else _("只能指派给%(department)s的审核人员。")
            % {"department": case.record.department.name},
            code="assignee",
        )
    # A queued case has no holder, even when a resubmitted case still names
    # its first officer: that officer may be given it again.
    working = case.status == spec["working"]
    before_holder = getattr(case, f"{spec['holder']}_id") if working else None
    if before_holder == assignee.pk:
        raise ValidationError(
            _("案件 %(case)s 已由该人员办理。") % {"case": case.label}, code="same"
        )
    summary = {"from": before_holder, "to": assignee.pk}
    if case.status in spec["queued"]:
        transition_fire(
            case,
            spec["claim"],
            actor=supervisor,
            at=at,
            comment=reason,
            params={spec["holder"]: assignee},
            summary=summary,
        )
    else:
        setattr(case, spec["holder"], assignee)
        case.save(update_fields=[spec["holder"]])
        case_note(case, "reassign", actor=supervisor, at=at, comment=reason, summary=summary)
    clock_assign(case=case, stage=task_stage(case, task), assignee=assignee, actor=supervisor)
    engine.task_assign(case, task, assignee)
    notify(
        Event.TASK_ASSIGNED,
        case=case,
        key=f"{case.kind}:{case.pk}:{task}:{assignee.pk}:{at.isoformat()}",
        assignee=assignee,
    )
    return case
