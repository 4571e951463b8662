"""The Content-Security-Policy in a real browser (issue 17, finding 12).

Every browser test fails on a CSP violation (tests/e2e/conftest.py,
watch_csp), so the journeys of the applicant, the officer, the reviewer and
the supervisor check the policy as they go. Here: that the watch does catch
one, that the admin's own scripts still run under the policy, and the flow
chart opened as a page of its own."""

import pytest

from flows.cases.review import preliminary_review_claim
from flows.repair.services import repair_case_submit
from tests.conftest import PASSWORD
from tests.e2e.conftest import login, watch_csp
from tests.flows.conftest import draft_with_materials

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# What an attacker's markup would do: run an inline script. The page waits
# for the watch to have reported the violation (the report's promise).
_INJECT = """
async () => {
  const refused = new Promise((resolve) => document.addEventListener(
    "securitypolicyviolation", () => resolve(), { once: true }));
  const script = document.createElement("script");
  script.textContent = "window.__injected = true";
  document.body.append(script);
  await refused;
  await window.__cspReported;
  return window.__injected === true;
}
"""


def test_the_policy_refuses_an_injected_script_and_the_watch_reports_it(browser, live_server):
    context = browser.new_context(locale="zh-CN")
    found = watch_csp(context, [])
    page = context.new_page()
    page.goto(live_server.url + "/accounts/login/")
    ran = page.evaluate(_INJECT)
    context.close()
    assert ran is False
    assert any("script-src-elem" in line and "inline" in line for line in found), found


def state_purpose_if_asked(page):
    """The admin's personal-data pages ask a purpose first (repair_flow/admin_access.py)."""
    if "/access-purpose/" in page.url:
        page.locator("input[name=purpose]").first.check()
        page.click("button.primary")


@pytest.fixture
def admin_page(browser, live_server, administrator):
    """The administrator in a browser watched for CSP violations only: the
    admin's markup is Django's, its accessibility not ours to check (and
    axe-core, reading the admin's stylesheets with their @import, adds inline
    styles of its own that the policy duly refuses)."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    found = watch_csp(context, [])
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.base = live_server.url
    login(page, "administrator", PASSWORD)
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    yield page
    context.close()
    assert not found, "\n".join(found)


def test_the_admins_scripts_run_under_the_policy(admin_page, officer, record):
    page = admin_page
    page.goto(page.base + "/admin/")
    assert page.locator("#site-name").count() == 1

    # actions.js: "select all" marks every row of a list.
    page.goto(page.base + "/admin/repair_flow/user/")
    state_purpose_if_asked(page)  # accounts are personal data too
    page.locator("#action-toggle").check()
    assert page.locator("#result_list tbody tr.selected").count() >= 2

    # inlines.js and DateTimeShortcuts.js: a calendar year's days, one more
    # row on "add another", its date set from the calendar's shortcut.
    page.goto(page.base + "/admin/sla/calendaryear/add/")
    rows = page.locator(".dynamic-days, tr.form-row:not(.empty-form)")
    before = rows.count()
    page.locator(".add-row a").click()
    assert rows.count() == before + 1
    shortcut = page.locator(".datetimeshortcuts a").first
    shortcut.click()
    assert page.locator("input.vDateField").first.input_value() != ""

    # Pages of personal data, after the purpose: a record and its subject.
    page.goto(page.base + f"/admin/records/creditrecord/{record.pk}/change/")
    state_purpose_if_asked(page)
    page.wait_for_url(f"**/admin/records/creditrecord/{record.pk}/change/")
    page.goto(page.base + "/admin/records/subject/")
    state_purpose_if_asked(page)
    page.wait_for_url("**/admin/records/subject/")
    assert page.locator("#result_list").count() == 1

    page.goto(page.base + f"/admin/repair_flow/user/{officer.pk}/change/")
    assert page.locator("#user_form").count() == 1
    page.goto(page.base + "/admin/viewflow/process/")
    page.goto(page.base + "/admin/password_change/")


def test_the_admin_login_page(browser, live_server):
    context = browser.new_context(locale="zh-CN")
    found = watch_csp(context, [])
    page = context.new_page()
    page.goto(live_server.url + "/admin/login/")
    assert page.locator("#login-form").count() == 1
    context.close()
    assert not found, found


def test_the_flow_chart_opened_as_a_page_of_its_own(
    browser_as, settings, tmp_path, applicant, record, officer
):
    settings.MEDIA_ROOT = tmp_path / "media"
    case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    preliminary_review_claim(officer=officer, case=case)
    page = browser_as("officer")
    page.goto(page.base + f"/cases/{case.pk}/work/")
    chart = page.locator(".flow-chart img")
    chart.scroll_into_view_if_needed()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0", chart.element_handle())
    # Opened by itself (a new tab), the SVG keeps its inline styles and runs nothing.
    response = page.goto(page.base + f"/cases/{case.pk}/work/flow.svg")
    policy = response.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in policy and "script-src 'none'" in policy
