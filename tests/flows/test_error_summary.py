"""A refused filing says what is wrong at the top of the page, each line
linking to its field, and again beside the field: the materials and
objection pages (no more "materials missing" 1,300 px below the button)."""

import re

import pytest

from flows.models import CaseStatus
from flows.objections.services import objection_draft_save
from flows.repair.services import repair_case_draft_save
from tests.flows.conftest import PDF, upload

pytestmark = pytest.mark.django_db

MISSING = "申请材料不齐全，请上传：履行义务证明。"
UNSIGNED = "请先阅读并签署信用修复承诺书：承诺书是申请材料的一部分，未签署的申请不能提交。"


def summary(page: str) -> list[tuple[str, str]]:
    """The summary's lines as (link target or "", text)."""
    box = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', page, re.S)
    assert box, "no error summary"
    lines = []
    for item in re.findall(r"<li>(.*?)</li>", box.group(1), re.S):
        link = re.match(r'<a href="([^"]*)">(.*)</a>$', item)
        lines.append((link.group(1), link.group(2)) if link else ("", item))
    return lines


@pytest.fixture
def draft(applicant, record):
    return repair_case_draft_save(
        applicant=applicant, record=record, details="罚款已缴清。", capacity="legal_representative"
    )


def test_a_refused_submission_is_summed_up_at_the_top_linking_to_each_field(
    client_for, applicant, draft
):
    response = client_for(applicant).post(f"/cases/{draft.pk}/submit/")
    page = response.content.decode()
    assert response.status_code == 400
    assert summary(page) == [("#file_performance_proof", MISSING), ("#commitment", UNSIGNED)]
    # At the top: before the upload form and the submit button; focused when the page opens.
    assert page.index('class="error-summary"') < page.index('class="upload-slot')
    assert page.index('class="error-summary"') < page.index(f'action="/cases/{draft.pk}/submit/"')
    assert 'role="alert" tabindex="-1" autofocus' in page
    # And beside each field: the missing slot and the commitment.
    slot = re.search(
        r'<div class="upload-slot invalid" data-kind="performance_proof">(.*?)</div>\s*</div>',
        page,
        re.S,
    )
    assert slot and "尚未上传履行义务证明，提交前请上传。" in slot.group(1)
    assert 'id="file_performance_proof"' in slot.group(1) and 'aria-invalid="true"' in slot.group(1)
    assert 'aria-describedby="file_performance_proof-error"' in slot.group(1)
    commitment = re.search(r'<section [^>]*id="commitment"[^>]*>(.*?)</section>', page, re.S)
    assert f'<p class="field-error">{UNSIGNED}</p>' in commitment.group(1)
    draft.refresh_from_db()
    assert draft.status == CaseStatus.DRAFT


def test_a_refused_upload_is_in_the_summary_linking_to_its_slot(client_for, applicant, draft):
    response = client_for(applicant).post(
        f"/cases/{draft.pk}/materials/",
        {"file_performance_proof": upload("凭证.docx", b"PK\x03\x04 not a pdf")},
    )
    assert response.status_code == 400
    assert summary(response.content.decode()) == [
        (
            "#file_performance_proof",
            "文件“凭证.docx”不是 PDF、JPEG 或 PNG 文件（按文件内容识别），请转换后上传。",
        )
    ]


def test_a_page_without_errors_has_no_summary(client_for, applicant, draft):
    page = client_for(applicant).get(f"/cases/{draft.pk}/materials/").content.decode()
    assert "error-summary" not in page and "提交前请上传" not in page


def test_a_refused_objection_is_summed_up_at_the_top(client_for, applicant, record):
    case = objection_draft_save(
        applicant=applicant,
        record=record,
        grounds=["error"],
        statement="罚款金额登记错误。",
        capacity="legal_representative",
    )
    response = client_for(applicant).post(f"/cases/objections/{case.pk}/submit/")
    page = response.content.decode()
    assert response.status_code == 400
    assert summary(page) == [
        ("#file_evidence", "申请材料不齐全，请上传：异议证明材料。"),
        ("#confirmed", "请确认承诺：所提交的材料真实、准确、完整。"),
    ]
    assert page.index('class="error-summary"') < page.index('class="upload-slot')
    assert "尚未上传异议证明材料，提交前请上传。" in page
    assert 'id="confirmed-error"' in page


def test_the_signers_problem_is_pointed_to_not_repeated(client_for, enterprise, record):
    from records.models import BindingCapacity, SubjectBinding
    from repair_flow.models import Role
    from tests.conftest import make_user

    agent = make_user("wangwu", Role.APPLICANT, first_name="王五")
    SubjectBinding.objects.create(user=agent, subject=enterprise, capacity=BindingCapacity.AGENT)
    case = objection_draft_save(
        applicant=agent, record=record, grounds=["error"], statement="登记错误。", capacity="agent"
    )
    client = client_for(agent)
    client.post(f"/cases/objections/{case.pk}/materials/", {"file_evidence": upload("a.pdf", PDF)})
    page = client.post(f"/cases/objections/{case.pk}/submit/", {"confirmed": "on"}).content.decode()
    assert (
        "#signer-problem",
        "当前账号还不能签署本承诺，原因见“异议承诺”中的签署人一栏。",
    ) in summary(page)
    assert 'id="signer-problem"' in page
