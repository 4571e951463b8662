"""Permission-scoped reads of repair cases."""

import datetime as dt

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, DateTimeField, F, OuterRef, Q, QuerySet, Subquery, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows import work
from flows.models import CaseStatus, RepairCase
from records.models import SubjectBinding
from repair_flow.models import Role
from sla.models import SlaClock

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


# Task queues (viewflow's inbox / queue / archive, scoped by role) ----------------

BOXES = ("queue", "inbox", "archive")
DUE_FILTERS = ("overdue", "today", "week")
TASK_ROLES = frozenset({Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMINISTRATOR})
# Supervisors see every officer's and reviewer's work, to watch and reassign it.
OVERSIGHT_ROLES = frozenset({Role.SUPERVISOR, Role.ADMINISTRATOR})


def _stage_due(name: str):
    """The due instant of the latest clock of the task's stage."""
    clocks = SlaClock.objects.filter(
        case_type=ContentType.objects.get_for_model(RepairCase),
        case_id=OuterRef("process__repairprocess__case_id"),
        stage=work.HUMAN_NODES[name],
    ).order_by("-started_at", "-id")
    return Subquery(clocks.values("due_at")[:1])


def tasks_for_user(
    *, user, box: str = "queue", stage: str = "", due: str = "", q: str = "", now=None
) -> QuerySet[Task]:
    """The repair tasks `user` may see in `box`, with `case_id` and `due_at`
    annotated; queue and inbox soonest deadline first, archive latest first.
    Officers see preliminary reviews, reviewers their own department's
    reviews, supervisors everyone's."""
    if box not in BOXES:
        raise ValueError(box)
    role = getattr(user, "role", None)
    tasks = Task.objects.filter(process__repairprocess__isnull=False, flow_task_type="HUMAN")
    if role == Role.OFFICER:
        tasks = tasks.filter(flow_task=work.node("preliminary_review"))
    elif role == Role.REVIEWER:
        membership = getattr(user, "department_membership", None)
        if membership is None:
            return tasks.none()
        tasks = tasks.filter(
            flow_task=work.node("department_review"),
            process__repairprocess__case__record__department_id=membership.department_id,
        )
    elif role not in OVERSIGHT_ROLES:
        return tasks.none()
    if stage in work.HUMAN_NODES:
        tasks = tasks.filter(flow_task=work.node(stage))
    oversight = role in OVERSIGHT_ROLES
    if box == "queue":
        tasks = tasks.filter(status=STATUS.NEW)
    elif box == "inbox":
        tasks = tasks.filter(status=STATUS.ASSIGNED)
        if not oversight:
            tasks = tasks.filter(owner=user)
    else:
        tasks = tasks.filter(finished__isnull=False)
        if not oversight:
            tasks = tasks.filter(owner=user)
    tasks = tasks.annotate(
        case_id=F("process__repairprocess__case_id"),
        due_at=Case(
            *(When(flow_task=work.node(name), then=_stage_due(name)) for name in work.HUMAN_NODES),
            output_field=DateTimeField(),
        ),
    )
    now = now or timezone.now()
    if due == "overdue":
        tasks = tasks.filter(due_at__lt=now)
    elif due == "today":
        end = timezone.localtime(now).replace(hour=23, minute=59, second=59, microsecond=999999)
        tasks = tasks.filter(due_at__lte=end)
    elif due == "week":
        tasks = tasks.filter(due_at__lte=now + dt.timedelta(days=7))
    q = " ".join((q or "").split())
    if q:
        tasks = tasks.filter(
            Q(process__repairprocess__case__number__icontains=q)
            | Q(process__repairprocess__case__record__decision_number__icontains=q)
        )
    tasks = tasks.select_related(
        "owner",
        "process__repairprocess__case__record__department",
        "process__repairprocess__case__subject",
    )
    if box == "archive":
        return tasks.order_by("-finished", "-id")
    return tasks.order_by(F("due_at").asc(nulls_last=True), "created", "id")
