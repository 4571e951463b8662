import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_anyone_computes_a_deadline_across_national_day(phone_page):
    page = phone_page
    page.goto(page.base + "/deadlines/")
    page.fill("#id_received", "2026-09-30T15:30:00")
    page.select_option("#id_rule", "working_days")
    page.fill("#id_n", "3")
    page.click("button.primary")
    page.wait_for_selector(".deadline-result")
    # 1-7 Oct National Day (8th counts), make-up Saturday 10 Oct counts: 8th, 9th, 10th.
    assert page.locator(".due-at").inner_text().startswith("2026-10-10 17:00")
    steps = page.locator("ol.explain").inner_text()
    assert "国庆节" in steps and "调休上班" in steps
    assert page.locator(".provisional").count() == 0


def test_a_span_into_an_unloaded_year_is_shown_as_provisional(page):
    page.goto(page.base + "/deadlines/")
    page.fill("#id_received", "2026-12-28T10:00:00")
    page.select_option("#id_rule", "working_days")
    page.fill("#id_n", "10")
    page.click("button.primary")
    page.wait_for_selector(".deadline-result")
    assert "暂定" in page.locator(".provisional").inner_text()
    assert "2027" in page.locator(".provisional").inner_text()
