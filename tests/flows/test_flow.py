"""The viewflow process behind each case: which task is open at each step,
who holds it, and how each exit ends the process."""

import datetime as dt

import pytest
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from flows.cases.assignment import case_reassign, case_release
from flows.cases.materials import case_material_add
from flows.cases.review import (
    cases_lapse_due,
    preliminary_review_claim,
    preliminary_review_refuse,
    supplement_answer,
    supplement_request,
)
from flows.cases.withdrawal import case_withdraw
from flows.flows import RepairFlow
from flows.models import CaseStatus, MaterialKind, RepairProcess
from flows.repair.services import (
    department_review_approve,
    department_review_claim,
    department_review_reject,
    preliminary_review_accept,
    repair_case_submit,
)
from tests.flows.conftest import draft_with_materials, upload

pytestmark = pytest.mark.django_db


def tasks(case):
    """(node, status, owner) of the case's process's tasks, gateways left out."""
    return [
        (t.flow_task.name, t.status, t.owner.username if t.owner else None)
        for t in Task.objects.filter(process__repairprocess__case=case)
        .exclude(flow_task_type__in=["SWITCH", "EXCLUSIVE_GATEWAY"])
        .order_by("id")
    ]


def process(case):
    return RepairProcess.objects.get(case=case)


def test_the_whole_journey_walks_the_graph(applicant, record, officer, reviewer, now):
    case = draft_with_materials(applicant, record)
    assert not RepairProcess.objects.filter(case=case).exists()  # a draft is not work yet
    repair_case_submit(applicant=applicant, case=case)
    assert tasks(case) == [("start", STATUS.DONE, None), ("preliminary_review", STATUS.NEW, None)]

    preliminary_review_claim(officer=officer, case=case)
    assert tasks(case)[-1] == ("preliminary_review", STATUS.ASSIGNED, officer.username)

    supplement_request(
        officer=officer,
        case=case,
        items=[{"material": MaterialKind.PERFORMANCE_PROOF, "problem": "缴款凭证不清晰"}],
    )
    assert tasks(case)[-2:] == [
        ("preliminary_review", STATUS.DONE, officer.username),
        ("supplement", STATUS.NEW, None),
    ]
    case_material_add(
        case=case, user=applicant, kind=MaterialKind.PERFORMANCE_PROOF, upload=upload()
    )
    supplement_answer(applicant=applicant, case=case)
    # Back in the officers' queue: a new preliminary review task, unclaimed.
    assert tasks(case)[-2:] == [
        ("supplement", STATUS.DONE, None),
        ("preliminary_review", STATUS.NEW, None),
    ]

    preliminary_review_claim(officer=officer, case=case)
    preliminary_review_accept(officer=officer, case=case)
    # The commitment was signed with the filing: accepted, the case goes to the department.
    assert tasks(case)[-2:] == [
        ("preliminary_review", STATUS.DONE, officer.username),
        ("department_review", STATUS.NEW, None),
    ]

    department_review_claim(reviewer=reviewer, case=case)
    department_review_approve(reviewer=reviewer, case=case, basis="《信用修复管理办法》第十二条")
    assert tasks(case)[-2:] == [
        ("department_review", STATUS.DONE, reviewer.username),
        ("repaired", STATUS.DONE, None),
    ]
    assert process(case).status == PROCESS.DONE


@pytest.mark.parametrize("exit_", ["refuse", "reject", "withdraw", "lapse"])
def test_each_exit_ends_the_process(exit_, drive, applicant, officer, reviewer, now):
    if exit_ == "refuse":
        case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
        preliminary_review_refuse(
            officer=officer, case=case, reasons=["不属于受理范围"], basis="第十条"
        )
        assert tasks(case)[-1] == ("closed", STATUS.DONE, None)
    elif exit_ == "reject":
        case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
        department_review_reject(
            reviewer=reviewer, case=case, reasons=["罚款未缴清"], basis="第九条"
        )
        assert tasks(case)[-1] == ("closed", STATUS.DONE, None)
    elif exit_ == "withdraw":
        case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
        case_withdraw(applicant=applicant, case=case, reason="自行撤回")
        assert tasks(case)[-1] == ("preliminary_review", STATUS.CANCELED, officer.username)
        assert process(case).status == PROCESS.CANCELED
        return
    else:
        case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
        request = supplement_request(
            officer=officer,
            case=case,
            items=[{"material": MaterialKind.IDENTITY_DOCUMENT, "problem": "营业执照已过期"}],
        )
        now.move_to(request.deadline + dt.timedelta(seconds=1))
        assert cases_lapse_due(now=request.deadline + dt.timedelta(seconds=1)) == 1
        assert tasks(case)[-2:] == [
            ("supplement", STATUS.DONE, None),
            ("closed", STATUS.DONE, None),
        ]
    assert process(case).status == PROCESS.DONE
    assert not Task.objects.filter(process__repairprocess__case=case, finished=None).exists()


def test_release_and_reassign_move_the_task_and_the_case(drive, officer, supervisor, now):
    from tests.conftest import make_user

    second = make_user("officer2", "officer")
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    case_release(user=officer, case=case)
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED and case.officer is None
    assert tasks(case)[-1] == ("preliminary_review", STATUS.NEW, None)

    case_reassign(supervisor=supervisor, case=case, assignee=second, reason="张三请假")
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW and case.officer == second
    assert tasks(case)[-1] == ("preliminary_review", STATUS.ASSIGNED, "officer2")

    case_reassign(supervisor=supervisor, case=case, assignee=officer, reason="张三回岗")
    case.refresh_from_db()
    assert case.officer == officer
    assert tasks(case)[-1] == ("preliminary_review", STATUS.ASSIGNED, officer.username)
    assert list(case.events.values_list("action", flat=True))[-3:] == [
        "release_preliminary_review",
        "claim_preliminary_review",
        "reassign",
    ]


def test_the_flow_reads_as_a_graph():
    nodes = {n.name for n in RepairFlow.instance.nodes()}
    assert {"start", "preliminary_review", "supplement", "department_review"} <= nodes
    # The commitment is part of the filing (国办发〔2025〕22号), not a step after acceptance.
    assert "commitment" not in nodes and "after_commitment" not in nodes
    assert RepairFlow.preliminary_review.task_title == "初审"
