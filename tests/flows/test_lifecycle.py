"""A repair case from draft to decision through the services: statuses,
clocks and their deadlines, letters, the timeline, the record."""

import pytest
from django.core.exceptions import ValidationError

from flows.cases.common import case_commitment
from flows.cases.review import preliminary_review_claim, preliminary_review_refuse
from flows.cases.withdrawal import case_withdraw
from flows.models import CaseEvent, CaseStatus, RepairCase
from flows.repair.services import (
    case_commitment_sign,
    department_review_approve,
    department_review_claim,
    department_review_reject,
    preliminary_review_accept,
    repair_case_draft_save,
    repair_case_submit,
)
from letters.models import CommitmentStatus, Letter, RenderStatus
from records.models import RecordStatus, SyncEvent
from repair_flow.audit import verify_chain
from repair_flow.models import AuditEvent
from sla.clocks import clocks_for
from sla.models import ClockState
from tests.conftest import make_record
from tests.flows.conftest import at, draft_with_materials, local

pytestmark = pytest.mark.django_db


def clock_table(case) -> list[tuple[str, str, str, str | None]]:
    return [
        (c.stage, c.state, local(c.due_at), c.assignee.username if c.assignee else None)
        for c in clocks_for(case).order_by("started_at", "id")
    ]


def timeline(case) -> list[tuple[str, str, str, str]]:
    return [
        (e.action, e.from_status, e.to_status, e.actor.username if e.actor else "")
        for e in CaseEvent.objects.filter(case=case)
    ]


def test_a_case_goes_from_draft_to_approved_with_its_clocks_letters_and_timeline(
    applicant, record, officer, reviewer, committed, now, department
):
    now.move_to(at("2026-11-16 09:00"))
    case = committed(draft_with_materials, applicant, record, signed=False)
    assert (case.status, case.number, case.label) == ("draft", None, f"草稿 #{case.pk}")
    assert clock_table(case) == []
    # The commitment is generated from the filing, to be read and signed before submission.
    commitment = case_commitment(case)
    assert commitment.case_id == case.pk and commitment.status == CommitmentStatus.DRAFT
    commitment.draft.refresh_from_db()
    assert commitment.draft.status == RenderStatus.RENDERED

    now.move_to(at("2026-11-16 09:30"))
    committed(
        case_commitment_sign,
        commitment=commitment,
        user=applicant,
        confirmed=True,
        draft_sha256=commitment.draft.sha256,
        ip="203.0.113.7",
        user_agent="test",
    )
    commitment.refresh_from_db()
    assert (commitment.status, commitment.signer_name, commitment.signer_capacity) == (
        CommitmentStatus.SIGNED,
        "张伟",
        "legal_representative",
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.DRAFT and clock_table(case) == []

    now.move_to(at("2026-11-16 10:00"))
    case = repair_case_submit(applicant=applicant, case=case)
    assert case.number == "济信修申〔2026〕1号"
    assert case.submitted_at == at("2026-11-16 10:00")
    # Received before the 16:00 cut-off: preliminary review the same day; the
    # acceptance decision (2 working days from complete materials) beside it.
    assert clock_table(case) == [
        ("preliminary_review", "running", "2026-11-16 17:00", None),
        ("acceptance", "running", "2026-11-18 17:00", None),
    ]

    now.move_to(at("2026-11-16 10:30"))
    preliminary_review_claim(officer=officer, case=case)
    assert clock_table(case)[0] == ("preliminary_review", "running", "2026-11-16 17:00", "officer")

    now.move_to(at("2026-11-16 11:00"))
    case = committed(preliminary_review_accept, officer=officer, case=case)
    # Nothing waits for the applicant after acceptance: the case goes to the department.
    assert case.status == CaseStatus.ACCEPTED
    department_clock = clocks_for(case).get(stage="department_review")
    # 谁认定、谁修复: the review clock belongs to the issuing department.
    assert department_clock.department == department
    assert clock_table(case) == [
        ("preliminary_review", "met", "2026-11-16 17:00", "officer"),
        ("acceptance", "met", "2026-11-18 17:00", None),
        ("whole_decision", "running", "2026-11-30 17:00", None),
        ("department_review", "running", "2026-11-23 17:00", None),
    ]

    now.move_to(at("2026-11-18 10:00"))
    department_review_claim(reviewer=reviewer, case=case)
    now.move_to(at("2026-11-18 15:00"))
    case = committed(
        department_review_approve,
        reviewer=reviewer,
        case=case,
        basis="《信用修复管理办法》第十条",
    )
    assert case.status == CaseStatus.APPROVED
    assert case.decided_at == at("2026-11-18 15:00")
    assert clock_table(case) == [
        ("preliminary_review", "met", "2026-11-16 17:00", "officer"),
        ("acceptance", "met", "2026-11-18 17:00", None),
        ("whole_decision", "met", "2026-11-30 17:00", None),
        ("department_review", "met", "2026-11-23 17:00", "reviewer"),
        ("sync", "running", "2026-11-23 17:00", None),
    ]

    record.refresh_from_db()
    assert record.status == RecordStatus.REPAIRED
    # The commitment is watched from the approval for the policy's 12 months.
    window = case.monitoring
    assert (window.status, local(window.starts_at), local(window.ends_at)) == (
        "open",
        "2026-11-18 15:00",
        "2027-11-18 15:00",
    )
    assert window.commitment == commitment and window.subject == case.subject
    event = SyncEvent.objects.get(record=record)
    assert (event.kind, event.payload["reference"]["case_number"]) == (
        "repaired",
        "济信修申〔2026〕1号",
    )
    repaired = AuditEvent.objects.get(action="records.status")
    assert "济信修申〔2026〕1号" in repaired.summary["reason"]

    letters = Letter.objects.filter(case_id=case.pk).order_by("pk")
    assert [(x.kind, x.number, x.recipient_id) for x in letters] == [
        ("commitment", None, None),  # the draft the applicant read
        ("commitment", "济信诺〔2026〕1号", applicant.pk),
        ("acceptance", "济信修受〔2026〕1号", applicant.pk),
        ("repair_decision", "SCJGJ信修决〔2026〕1号", applicant.pk),
    ]
    # The commitment's letters, issued to the draft, name the case by its number too.
    assert {x.case_label for x in letters} == {"济信修申〔2026〕1号"}
    decision = letters.last()
    assert case.decision_letter == decision
    assert decision.status == RenderStatus.RENDERED
    assert decision.case_label == "济信修申〔2026〕1号"
    assert decision.facts["received_on"] == "2026-11-16"
    assert decision.facts["effective_on"] == "2026-11-18"
    assert decision.facts["record"]["decision_number"] == record.decision_number

    assert timeline(case) == [
        ("submit", "draft", "submitted", "applicant"),
        ("claim_preliminary_review", "submitted", "in_preliminary_review", "officer"),
        ("accept", "in_preliminary_review", "accepted", "officer"),
        ("claim_department_review", "accepted", "in_department_review", "reviewer"),
        ("approve", "in_department_review", "approved", "reviewer"),
    ]
    actions = AuditEvent.objects.filter(object_type="flows.RepairCase").values_list(
        "action", flat=True
    )
    assert list(actions) == [
        "flows.repair_case.draft_create",
        "flows.repair_case.submit",
        "flows.repair_case.claim_preliminary_review",
        "flows.repair_case.accept",
        "flows.repair_case.claim_department_review",
        "flows.repair_case.approve",
    ]
    assert verify_chain().broken_at is None


def test_case_numbers_run_per_year_without_gaps(applicant, record, department, enterprise, now):
    first = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    second_record = make_record(
        department=department, subject=enterprise, decision_number="济市监罚〔2026〕2号"
    )
    refused = repair_case_draft_save(
        applicant=applicant, record=second_record, details="", capacity="legal_representative"
    )
    with pytest.raises(ValidationError):
        repair_case_submit(applicant=applicant, case=refused)  # no materials: no number used
    second = repair_case_submit(
        applicant=applicant, case=draft_with_materials(applicant, second_record)
    )
    now.move_to(at("2027-01-04 10:00"))
    third_record = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2026〕3号",
        decision_date=at("2026-06-01 00:00").date(),
    )
    third = repair_case_submit(
        applicant=applicant, case=draft_with_materials(applicant, third_record)
    )
    assert [first.number, second.number, third.number] == [
        "济信修申〔2026〕1号",
        "济信修申〔2026〕2号",
        "济信修申〔2027〕1号",
    ]


def test_the_preliminary_review_may_refuse_to_accept(applicant, record, officer, drive):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    case = preliminary_review_refuse(
        officer=officer,
        case=case,
        reasons=["申请材料中的缴款凭证与处罚决定不对应"],
        basis="《信用修复管理办法》第十一条",
    )
    assert case.status == CaseStatus.NOT_ACCEPTED
    assert clock_table(case) == [
        ("preliminary_review", "met", "2026-11-16 17:00", "officer"),
        ("acceptance", "met", "2026-11-18 17:00", None),
    ]
    letter = case.decision_letter
    assert (letter.kind, letter.number) == ("refusal_to_accept", "济信修不受〔2026〕1号")
    assert letter.facts["reasons"] == ["申请材料中的缴款凭证与处罚决定不对应"]
    assert timeline(case)[-1] == ("refuse", "in_preliminary_review", "not_accepted", "officer")
    # A refused case no longer holds the record: the subject may file again.
    again = draft_with_materials(applicant, record)
    assert repair_case_submit(applicant=applicant, case=again).status == CaseStatus.SUBMITTED


def test_the_department_may_refuse_to_repair(record, reviewer, drive):
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    case = department_review_reject(
        reviewer=reviewer,
        case=case,
        reasons=["罚款尚未全部缴纳"],
        basis="《信用修复管理办法》第十条",
    )
    assert case.status == CaseStatus.REJECTED
    assert {c.stage: c.state for c in clocks_for(case)} == {
        "preliminary_review": ClockState.MET,
        "acceptance": ClockState.MET,
        "whole_decision": ClockState.MET,
        "department_review": ClockState.MET,
    }
    assert (case.decision_letter.kind, case.decision_letter.number) == (
        "repair_refusal",
        "SCJGJ信修不决〔2026〕1号",
    )
    record.refresh_from_db()
    assert record.status == RecordStatus.PUBLISHED


def test_approval_rechecks_eligibility_and_refuses_a_record_that_changed(record, reviewer, drive):
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    type(record).objects.filter(pk=record.pk).update(status=RecordStatus.UNDER_OBJECTION)
    letters, events = Letter.objects.count(), CaseEvent.objects.count()
    with pytest.raises(ValidationError) as refused:
        department_review_approve(reviewer=reviewer, case=case, basis="《信用修复管理办法》第十条")
    assert "异议处理中" in refused.value.messages[0]
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_DEPARTMENT_REVIEW
    assert (Letter.objects.count(), CaseEvent.objects.count()) == (letters, events)
    assert clocks_for(case).get(stage="department_review").state == ClockState.RUNNING


@pytest.mark.parametrize(
    "status",
    [
        CaseStatus.DRAFT,
        CaseStatus.SUBMITTED,
        CaseStatus.IN_PRELIMINARY_REVIEW,
        CaseStatus.ACCEPTED,
        CaseStatus.IN_DEPARTMENT_REVIEW,
    ],
)
def test_the_applicant_may_withdraw_an_open_case_and_its_clocks_are_cancelled(
    applicant, drive, status
):
    case = drive(status)
    open_before = clocks_for(case).filter(stopped_at=None).count()
    case = case_withdraw(applicant=applicant, case=case, reason="已另行处理")
    assert case.status == CaseStatus.WITHDRAWN and case.closed_at is not None
    assert clocks_for(case).filter(stopped_at=None).count() == 0
    assert clocks_for(case).filter(state=ClockState.CANCELLED).count() == open_before
    assert timeline(case)[-1] == ("withdraw", status, "withdrawn", "applicant")
    commitment = case_commitment(case)
    # A signed commitment stays (the subject did commit); an unsigned draft's is
    # voided (test_a_withdrawn_draft_leaves_no_unsigned_commitment).
    assert commitment.status == CommitmentStatus.SIGNED


def test_a_closed_case_cannot_be_withdrawn_and_nothing_changes(applicant, officer, drive):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    preliminary_review_refuse(officer=officer, case=case, reasons=["不符合条件"], basis="第十一条")
    events = CaseEvent.objects.count()
    with pytest.raises(ValidationError, match="不予受理"):
        case_withdraw(applicant=applicant, case=case, reason="撤回")
    assert CaseEvent.objects.count() == events
    assert RepairCase.objects.get(pk=case.pk).status == CaseStatus.NOT_ACCEPTED


def test_the_status_field_cannot_be_set_directly(drive):
    case = drive(CaseStatus.SUBMITTED)
    with pytest.raises(AttributeError):
        case.status = CaseStatus.APPROVED
