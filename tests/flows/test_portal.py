"""The applicant's repair pages through HTTP: filing (draft, materials,
submission), the case page (supplement, withdrawal) and who may see them."""

import datetime as dt

import pytest
from django.urls import reverse

from flows.cases.common import case_commitment
from flows.cases.review import preliminary_review_claim, supplement_request
from flows.models import CaseMaterial, CaseStatus, RepairCase, SupplementRequest
from tests.conftest import make_record
from tests.flows.conftest import FILING, PDF, PNG, draft_with_materials, upload

pytestmark = pytest.mark.django_db


def files(**named):
    """{"file_<kind>": upload} for a multipart POST."""
    return {f"file_{kind}": upload(name, content) for kind, (name, content) in named.items()}


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


def test_an_eligible_record_offers_the_repair_and_files_a_draft(client_for, applicant, record):
    client = client_for(applicant)
    page = client.get(reverse("record_detail", args=[record.pk])).content.decode()
    assert reverse("flows:new", args=[record.pk]) in page

    page = client.get(reverse("flows:new", args=[record.pk])).content.decode()
    assert "法定代表人" in page and 'name="capacity" value="legal_representative"' in page

    response = client.post(
        reverse("flows:new", args=[record.pk]),
        {"details": "罚款已缴清。", "capacity": "legal_representative"},
    )
    case = RepairCase.objects.get(record=record)
    assert response.status_code == 302
    assert response.url == reverse("flows:materials", args=[case.pk])
    assert (case.status, case.details, case.applicant) == ("draft", "罚款已缴清。", applicant)


def test_an_ineligible_record_shows_why_and_no_button(client_for, applicant, ineligible_record):
    client = client_for(applicant)
    detail = client.get(reverse("record_detail", args=[ineligible_record.pk])).content.decode()
    assert reverse("flows:new", args=[ineligible_record.pk]) not in detail
    page = client.get(reverse("flows:new", args=[ineligible_record.pk])).content.decode()
    assert "not-eligible" in page and "<textarea" not in page
    response = client.post(
        reverse("flows:new", args=[ineligible_record.pk]),
        {"details": "x", "capacity": "legal_representative"},
    )
    assert response.status_code == 400
    assert "该记录目前不能申请信用修复" in response.content.decode()
    assert not RepairCase.objects.exists()


def test_a_wrong_capacity_is_refused_with_the_services_message(client_for, applicant, record):
    response = client_for(applicant).post(
        reverse("flows:new", args=[record.pk]), {"details": "", "capacity": "agent"}
    )
    assert response.status_code == 400
    assert "不能以“委托代理人”身份申请" in response.content.decode()
    assert not RepairCase.objects.exists()


def test_upload_keeps_good_files_and_names_each_refused_one(client_for, applicant, record):
    client = client_for(applicant)
    client.post(
        reverse("flows:new", args=[record.pk]), {"details": "", "capacity": "legal_representative"}
    )
    case = RepairCase.objects.get(record=record)
    response = client.post(
        reverse("flows:materials", args=[case.pk]),
        files(
            application_form=("申请书.pdf", PNG),  # a PNG named .pdf: stored as what it is
            performance_proof=("缴款凭证.docx", b"PK\x03\x04 not a pdf"),
        ),
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "文件“缴款凭证.docx”不是 PDF、JPEG 或 PNG 文件" in page
    assert 'id="file_performance_proof-error"' in page
    stored = CaseMaterial.objects.get(case=case)
    assert (stored.kind, stored.original_name, stored.content_type) == (
        "application_form",
        "申请书.pdf",
        "image/png",
    )
    assert stored.file.name.endswith(".png")
    # The accepted one is listed with its name, type and size.
    assert "申请书.pdf" in page and "image/png" in page and "40\xa0字节" in page


def test_submit_with_missing_materials_lists_them_all(client_for, applicant, record):
    client = client_for(applicant)
    client.post(
        reverse("flows:new", args=[record.pk]), {"details": "", "capacity": "legal_representative"}
    )
    case = RepairCase.objects.get(record=record)
    client.post(reverse("flows:materials", args=[case.pk]), files(other=("a.pdf", PDF)))
    response = client.post(reverse("flows:submit", args=[case.pk]))
    page = response.content.decode()
    assert response.status_code == 400
    assert "申请材料不齐全，请上传：履行义务证明。" in page
    assert "请先阅读并签署信用修复承诺书" in page
    # Domain section 3: the platform holds the subject; no 营业执照 is asked for.
    assert "营业执照" not in page
    case.refresh_from_db()
    assert case.status == CaseStatus.DRAFT and case.number is None


def test_the_whole_filing_draft_upload_sign_submit(client_for, applicant, record, committed):
    client = client_for(applicant)
    page = client.get(reverse("flows:new", args=[record.pk])).content.decode()
    assert "信用修复承诺书" in page and "无需提交营业执照复印件" in page
    committed(
        client.post,
        reverse("flows:new", args=[record.pk]),
        {"details": "已整改。", "capacity": "legal_representative"},
    )
    case = RepairCase.objects.get(record=record)
    # A draft left and resumed from 我的申请.
    listing = client.get(reverse("flows:list")).content.decode()
    assert reverse("flows:materials", args=[case.pk]) in listing
    response = client.post(
        reverse("flows:materials", args=[case.pk]),
        files(**{kind: (f"{kind}.pdf", PDF) for kind in FILING}),
    )
    assert response.status_code == 302
    materials = client.get(reverse("flows:materials", args=[case.pk])).content.decode()
    assert 'name="file_identity_document"' not in materials
    assert 'name="file_application_form"' not in materials
    # The commitment generated from the filing, to read and sign before submitting.
    commitment = case_commitment(case)
    assert f'href="/letters/commitments/{commitment.pk}/"' in materials
    assert 'data-status="unsigned"' in materials
    response = client.post(reverse("flows:submit", args=[case.pk]))
    assert response.status_code == 400
    assert "请先阅读并签署信用修复承诺书" in response.content.decode()
    case.refresh_from_db()
    assert (case.status, case.number) == (CaseStatus.DRAFT, None)

    page = client.get(f"/letters/commitments/{commitment.pk}/").content.decode()
    assert "法定代表人：张伟" in page and "返回申请" in page
    response = committed(
        client.post,
        f"/letters/commitments/{commitment.pk}/",
        {"confirmed": "on", "draft_sha256": commitment.draft.sha256},
    )
    # Signed as part of the filing: back to the filing to submit it.
    assert response.status_code == 302
    assert response.url == reverse("flows:materials", args=[case.pk])
    materials = client.get(response.url).content.decode()
    assert 'data-status="signed"' in materials and "法定代表人：张伟" in materials
    response = client.post(reverse("flows:submit", args=[case.pk]))
    case.refresh_from_db()
    assert response.status_code == 302 and response.url == reverse("flows:detail", args=[case.pk])
    assert case.status == CaseStatus.SUBMITTED and case.number.startswith("济信修申〔2026〕")
    page = client.get(response.url).content.decode()
    assert case.number in page and "已提交" in page
    # The same-day preliminary review deadline, in Beijing time.
    assert "办理机关办理：初审" in page and "2026-11-16 17:00" in page
    # The applicant reads the deadline, not the staff's warning points or policy flags.
    assert "预警" not in page and "依据未经核实" not in page
    listing = client.get(reverse("flows:list")).content.decode()
    assert case.number in listing and "等待信用平台工作人员初审" in listing
    assert "2026-11-16 17:00" in listing


def test_other_applicant_gets_404_and_cannot_upload_or_submit(
    client_for, applicant, other_applicant, record
):
    case = draft_with_materials(applicant, record)
    client = client_for(other_applicant)
    for name in ("flows:detail", "flows:materials"):
        assert client.get(reverse(name, args=[case.pk])).status_code == 404
    assert (
        client.post(
            reverse("flows:materials", args=[case.pk]), files(other=("x.pdf", PDF))
        ).status_code
        == 404
    )
    assert client.post(reverse("flows:submit", args=[case.pk])).status_code == 404
    assert (
        client.post(reverse("flows:withdraw", args=[case.pk]), {"reason": "x"}).status_code == 404
    )
    assert client.get(reverse("flows:new", args=[record.pk])).status_code == 404
    case.refresh_from_db()
    assert case.status == CaseStatus.DRAFT and case.materials.count() == len(FILING)


@pytest.mark.parametrize("persona", ["officer", "reviewer"])
def test_staff_are_refused_the_applicant_pages(request, client_for, persona, drive):
    case = drive(CaseStatus.SUBMITTED)
    client = client_for(request.getfixturevalue(persona))
    assert client.get(reverse("flows:list")).status_code == 403
    assert client.get(reverse("flows:detail", args=[case.pk])).status_code in (403, 404)
    assert client.get(reverse("flows:new", args=[case.record_id])).status_code == 403
    assert client.post(reverse("flows:submit", args=[case.pk])).status_code == 403


def test_nav_shows_my_cases_to_applicants_only(client_for, applicant, officer):
    assert "我的申请" in client_for(applicant).get(reverse("record_list")).content.decode()
    assert "我的申请" not in client_for(officer).get(reverse("record_list")).content.decode()


ITEMS = [
    {"material": "performance_proof", "problem": "缴款凭证模糊"},
    {"material": "other", "name": "整改情况说明", "problem": "未加盖公章"},
]


@pytest.fixture
def awaiting(drive, officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    supplement_request(officer=officer, case=case, items=ITEMS)
    case.refresh_from_db()
    return case


def test_supplement_answer_with_the_requested_items(client_for, applicant, awaiting):
    client = client_for(applicant)
    page = client.get(reverse("flows:detail", args=[awaiting.pk])).content.decode()
    assert 'name="file_performance_proof"' in page and 'name="file_other"' in page
    assert 'name="file_application_form"' not in page and "整改情况说明" in page

    # Answering before uploading lists what is missing.
    response = client.post(reverse("flows:supplement_answer", args=[awaiting.pk]))
    assert response.status_code == 400 and "还有补正材料未上传" in response.content.decode()

    # A kind the notice did not ask for is refused.
    response = client.post(
        reverse("flows:supplement_upload", args=[awaiting.pk]),
        files(application_form=("a.pdf", PDF)),
    )
    assert response.status_code == 400
    assert "补正告知书没有要求补正" in response.content.decode()

    response = client.post(
        reverse("flows:supplement_upload", args=[awaiting.pk]),
        files(performance_proof=("凭证.pdf", PDF), other=("说明.pdf", PDF)),
    )
    assert response.status_code == 302
    response = client.post(reverse("flows:supplement_answer", args=[awaiting.pk]))
    assert response.status_code == 302
    awaiting.refresh_from_db()
    assert awaiting.status == CaseStatus.RESUBMITTED
    assert SupplementRequest.objects.get(case=awaiting).answered_at is not None
    assert awaiting.materials.filter(round=1).count() == 2


def test_withdraw_needs_a_reason_then_withdraws(client_for, applicant, drive):
    case = drive(CaseStatus.SUBMITTED)
    client = client_for(applicant)
    assert "撤回申请" in client.get(reverse("flows:detail", args=[case.pk])).content.decode()
    response = client.post(reverse("flows:withdraw", args=[case.pk]), {"reason": "  "})
    assert response.status_code == 400 and "请填写撤回理由" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    response = client.post(reverse("flows:withdraw", args=[case.pk]), {"reason": "已自行更正"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.WITHDRAWN
    page = client.get(reverse("flows:detail", args=[case.pk])).content.decode()
    assert "已自行更正" in page and reverse("flows:withdraw", args=[case.pk]) not in page


def test_a_draft_with_an_unsigned_commitment_links_the_commitment_page(
    client_for, applicant, record
):
    case = draft_with_materials(applicant, record, signed=False)
    page = client_for(applicant).get(reverse("flows:detail", args=[case.pk])).content.decode()
    assert f"/letters/commitments/{case_commitment(case).pk}/" in page
    assert "信用修复承诺书是申请的一部分：请阅读并签署后再提交申请。" in page


def test_submitting_twice_says_why(client_for, applicant, drive, officer):
    case = drive(CaseStatus.SUBMITTED)
    preliminary_review_claim(officer=officer, case=case)
    response = client_for(applicant).post(reverse("flows:submit", args=[case.pk]))
    assert response.status_code == 302
    page = client_for(applicant).get(response.url).content.decode()
    assert "不能办理此操作" in page
