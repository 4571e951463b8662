"""Repair cases over the API: the whole path from draft to decision, every
refusal of the wrong persona, and bad input answered per field with nothing saved."""

import pytest

from flows.cases.common import case_commitment
from flows.models import CaseMaterial, CaseStatus, RepairCase, SupplementRequest
from letters.models import Letter
from records.models import BindingCapacity, RecordStatus, SubjectBinding
from repair_flow.models import Role
from tests.api_errors import field_errors
from tests.conftest import make_user
from tests.flows.conftest import JPEG, at, draft_with_materials, upload

pytestmark = pytest.mark.django_db

CASES = "/api/v1/repair-cases/"
STAFF_ACTIONS = ("claim", "supplement-request", "refuse", "accept", "approve", "reject")
APPLICANT_ACTIONS = ("materials", "submit", "supplement-answer", "withdraw")


def url(case, action: str = "") -> str:
    return f"{CASES}{case.pk}/" + (f"{action}/" if action else "")


def test_a_case_goes_from_draft_to_approved_through_the_api(
    api_for, posted, applicant, officer, reviewer, record, now
):
    mine, staff, dept = api_for(applicant), api_for(officer), api_for(reviewer)

    now.move_to(at("2026-11-16 09:00"))
    response = posted(
        mine,
        CASES,
        {"record": record.pk, "details": "罚款已缴清。", "capacity": "legal_representative"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    case = RepairCase.objects.get(pk=body["id"])
    assert (body["status"], body["status_label"], body["number"]) == ("draft", "草稿", None)
    assert body["decision_number"] == record.decision_number

    # Domain section 3: the proof of performance; no 营业执照 (the platform holds the subject).
    response = mine.post(
        url(case, "materials"),
        {"kind": "performance_proof", "file": upload("performance_proof.pdf")},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "performance_proof"
    assert response.json()["content_type"] == "application/pdf"
    assert response.json()["round"] == 0
    # A draft is the applicant's own business.
    assert staff.get(url(case)).status_code == 404

    # The commitment was generated with the draft; unsigned, the filing is refused.
    detail = mine.get(url(case)).json()
    commitment = case_commitment(case)
    assert (detail["commitment"], detail["commitment_status"]) == (commitment.pk, "draft")
    assert detail["commitment_sign_url"].endswith(f"/api/v1/commitments/{commitment.pk}/sign/")
    response = posted(mine, url(case, "submit"))
    assert response.status_code == 400
    assert response.json()["code"] == "commitment_not_signed"
    assert response.json()["non_field_errors"] == [
        "请先阅读并签署信用修复承诺书：承诺书是申请材料的一部分，未签署的申请不能提交。"
    ]
    case.refresh_from_db()
    assert (case.status, case.number) == ("draft", None)

    # The applicant signs through the letters API, as the account (a name sent is ignored).
    draft = mine.get(f"/api/v1/commitments/{commitment.pk}/").json()["draft"]
    now.move_to(at("2026-11-16 09:30"))
    response = posted(
        mine,
        f"/api/v1/commitments/{commitment.pk}/sign/",
        {"signer_name": "李娜", "confirmed": True, "draft_sha256": draft["sha256"]},
    )
    assert response.status_code == 200, response.json()
    signed = response.json()
    assert (signed["signer_name"], signed["signer_capacity"], signed["signer_capacity_label"]) == (
        "张伟",
        "legal_representative",
        "法定代表人",
    )
    detail = mine.get(url(case)).json()
    assert (detail["status"], detail["commitment_status"]) == ("draft", "signed")
    assert detail["commitment_sign_url"] is None

    now.move_to(at("2026-11-16 10:00"))
    response = posted(mine, url(case, "submit"))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "submitted"
    assert response.json()["number"] == "济信修申〔2026〕1号"

    listed = staff.get(CASES, {"status": "submitted"}).json()
    assert [c["id"] for c in listed["results"]] == [case.pk]
    assert staff.get(CASES, {"status": "approved"}).json()["count"] == 0

    now.move_to(at("2026-11-16 10:30"))
    response = posted(staff, url(case, "claim"))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "in_preliminary_review"

    now.move_to(at("2026-11-16 11:00"))
    response = posted(staff, url(case, "accept"))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "accepted"

    detail = mine.get(url(case)).json()
    assert detail["status_label"] == "已受理"
    assert detail["record_summary"]["decision_number"] == record.decision_number
    assert detail["record_summary"]["subject_name"] == "济南泉城食品有限公司"
    assert [m["kind"] for m in detail["materials"]] == ["performance_proof"]
    assert detail["open_supplement_request"] is None
    # Deadlines in Beijing time.
    assert [(c["stage"], c["due_at"]) for c in detail["open_clocks"]] == [
        ("department_review", "2026-11-23T17:00:00+08:00"),
        ("whole_decision", "2026-11-30T17:00:00+08:00"),
    ]
    acceptance = detail["letters"][-1]
    assert (acceptance["kind"], acceptance["number"]) == ("acceptance", "济信修受〔2026〕1号")
    assert acceptance["status"] == "rendered"
    assert acceptance["pdf_url"].endswith(f"/api/v1/letters/{acceptance['id']}/pdf/")

    now.move_to(at("2026-11-18 10:00"))
    response = posted(dept, url(case, "claim"))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "in_department_review"

    now.move_to(at("2026-11-18 15:00"))
    response = posted(dept, url(case, "approve"), {"basis": "《信用修复管理办法》第十条"})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "approved"
    assert response.json()["decided_at"] == "2026-11-18T15:00:00+08:00"

    record.refresh_from_db()
    assert record.status == RecordStatus.REPAIRED
    detail = mine.get(url(case)).json()
    assert detail["decision_basis"] == "《信用修复管理办法》第十条"
    assert [(e["action"], e["from_status"], e["to_status"]) for e in detail["timeline"]] == [
        ("submit", "draft", "submitted"),
        ("claim_preliminary_review", "submitted", "in_preliminary_review"),
        ("accept", "in_preliminary_review", "accepted"),
        ("claim_department_review", "accepted", "in_department_review"),
        ("approve", "in_department_review", "approved"),
    ]
    assert detail["timeline"][0]["at"] == "2026-11-16T10:00:00+08:00"
    assert detail["timeline"][-1]["actor"] == "陈静"
    assert [(x["kind"], x["number"]) for x in detail["letters"]] == [
        ("commitment", None),
        ("commitment", "济信诺〔2026〕1号"),
        ("acceptance", "济信修受〔2026〕1号"),
        ("repair_decision", "SCJGJ信修决〔2026〕1号"),
    ]
    assert detail["letters"][-1]["pdf_url"]
    assert [c["stage"] for c in detail["open_clocks"]] == ["sync"]


def test_the_list_is_scoped_and_paginated(
    api_for, drive, applicant, other_applicant, officer, reviewer, other_reviewer, supervisor
):
    case = drive(CaseStatus.SUBMITTED)

    def ids(user):
        return [c["id"] for c in api_for(user).get(CASES).json()["results"]]

    assert ids(applicant) == [case.pk]
    assert ids(officer) == [case.pk]
    assert ids(supervisor) == [case.pk]
    assert ids(reviewer) == [case.pk]
    assert ids(other_applicant) == []
    assert ids(other_reviewer) == []
    body = api_for(officer).get(CASES, {"limit": 1}).json()
    assert body["count"] == 1 and "next" in body


def test_a_supplement_round_through_the_api(api_for, posted, drive, applicant, officer, supervisor):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    mine, staff = api_for(applicant), api_for(officer)
    items = [{"material": "performance_proof", "name": "罚款缴纳凭证", "problem": "照片模糊"}]

    # The first notice is the officer's own act, not the supervisor's.
    response = posted(api_for(supervisor), url(case, "supplement-request"), {"items": items})
    assert response.status_code == 403
    response = posted(staff, url(case, "supplement-request"), {"items": items})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "awaiting_supplement"
    notice = mine.get(url(case)).json()["open_supplement_request"]
    assert notice["items"] == items
    assert notice["due_at"].endswith("+08:00")
    assert notice["letter_number"]

    # Only the kinds the notice asked for.
    response = mine.post(
        url(case, "materials"),
        {"kind": "identity_document", "file": upload()},
        format="multipart",
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    response = mine.post(
        url(case, "materials"),
        {"kind": "performance_proof", "file": upload("凭证.jpg", JPEG)},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["round"] == 1

    response = posted(mine, url(case, "supplement-answer"))
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "resubmitted"
    assert mine.get(url(case)).json()["open_supplement_request"] is None

    # A second notice: refused for the officer alone, allowed by a supervisor's override.
    assert posted(staff, url(case, "claim")).status_code == 200
    response = posted(staff, url(case, "supplement-request"), {"items": items})
    assert response.status_code == 400
    assert "override_reason" in response.json()
    response = posted(
        api_for(supervisor),
        url(case, "supplement-request"),
        {"items": items, "override_reason": "凭证金额与决定书不符"},
    )
    assert response.status_code == 200, response.json()
    assert SupplementRequest.objects.filter(case=case).count() == 2
    assert SupplementRequest.objects.filter(case=case).last().override_by == supervisor


def test_refusal_rejection_and_withdrawal_through_the_api(
    api_for, posted, drive, applicant, officer, reviewer, record, other_applicant
):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    response = posted(
        api_for(officer),
        url(case, "refuse"),
        {"reasons": ["记录不在修复范围内"], "basis": "《管理办法》第八条"},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "not_accepted"
    letters = api_for(applicant).get(url(case)).json()["letters"]
    # The commitment signed with the filing, then the refusal.
    assert [x["kind"] for x in letters] == ["commitment", "refusal_to_accept"]

    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    response = posted(
        api_for(reviewer),
        url(case, "reject"),
        {"reasons": ["未履行全部义务"], "basis": "《管理办法》第十二条"},
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "rejected"

    case = drive(CaseStatus.SUBMITTED)
    response = posted(api_for(applicant), url(case, "withdraw"), {"reason": "重新准备材料"})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "withdrawn"
    assert response.json()["closed_at"] == "2026-11-16T10:00:00+08:00"


# Permissions


def test_anonymous_callers_get_401(api_for, drive):
    case = drive(CaseStatus.SUBMITTED)
    api = api_for(None)
    assert api.get(CASES).status_code == 401
    assert api.get(url(case)).status_code == 401
    assert api.post(CASES, {}, format="json").status_code == 401
    for action in (*APPLICANT_ACTIONS, *STAFF_ACTIONS):
        assert api.post(url(case, action), {}, format="json").status_code == 401, action


def test_another_applicant_cannot_see_or_act_on_the_case(api_for, drive, other_applicant):
    case = drive(CaseStatus.DRAFT)
    api = api_for(other_applicant)
    assert api.get(url(case)).status_code == 404
    assert api.post(url(case, "materials"), {}, format="multipart").status_code == 404
    for action in ("submit", "supplement-answer"):
        assert api.post(url(case, action), {}, format="json").status_code == 404, action
    response = api.post(url(case, "withdraw"), {"reason": "x"}, format="json")
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.status == CaseStatus.DRAFT


def test_applicants_are_refused_every_staff_action(api_for, drive, applicant):
    case = drive(CaseStatus.SUBMITTED)
    for action in STAFF_ACTIONS:
        response = api_for(applicant).post(url(case, action), {}, format="json")
        assert response.status_code == 403, action
        assert response.json()["detail"] == "您的账号角色无权执行此操作。"
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED


def test_staff_may_not_file_for_the_applicant(api_for, drive, officer, record):
    case = drive(CaseStatus.DRAFT)
    body = {"record": record.pk, "capacity": "legal_representative"}
    assert api_for(officer).post(CASES, body, format="json").status_code == 403
    for action in ("submit", "withdraw"):
        assert api_for(officer).post(url(case, action), {}, format="json").status_code == 403


def test_an_officer_may_not_decide_for_the_department(api_for, posted, drive, officer):
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    for action, body in (("approve", {"basis": "x"}), ("reject", {"reasons": ["x"], "basis": "x"})):
        assert posted(api_for(officer), url(case, action), body).status_code == 403
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_DEPARTMENT_REVIEW


def test_a_supervisor_may_not_approve(api_for, posted, drive, supervisor):
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    assert posted(api_for(supervisor), url(case, "approve"), {"basis": "x"}).status_code == 403


def test_a_reviewer_of_another_department_neither_sees_nor_acts(
    api_for, posted, drive, other_reviewer
):
    case = drive(CaseStatus.ACCEPTED)
    api = api_for(other_reviewer)
    assert api.get(url(case)).status_code == 404
    assert posted(api, url(case, "claim")).status_code == 404
    assert posted(api, url(case, "approve"), {"basis": "x"}).status_code == 404
    # An officer's action is refused by role before anything is looked up.
    assert posted(api, url(case, "accept")).status_code == 403
    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED and case.reviewer is None


def test_a_reviewer_may_not_do_the_preliminary_review(api_for, posted, drive, reviewer):
    case = drive(CaseStatus.SUBMITTED)
    response = posted(api_for(reviewer), url(case, "claim"))
    assert response.status_code == 403
    assert response.json()["detail"] == "只有平台工作人员可以办理初审。"
    assert posted(api_for(reviewer), url(case, "accept")).status_code == 403


def test_another_officer_may_not_act_on_a_claimed_case(api_for, posted, drive, officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    second = make_user("officer2", Role.OFFICER)
    assert posted(api_for(second), url(case, "accept")).status_code == 403
    # Claiming a case someone holds is a conflict, not bad input.
    response = posted(api_for(second), url(case, "claim"))
    assert response.status_code == 409
    assert "已由" in response.json()["non_field_errors"][0]
    case.refresh_from_db()
    assert (case.status, case.officer) == (CaseStatus.IN_PRELIMINARY_REVIEW, officer)


def test_the_department_claim_twice_is_a_conflict(api_for, posted, drive, reviewer):
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    assert posted(api_for(reviewer), url(case, "claim")).status_code == 409


def test_a_natural_persons_case_needs_a_purpose_for_staff(
    api_for, person, person_record, officer, now
):
    user = make_user("wangfang", Role.APPLICANT, first_name="王芳")
    SubjectBinding.objects.create(user=user, subject=person, capacity=BindingCapacity.SELF)
    case = draft_with_materials(user, person_record, capacity=BindingCapacity.SELF)
    assert api_for(user).post(url(case, "submit"), format="json").status_code == 200
    assert api_for(user).get(url(case)).status_code == 200

    response = api_for(officer).get(url(case))
    assert response.status_code == 400
    assert response.json()["code"] == "purpose_required"
    response = api_for(officer).get(url(case), {"purpose": "repair_case"})
    assert response.status_code == 200
    assert response.json()["record_summary"]["subject_name"] == "王芳"


# Bad input


def test_a_draft_with_bad_input_is_refused_per_field_and_nothing_is_saved(
    api_for, applicant, record, other_record
):
    api = api_for(applicant)
    response = api.post(CASES, {"record": 999999, "capacity": "king"}, format="json")
    assert response.status_code == 400
    assert set(field_errors(response)) == {"record", "capacity"}

    # A record the applicant may not see is as unknown as a missing one.
    body = {"record": other_record.pk, "capacity": "legal_representative"}
    response = api.post(CASES, body, format="json")
    assert response.status_code == 400
    assert set(field_errors(response)) == {"record"}

    # The service's refusal: not the capacity the applicant is bound in.
    response = api.post(CASES, {"record": record.pk, "capacity": "agent"}, format="json")
    assert response.status_code == 400
    assert set(field_errors(response)) == {"non_field_errors"}
    assert not RepairCase.objects.exists()


def test_a_second_case_on_a_record_is_a_conflict_under_record(api_for, drive, applicant, record):
    drive(CaseStatus.SUBMITTED)
    body = {"record": record.pk, "capacity": "legal_representative"}
    response = api_for(applicant).post(CASES, body, format="json")
    assert response.status_code == 409
    assert "不能重复申请" in response.json()["record"][0]
    assert RepairCase.objects.count() == 1


def test_bad_uploads_are_refused_under_their_field_and_nothing_is_saved(api_for, applicant, record):
    api = api_for(applicant)
    body = {"record": record.pk, "capacity": "legal_representative"}
    case = RepairCase.objects.get(pk=api.post(CASES, body, format="json").json()["id"])

    response = api.post(url(case, "materials"), {}, format="multipart")
    assert response.status_code == 400
    assert set(field_errors(response)) == {"kind", "file"}
    response = api.post(
        url(case, "materials"),
        {"kind": "application_form", "file": upload("a.pdf", b"just text, not a PDF")},
        format="multipart",
    )
    assert response.status_code == 400
    assert set(field_errors(response)) == {"file"}
    assert "a.pdf" in response.json()["file"][0]
    response = api.post(
        url(case, "materials"), {"kind": "bogus", "file": upload()}, format="multipart"
    )
    assert response.status_code == 400
    assert set(field_errors(response)) == {"kind"}
    assert not CaseMaterial.objects.exists()

    # Submitting without the materials is refused; the case stays a draft.
    response = api.post(url(case, "submit"), format="json")
    assert response.status_code == 400
    assert "申请材料不齐全" in response.json()["non_field_errors"][0]
    case.refresh_from_db()
    assert (case.status, case.number) == (CaseStatus.DRAFT, None)


def test_staff_actions_with_bad_input_are_refused_per_field_and_nothing_is_saved(
    api_for, posted, drive, officer, applicant
):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    staff = api_for(officer)
    letters = Letter.objects.count()

    response = posted(staff, url(case, "refuse"), {"reasons": [], "basis": ""})
    assert response.status_code == 400
    assert set(field_errors(response)) == {"reasons", "basis"}

    response = posted(
        staff, url(case, "supplement-request"), {"items": [{"material": "bogus", "problem": ""}]}
    )
    assert response.status_code == 400
    assert set(response.json()["items"]["0"]) == {"material", "problem"}
    response = posted(staff, url(case, "supplement-request"), {"items": []})
    assert response.status_code == 400
    assert set(field_errors(response)) == {"items"}

    response = posted(api_for(applicant), url(case, "withdraw"), {"reason": "  "})
    assert response.status_code == 400
    assert set(field_errors(response)) == {"reason"}

    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW
    assert Letter.objects.count() == letters
    assert not SupplementRequest.objects.exists()


def test_an_action_in_the_wrong_state_is_refused_with_the_reason(api_for, posted, drive, reviewer):
    case = drive(CaseStatus.ACCEPTED)
    response = posted(api_for(reviewer), url(case, "approve"), {"basis": "x"})
    # The case is not in a state for this: a conflict, not bad input.
    assert response.status_code == 409
    assert "当前状态为“已受理”" in response.json()["non_field_errors"][0]
    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED
