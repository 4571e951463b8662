"""An applicant reads and signs the credit commitment of their filing on a
phone, as the person their account names, then finds the signed letter in
我的文书; anyone verifies it by its code."""

import hashlib

import pytest

from letters.models import Commitment, CommitmentStatus
from tests.conftest import PASSWORD
from tests.e2e.conftest import login, nav

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_an_applicant_signs_the_commitment_and_finds_the_signed_letter(
    phone_page, applicant, record
):
    page = phone_page
    login(page, "applicant", PASSWORD)
    page.wait_for_url("**/cases/")

    # The commitment is generated from the filing: save the draft, then open it from there.
    page.goto(f"{page.base}/cases/new/{record.pk}/")
    page.get_by_label("申请说明").fill("罚款已缴清，违法行为已整改。")
    page.get_by_role("button", name="保存草稿并上传材料").click()
    page.wait_for_url("**/cases/*/materials/")
    commitment = Commitment.objects.get(record=record)
    page.locator("section.commitment-slot").get_by_role("link", name="阅读并签署承诺书").click()
    page.wait_for_url(f"**/letters/commitments/{commitment.pk}/")
    assert record.decision_number in page.locator("main").inner_text()

    # The draft PDF's page as an image (drawn: it has a width), and its content as text.
    image = page.locator(".letter-pages img").first
    image.wait_for()
    assert image.get_attribute("src") == f"/letters/{commitment.draft_id}/page-1.png"
    page.wait_for_function("() => document.querySelector('.letter-pages img').naturalWidth > 500")
    facts = page.locator("dl.commitment-facts").inner_text()
    assert record.decision_number in facts and "张伟" in facts

    # Who signs is the account, in its bound capacity: no name to type.
    assert page.locator(".signer-name").inner_text() == "张伟"
    assert page.locator(".signer-capacity").inner_text() == "法定代表人"
    assert page.locator("input[name=signer_name]").count() == 0

    # Not ticked: refused next to the box.
    page.get_by_role("button", name="确认签署").click()
    error = page.locator("#confirmed-error")
    error.wait_for()
    assert "请阅读承诺书并勾选确认后再签署" in error.inner_text()
    commitment.refresh_from_db()
    assert commitment.status == CommitmentStatus.DRAFT

    # Ticked: signed, and back to the filing to submit it.
    page.get_by_label("本人已阅读并承诺以上内容真实").check()
    page.get_by_role("button", name="确认签署").click()
    page.wait_for_url("**/cases/*/materials/")
    assert "承诺书已签署，请提交申请。" in page.locator(".messages").inner_text()
    slot = page.locator("section.commitment-slot")
    assert "已签署" in slot.inner_text() and "法定代表人：张伟" in slot.inner_text()
    commitment.refresh_from_db()
    signed = commitment.signed
    assert commitment.status == CommitmentStatus.SIGNED and commitment.signer_name == "张伟"
    assert commitment.signer_capacity == "legal_representative"
    assert "Chrome" in commitment.signed_user_agent and commitment.signed_ip
    slot.get_by_role("link", name="查看已签署的承诺书").click()
    page.wait_for_url(f"**/letters/commitments/{commitment.pk}/")
    page.locator("section.signed-letter").wait_for()
    assert page.locator(".commitment-status").inner_text() == "已签署"
    assert signed.number in page.locator("section.signed-letter").inner_text()
    assert "法定代表人：张伟" in page.locator("section.signed-letter").inner_text()

    # 我的文书 lists the signed letter with its PDF, and no draft left to sign.
    nav(page).get_by_role("link", name="文书", exact=True).click()
    page.wait_for_url("**/letters/")
    assert page.locator("h1").inner_text() == "我的文书"
    row = page.locator(f"tr[data-letter='{signed.pk}']")
    assert signed.number in row.inner_text() and "已生成" in row.inner_text()
    assert page.get_by_text("阅读并签署").count() == 0
    href = row.get_by_role("link", name="查看 PDF").get_attribute("href")
    response = page.request.get(page.base + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    signed.refresh_from_db()
    assert hashlib.sha256(response.body()).hexdigest() == signed.sha256

    # Anyone can verify it by its code, and learns nothing personal.
    page.goto(f"{page.base}/verify/")
    page.fill("#code", signed.verification_code.lower())
    page.get_by_role("button", name="核验").click()
    page.wait_for_url(f"**/verify/{signed.verification_code}")
    result = page.locator("main").inner_text()
    assert signed.number in result and "完好" in result
    assert record.subject.name not in result and "张伟" not in result
