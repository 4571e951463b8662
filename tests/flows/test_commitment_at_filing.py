"""The credit commitment as part of the filing (国办发〔2025〕22号; domain
sections 3 and 9): who signs it and in which capacity, what a natural
person's filing asks for and says, and the cases that were waiting for the
commitment after acceptance when it moved into the filing (flows migration
0011_commitment_at_filing)."""

import importlib
import subprocess
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.cases.common import case_commitment
from flows.models import CaseEvent, CaseStatus, RepairCase
from flows.repair.services import department_review_approve, department_review_claim
from letters.models import Commitment, CommitmentStatus, Letter
from letters.outbox import letter_render
from records.models import BindingCapacity, SubjectBinding
from repair_flow.models import Role
from sla.clocks import clocks_for
from tests.conftest import make_user
from tests.flows.conftest import PDF, at, draft_with_materials, local, upload

pytestmark = pytest.mark.django_db

AGENT_MESSAGE = "您以委托代理人身份申请，须先在申请中上传授权委托书，再以受托人身份签署承诺书。"
STAFF_MESSAGE = "申请人尚未签署信用修复承诺书（承诺书是申请材料的一部分），签署后方可办理。"


def pdf_text(letter: Letter) -> str:
    text = subprocess.run(
        ["pdftotext", letter.file.path, "-"], capture_output=True, text=True, check=True
    ).stdout
    return "".join(text.split())


def commitment_url(commitment) -> str:
    return f"/letters/commitments/{commitment.pk}/"


def sign(client, committed, commitment):
    commitment.draft.refresh_from_db()
    return committed(
        client.post,
        commitment_url(commitment),
        {"confirmed": "on", "draft_sha256": commitment.draft.sha256},
    )


@pytest.fixture
def agent(enterprise):
    user = make_user("agent", Role.APPLICANT, first_name="刘洋洋")
    SubjectBinding.objects.create(user=user, subject=enterprise, capacity=BindingCapacity.AGENT)
    return user


@pytest.fixture
def geren(person):
    user = make_user("geren", Role.APPLICANT, first_name=person.name)
    SubjectBinding.objects.create(user=user, subject=person, capacity=BindingCapacity.SELF)
    return user


# Who signs


def test_an_agent_signs_as_agent_only_under_an_uploaded_power_of_attorney(
    client_for, agent, record, committed
):
    client = client_for(agent)
    case = committed(draft_with_materials, agent, record, capacity="agent", kinds=(), signed=False)
    commitment = case_commitment(case)
    page = client.get(commitment_url(commitment)).content.decode()
    # Told before signing, not only after trying: no power of attorney yet.
    assert AGENT_MESSAGE in page
    response = sign(client, committed, commitment)
    assert response.status_code == 400
    assert response.context["form"].errors["__all__"] == [AGENT_MESSAGE]
    commitment.refresh_from_db()
    assert commitment.status == CommitmentStatus.DRAFT

    client.post(
        reverse("flows:materials", args=[case.pk]),
        {"file_power_of_attorney": upload("授权委托书.pdf", PDF)},
    )
    page = client.get(commitment_url(commitment)).content.decode()
    assert AGENT_MESSAGE not in page
    assert "受托人：刘洋洋（代理 济南泉城食品有限公司）" in page
    response = sign(client, committed, commitment)
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert (commitment.signer_name, commitment.signer_capacity, commitment.signed_by) == (
        "刘洋洋",
        "agent",
        agent,
    )
    signature = commitment.signed.facts["signature"]
    assert signature["block"] == "受托人：刘洋洋（代理 济南泉城食品有限公司）"
    # The agent signs in their own name, never the legal representative's.
    text = pdf_text(commitment.signed)
    assert "受托人：刘洋洋（代理济南泉城食品有限公司）电子签署" in text
    assert "签署人：张伟" not in text


def test_an_account_bound_to_another_subject_cannot_sign_or_see_it(
    client_for, applicant, other_applicant, record, committed
):
    case = committed(draft_with_materials, applicant, record, signed=False)
    commitment = case_commitment(case)
    client = client_for(other_applicant)
    assert client.get(commitment_url(commitment)).status_code == 404
    assert sign(client, committed, commitment).status_code == 404
    commitment.refresh_from_db()
    assert commitment.status == CommitmentStatus.DRAFT


@pytest.mark.parametrize("persona", ["officer", "reviewer"])
def test_staff_cannot_sign_an_applicants_commitment(
    request, client_for, applicant, record, committed, persona
):
    case = committed(draft_with_materials, applicant, record, signed=False)
    commitment = case_commitment(case)
    response = sign(client_for(request.getfixturevalue(persona)), committed, commitment)
    assert response.status_code in (400, 403, 404)
    commitment.refresh_from_db()
    assert commitment.status == CommitmentStatus.DRAFT


# A natural person's filing


def test_a_natural_person_is_asked_for_no_business_licence_and_commits_to_no_publication(
    client_for, geren, person_record, committed
):
    client = client_for(geren)
    page = client.get(reverse("flows:new", args=[person_record.pk])).content.decode()
    assert "营业执照" not in page and "无需提交身份证件复印件" in page
    committed(
        client.post,
        reverse("flows:new", args=[person_record.pk]),
        {"details": "罚款已缴清。", "capacity": "self"},
    )
    case = RepairCase.objects.get(record=person_record)
    page = client.get(reverse("flows:materials", args=[case.pk])).content.decode()
    assert "营业执照" not in page and 'name="file_performance_proof"' in page
    commitment = case_commitment(case)
    page = client.get(commitment_url(commitment)).content.decode()
    assert "承诺人：" in page and "公示" not in page and "向社会公开" not in page
    assert sign(client, committed, commitment).status_code == 302
    commitment.refresh_from_db()
    assert commitment.signer_capacity == "self"
    text = pdf_text(commitment.signed)
    assert "公示" not in text and "向社会公开" not in text
    # The four pledges of domain section 9, and no fifth one.
    for pledge in ("材料真实", "履行行政处罚决定书规定的义务", "遵守法律", "撤销信用修复决定"):
        assert pledge in text
    assert "五、" not in text


# Cases accepted before the commitment moved into the filing


def retire_the_commitment_step():
    """Run the migration's data step on this database, as `migrate` would."""
    folder = Path(importlib.import_module("flows.migrations").__file__).parent
    (path,) = folder.glob("*_commitment_at_filing.py")
    migration = importlib.import_module(f"flows.migrations.{path.stem}")
    migration.commitment_step_retire(apps, None)


def waiting_for_the_commitment(case):
    """Put an accepted case back where the old order left it: awaiting the
    applicant's commitment, its flow on the commitment node."""
    RepairCase.objects.filter(pk=case.pk).update(status="awaiting_commitment")
    task = Task.objects.get(
        process__repairprocess__case=case, flow_task="flows/flows.RepairFlow.department_review"
    )
    Task.objects.filter(pk=task.pk).update(flow_task="flows/flows.RepairFlow.commitment")
    clocks_for(case).filter(stage="department_review").delete()
    return task


def test_a_case_waiting_unsigned_moves_to_accepted_and_waits_for_the_signature(
    drive, applicant, reviewer, client_for, committed, now
):
    case = drive(CaseStatus.ACCEPTED)
    commitment = case_commitment(case)
    Commitment.objects.filter(pk=commitment.pk).update(
        status=CommitmentStatus.DRAFT, signer_name="", signer_capacity="", signed_at=None
    )
    old_task = waiting_for_the_commitment(case)

    retire_the_commitment_step()

    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED
    event = CaseEvent.objects.filter(case=case).last()
    assert (event.action, event.from_status, event.to_status) == (
        "commitment_at_filing",
        "awaiting_commitment",
        "accepted",
    )
    assert event.get_from_status_display() == "待签署信用承诺（原流程）"
    old_task.refresh_from_db()
    assert old_task.status == STATUS.CANCELED
    review = Task.objects.get(process__repairprocess__case=case, status=STATUS.NEW)
    assert (review.flow_task.name, list(review.previous.all())) == (
        "department_review",
        [old_task],
    )
    # Until the applicant signs, the department can neither claim nor decide it.
    with pytest.raises(ValidationError) as refused:
        department_review_claim(reviewer=reviewer, case=case)
    assert refused.value.messages == [STAFF_MESSAGE]
    page = client_for(applicant).get(reverse("flows:detail", args=[case.pk])).content.decode()
    assert commitment_url(commitment) in page
    assert "您的信用修复承诺书尚未签署，签署后认定单位方可审核。" in page

    letter_render(letter_id=commitment.draft_id)
    now.move_to(at("2026-11-17 09:30"))
    assert sign(client_for(applicant), committed, commitment).status_code == 302
    # The department's clock starts at the signature: the wait was the applicant's.
    clock = clocks_for(case).get(stage="department_review", stopped_at=None)
    assert local(clock.started_at) == "2026-11-17 09:30"
    case = department_review_claim(reviewer=reviewer, case=case)
    case = department_review_approve(reviewer=reviewer, case=case, basis="第十条")
    assert case.status == CaseStatus.APPROVED


def test_a_case_waiting_with_its_commitment_signed_goes_to_the_department(drive, reviewer):
    case = drive(CaseStatus.ACCEPTED)
    waiting_for_the_commitment(case)

    retire_the_commitment_step()
    retire_the_commitment_step()  # a second run finds nothing to move

    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED
    assert CaseEvent.objects.filter(case=case, action="commitment_at_filing").count() == 1
    assert (
        "承诺书已签署，转认定单位审核"
        in CaseEvent.objects.get(action="commitment_at_filing").comment
    )
    open_tasks = Task.objects.filter(
        process__repairprocess__case=case, status__in=[STATUS.NEW, STATUS.ASSIGNED]
    )
    assert [t.flow_task.name for t in open_tasks] == ["department_review"]
    # Its department clock starts when the department takes it.
    case = department_review_claim(reviewer=reviewer, case=case)
    assert case.status == CaseStatus.IN_DEPARTMENT_REVIEW
    clock = clocks_for(case).get(stage="department_review", stopped_at=None)
    assert clock.assignee == reviewer
