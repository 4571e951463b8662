"""The staff side of an objection (异议), in the browser: the officer's queue,
claim and acceptance with the routing chosen; the issuing department's
reviewer's queue, claim and correction; the record page's correction
history. And a shorter one: the officer checks it on the platform and
maintains the record.

The submitted objection is set up through the services (the applicant's
objection pages are covered elsewhere); everything after that is done in the
pages, each person in a browser context of their own.
"""

import pytest

from flows.models import CaseStatus, ObjectionCase
from records.models import RecordCorrection, RecordStatus
from tests.e2e.conftest import told
from tests.e2e.test_staff_journey import messages, open_tasks, row
from tests.flows.test_objections import filed

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def work(case, action: str = "") -> str:
    return f"/cases/objections/{case.pk}/work/" + (f"{action}/" if action else "")


# The irreversible steps ask first, in the browser's confirm dialog.
CONFIRMED = {"accept", "refuse", "delete"}


def submit(page, case, action, button):
    """Press `button` in the work page's form for `action` (saying yes when
    asked to confirm); wait for the redirect."""
    form = page.locator(f"form[action='{work(case, action)}']")
    asked = []
    if action in CONFIRMED:
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    form.get_by_role("button", name=button, exact=True).click()
    page.wait_for_url(f"**{work(case)}")
    if action in CONFIRMED:
        assert len(asked) == 1 and case.number in asked[0] and "不能撤回" in asked[0]


def test_an_objection_is_routed_to_the_department_and_corrected(
    browser_as, mailbox, applicant, record, officer, reviewer
):
    mails_to = mailbox(applicant, reviewer)
    case = filed(applicant, record)

    # The officer finds the objection in the queue, marked as one, and claims it.
    desk = browser_as("officer")
    open_tasks(desk)
    queued = row(desk, case)
    assert case.number in queued.inner_text()
    assert queued.locator("td.kind").inner_text() == "异议"
    assert "初审" in queued.inner_text()
    queued.get_by_role("button", name="领取").click()
    desk.wait_for_url(f"**{work(case)}")
    assert "已领取，请在期限内办理。" in messages(desk)
    assert desk.locator(".facts .holder").inner_text() == "刘洋"
    assert desk.locator(".facts .grounds").inner_text() == "信息有误"
    assert "张伟" in desk.locator(".facts .attestation").inner_text()

    # It needs the issuing department: accepted with department scope.
    accept = desk.locator("section.accept")
    accept.get_by_label("认定单位核实", exact=False).check()
    submit(desk, case, "accept", "受理")
    assert "异议处理中" in messages(desk)
    assert desk.locator(".facts .scope").inner_text().startswith("认定单位核实")
    assert desk.locator(".record-now .record-status").inner_text() == "异议处理中"
    # It left the officer's hands: no claim for them on a department check.
    assert desk.locator(f"form[action='{work(case, 'claim')}']").count() == 0

    # The department's reviewer is told of the check routed to them, finds
    # it in their queue and claims it.
    dept = browser_as("reviewer")
    told(dept, f"新的待办：案件 {case.number} 已进入您的待办队列", unread_now=1)
    assert [m for m in mails_to(reviewer) if case.number in m and "待办队列" in m]
    open_tasks(dept)
    queued = row(dept, case)
    assert "异议核查" in queued.inner_text() and queued.locator("td.kind").inner_text() == "异议"
    queued.get_by_role("button", name="领取").click()
    dept.wait_for_url(f"**{work(case)}")

    # The correction form shows the current values; only the fine is changed.
    correct = dept.locator("section.correct")
    fine_row = correct.locator("tr[data-field='fine_amount']")
    assert fine_row.locator("td.current").inner_text() == "5000.00"
    fine_row.locator("input").fill("500.00")
    correct.get_by_label("依据材料").fill("处罚决定书原件（济市监罚〔2026〕1号）")
    correct.get_by_label("理由").fill("登记金额与决定书不一致")
    submit(dept, case, "correct", "更正")
    assert "已更正该记录" in messages(dept)
    assert dept.locator(".facts .case-status").inner_text() == "记录已更正"
    case = ObjectionCase.objects.get(pk=case.pk)
    assert case.status == CaseStatus.CORRECTED
    assert RecordCorrection.objects.filter(record=record).count() == 1

    # The record page: back to 公示中, with the correction's history.
    dept.locator(".facts a", has_text=record.decision_number).click()
    dept.wait_for_url(f"**/records/{record.pk}/")
    assert "500.00" in dept.locator(".facts").first.inner_text()
    assert "公示中" in dept.locator(".facts").first.inner_text()
    history = dept.locator("section.corrections")
    change = history.locator("li[data-field='fine_amount']")
    assert change.locator(".old").inner_text() == "5000.00"
    assert change.locator(".new").inner_text() == "500.00"
    assert case.number in history.inner_text() and "陈静" in history.inner_text()
    assert "处罚决定书原件" in history.inner_text()

    # The applicant is told of the result, in the app and with the letter by email.
    me = browser_as("applicant")
    told(me, f"异议 {case.number} 已办结（异议处理结果告知书", unread_now=3)
    assert [m for m in mails_to(applicant) if "异议处理结果告知书" in m]

    # The applicant sees the same history on their record.
    me.goto(me.base + f"/records/{record.pk}/")
    assert "5000.00" in me.locator("section.corrections").inner_text()


def test_an_officer_checks_on_the_platform_and_maintains(browser_as, applicant, record, officer):
    case = filed(applicant, record)
    desk = browser_as("officer")
    desk.goto(desk.base + work(case))
    submit(desk, case, "claim", "领取办理")
    desk.locator("section.accept").get_by_label("平台自行核查", exact=False).check()
    submit(desk, case, "accept", "受理")

    # Back in the queue as a platform check, on the 3-working-day clock.
    open_tasks(desk)
    desk.get_by_label("环节").select_option("verification")
    desk.get_by_role("button", name="筛选").click()
    queued = row(desk, case)
    assert "异议核查" in queued.inner_text()
    queued.get_by_role("button", name="领取").click()
    desk.wait_for_url(f"**{work(case)}")

    maintain = desk.locator("section.maintain")
    maintain.get_by_label("经核查，该记录与处罚决定书内容一致").check()
    submit(desk, case, "maintain", "维持")
    assert "已维持该记录" in messages(desk)
    assert desk.locator(".facts .case-status").inner_text() == "记录维持"
    record.refresh_from_db()
    assert record.status == RecordStatus.PUBLISHED
    assert not RecordCorrection.objects.filter(record=record).exists()


def test_routing_to_a_department_without_reviewer_is_refused_with_the_way_out(
    browser_as, applicant, record, officer
):
    case = filed(applicant, record)
    desk = browser_as("officer")
    open_tasks(desk)
    row(desk, case).get_by_role("button", name="领取").click()
    desk.wait_for_url(f"**{work(case)}")
    way_out = f"{record.department.name}没有在岗的审核人：请先为其设置审核人，或由平台自行核查。"
    # Warned before choosing, refused on choosing the department, nothing changed.
    assert way_out in desk.locator("section.accept .unstaffed").inner_text()
    accept = desk.locator("section.accept")
    accept.get_by_label("认定单位核实", exact=False).check()
    desk.once("dialog", lambda dialog: dialog.accept())  # the confirm dialog
    accept.get_by_role("button", name="受理", exact=True).click()
    desk.wait_for_load_state()
    assert way_out in desk.locator("section.accept .errorlist").inner_text()
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW
    # The way out: the platform checks it itself.
    accept = desk.locator("section.accept")
    accept.get_by_label("平台自行核查", exact=False).check()
    submit(desk, case, "accept", "受理")
    case.refresh_from_db()
    assert (case.status, case.scope) == (CaseStatus.ACCEPTED, "platform")
