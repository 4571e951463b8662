import pytest

from repair_flow.models import AccessLogEntry
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_applicant_sees_their_records_and_why_they_can_or_cannot_repair(
    phone_page, applicant, record, other_record
):
    page = phone_page
    login(page, "applicant", PASSWORD)
    page.wait_for_url("**/cases/")
    page.goto(f"{page.base}/records/")
    assert page.locator("h1").inner_text() == "我的信用记录"
    assert page.get_by_text(record.decision_number).is_visible()
    assert page.get_by_text(other_record.decision_number).count() == 0
    page.get_by_text(record.decision_number).click()
    page.wait_for_url(f"**/records/{record.pk}/")
    answer = page.locator("section.answer")
    assert "信用修复资格" in answer.inner_text()
    assert "《信用修复管理办法》" in answer.inner_text()


def test_an_officer_states_a_purpose_before_seeing_a_person(page, officer, person_record):
    login(page, "officer", PASSWORD)
    page.wait_for_url("**/cases/tasks/")
    page.get_by_role("link", name="信用记录").click()
    page.wait_for_url("**/records/")
    # The plain list shows no person, only how many are left out.
    assert page.get_by_text(person_record.decision_number).count() == 0
    assert page.get_by_text("另有 1 条自然人的记录未列出").is_visible()
    search = page.locator("form.person-search")
    search.get_by_label("监督检查").check()
    search.get_by_role("button", name="查询并登记").click()
    page.wait_for_url("**/records/?search=*")
    assert AccessLogEntry.objects.filter(purpose="supervision").count() == 1
    page.get_by_text(person_record.decision_number).click()
    page.wait_for_url("**/access-purpose/**")
    assert "请说明查询目的" in page.locator("h1").inner_text()
    page.get_by_label("办理信用修复").check()
    page.click("button.primary")
    page.wait_for_url(f"**/records/{person_record.pk}/")
    body = page.locator("main").inner_text()
    assert person_record.subject.display_identifier in body
    assert person_record.subject.identifier not in body
    assert AccessLogEntry.objects.filter(user=officer, purpose="repair_case").count() == 1


def test_a_supervisor_reviews_the_access_register(page, officer, supervisor, person_record):
    from repair_flow.access import access_register

    access_register(
        user=officer,
        subject=person_record.subject,
        what="record:1",
        purpose="supervision",
        channel="page",
    )
    login(page, "supervisor", PASSWORD)
    page.wait_for_url("**/sla/board/")
    page.get_by_role("link", name="查询登记").click()
    page.wait_for_url("**/access-register/")
    rows = page.locator("table.grid tbody tr")
    assert rows.count() == 1
    assert "监督检查" in rows.first.inner_text()


def test_a_wrong_password_says_so(page, applicant):
    login(page, "applicant", "not-the-password")
    assert "用户名或密码不正确" in page.locator(".error").inner_text()
