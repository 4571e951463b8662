"""Small things that matter, in the browser: the phone header is one row
with a menu; irreversible steps ask first and the keyboard answers; a refused
filing is summed up at the top, focused, each line leading to its field; a
file uploaded by mistake can be removed before submitting."""

import pytest

from flows.cases.review import preliminary_review_claim
from flows.models import CaseMaterial, CaseStatus, RepairCase
from flows.repair.services import repair_case_draft_save
from tests.conftest import PASSWORD
from tests.e2e.conftest import login, phone
from tests.e2e.test_staff_journey import PDF, SHOTS, submitted

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def small_phone(browser, live_server):
    with phone(browser, live_server, width=375, height=667) as page:
        yield page


def box(locator) -> dict:
    found = locator.bounding_box()
    assert found is not None
    return found


def test_the_phone_header_is_one_row_and_its_menu_opens(small_phone, applicant, record):
    page = small_phone
    login(page, "applicant", PASSWORD)
    page.wait_for_url("**/cases/")
    page.screenshot(path=f"{SHOTS}/phone_header_375.png")
    header, brand, button = (
        page.locator("header.topbar"),
        page.locator("header .brand"),
        page.locator("button.menu-button"),
    )
    # One row: the brand and the menu button side by side, the links behind it.
    assert box(header)["height"] <= 64
    assert (
        abs(
            box(brand)["y"]
            + box(brand)["height"] / 2
            - (box(button)["y"] + box(button)["height"] / 2)
        )
        < 8
    )
    assert box(header)["width"] <= 375
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert not page.get_by_role("navigation").is_visible()
    # The keyboard opens it: Tab to the button, Enter.
    button.focus()
    page.keyboard.press("Enter")
    navigation = page.get_by_role("navigation")
    assert navigation.is_visible()
    assert button.get_attribute("aria-expanded") in (None, "true")  # Chromium sets it itself
    assert page.get_by_role("button", name="退出").is_visible()
    page.screenshot(path=f"{SHOTS}/phone_menu_open_375.png")
    # Escape closes it; a tap opens it again and a link leads on.
    page.keyboard.press("Escape")
    assert not navigation.is_visible()
    button.click()
    navigation.get_by_role("link", name="信用记录").click()
    page.wait_for_url("**/records/")
    assert page.locator("h1").inner_text() == "我的信用记录"
    assert box(page.locator("header.topbar"))["height"] <= 64


def test_on_a_wide_screen_the_links_sit_in_the_header(page, officer):
    login(page, "officer", PASSWORD)
    page.wait_for_url("**/cases/tasks/")
    assert not page.locator("button.menu-button").is_visible()
    assert page.get_by_role("navigation").get_by_role("link", name="办理", exact=True).is_visible()
    assert page.get_by_role("button", name="退出").is_visible()


def test_accepting_asks_first_and_the_keyboard_answers(page, applicant, record, officer):
    case = submitted(applicant, record)
    preliminary_review_claim(officer=officer, case=case)
    login(page, "officer", PASSWORD)
    page.wait_for_url("**/cases/tasks/")
    page.goto(f"{page.base}/cases/{case.pk}/work/")
    accept = page.locator(f"form[action='/cases/{case.pk}/work/accept/']").get_by_role(
        "button", name="受理", exact=True
    )
    asked = []
    # No: nothing is sent, the case waits as it was.
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    accept.focus()
    page.keyboard.press("Enter")
    assert accept.is_visible()
    assert asked == [
        f"确认受理 {case.number}？受理后将发出受理通知书，案件转认定单位审核，不能撤回。"
    ]
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW
    # Yes: accepted.
    page.once("dialog", lambda dialog: dialog.accept())
    accept.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/cases/{case.pk}/work/")
    page.locator(".messages").wait_for()
    assert "已受理" in page.locator(".messages").inner_text()
    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED


def test_a_refused_filing_is_summed_up_at_the_top_and_a_wrong_file_removed(
    small_phone, applicant, record, tmp_path
):
    page = small_phone
    case = repair_case_draft_save(
        applicant=applicant, record=record, details="罚款已缴清。", capacity="legal_representative"
    )
    wrong = tmp_path / "别人的身份证.pdf"
    wrong.write_bytes(PDF)
    login(page, "applicant", PASSWORD)
    page.wait_for_url("**/cases/")
    page.goto(f"{page.base}/cases/{case.pk}/materials/")

    # Submitting too early: the summary is at the top, in view and focused.
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(f"**/cases/{case.pk}/submit/")
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    top = box(summary)["y"]
    assert 0 <= top < 667, "the summary is on the first screen"
    assert "申请材料不齐全，请上传：履行义务证明。" in summary.inner_text()
    # Its line leads to the field, which says it too.
    summary.get_by_role("link", name="申请材料不齐全，请上传：履行义务证明。").click()
    assert page.evaluate("location.hash") == "#file_performance_proof"
    slot = page.locator(".upload-slot[data-kind=performance_proof]")
    assert "尚未上传履行义务证明，提交前请上传。" in slot.inner_text()

    # A wrong file uploaded, then removed before submitting.
    page.goto(f"{page.base}/cases/{case.pk}/materials/")
    page.set_input_files("#file_other", str(wrong))
    page.get_by_role("button", name="上传", exact=True).click()
    page.wait_for_url(f"**/cases/{case.pk}/materials/")
    materials = page.locator("table.materials")
    assert wrong.name in materials.inner_text()
    materials.get_by_role("button", name=f"删除文件“{wrong.name}”").click()
    page.wait_for_url(f"**/cases/{case.pk}/materials/")
    assert f"已删除文件“{wrong.name}”。" in page.locator(".messages").inner_text()
    assert wrong.name not in page.locator("table.materials").inner_text()
    assert not CaseMaterial.objects.filter(case=case).exists()
    assert RepairCase.objects.get(pk=case.pk).status == CaseStatus.DRAFT
