"""The engine: the services' side of the flows (flows/flows.py): start a case's
process, take, hand back and finish its tasks, cancel what is left.

Always called inside the service's transaction, after the case row is locked
and its transition fired, so the flow's gateways read the new status and a
rollback undoes the flow's step together with the case's.
"""

from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from flows.flows import ObjectionFlow, RepairFlow
from flows.models import ObjectionCase, RepairCase
from sla.models import Stage

# The human tasks (viewflow View nodes) and the SLA stages each one runs
# against (an objection's check runs on the clock its routing chose).
HUMAN_NODES = {
    "preliminary_review": (Stage.PRELIMINARY_REVIEW,),
    "department_review": (Stage.DEPARTMENT_REVIEW,),
    "verification": (Stage.OBJECTION_OWN, Stage.OBJECTION_OTHER, Stage.RECORD_CHANGE),
}
OPEN = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
# Per kind of case: its process model's name in lookups from a task.
PROCESS_LOOKUP = {RepairCase: "process__repairprocess", ObjectionCase: "process__objectionprocess"}


def repair_flow():
    return RepairFlow


def objection_flow():
    return ObjectionFlow


def flow_of(case):
    return objection_flow() if isinstance(case, ObjectionCase) else repair_flow()


def node(name: str, flow=None):
    return getattr(flow or repair_flow(), name)


def process_start(case):
    return flow_of(case).start.run(case=case)


def _tasks_of(case):
    return Task.objects.filter(**{f"{PROCESS_LOOKUP[type(case)]}__case": case})


def task_open(case, name: str | None = None) -> Task | None:
    """The case's open task (of node `name`), locked for this transaction."""
    tasks = _tasks_of(case).select_for_update().filter(status__in=OPEN)
    if name is not None:
        tasks = tasks.filter(flow_task=node(name, flow_of(case)))
    return tasks.order_by("id").first()


def _activation(task: Task):
    return task.flow_task.activation_class(task)


def _require(case, name: str) -> Task:
    task = task_open(case, name)
    if task is None:
        raise LookupError(f"{case.label}: no open {name} task")
    return task


def task_assign(case, name: str, user) -> Task:
    """Give the human task to `user` (a claim, or a supervisor's reassignment)."""
    task = _require(case, name)
    activation = _activation(task)
    if task.status == STATUS.NEW:
        activation.assign(user)
    else:
        activation.reassign(user)
    task.assigned = timezone.now()
    task.save(update_fields=["assigned"])
    return task


def task_release(case, name: str) -> Task:
    """Put the human task back in the queue."""
    task = _require(case, name)
    _activation(task).unassign()
    task.assigned = None
    task.save(update_fields=["assigned"])
    return task


def task_done(case, name: str, user=None) -> Task:
    """Finish the node `name` and let the flow route by the case's new status."""
    task = _require(case, name)
    if task.flow_task_type == "HUMAN":
        activation = _activation(task)
        if task.status == STATUS.NEW:
            activation.assign(user)
        activation.start(None)
        activation.execute()
    else:
        node(name, flow_of(case)).run(task)
    return task


def process_cancel(case) -> None:
    """The case ended outside the flow's path (withdrawn): no task stays open."""
    for task in _tasks_of(case).select_for_update().filter(status__in=OPEN):
        _activation(task).cancel()
    flow_of(case).process_class.objects.filter(case=case, finished=None).update(
        status=PROCESS.CANCELED, finished=timezone.now()
    )
