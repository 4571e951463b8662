"""Filing: the checks at drafting and submission, and the uploaded files
(recognised by their content, at most 10 MB, named in every refusal)."""

import datetime as dt
import hashlib

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from flows.cases.materials import case_material_add
from flows.models import CaseEvent, CaseMaterial, CaseSequence, CaseStatus, RepairCase
from flows.repair.services import repair_case_draft_save, repair_case_submit
from records.models import BindingCapacity, SubjectBinding
from sla.models import SlaClock
from tests.conftest import make_record, make_user
from tests.flows.conftest import FILING, JPEG, PDF, PNG, draft_with_materials, upload

pytestmark = pytest.mark.django_db

MAX_MATERIAL_BYTES = settings.MAX_MATERIAL_BYTES


def counts():
    return (
        RepairCase.objects.count(),
        CaseMaterial.objects.count(),
        CaseEvent.objects.count(),
        SlaClock.objects.count(),
        CaseSequence.objects.count(),
    )


@pytest.fixture
def draft(applicant, record):
    return repair_case_draft_save(
        applicant=applicant, record=record, details="", capacity="legal_representative"
    )


@pytest.mark.parametrize(
    ("name", "content", "content_type", "extension"),
    [
        ("凭证.pdf", PDF, "application/pdf", "pdf"),
        ("照片.JPG", JPEG, "image/jpeg", "jpg"),
        # The name says PDF, the bytes say PNG: the bytes win.
        ("截图.pdf", PNG, "image/png", "png"),
    ],
)
def test_pdf_jpeg_and_png_are_recognised_by_their_content(
    draft, applicant, name, content, content_type, extension
):
    material = case_material_add(
        case=draft, user=applicant, kind="performance_proof", upload=upload(name, content)
    )
    assert (material.original_name, material.content_type, material.size, material.round) == (
        name,
        content_type,
        len(content),
        0,
    )
    assert material.sha256 == hashlib.sha256(content).hexdigest()
    assert material.file.name == f"cases/{draft.pk}/{material.sha256}.{extension}"
    with material.file.open("rb") as f:
        assert f.read() == content


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "申请书.docx",
            b"PK\x03\x04" + b"\x00" * 40,
            "文件“申请书.docx”不是 PDF、JPEG 或 PNG 文件（按文件内容识别），请转换后上传。",
        ),
        (
            "伪装.pdf",
            b"<html>%PDF-1.4</html>",
            "文件“伪装.pdf”不是 PDF、JPEG 或 PNG 文件（按文件内容识别），请转换后上传。",
        ),
        ("空白.pdf", b"", "文件“空白.pdf”是空文件。"),
        (
            "大文件.pdf",
            PDF + b"\x00" * MAX_MATERIAL_BYTES,
            "文件“大文件.pdf”超过 10 MB，请压缩或分开上传。",
        ),
    ],
)
def test_other_files_are_refused_naming_the_file_and_why(draft, applicant, name, content, message):
    before = counts()
    with pytest.raises(ValidationError) as refused:
        case_material_add(
            case=draft, user=applicant, kind="performance_proof", upload=upload(name, content)
        )
    assert refused.value.messages == [message]
    assert counts() == before


def test_exactly_10_mb_is_accepted(draft, applicant):
    content = PDF + b"\x00" * (MAX_MATERIAL_BYTES - len(PDF))
    material = case_material_add(
        case=draft, user=applicant, kind="performance_proof", upload=upload("整.pdf", content)
    )
    assert material.size == MAX_MATERIAL_BYTES


def test_materials_are_refused_once_the_case_is_submitted(applicant, record):
    case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    with pytest.raises(ValidationError, match="已提交"):
        case_material_add(case=case, user=applicant, kind="other", upload=upload())
    assert CaseMaterial.objects.filter(case=case).count() == len(FILING)


def test_submission_names_every_missing_material(draft, applicant):
    case_material_add(case=draft, user=applicant, kind="other", upload=upload())
    before = counts()
    with pytest.raises(ValidationError) as refused:
        repair_case_submit(applicant=applicant, case=draft)
    # Everything at once: the proof of performance and the unsigned commitment.
    assert refused.value.messages == [
        "申请材料不齐全，请上传：履行义务证明。",
        "请先阅读并签署信用修复承诺书：承诺书是申请材料的一部分，未签署的申请不能提交。",
    ]
    assert counts() == before
    draft.refresh_from_db()
    assert (draft.status, draft.number) == ("draft", None)


def test_an_agent_must_also_file_a_power_of_attorney(enterprise, record):
    agent = make_user("agent", "applicant", first_name="代理人")
    SubjectBinding.objects.create(user=agent, subject=enterprise, capacity=BindingCapacity.AGENT)
    case = draft_with_materials(agent, record, capacity="agent")
    with pytest.raises(ValidationError) as refused:
        repair_case_submit(applicant=agent, case=case)
    assert refused.value.messages == ["申请材料不齐全，请上传：授权委托书。"]
    case_material_add(case=case, user=agent, kind="power_of_attorney", upload=upload())
    assert repair_case_submit(applicant=agent, case=case).status == CaseStatus.SUBMITTED


def test_the_capacity_must_be_the_one_the_applicant_is_bound_in(applicant, record):
    with pytest.raises(ValidationError) as refused:
        repair_case_draft_save(applicant=applicant, record=record, details="", capacity="agent")
    assert refused.value.messages == [
        "您绑定该主体的身份是“法定代表人”，不能以“委托代理人”身份申请。"
    ]
    assert not RepairCase.objects.exists()


def test_a_record_not_yet_eligible_is_refused_with_the_date(applicant, department, enterprise):
    recent = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2026〕88号",
        decision_date=dt.date(2026, 10, 1),
    )
    with pytest.raises(ValidationError) as refused:
        repair_case_draft_save(
            applicant=applicant, record=recent, details="", capacity="legal_representative"
        )
    assert refused.value.messages == [
        "该记录目前不能申请信用修复：一般失信行为最短公示期为 3 个月，"
        "自 2027-01-01 起可申请信用修复。（可申请日期：2027-01-01）"
    ]
    assert not RepairCase.objects.exists()


def test_eligibility_is_checked_again_at_submission(draft, applicant, record):
    for kind in FILING:
        case_material_add(case=draft, user=applicant, kind=kind, upload=upload())
    type(record).objects.filter(pk=record.pk).update(status="under_objection")
    before = counts()
    with pytest.raises(ValidationError) as refused:
        repair_case_submit(applicant=applicant, case=draft)
    assert refused.value.messages == [
        "该记录目前不能申请信用修复：该记录异议处理中，异议处理完毕后方可申请修复。"
    ]
    assert counts() == before


def test_a_record_with_an_open_case_is_refused(applicant, record, enterprise):
    submitted = repair_case_submit(
        applicant=applicant, case=draft_with_materials(applicant, record)
    )
    agent = make_user("agent", "applicant")
    SubjectBinding.objects.create(user=agent, subject=enterprise, capacity=BindingCapacity.AGENT)
    before = counts()
    with pytest.raises(ValidationError) as refused:
        repair_case_draft_save(applicant=agent, record=record, details="", capacity="agent")
    assert refused.value.messages == [
        f"该记录已有正在办理的信用修复申请（{submitted.number}），不能重复申请。"
    ]
    assert counts() == before


def test_the_database_allows_one_open_case_per_record(applicant, record):
    case = draft_with_materials(applicant, record)
    with pytest.raises(IntegrityError), transaction.atomic():
        RepairCase.objects.create(
            record=record, subject=record.subject, applicant=applicant, filed_by_capacity="self"
        )
    assert RepairCase.objects.get() == case


def test_saving_again_updates_the_applicants_draft(draft, applicant, record):
    again = repair_case_draft_save(
        applicant=applicant, record=record, details="补充说明", capacity="legal_representative"
    )
    assert again.pk == draft.pk and again.details == "补充说明"
    assert RepairCase.objects.count() == 1


def test_an_applicant_not_bound_to_the_subject_cannot_file(other_applicant, record):
    with pytest.raises(ValidationError, match="没有绑定信用主体“济南泉城食品有限公司”"):
        repair_case_draft_save(
            applicant=other_applicant, record=record, details="", capacity="legal_representative"
        )
    assert not RepairCase.objects.exists()


def test_submission_is_refused_once_the_binding_is_gone(applicant, record):
    case = draft_with_materials(applicant, record)
    SubjectBinding.objects.filter(user=applicant).delete()
    before = counts()
    with pytest.raises(ValidationError) as refused:
        repair_case_submit(applicant=applicant, case=case)
    assert refused.value.messages == [
        "您的账号没有绑定信用主体“济南泉城食品有限公司”，不能为其申请信用修复。"
    ]
    assert counts() == before
