"""An applicant files a repair in the browser: opens an eligible record,
saves the draft, uploads the three required files, submits, and sees the
case with its number and the preliminary-review deadline."""

import pytest
from django.utils import timezone

from flows.models import CaseStatus, RepairCase
from sla.clocks import clocks_for
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_an_applicant_files_a_repair_and_sees_the_deadline(page, applicant, record, tmp_path):
    paths = {}
    for kind, name in (
        ("application_form", "申请书.pdf"),
        ("performance_proof", "缴款凭证.pdf"),
        ("identity_document", "营业执照.pdf"),
    ):
        paths[kind] = tmp_path / name
        paths[kind].write_bytes(PDF)

    login(page, "applicant", PASSWORD)
    page.wait_for_url("**/records/")
    page.goto(f"{page.base}/records/{record.pk}/")
    page.get_by_role("link", name="申请信用修复").click()
    page.wait_for_url(f"**/cases/new/{record.pk}/")
    assert page.locator(".capacity").inner_text() == "法定代表人"
    page.get_by_label("申请说明").fill("罚款已缴清，违法行为已整改。")
    page.get_by_role("button", name="保存草稿并上传材料").click()
    page.wait_for_url("**/cases/*/materials/")
    case = RepairCase.objects.get(record=record)

    # Submitting too early lists everything missing at once.
    page.get_by_role("button", name="提交申请").click()
    errors = page.locator(".submit-errors").inner_text()
    assert "信用修复申请书" in errors and "履行义务证明" in errors

    page.goto(f"{page.base}/cases/{case.pk}/materials/")
    for kind, path in paths.items():
        page.set_input_files(f"#file_{kind}", str(path))
    page.get_by_role("button", name="上传", exact=True).click()
    page.wait_for_url(f"**/cases/{case.pk}/materials/")
    table = page.locator("table.materials").inner_text()
    assert all(path.name in table for path in paths.values())
    assert "已上传 3 个文件。" in page.locator(".messages").inner_text()

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
