"""Objections through the services: filing with the commitment, the shared
preliminary review, acceptance that flags the record, routing, and the three
outcomes with their letters and sync events."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from flows.cases.materials import case_material_add
from flows.cases.review import preliminary_review_claim, supplement_answer, supplement_request
from flows.cases.withdrawal import case_withdraw
from flows.models import CaseStatus, MaterialKind, ObjectionCase, ObjectionProcess
from flows.objections.services import (
    objection_accept,
    objection_correct,
    objection_delete,
    objection_draft_save,
    objection_maintain,
    objection_submit,
    verification_claim,
)
from flows.repair.services import repair_case_draft_save
from letters.models import Letter, LetterKind
from records.models import RecordCorrection, RecordStatus, SyncEvent
from sla.clocks import clocks_for
from tests.flows.conftest import local, upload

pytestmark = pytest.mark.django_db


def filed(applicant, record, *, grounds=("error",)):
    case = objection_draft_save(
        applicant=applicant,
        record=record,
        grounds=list(grounds),
        statement="罚款金额登记错误，应为 500 元。",
        capacity="legal_representative",
    )
    case_material_add(case=case, user=applicant, kind=MaterialKind.EVIDENCE, upload=upload())
    return objection_submit(applicant=applicant, case=case, confirmed=True)


def accepted(applicant, record, officer, scope, **kwargs):
    case = filed(applicant, record, **kwargs)
    preliminary_review_claim(officer=officer, case=case)
    return objection_accept(officer=officer, case=case, scope=scope)


def open_tasks(case):
    return [
        (t.flow_task.name, t.status)
        for t in Task.objects.filter(process__objectionprocess__case=case, finished=None)
    ]


def test_a_filing_needs_grounds_evidence_and_the_signed_commitment(applicant, record):
    with pytest.raises(ValidationError) as refused:
        objection_draft_save(
            applicant=applicant,
            record=record,
            grounds=[],
            statement="x",
            capacity="legal_representative",
        )
    assert "请至少选择一项异议理由" in str(refused.value)
    case = objection_draft_save(
        applicant=applicant,
        record=record,
        grounds=["error"],
        statement="金额有误",
        capacity="legal_representative",
    )
    with pytest.raises(ValidationError) as refused:
        objection_submit(applicant=applicant, case=case, confirmed=False)
    messages = refused.value.messages
    assert any("异议证明材料" in m for m in messages)
    assert any("请确认承诺" in m for m in messages)
    case.refresh_from_db()
    assert case.status == CaseStatus.DRAFT and case.number is None


def test_the_whole_objection_is_numbered_reviewed_and_flagged(applicant, record, officer, now):
    case = filed(applicant, record)
    assert case.number == "济信异申〔2026〕1号" and case.status == CaseStatus.SUBMITTED
    assert (case.attested_name, case.attested_capacity) == ("张伟", "legal_representative")
    assert local(clocks_for(case).get(stage="preliminary_review").due_at) == "2026-11-16 17:00"
    assert open_tasks(case) == [("preliminary_review", STATUS.NEW)]

    preliminary_review_claim(officer=officer, case=case)
    objection_accept(officer=officer, case=case, scope="platform")
    case.refresh_from_db()
    record.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED
    assert record.status == RecordStatus.UNDER_OBJECTION
    assert case.record_status_before == RecordStatus.PUBLISHED
    # Shandong Social Credit Regulation Art. 39: own scope, 3 working days.
    assert local(clocks_for(case).get(stage="objection_own").due_at) == "2026-11-19 17:00"
    assert open_tasks(case) == [("verification", STATUS.NEW)]
    letter = Letter.objects.get(case_id=case.pk, kind=LetterKind.ACCEPTANCE)
    assert letter.facts["matter"] == "异议申请"


def test_a_record_under_objection_cannot_be_filed_for_repair(applicant, record, officer):
    filed(applicant, record)
    with pytest.raises(ValidationError) as refused:
        repair_case_draft_save(
            applicant=applicant, record=record, details="x", capacity="legal_representative"
        )
    assert "异议办结后方可申请信用修复" in str(refused.value)


def test_a_record_cannot_have_two_open_objections(applicant, record):
    filed(applicant, record)
    with pytest.raises(ValidationError) as refused:
        objection_draft_save(
            applicant=applicant,
            record=record,
            grounds=["other"],
            statement="x",
            capacity="legal_representative",
        )
    assert "已有正在处理的异议" in str(refused.value)


def test_the_department_corrects_the_record_with_a_diff(
    applicant, record, officer, reviewer, other_reviewer, now
):
    case = accepted(applicant, record, officer, "department")
    # Shandong Social Credit Regulation Art. 39: another unit checks, 7 working days.
    assert local(clocks_for(case).get(stage="objection_other").due_at) == "2026-11-25 17:00"
    with pytest.raises(PermissionDenied, match="只有济南市市场监督管理局的审核人员"):
        verification_claim(user=other_reviewer, case=case)
    with pytest.raises(PermissionDenied, match="只有济南市市场监督管理局的审核人员"):
        verification_claim(user=officer, case=case)
    verification_claim(user=reviewer, case=case)
    objection_correct(
        verifier=reviewer,
        case=case,
        changes={"fine_amount": "500.00"},
        evidence="处罚决定书原件（济市监罚〔2026〕1号）",
        reasons=["登记金额与决定书不一致"],
        basis="《山东省社会信用条例》第三十九条",
    )
    case.refresh_from_db()
    record.refresh_from_db()
    assert case.status == CaseStatus.CORRECTED
    assert str(record.fine_amount) == "500.00" and record.status == RecordStatus.PUBLISHED
    correction = RecordCorrection.objects.get(record=record)
    assert correction.changes == [
        {"field": "fine_amount", "label": "罚款金额（元）", "old": "5000.00", "new": "500.00"}
    ]
    result = Letter.objects.get(case_id=case.pk, kind=LetterKind.OBJECTION_RESULT)
    assert result.facts["outcome"] == "correct"
    assert SyncEvent.objects.get(record=record).kind == "corrected"
    assert ObjectionProcess.objects.get(case=case).status == PROCESS.DONE


def test_delete_and_maintain(applicant, record, other_record, officer, reviewer):
    case = accepted(applicant, record, officer, "platform")
    verification_claim(user=officer, case=case)
    objection_delete(
        verifier=officer,
        case=case,
        evidence="复议决定书",
        reasons=["处罚决定已被撤销"],
        basis="《山东省社会信用条例》第四十条",
    )
    record.refresh_from_db()
    assert record.status == RecordStatus.DELETED
    assert SyncEvent.objects.get(record=record).kind == "deleted"


def test_maintain_gives_the_record_its_status_back(applicant, record, officer):
    case = accepted(applicant, record, officer, "platform")
    verification_claim(user=officer, case=case)
    objection_maintain(
        verifier=officer, case=case, reasons=["记录与决定书一致"], basis="第三十九条"
    )
    record.refresh_from_db()
    case.refresh_from_db()
    assert record.status == RecordStatus.PUBLISHED and case.status == CaseStatus.MAINTAINED


def test_a_revoked_decision_runs_on_the_three_day_change_clock(
    applicant, record, officer, reviewer, now
):
    case = accepted(applicant, record, officer, "department", grounds=("decision_revoked",))
    # Shandong Social Credit Regulation Art. 40: 3 working days.
    assert local(clocks_for(case).get(stage="record_change").due_at) == "2026-11-19 17:00"


def test_supplement_and_withdrawal_reuse_the_repair_rules(applicant, record, officer):
    case = filed(applicant, record)
    preliminary_review_claim(officer=officer, case=case)
    supplement_request(
        officer=officer,
        case=case,
        items=[{"material": MaterialKind.EVIDENCE, "problem": "证明材料不清晰"}],
    )
    case_material_add(case=case, user=applicant, kind=MaterialKind.EVIDENCE, upload=upload())
    supplement_answer(applicant=applicant, case=case)
    case.refresh_from_db()
    assert case.status == CaseStatus.RESUBMITTED
    preliminary_review_claim(officer=officer, case=case)
    objection_accept(officer=officer, case=case, scope="platform")
    case_withdraw(
        applicant=applicant, case=ObjectionCase.objects.get(pk=case.pk), reason="已与部门沟通"
    )
    record.refresh_from_db()
    assert record.status == RecordStatus.PUBLISHED
    assert open_tasks(case) == []


def test_an_objection_lapses_after_its_supplement_deadline_with_its_own_email(
    applicant, record, officer, now
):
    import datetime as dt

    from flows.cases.review import cases_lapse_due
    from letters.models import OutboundMessage

    applicant.email = "zhangwei@example.com"
    applicant.save(update_fields=["email"])
    case = filed(applicant, record)
    preliminary_review_claim(officer=officer, case=case)
    request = supplement_request(
        officer=officer,
        case=case,
        items=[{"material": MaterialKind.EVIDENCE, "problem": "证明材料不清晰"}],
    )
    assert cases_lapse_due(now=request.deadline) == 0
    now.move_to(request.deadline + dt.timedelta(seconds=1))
    assert cases_lapse_due(now=request.deadline + dt.timedelta(seconds=1)) == 1
    case.refresh_from_db()
    assert case.status == CaseStatus.LAPSED and open_tasks(case) == []
    message = OutboundMessage.objects.get(idempotency_key=f"objection_case:{case.pk}:lapsed")
    assert message.subject.startswith("【异议】") and "异议申请" in message.body
