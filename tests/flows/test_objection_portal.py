"""The applicant's objection pages through HTTP: filing from the record page
(grounds, statement, evidence, the signed commitment), the record flagged
异议处理中 on its pages and in the API, the objection's page (supplement,
withdrawal, letters) and who may see and do what."""

import datetime as dt

import pytest
from django.urls import reverse

from flows.cases.materials import case_material_add
from flows.cases.review import preliminary_review_claim, supplement_request
from flows.models import CaseMaterial, CaseStatus, ObjectionCase
from flows.objections.services import objection_accept, objection_draft_save, objection_submit
from records.models import RecordStatus
from tests.conftest import make_record
from tests.flows.conftest import PDF, upload

pytestmark = pytest.mark.django_db

COMMITMENT = "本人承诺所提交的材料真实、准确、完整，如有不实，愿承担相应法律责任。"


def files(**named):
    """{"file_<kind>": upload} for a multipart POST."""
    return {f"file_{kind}": upload(name, content) for kind, (name, content) in named.items()}


def draft(applicant, record):
    case = objection_draft_save(
        applicant=applicant,
        record=record,
        grounds=["error"],
        statement="罚款金额登记错误。",
        capacity="legal_representative",
    )
    case_material_add(case=case, user=applicant, kind="evidence", upload=upload("决定书.pdf"))
    return case


def submitted(applicant, record):
    return objection_submit(applicant=applicant, case=draft(applicant, record), confirmed=True)


def accepted(applicant, record, officer, scope="platform"):
    case = submitted(applicant, record)
    preliminary_review_claim(officer=officer, case=case)
    return objection_accept(officer=officer, case=case, scope=scope)


@pytest.fixture
def ineligible_record(department, enterprise):
    # A serious-violation record decided a month ago: too early to repair.
    return make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2026〕88号",
        decision_date=dt.date(2026, 10, 20),
        severity="serious",
    )


def test_the_whole_filing_from_the_record_page(client_for, applicant, ineligible_record):
    record = ineligible_record
    client = client_for(applicant)
    # Whatever its repair eligibility: no repair button, but the objection button.
    page = client.get(reverse("record_detail", args=[record.pk])).content.decode()
    assert reverse("flows:new", args=[record.pk]) not in page
    assert reverse("flows:objection_new", args=[record.pk]) in page and "提出异议" in page

    page = client.get(reverse("flows:objection_new", args=[record.pk])).content.decode()
    assert 'name="grounds" value="error"' in page and 'name="grounds" value="duplicate"' in page
    assert "与认定单位数据不一致" in page and "超过公示期限仍在公示" in page

    response = client.post(
        reverse("flows:objection_new", args=[record.pk]),
        {"statement": "x", "capacity": "legal_representative"},
    )
    assert response.status_code == 400
    assert 'id="grounds-error"' in response.content.decode()
    assert "请至少选择一项异议理由" in response.content.decode()
    assert not ObjectionCase.objects.exists()

    response = client.post(
        reverse("flows:objection_new", args=[record.pk]),
        {
            "grounds": ["error", "inconsistent"],
            "statement": "罚款金额登记错误。",
            "capacity": "legal_representative",
        },
    )
    case = ObjectionCase.objects.get(record=record)
    assert response.status_code == 302
    assert response.url == reverse("flows:objection_materials", args=[case.pk])
    assert (case.status, case.grounds) == ("draft", ["error", "inconsistent"])

    page = client.get(response.url).content.decode()
    assert COMMITMENT in page and 'name="confirmed"' in page
    # Who signs, shown before they try: the account's name in its binding's capacity.
    assert 'name="attested_name"' not in page
    assert '<dd class="signer-name">张伟</dd>' in page
    assert '<dd class="signer-capacity">法定代表人</dd>' in page
    assert '<dd class="signer-block">法定代表人：张伟</dd>' in page
    assert "signer-problem" not in page
    assert "信息有误" in page and "与认定单位数据不一致" in page
    response = client.post(response.url, files(evidence=("决定书.pdf", PDF)))
    assert response.status_code == 302
    response = client.post(
        reverse("flows:objection_submit", args=[case.pk]),
        {"confirmed": "on"},
    )
    case.refresh_from_db()
    assert response.url == reverse("flows:objection_detail", args=[case.pk])
    assert case.status == CaseStatus.SUBMITTED and case.number == "济信异申〔2026〕1号"
    assert case.attested_name == "张伟" and case.attested_ip == "127.0.0.1"
    assert case.attested_capacity == "legal_representative"

    page = client.get(response.url).content.decode()
    assert '<span class="signed-block">法定代表人：张伟</span>' in page
    assert case.number in page and "已提交" in page and "等待信用平台工作人员初审" in page
    # The same-day preliminary review deadline, in Beijing time.
    assert "2026-11-16 17:00" in page and "北京时间" in page
    assert reverse("flows:objection_material", args=[case.pk, case.materials.get().pk]) in page
    listing = client.get(reverse("flows:list")).content.decode()
    assert case.number in listing and reverse("flows:objection_detail", args=[case.pk]) in listing


def test_a_renamed_executable_is_refused_by_name(client_for, applicant, record):
    client = client_for(applicant)
    case = objection_draft_save(
        applicant=applicant,
        record=record,
        grounds=["error"],
        statement="x",
        capacity="legal_representative",
    )
    response = client.post(
        reverse("flows:objection_materials", args=[case.pk]),
        files(evidence=("证明.pdf", b"MZ\x90\x00\x03\x00 an executable")),
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "文件“证明.pdf”不是 PDF、JPEG 或 PNG 文件" in page
    assert 'id="file_evidence-error"' in page
    assert not CaseMaterial.objects.exists()


def test_a_typed_name_is_not_read_and_no_confirmation_is_refused_and_nothing_is_saved(
    client_for, applicant, record
):
    case = draft(applicant, record)
    response = client_for(applicant).post(
        reverse("flows:objection_submit", args=[case.pk]), {"attested_name": "李四"}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="confirmed-error"' in page and "请确认承诺" in page
    assert "李四" not in page  # a typed name is no signature: not read, not kept
    case.refresh_from_db()
    assert case.status == CaseStatus.DRAFT and case.number is None
    assert (case.attested_name, case.attested_capacity, case.attested_at) == ("", "", None)
    assert not case.events.exists()


def test_an_accepted_objection_flags_the_record_everywhere(
    client_for, api_for, applicant, officer, record
):
    client = client_for(applicant)
    case = submitted(applicant, record)
    # Filed, not yet accepted: the repair button's place already explains.
    page = client.get(reverse("record_detail", args=[record.pk])).content.decode()
    assert reverse("flows:new", args=[record.pk]) not in page
    assert "异议办结后方可申请信用修复" in page and "有正在处理的异议" in page
    assert reverse("flows:objection_new", args=[record.pk]) not in page

    preliminary_review_claim(officer=officer, case=case)
    objection_accept(officer=officer, case=case, scope="platform")
    record.refresh_from_db()
    assert record.status == RecordStatus.UNDER_OBJECTION
    for name, args in (
        ("record_detail", [record.pk]),
        ("record_list", []),
        ("subject_detail", [record.subject_id]),
        ("flows:objection_detail", [case.pk]),
    ):
        assert "异议处理中" in client.get(reverse(name, args=args)).content.decode(), name
    body = api_for(applicant).get(f"/api/v1/records/{record.pk}/").json()
    assert (body["status"], body["status_label"]) == ("under_objection", "异议处理中")
    body = api_for(officer).get(f"/api/v1/objections/{case.pk}/").json()
    assert body["record_summary"]["status_label"] == "异议处理中"
    # The repair form says so too, and refuses.
    page = client.get(reverse("flows:new", args=[record.pk])).content.decode()
    assert "异议办结后方可申请信用修复" in page and "<textarea" not in page
    response = client.post(
        reverse("flows:new", args=[record.pk]), {"details": "x", "capacity": "legal_representative"}
    )
    assert response.status_code == 400
    assert not record.repair_cases.exists()


def test_another_applicant_gets_404(client_for, applicant, other_applicant, record):
    case = submitted(applicant, record)
    client = client_for(other_applicant)
    assert client.get(reverse("flows:objection_new", args=[record.pk])).status_code == 404
    for name in ("flows:objection_detail", "flows:objection_materials"):
        assert client.get(reverse(name, args=[case.pk])).status_code == 404
    material = case.materials.get()
    assert (
        client.get(reverse("flows:objection_material", args=[case.pk, material.pk])).status_code
        == 404
    )
    response = client.post(reverse("flows:objection_withdraw", args=[case.pk]), {"reason": "x"})
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    assert "暂无异议申请" in client.get(reverse("flows:list")).content.decode()


@pytest.mark.parametrize("persona", ["officer", "reviewer", "supervisor"])
def test_staff_cannot_file(request, client_for, persona, applicant, record):
    client = client_for(request.getfixturevalue(persona))
    page = client.get(reverse("record_detail", args=[record.pk])).content.decode()
    assert reverse("flows:objection_new", args=[record.pk]) not in page
    assert client.get(reverse("flows:objection_new", args=[record.pk])).status_code == 403
    response = client.post(
        reverse("flows:objection_new", args=[record.pk]),
        {"grounds": ["error"], "statement": "x", "capacity": "legal_representative"},
    )
    assert response.status_code == 403
    assert not ObjectionCase.objects.exists()


def test_withdrawal_gives_the_record_its_status_back(client_for, applicant, officer, record):
    case = accepted(applicant, record, officer)
    client = client_for(applicant)
    url = reverse("flows:objection_withdraw", args=[case.pk])
    response = client.post(url, {"reason": " "})
    assert response.status_code == 400 and 'id="reason-error"' in response.content.decode()
    response = client.post(url, {"reason": "已与认定单位沟通"})
    assert response.status_code == 302
    case.refresh_from_db()
    record.refresh_from_db()
    assert case.status == CaseStatus.WITHDRAWN and record.status == RecordStatus.PUBLISHED
    page = client.get(reverse("flows:objection_detail", args=[case.pk])).content.decode()
    assert "异议已撤回" in page and "已与认定单位沟通" in page
    page = client.get(reverse("record_detail", args=[record.pk])).content.decode()
    assert reverse("flows:objection_new", args=[record.pk]) in page
    assert reverse("flows:new", args=[record.pk]) in page


def test_the_supplement_answer_takes_exactly_the_requested_items(
    client_for, applicant, officer, record
):
    case = submitted(applicant, record)
    preliminary_review_claim(officer=officer, case=case)
    supplement_request(
        officer=officer,
        case=case,
        items=[{"material": "evidence", "name": "处罚决定书", "problem": "扫描件模糊"}],
    )
    client = client_for(applicant)
    page = client.get(reverse("flows:objection_detail", args=[case.pk])).content.decode()
    assert "处罚决定书" in page and "扫描件模糊" in page and "北京时间" in page
    assert "补正材料一次性告知书" in page  # the notice is among the letters
    answer = reverse("flows:objection_supplement_answer", args=[case.pk])
    response = client.post(answer)
    assert (
        response.status_code == 400
        and "还有补正材料未上传：处罚决定书" in response.content.decode()
    )

    upload_url = reverse("flows:objection_supplement_upload", args=[case.pk])
    response = client.post(upload_url, files(other=("其他.pdf", PDF)))
    assert response.status_code == 400
    assert "补正告知书没有要求补正“其他材料”" in response.content.decode()
    response = client.post(upload_url, files(evidence=("决定书清晰版.pdf", PDF)))
    assert response.status_code == 302
    response = client.post(answer)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.RESUBMITTED
    assert list(case.materials.filter(round=1).values_list("kind", flat=True)) == ["evidence"]
