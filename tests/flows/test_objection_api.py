"""Objections over the API: the whole journey to each outcome (correct,
delete, maintain), with every staff step first tried by the persona who must
be refused, and bad input answered per field with nothing saved."""

import pytest

from flows.models import CaseMaterial, ObjectionCase
from letters.models import Letter
from records.models import BindingCapacity, RecordCorrection, RecordStatus, SubjectBinding
from repair_flow.models import Role
from tests.api_errors import field_errors
from tests.conftest import make_user
from tests.flows.conftest import upload

pytestmark = pytest.mark.django_db

OBJECTIONS = "/api/v1/objections/"
REASONS = {"reasons": ["登记金额与决定书不一致"], "basis": "《山东省社会信用条例》第三十九条"}


def url(case_id: int, action: str = "") -> str:
    return f"{OBJECTIONS}{case_id}/" + (f"{action}/" if action else "")


@pytest.fixture
def refused(posted):
    """Every (persona, status code) is refused the POST and nothing changes."""

    def run(path, data, attempts):
        case_id = int(path.removeprefix(OBJECTIONS).split("/")[0])
        before = ObjectionCase.objects.values("status", "officer_id", "verifier_id", "scope").get(
            pk=case_id
        )
        for api, code in attempts:
            response = posted(api, path, data)
            assert response.status_code == code, (path, response.json())
        after = ObjectionCase.objects.values("status", "officer_id", "verifier_id", "scope")
        assert after.get(pk=case_id) == before

    return run


def file_objection(mine, posted, record, grounds=("error",)) -> int:
    """Draft, evidence, submit with the commitment: the objection's id."""
    response = mine.post(
        OBJECTIONS,
        {
            "record": record.pk,
            "grounds": list(grounds),
            "statement": "罚款金额登记错误，决定书为 500 元。",
            "capacity": "legal_representative",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    case_id = response.json()["id"]
    assert response.json()["status"] == "draft"
    response = mine.post(
        url(case_id, "materials"),
        {"kind": "evidence", "file": upload("决定书.pdf")},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    response = posted(mine, url(case_id, "submit"), {"confirmed": True})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "submitted"
    return case_id


def test_correct_through_the_department(apis, posted, refused, record, now):
    a = apis
    case_id = file_objection(a.mine, posted, record)
    body = a.mine.get(url(case_id)).json()
    assert body["number"] == "济信异申〔2026〕1号" and body["grounds"] == ["error"]
    assert body["signer_name"] == "张伟" and body["materials"][0]["kind"] == "evidence"
    assert (body["signer_capacity"], body["signer_capacity_label"]) == (
        "legal_representative",
        "法定代表人",
    )
    assert body["signature_block"] == "法定代表人：张伟"
    assert body["open_clocks"][0]["stage"] == "preliminary_review"
    assert body["timeline"][0]["to_status"] == "submitted"

    # Preliminary review: platform officers only.
    refused(url(case_id, "claim"), {}, [(a.dept, 403), (a.other_dept, 404), (a.mine, 403)])
    assert posted(a.staff, url(case_id, "claim")).json()["status"] == "in_preliminary_review"
    assert posted(a.staff, url(case_id, "claim")).status_code == 409
    accept = {"scope": "department"}
    # Reviewers' role may not accept at all (403 before the objection is looked up).
    refused(url(case_id, "accept"), accept, [(a.dept, 403), (a.other_dept, 403), (a.mine, 403)])
    response = posted(a.staff, url(case_id, "accept"), {"scope": "nowhere"})
    assert response.status_code == 400 and "scope" in response.json()
    response = posted(a.staff, url(case_id, "accept"), accept)
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["scope"]) == ("accepted", "department")
    record.refresh_from_db()
    assert record.status == RecordStatus.UNDER_OBJECTION
    body = a.mine.get(f"/api/v1/records/{record.pk}/").json()
    assert body["status_label"] == "异议处理中"

    # The check: the issuing department's reviewers (谁认定、谁核实).
    refused(url(case_id, "claim"), {}, [(a.staff, 403), (a.other_dept, 404), (a.mine, 403)])
    assert posted(a.dept, url(case_id, "claim")).json()["status"] == "in_verification"
    changes = {"changes": {"fine_amount": "500.00"}, "evidence": "处罚决定书原件", **REASONS}
    refused(
        url(case_id, "correct"),
        changes,
        [(a.staff, 403), (a.other_dept, 404), (a.mine, 403), (a.boss, 403)],
    )
    response = posted(
        a.dept, url(case_id, "correct"), {**changes, "changes": {"decision_number": "x"}}
    )
    assert response.status_code == 400
    assert field_errors(response) == {"changes": {"decision_number": ["该项不能通过异议更正。"]}}
    response = posted(a.dept, url(case_id, "correct"), changes)
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "corrected"

    record.refresh_from_db()
    assert str(record.fine_amount) == "500.00" and record.status == RecordStatus.PUBLISHED
    assert RecordCorrection.objects.filter(record=record).count() == 1
    body = a.mine.get(url(case_id)).json()
    assert body["changes"] == [
        {"field": "fine_amount", "label": "罚款金额（元）", "old": "5000.00", "new": "500.00"}
    ]
    assert body["decision_reasons"] == REASONS["reasons"] and body["open_clocks"] == []
    kinds = [letter["kind"] for letter in body["letters"]]
    assert kinds == ["acceptance", "objection_result"]
    assert all(
        Letter.objects.get(pk=letter["id"]).status == "rendered" for letter in body["letters"]
    )
    assert body["record_summary"]["status_label"] == "公示中"


def test_delete_by_the_platform(apis, posted, refused, record):
    a = apis
    case_id = file_objection(a.mine, posted, record)
    posted(a.staff, url(case_id, "claim"))
    assert posted(a.staff, url(case_id, "accept"), {"scope": "platform"}).status_code == 200
    # A platform check: the department's reviewer may see it but not take it.
    refused(url(case_id, "claim"), {}, [(a.dept, 403), (a.other_dept, 404), (a.mine, 403)])
    assert posted(a.staff, url(case_id, "claim")).json()["status"] == "in_verification"
    delete = {"evidence": "行政复议决定书", **REASONS}
    refused(url(case_id, "delete"), delete, [(a.dept, 403), (a.other_dept, 404), (a.mine, 403)])
    response = posted(a.staff, url(case_id, "delete"), {**REASONS})
    assert response.status_code == 400 and "evidence" in response.json()
    response = posted(a.staff, url(case_id, "delete"), delete)
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "deleted"
    record.refresh_from_db()
    assert record.status == RecordStatus.DELETED


def test_maintain_after_a_supplement(apis, posted, refused, record):
    a = apis
    case_id = file_objection(a.mine, posted, record)
    posted(a.staff, url(case_id, "claim"))
    notice = {"items": [{"material": "evidence", "name": "处罚决定书", "problem": "模糊"}]}
    refused(
        url(case_id, "supplement-request"),
        notice,
        [(a.dept, 403), (a.other_dept, 403), (a.mine, 403), (a.boss, 403)],
    )
    response = posted(a.staff, url(case_id, "supplement-request"), notice)
    assert response.status_code == 200 and response.json()["status"] == "awaiting_supplement"
    body = a.mine.get(url(case_id)).json()
    assert body["open_supplement_request"]["items"][0]["name"] == "处罚决定书"
    assert posted(a.mine, url(case_id, "supplement-answer")).status_code == 400
    response = a.mine.post(
        url(case_id, "materials"),
        {"kind": "other", "file": upload("x.pdf")},
        format="multipart",
    )
    assert response.status_code == 400  # only what the notice asked for
    response = a.mine.post(
        url(case_id, "materials"),
        {"kind": "evidence", "file": upload("清晰版.pdf")},
        format="multipart",
    )
    assert response.status_code == 201 and response.json()["round"] == 1
    response = posted(a.mine, url(case_id, "supplement-answer"))
    assert response.json()["status"] == "resubmitted"

    posted(a.staff, url(case_id, "claim"))
    # The one-time rule: no second notice from the officer.
    response = posted(a.staff, url(case_id, "supplement-request"), notice)
    assert response.status_code == 400 and "override_reason" in response.json()
    posted(a.staff, url(case_id, "accept"), {"scope": "platform"})
    posted(a.staff, url(case_id, "claim"))
    maintain = {"reasons": ["经核查，该记录与处罚决定书内容一致"], "basis": "第三十九条"}
    refused(url(case_id, "maintain"), maintain, [(a.dept, 403), (a.other_dept, 404), (a.mine, 403)])
    response = posted(a.staff, url(case_id, "maintain"), {"reasons": [], "basis": ""})
    assert response.status_code == 400 and {"reasons", "basis"} <= set(field_errors(response))
    response = posted(a.staff, url(case_id, "maintain"), maintain)
    assert response.status_code == 200 and response.json()["status"] == "maintained"
    record.refresh_from_db()
    assert record.status == RecordStatus.PUBLISHED
    body = a.mine.get(url(case_id)).json()
    assert body["decision_reasons"] == maintain["reasons"]


def test_release_reassign_refuse_and_withdraw(
    apis, posted, refused, record, officer, reviewer, other_record, other_applicant, api_for
):
    a = apis
    colleague = make_user("officer2", Role.OFFICER, first_name="周红")
    case_id = file_objection(a.mine, posted, record)
    posted(a.staff, url(case_id, "claim"))
    reassign = {"assignee": colleague.pk, "reason": "病假"}
    refused(url(case_id, "reassign"), reassign, [(a.staff, 403), (a.mine, 403)])
    response = posted(a.boss, url(case_id, "reassign"), {"assignee": reviewer.pk, "reason": "x"})
    assert response.status_code == 400 and "assignee" in response.json()
    assert posted(a.boss, url(case_id, "reassign"), reassign).status_code == 200
    assert ObjectionCase.objects.get(pk=case_id).officer == colleague
    refused(url(case_id, "release"), {}, [(a.staff, 403), (a.mine, 403)])
    assert posted(api_for(colleague), url(case_id, "release")).json()["status"] == "submitted"
    assert posted(a.staff, url(case_id, "release")).status_code == 409

    posted(a.staff, url(case_id, "claim"))
    refuse = {"reasons": ["不属于异议受理范围"], "basis": "第三十九条"}
    refused(url(case_id, "refuse"), refuse, [(a.dept, 403), (a.mine, 403)])
    response = posted(a.staff, url(case_id, "refuse"), refuse)
    assert response.json()["status"] == "not_accepted"
    assert posted(a.mine, url(case_id, "withdraw"), {"reason": "x"}).status_code == 409

    # A new objection on the closed record; withdrawn after acceptance.
    case_id = file_objection(a.mine, posted, record, grounds=("duplicate",))
    posted(a.staff, url(case_id, "claim"))
    posted(a.staff, url(case_id, "accept"), {"scope": "platform"})
    refused(url(case_id, "withdraw"), {"reason": "x"}, [(a.staff, 403)])
    other = api_for(other_applicant)
    assert posted(other, url(case_id, "withdraw"), {"reason": "x"}).status_code == 404
    assert posted(a.mine, url(case_id, "withdraw"), {}).status_code == 400
    response = posted(a.mine, url(case_id, "withdraw"), {"reason": "已沟通"})
    assert response.json()["status"] == "withdrawn"
    record.refresh_from_db()
    assert record.status == RecordStatus.PUBLISHED


def test_lists_and_reads_are_scoped(apis, posted, api_for, record, other_applicant, now):
    a = apis
    case_id = file_objection(a.mine, posted, record)
    assert [c["id"] for c in a.mine.get(OBJECTIONS).json()["results"]] == [case_id]
    assert [
        c["id"] for c in a.staff.get(OBJECTIONS, {"status": "submitted"}).json()["results"]
    ] == [case_id]
    assert a.staff.get(OBJECTIONS, {"status": "accepted"}).json()["count"] == 0
    assert a.dept.get(OBJECTIONS).json()["count"] == 1
    assert a.other_dept.get(OBJECTIONS).json()["count"] == 0
    other = api_for(other_applicant)
    assert other.get(OBJECTIONS).json()["count"] == 0
    assert other.get(url(case_id)).status_code == 404
    assert a.other_dept.get(url(case_id)).status_code == 404
    assert api_for(None).get(OBJECTIONS).status_code in (401, 403)


def test_a_draft_with_bad_input_is_refused_per_field_and_nothing_is_saved(
    apis, posted, record, other_record
):
    a = apis
    response = a.mine.post(
        OBJECTIONS,
        {"record": other_record.pk, "grounds": ["nonsense"], "capacity": "legal_representative"},
        format="json",
    )
    assert response.status_code == 400 and {"record", "grounds"} <= set(field_errors(response))
    response = a.mine.post(
        OBJECTIONS,
        {"record": record.pk, "grounds": [], "capacity": "legal_representative"},
        format="json",
    )
    assert response.status_code == 400
    assert field_errors(response) == {"grounds": ["请至少选择一项异议理由。"]}
    response = a.mine.post(
        OBJECTIONS, {"record": record.pk, "grounds": ["error"], "capacity": "agent"}, format="json"
    )
    assert response.status_code == 400 and "capacity" in response.json()
    response = a.staff.post(
        OBJECTIONS,
        {"record": record.pk, "grounds": ["error"], "capacity": "legal_representative"},
        format="json",
    )
    assert response.status_code == 403
    assert not ObjectionCase.objects.exists()

    # Submission: each problem under its field; the draft stays a draft.
    response = a.mine.post(
        OBJECTIONS,
        {"record": record.pk, "grounds": ["error"], "capacity": "legal_representative"},
        format="json",
    )
    case_id = response.json()["id"]
    response = a.mine.post(
        url(case_id, "materials"),
        {"kind": "evidence", "file": upload("证明.pdf", b"MZ\x90\x00 an executable")},
        format="multipart",
    )
    assert response.status_code == 400 and "file" in response.json()
    assert not CaseMaterial.objects.exists()
    response = posted(a.mine, url(case_id, "submit"), {"signer_name": "李四"})
    assert response.status_code == 400
    body = response.json()
    # signer_name is ignored (the signer is the caller): no error about it.
    assert {"confirmed", "statement", "non_field_errors"} <= set(body)
    assert "signer_name" not in body
    assert "异议证明材料" in body["non_field_errors"][0]
    case = ObjectionCase.objects.get(pk=case_id)
    assert (case.status, case.number, case.attested_name) == ("draft", None, "")


def test_one_open_objection_per_record_and_no_repair_meanwhile(apis, posted, record):
    a = apis
    file_objection(a.mine, posted, record)
    response = a.mine.post(
        OBJECTIONS,
        {"record": record.pk, "grounds": ["other"], "capacity": "legal_representative"},
        format="json",
    )
    assert response.status_code == 409 and "已有正在处理的异议" in response.json()["record"][0]
    response = a.mine.post(
        "/api/v1/repair-cases/",
        {"record": record.pk, "capacity": "legal_representative"},
        format="json",
    )
    assert response.status_code == 400
    assert "异议办结后方可申请信用修复" in str(response.json())


def test_a_natural_persons_objection_needs_a_purpose_for_staff(
    api_for, posted, person, person_record, officer
):
    user = make_user("wangfang", Role.APPLICANT, first_name="王芳")
    SubjectBinding.objects.create(user=user, subject=person, capacity=BindingCapacity.SELF)
    mine = api_for(user)
    response = mine.post(
        OBJECTIONS,
        {"record": person_record.pk, "grounds": ["error"], "statement": "x", "capacity": "self"},
        format="json",
    )
    case_id = response.json()["id"]
    mine.post(url(case_id, "materials"), {"kind": "evidence", "file": upload()}, format="multipart")
    response = posted(mine, url(case_id, "submit"), {"confirmed": True})
    assert response.status_code == 200, response.json()
    body = mine.get(url(case_id)).json()
    assert (body["signer_name"], body["signer_capacity"], body["signature_block"]) == (
        "王芳",
        "self",
        "承诺人：王芳",
    )
    assert mine.get(url(case_id)).status_code == 200
    response = api_for(officer).get(url(case_id))
    assert response.status_code == 400 and response.json()["code"] == "purpose_required"
    response = api_for(officer).get(url(case_id), {"purpose": "objection_case"})
    assert response.status_code == 200
    assert response.json()["record_summary"]["subject_name"] == "王芳"
