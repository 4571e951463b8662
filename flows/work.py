"""The services' side of the repair flow (flows/flows.py): start a case's
process, take, hand back and finish its tasks, cancel what is left.

Always called inside the service's transaction, after the case row is locked
and its transition fired, so the flow's gateways read the new status and a
rollback undoes the flow's step together with the case's.
"""

from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from flows.models import RepairCase, RepairProcess
from sla.models import Stage

# The human tasks (viewflow View nodes) and the SLA stage each one runs against.
HUMAN_NODES = {
    "preliminary_review": Stage.PRELIMINARY_REVIEW,
    "department_review": Stage.DEPARTMENT_REVIEW,
}
OPEN = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)


def repair_flow():
    # Imported late: the flow imports the task views, which import the services.
    from flows.flows import RepairFlow

    return RepairFlow


def node(name: str):
    return getattr(repair_flow(), name)


def process_start(case: RepairCase) -> RepairProcess:
    return repair_flow().start.run(case=case)


def task_open(case: RepairCase, name: str | None = None) -> Task | None:
    """The case's open task (of node `name`), locked for this transaction."""
    tasks = Task.objects.select_for_update().filter(
        process__repairprocess__case=case, status__in=OPEN
    )
    if name is not None:
        tasks = tasks.filter(flow_task=node(name))
    return tasks.order_by("id").first()


def _activation(task: Task):
    return task.flow_task.activation_class(task)


def _require(case: RepairCase, name: str) -> Task:
    task = task_open(case, name)
    if task is None:
        raise LookupError(f"{case.label}: no open {name} task")
    return task


def task_assign(case: RepairCase, name: str, user) -> Task:
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


def task_release(case: RepairCase, name: str) -> Task:
    """Put the human task back in the queue."""
    task = _require(case, name)
    _activation(task).unassign()
    task.assigned = None
    task.save(update_fields=["assigned"])
    return task


def task_done(case: RepairCase, name: str, user=None) -> Task:
    """Finish the node `name` and let the flow route by the case's new status."""
    task = _require(case, name)
    if task.flow_task_type == "HUMAN":
        activation = _activation(task)
        if task.status == STATUS.NEW:
            activation.assign(user)
        activation.start(None)
        activation.execute()
    else:
        node(name).run(task)
    return task


def process_cancel(case: RepairCase) -> None:
    """The case ended outside the flow's path (withdrawn): no task stays open."""
    for task in Task.objects.select_for_update().filter(
        process__repairprocess__case=case, status__in=OPEN
    ):
        _activation(task).cancel()
    RepairProcess.objects.filter(case=case, finished=None).update(
        status=PROCESS.CANCELED, finished=timezone.now()
    )
