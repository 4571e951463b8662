"""GB/T 37668-2019: the work pages work from the keyboard alone.

(Every page the browser journeys load is also checked with axe-core; see
tests/e2e/conftest.py.)"""

import pytest

from flows.models import CaseStatus
from flows.repair.services import repair_case_submit
from tests.e2e.conftest import axe_check
from tests.flows.conftest import draft_with_materials

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def tab_to(page, name, *, limit=200):
    """Press Tab until the focused element is the button called `name`; return
    how many presses it took. Fails if it is never reached."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement;"
            " return e && e.tagName === 'BUTTON' ? e.innerText.trim() : null; }"
        )
        if focused == name:
            return presses
    pytest.fail(f"{name!r} not reached with {limit} presses of Tab")


def focus_outline(page):
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )


def test_an_officer_claims_and_accepts_with_the_keyboard_alone(
    browser_as, applicant, record, officer
):
    case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    desk = browser_as("officer")
    desk.goto(f"{desk.base}/cases/tasks/")
    axe_check(desk)

    # Claim from the queue: Tab to the row's 领取 and press Enter.
    tab_to(desk, "领取")
    style, width = focus_outline(desk)
    assert style != "none" and width >= 2, "the focused button shows where the focus is"
    desk.keyboard.press("Enter")
    desk.wait_for_url(f"**/cases/{case.pk}/work/")
    axe_check(desk)

    # Accept: the work page's main action, confirmed in the dialog, by keyboard.
    asked = []
    desk.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    tab_to(desk, "受理")
    style, width = focus_outline(desk)
    assert style != "none" and width >= 2
    desk.keyboard.press("Enter")
    desk.wait_for_url(f"**/cases/{case.pk}/work/")
    assert len(asked) == 1 and case.number in asked[0]
    assert "已受理" in desk.locator(".messages").inner_text()
    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED
    axe_check(desk)


def test_axe_check_lists_a_serious_violation_with_its_target(browser):
    """The check itself fails on an unlabelled control and names it."""
    page = browser.new_page()
    page.set_content(
        '<!doctype html><html lang="zh-CN"><head><title>t</title></head>'
        '<body><main><h1>t</h1><input id="nameless" type="text"></main></body></html>'
    )
    with pytest.raises(AssertionError) as failed:
        axe_check(page)
    page.close()
    assert "label" in str(failed.value) and "#nameless" in str(failed.value)
