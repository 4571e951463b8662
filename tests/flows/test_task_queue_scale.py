"""The task queues at a city's volume (issue 18): every task names its case,
so its deadline is joined on one path and a page is read in the order of the
clocks' stored, indexed due_at; a page is read by its keys first, so any
offset gives the same rows as one long page; beyond LIST_EXACT_COUNT_LIMIT
the count is an estimate and the pager says so. The plans themselves are
measured by tests/bench/bench_lists.py."""

import importlib
import itertools

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.cases.review import preliminary_review_claim
from flows.engine import HUMAN_NODES
from flows.models import CaseStatus, ObjectionCase, ObjectionScope, RepairCase
from flows.objections.services import objection_accept
from flows.repair.services import preliminary_review_accept
from sla.clocks import SlaError, clock_start, clocks_for
from sla.models import TASK_STAGES, Stage
from tests.conftest import make_record
from tests.flows.conftest import at
from tests.flows.test_commitment_at_filing import (
    retire_the_commitment_step,
    waiting_for_the_commitment,
)
from tests.flows.test_objections import filed
from tests.flows.test_task_api import file_case

pytestmark = pytest.mark.django_db

TASKS = "/api/v1/tasks/"
POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the planner's estimate is PostgreSQL's"
)


def open_tasks_of(case) -> list[Task]:
    lookup = "repairprocess" if isinstance(case, RepairCase) else "objectionprocess"
    return list(
        Task.objects.filter(
            **{f"process__{lookup}__case": case},
            flow_task_type="HUMAN",
            status__in=[STATUS.NEW, STATUS.ASSIGNED],
        )
    )


def bound_to(task: Task):
    return (task.artifact_content_type.model_class(), task.artifact_object_id)


def test_the_task_stages_are_the_stages_of_the_human_tasks():
    assert set(TASK_STAGES) == set(itertools.chain(*HUMAN_NODES.values()))


def test_every_human_task_names_its_case_from_filing_to_verification(
    drive, applicant, record, second_record, officer
):
    in_review = drive("in_department_review")
    (task,) = open_tasks_of(in_review)
    assert task.flow_task.name == "department_review"
    assert bound_to(task) == (RepairCase, in_review.pk)

    objection = filed(applicant, second_record)
    (task,) = open_tasks_of(objection)
    assert bound_to(task) == (ObjectionCase, objection.pk)
    preliminary_review_claim(officer=officer, case=objection)
    objection_accept(officer=officer, case=objection, scope=ObjectionScope.DEPARTMENT)
    (task,) = open_tasks_of(objection)
    assert task.flow_task.name == "verification"
    assert bound_to(task) == (ObjectionCase, objection.pk)


def test_a_case_holds_one_open_clock_of_a_task_stage(applicant, record):
    case = file_case(applicant, record)
    # The preliminary review's clock is open: a second task stage cannot open
    # beside it (the queue would list the task twice).
    with pytest.raises(SlaError), transaction.atomic():
        clock_start(case=case, stage=Stage.DEPARTMENT_REVIEW, actor=applicant)
    assert clocks_for(case).filter(stopped_at=None, stage__in=TASK_STAGES).count() == 1


def test_the_migration_binds_tasks_created_before_it(applicant, record):
    case = file_case(applicant, record)
    (task,) = open_tasks_of(case)
    Task.objects.filter(pk=task.pk).update(artifact_content_type=None, artifact_object_id=None)
    migration = importlib.import_module("flows.migrations.0014_queue_task")
    migration.bind_tasks(apps, None)
    task.refresh_from_db()
    assert bound_to(task) == (RepairCase, case.pk)
    assert task.artifact_content_type == ContentType.objects.get_for_model(RepairCase)


@pytest.fixture
def seven_cases(applicant, department, enterprise, now):
    """Seven repair cases filed an hour apart, so seven distinct deadlines
    (Monday: the first three are due the same day, the rest the next)."""
    cases = []
    for n in range(7):
        now.move_to(at(f"2026-11-16 {9 + n:02d}:00"))
        record = make_record(
            department=department, subject=enterprise, decision_number=f"济市监罚〔2026〕{40 + n}号"
        )
        cases.append(file_case(applicant, record))
    return cases


def test_any_offset_gives_the_rows_of_one_long_page(api_for, officer, seven_cases):
    api = api_for(officer)
    whole = api.get(TASKS, {"limit": 50}).json()["results"]
    assert len(whole) == 7
    dues = [task["due_at"] for task in whole]
    assert dues == sorted(dues)
    paged = []
    for offset in range(0, 9, 3):
        body = api.get(TASKS, {"limit": 3, "offset": offset}).json()
        assert body["count"] == 7
        paged.extend(body["results"])
    assert paged == whole


def test_the_web_queue_pages_are_the_queue_in_order(client_for, supervisor, seven_cases):
    # Newest deadline last: seven cases, fifty to a page, one page.
    body = client_for(supervisor).get("/cases/tasks/").content.decode()
    positions = [body.index(case.number) for case in seven_cases]
    assert positions == sorted(positions)


def test_an_officer_sees_no_department_check_and_a_reviewer_no_other_departments(
    api_for, applicant, record, officer, reviewer, other_reviewer
):
    objection = filed(applicant, record)
    preliminary_review_claim(officer=officer, case=objection)
    objection_accept(officer=officer, case=objection, scope=ObjectionScope.DEPARTMENT)

    def queue(user):
        return [t["case"]["id"] for t in api_for(user).get(TASKS).json()["results"]]

    assert queue(reviewer) == [objection.pk]
    assert queue(officer) == []
    assert queue(other_reviewer) == []


@POSTGRES
def test_beyond_the_limit_the_pager_says_about(
    settings, client_for, officer, department, enterprise
):
    for n in range(30):
        make_record(
            department=department,
            subject=enterprise,
            decision_number=f"济市监罚〔2025〕{n + 1}号",
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE records_creditrecord")
    c = client_for(officer)
    settings.LIST_EXACT_COUNT_LIMIT = 1000
    assert "共 30 条" in c.get("/records/").content.decode()
    settings.LIST_EXACT_COUNT_LIMIT = 5
    body = c.get("/records/").content.decode()
    assert "共 30 条" not in body and "约 " in body


def test_a_review_accepted_under_the_old_order_without_its_clock_is_queued_last(
    drive, api_for, applicant, second_record, officer, reviewer
):
    # Accepted before the commitment joined the filing (flows migration 0011),
    # signed: its department clock starts only at the claim. It has no deadline
    # to sort by, so it comes after every task that has one, and is not lost.
    legacy = drive(CaseStatus.ACCEPTED)
    waiting_for_the_commitment(legacy)
    retire_the_commitment_step()
    importlib.import_module("flows.migrations.0014_queue_task").bind_tasks(apps, None)
    assert not clocks_for(legacy).filter(stopped_at=None, stage__in=TASK_STAGES).exists()
    current = file_case(applicant, second_record)
    preliminary_review_claim(officer=officer, case=current)
    preliminary_review_accept(officer=officer, case=current)

    body = api_for(reviewer).get(TASKS).json()
    assert [t["case"]["id"] for t in body["results"]] == [current.pk, legacy.pk]
    assert body["results"][1]["due_at"] is None and body["count"] == 2
