"""An applicant files a repair in the browser: opens an eligible record,
saves the draft, uploads the proof of performance, reads and signs the credit
commitment generated from the filing, submits, and sees the case with its
number and the preliminary-review deadline; submitting without the signed
commitment is refused with a message naming it."""

import pytest
from django.utils import timezone

from flows.models import CaseStatus, RepairCase
from letters.models import Commitment, CommitmentStatus
from sla.clocks import clocks_for
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
MISSING_COMMITMENT = "请先阅读并签署信用修复承诺书"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_an_applicant_files_a_repair_and_sees_the_deadline(page, applicant, record, tmp_path):
    proof = tmp_path / "缴款凭证.pdf"
    proof.write_bytes(PDF)

    login(page, "applicant", PASSWORD)
    page.wait_for_url("**/cases/")
    page.goto(f"{page.base}/records/{record.pk}/")
    page.get_by_role("link", name="申请信用修复").click()
    page.wait_for_url(f"**/cases/new/{record.pk}/")
    assert page.locator(".capacity").inner_text() == "法定代表人"
    needs = page.locator(".filing-needs").inner_text()
    assert "履行义务证明" in needs and "信用修复承诺书" in needs
    assert "无需提交营业执照复印件" in needs
    page.get_by_label("申请说明").fill("罚款已缴清，违法行为已整改。")
    page.get_by_role("button", name="保存草稿并上传材料").click()
    page.wait_for_url("**/cases/*/materials/")
    case = RepairCase.objects.get(record=record)
    # The upload slots: the proof of performance (and other material); no 营业执照.
    assert page.locator("#file_performance_proof").count() == 1
    assert page.locator("#file_identity_document").count() == 0
    assert page.locator("#file_application_form").count() == 0

    # Submitting too early lists everything missing at once, the commitment named.
    page.get_by_role("button", name="提交申请").click()
    errors = page.locator(".submit-errors").inner_text()
    assert "履行义务证明" in errors and MISSING_COMMITMENT in errors

    page.goto(f"{page.base}/cases/{case.pk}/materials/")
    page.set_input_files("#file_performance_proof", str(proof))
    page.get_by_role("button", name="上传", exact=True).click()
    page.wait_for_url(f"**/cases/{case.pk}/materials/")
    assert proof.name in page.locator("table.materials").inner_text()
    assert "已上传 1 个文件。" in page.locator(".messages").inner_text()

    # The materials complete, the commitment still unsigned: refused, naming it.
    assert "未签署" in page.locator("section.commitment-slot").inner_text()
    page.get_by_role("button", name="提交申请").click()
    errors = page.locator(".submit-errors").inner_text()
    assert MISSING_COMMITMENT in errors and "履行义务证明" not in errors
    case.refresh_from_db()
    assert (case.status, case.number) == (CaseStatus.DRAFT, None)

    # Read the commitment generated from the filing and sign it.
    page.locator("section.commitment-slot").get_by_role("link", name="阅读并签署承诺书").click()
    page.wait_for_url("**/letters/commitments/*/")
    page.locator(".letter-pages img").first.wait_for()
    assert record.decision_number in page.locator("dl.commitment-facts").inner_text()
    assert page.locator(".signer-block").inner_text() == "法定代表人：张伟"
    page.get_by_label("本人已阅读并承诺以上内容真实").check()
    page.get_by_role("button", name="确认签署").click()
    page.wait_for_url(f"**/cases/{case.pk}/materials/")
    assert "承诺书已签署，请提交申请。" in page.locator(".messages").inner_text()
    commitment = Commitment.objects.get(record=record)
    assert (commitment.status, commitment.case_id) == (CommitmentStatus.SIGNED, case.pk)

    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    assert page.locator("h1.case-number").inner_text() == case.number
    clock = clocks_for(case).get(stage="preliminary_review")
    due = timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")
    assert due in page.locator(f"#clock-{clock.pk} .due-at").inner_text()

    # 我的申请 lists it with its status and deadline.
    page.get_by_role("navigation").get_by_role("link", name="我的申请").click()
    page.wait_for_url("**/cases/")
    row = page.locator(f"tr[data-case='{case.pk}']").inner_text()
    assert case.number in row and "已提交" in row and due in row
