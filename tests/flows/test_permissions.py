"""Who may do what on a case, and who may see it: every rule refuses the
wrong persona and leaves nothing behind."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.http import Http404

from flows.cases.materials import case_material_add
from flows.cases.review import (
    preliminary_review_claim,
    preliminary_review_refuse,
    supplement_answer,
    supplement_request,
)
from flows.cases.selectors import case_get_for_user, cases_for_user
from flows.cases.withdrawal import case_withdraw
from flows.models import CaseEvent, CaseMaterial, CaseStatus, RepairCase, SupplementRequest
from flows.repair.services import (
    department_review_approve,
    department_review_claim,
    department_review_reject,
    preliminary_review_accept,
    repair_case_submit,
)
from letters.models import Letter
from records.models import DepartmentMembership
from repair_flow.audit import verify_chain
from repair_flow.models import AuditEvent, Role
from sla.clocks import clocks_for
from sla.models import SlaClock
from tests.conftest import make_user
from tests.flows.conftest import draft_with_materials, upload

ITEMS = [{"material": "performance_proof", "problem": "缴款凭证模糊"}]


def snapshot():
    return (
        CaseEvent.objects.count(),
        CaseMaterial.objects.count(),
        SupplementRequest.objects.count(),
        Letter.objects.count(),
        SlaClock.objects.count(),
        AuditEvent.objects.count(),
        list(RepairCase.objects.values_list("pk", "status", "officer_id", "reviewer_id")),
    )


def refused(call, error=PermissionDenied, **kwargs):
    before = snapshot()
    with pytest.raises(error) as raised:
        call(**kwargs)
    assert snapshot() == before
    return str(raised.value)


@pytest.mark.django_db
def test_another_applicant_may_not_act_on_the_case(drive, other_applicant, officer):
    case = drive(CaseStatus.DRAFT)
    message = refused(repair_case_submit, applicant=other_applicant, case=case)
    assert message == "只有本案申请人可以办理此操作。"
    refused(
        case_material_add, case=case, user=other_applicant, kind="other", upload=upload("x.pdf")
    )
    refused(case_withdraw, applicant=other_applicant, case=case, reason="撤回")
    repair_case_submit(applicant=case.applicant, case=case)
    preliminary_review_claim(officer=officer, case=case)
    supplement_request(officer=officer, case=case, items=ITEMS)
    refused(
        case_material_add,
        case=case,
        user=other_applicant,
        kind="performance_proof",
        upload=upload("x.pdf"),
    )
    refused(supplement_answer, applicant=other_applicant, case=case)


@pytest.mark.django_db
def test_applicants_reviewers_and_supervisors_may_not_do_the_preliminary_review(
    drive, applicant, reviewer, supervisor
):
    case = drive(CaseStatus.SUBMITTED)
    for persona in (applicant, reviewer, supervisor):
        message = refused(preliminary_review_claim, officer=persona, case=case)
        assert message == "只有平台工作人员可以办理初审。"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["applicant", "second_officer", "reviewer"])
def test_only_the_officer_who_claimed_the_case_may_decide_it(drive, request, persona):
    user = request.getfixturevalue(persona)
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    refused(preliminary_review_accept, officer=user, case=case)
    refused(preliminary_review_refuse, officer=user, case=case, reasons=["x"], basis="y")
    refused(supplement_request, officer=user, case=case, items=ITEMS)


@pytest.mark.django_db
def test_a_claimed_case_cannot_be_claimed_again(drive, second_officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    message = refused(
        preliminary_review_claim, error=ValidationError, officer=second_officer, case=case
    )
    assert "已由 刘洋 领取初审" in message


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["officer", "other_reviewer", "applicant", "supervisor"])
def test_only_a_reviewer_of_the_issuing_department_may_claim_the_review(drive, request, persona):
    case = drive(CaseStatus.ACCEPTED)
    message = refused(department_review_claim, reviewer=request.getfixturevalue(persona), case=case)
    assert message == "按“谁认定、谁修复”，只有济南市市场监督管理局的审核人员可以审核本案。"


@pytest.mark.django_db
def test_only_the_reviewer_who_claimed_the_case_may_decide_it(drive, other_reviewer, department):
    colleague = make_user("reviewer2", Role.REVIEWER, first_name="周婷")
    DepartmentMembership.objects.create(user=colleague, department=department)
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    for persona in (colleague, other_reviewer):
        refused(department_review_approve, reviewer=persona, case=case, basis="第十条")
        refused(
            department_review_reject, reviewer=persona, case=case, reasons=["x"], basis="第十条"
        )
    message = refused(department_review_approve, reviewer=colleague, case=case, basis="第十条")
    assert message == "案件 济信修申〔2026〕1号 由 陈静 审核，其他人员不能办理。"


@pytest.mark.django_db
def test_a_filing_is_not_submitted_before_its_commitment_is_signed(applicant, record):
    case = draft_with_materials(applicant, record, signed=False)
    message = refused(repair_case_submit, error=ValidationError, applicant=applicant, case=case)
    assert "请先阅读并签署信用修复承诺书" in message


@pytest.mark.django_db
def test_steps_out_of_order_are_refused(drive, applicant, officer, reviewer):
    case = drive(CaseStatus.SUBMITTED)
    message = refused(preliminary_review_accept, error=ValidationError, officer=officer, case=case)
    assert message == "['案件 济信修申〔2026〕1号 当前状态为“已提交”，不能办理此操作。']"
    refused(department_review_claim, error=ValidationError, reviewer=reviewer, case=case)
    refused(supplement_answer, error=ValidationError, applicant=applicant, case=case)


@pytest.mark.django_db
def test_who_sees_which_cases(
    drive, applicant, other_applicant, officer, reviewer, other_reviewer, supervisor, administrator
):
    draft = drive(CaseStatus.DRAFT)
    assert list(cases_for_user(applicant)) == [draft]
    for staff in (officer, reviewer, supervisor, administrator):
        assert not cases_for_user(staff).exists()  # a draft is the applicant's own
    repair_case_submit(applicant=applicant, case=draft)
    for user in (applicant, officer, reviewer, supervisor, administrator):
        assert case_get_for_user(user=user, pk=draft.pk) == draft
    for user in (other_applicant, other_reviewer):
        assert not cases_for_user(user).exists()
        with pytest.raises(Http404):
            case_get_for_user(user=user, pk=draft.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_officers_claiming_at_once_one_wins(applicant, record, officer, second_officer):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def claim(user):
        try:
            barrier.wait()
            preliminary_review_claim(officer=user, case=case)
            outcomes.append(user.username)
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(u,)) for u in (officer, second_officer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if isinstance(o, str)]
    losers = [o for o in outcomes if not isinstance(o, str)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], ValidationError)
    assert "领取初审" in losers[0].messages[0]
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW
    assert case.officer.username == winners[0]
    assert CaseEvent.objects.filter(case=case, action="claim_preliminary_review").count() == 1
    assert clocks_for(case).get(stage="preliminary_review").assignee == case.officer
    assert verify_chain().broken_at is None
