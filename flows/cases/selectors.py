"""Permission-scoped reads of repair cases."""

import datetime as dt

from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    Case,
    DateTimeField,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows import engine
from flows.models import (
    CLOSED_STATUSES,
    STAFF_ONLY_MATERIALS,
    CaseStatus,
    ObjectionCase,
    ObjectionScope,
    QueueTask,
    RepairCase,
)
from records.models import SubjectBinding
from records.selectors import EqualsAny, reviewer_department_id
from repair_flow.models import Role
from sla.models import TASK_STAGES, SlaClock

ALL_CASES_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR})


def cases_for_user(user, model=RepairCase) -> QuerySet:
    """Applicants: the cases (repair cases, or objections with
    `model=ObjectionCase`) of subjects they act for; platform staff: every
    filed case; department reviewers: filed cases on their department's
    records; anyone else: none. Drafts are the applicant's own business."""
    cases = model.objects.select_related(
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
        department_id = reviewer_department_id(user)
        if department_id is None:
            return cases.none()
        return filed.filter(record__department_id=department_id)
    return cases.none()


def materials_for_user(case, user) -> QuerySet:
    """The case's materials `user` may see: applicants not the staff-only ones."""
    materials = case.materials.select_related("uploaded_by")
    if getattr(user, "role", None) in (None, Role.APPLICANT):
        materials = materials.exclude(kind__in=STAFF_ONLY_MATERIALS)
    return materials


def case_get_for_user(*, user, pk: int, model=RepairCase):
    try:
        return cases_for_user(user, model).get(pk=pk)
    except model.DoesNotExist:
        raise Http404(_("没有这个案件，或您无权查看。")) from None


# Task queues (viewflow's inbox / queue / archive, scoped by role) ----------------

BOXES = ("queue", "inbox", "archive")
DUE_FILTERS = ("overdue", "today", "week")
TASK_ROLES = frozenset({Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMINISTRATOR})
# Supervisors see every officer's and reviewer's work, to watch and reassign it.
OVERSIGHT_ROLES = frozenset({Role.SUPERVISOR, Role.ADMINISTRATOR})


def _stage_due(model, lookup: str, stages: tuple[str, ...]):
    """The due instant of the latest clock of the task's stage(s)."""
    clocks = SlaClock.objects.filter(
        case_type=ContentType.objects.get_for_model(model),
        case_id=OuterRef(f"{lookup}__case_id"),
        stage__in=stages,
    ).order_by("-started_at", "-id")
    return Subquery(clocks.values("due_at")[:1])


def task_case(task: Task):
    """The repair case or objection a task belongs to."""
    process = task.process
    holder = getattr(process, "repairprocess", None) or process.objectionprocess
    return holder.case


def _nodes():
    """(flow, node name, case model, task-to-process lookup) of every human task."""
    rf, of = engine.repair_flow(), engine.objection_flow()
    return [
        (rf, "preliminary_review", RepairCase, "process__repairprocess"),
        (of, "preliminary_review", ObjectionCase, "process__objectionprocess"),
        (rf, "department_review", RepairCase, "process__repairprocess"),
        (of, "verification", ObjectionCase, "process__objectionprocess"),
    ]


def _node_q(name: str) -> Q:
    q = Q(pk__in=[])
    for flow, node, _model, _lookup in _nodes():
        if node == name:
            q |= Q(flow_task=getattr(flow, node))
    return q


# A number search names its cases by id up to this many; beyond, by a
# subquery (a beginning that common is met soon in any list's order). Reading
# the ids costs ~6 us each at a million records: 5,000 put a common beginning
# (济罚〔2023〕, 16,667 open cases) at 128 ms a page.
SEARCH_CASES_LISTED = 1000


def cases_numbered(model, q: str, column: str, *, open_only: bool = False) -> Q:
    """`column` is the id of a case of `model` whose number, or whose record's
    decision number, begins with `q`: a number is searched by its beginning,
    as the records list searches decision numbers, so each table's own index
    finds it (repaircase_number_prefix and objection_number_prefix,
    record_decision_number_prefix). The task queue searched both by
    `icontains` across four joins: every open task joined and tested, 0.9-1.2 s
    a page at 100,000 open cases (issue 18).
    `open_only`: cases not decided yet, those an open task can belong to (a
    beginning shared by years of decided cases does not make it a subquery)."""
    cases = model.objects.exclude(status__in=CLOSED_STATUSES) if open_only else model.objects
    parts = (
        cases.filter(number__startswith=q),
        cases.filter(record__decision_number__startswith=q),
    )
    ids = set()
    for part in parts:
        found = list(part.values_list("pk", flat=True)[: SEARCH_CASES_LISTED + 1])
        if len(found) > SEARCH_CASES_LISTED:
            matching = cases.filter(
                Q(number__startswith=q) | Q(record__decision_number__startswith=q)
            )
            return Q(**{f"{column}__in": matching.values("pk")})
        ids.update(found)
    if not ids:
        return Q(pk__in=[])
    return Q(EqualsAny(column, sorted(ids)))


def tasks_for_user(
    *, user, box: str = "queue", stage: str = "", due: str = "", q: str = "", now=None
) -> QuerySet[Task]:
    """The tasks `user` may see in `box`, with `due_at` annotated; queue and
    inbox soonest deadline first, archive latest first. Officers see
    preliminary reviews and the objection checks in the platform's own scope;
    reviewers their own department's repair reviews and objection checks;
    supervisors everyone's."""
    if box not in BOXES:
        raise ValueError(box)
    role = getattr(user, "role", None)
    case_types = {
        model: ContentType.objects.get_for_model(model) for model in (RepairCase, ObjectionCase)
    }
    tasks = QueueTask.objects.filter(
        flow_task_type="HUMAN", artifact_content_type__in=list(case_types.values())
    )
    # Who may see a task is decided by its case, read as a semi-join on the
    # task's case (its artifact): no join per listed task, so a page is still
    # read in its deadline index's order (issue 18).
    if role == Role.OFFICER:
        platform = ObjectionCase.objects.filter(scope=ObjectionScope.PLATFORM)
        tasks = tasks.filter(
            _node_q("preliminary_review")
            | (_node_q("verification") & Q(artifact_object_id__in=platform.values("pk")))
        )
    elif role == Role.REVIEWER:
        department_id = reviewer_department_id(user)
        if department_id is None:
            return tasks.none()
        repairs = RepairCase.objects.filter(record__department_id=department_id)
        checks = ObjectionCase.objects.filter(
            scope=ObjectionScope.DEPARTMENT, record__department_id=department_id
        )
        tasks = tasks.filter(
            (_node_q("department_review") & Q(artifact_object_id__in=repairs.values("pk")))
            | (_node_q("verification") & Q(artifact_object_id__in=checks.values("pk")))
        )
    elif role not in OVERSIGHT_ROLES:
        return tasks.none()
    if stage in engine.HUMAN_NODES:
        tasks = tasks.filter(_node_q(stage))
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
    if box == "archive":
        # Finished tasks, latest first: the deadline is only shown, read for
        # the page's rows.
        tasks = tasks.annotate(
            due_at=Case(
                *(
                    When(
                        flow_task=getattr(flow, name),
                        then=_stage_due(model, lookup, engine.HUMAN_NODES[name]),
                    )
                    for flow, name, model, lookup in _nodes()
                ),
                output_field=DateTimeField(),
            ),
        )
    else:
        # An open task's deadline is its case's open clock of a task stage
        # (one per case), joined once by the task's case: one path, so a
        # page is read in the order of that clock's stored, indexed due_at
        # (sla_clock_task_due) and stops after its rows (issue 18: a CASE
        # over four joins sorted all 100,000 open tasks for every page).
        tasks = tasks.annotate(
            open_clock=FilteredRelation(
                "sla_clock",
                condition=Q(sla_clock__stopped_at__isnull=True, sla_clock__stage__in=TASK_STAGES),
            ),
            due_at=F("open_clock__due_at"),
        )
        # An inner join, so the planner reads the clocks' index first: every
        # open task has its stage's clock, started by the service that opened
        # the stage. All but a department review of a case accepted under the
        # old order (flows migration 0011), whose clock starts at the
        # signature or the claim: those few are listed too, after the rest,
        # found through the node's index (no scan when there are none).
        unclocked = list(
            tasks.filter(_node_q("department_review"), open_clock__isnull=True).values_list(
                "pk", flat=True
            )
        )
        if unclocked:
            tasks = tasks.filter(Q(open_clock__isnull=False) | Q(pk__in=unclocked))
        else:
            tasks = tasks.filter(open_clock__isnull=False)
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
        found = Q(pk__in=[])
        for model, case_type in case_types.items():
            found |= Q(artifact_content_type=case_type) & cases_numbered(
                model, q, "artifact_object_id", open_only=box != "archive"
            )
        tasks = tasks.filter(found)
    tasks = tasks.select_related(
        "owner",
        "process__repairprocess__case__record__department",
        "process__repairprocess__case__subject",
        "process__objectionprocess__case__record__department",
        "process__objectionprocess__case__subject",
    )
    if box == "archive":
        return tasks.order_by("-finished", "-id")
    return tasks.order_by(F("due_at").asc(nulls_last=True), "created", "id")
