"""A supervisor reads the SLA board on a laptop screen, opens the clocks behind a
figure, downloads them as CSV and resolves an escalation."""

import datetime as dt
import os
import tempfile

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from letters.outbox import letters_sweep
from records.models import CreditRecord
from sla.clocks import policy_for
from sla.models import ClockState, Escalation, SlaClock, Stage
from sla.sweep import clocks_sweep
from tests.conftest import PASSWORD, make_record
from tests.e2e.conftest import close_checked, login, told, watch_axe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
# Where the screenshots go; look at them after a run.
SHOTS = os.environ.get("SCREENSHOT_DIR") or tempfile.gettempdir()


@pytest.fixture
def laptop_page(browser, live_server):
    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport=LAPTOP, accept_downloads=True
    )
    found = watch_axe(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.base = live_server.url
    yield page
    close_checked(context, found)


def add_clock(record, stage, *, state, started, due, **fields):
    return SlaClock.objects.create(
        case_type=ContentType.objects.get_for_model(CreditRecord),
        case_id=record.pk,
        case_label=record.decision_number,
        department=record.department,
        stage=stage,
        policy=policy_for(stage, timezone.localdate(started)),
        state=state,
        started_at=started,
        due_at=due,
        **fields,
    )


@pytest.fixture
def board_data(mailbox, supervisor, department, enterprise, officer):
    mailbox(supervisor)
    now = timezone.now()
    day = dt.timedelta(days=1)
    late, running, done = (
        make_record(
            department=department, subject=enterprise, decision_number=f"济市监罚〔2026〕{n}号"
        )
        for n in (301, 302, 303)
    )
    # The late one is moved into breach by the sweep, which escalates it.
    add_clock(late, Stage.PRELIMINARY_REVIEW, state=ClockState.RUNNING, started=now - 3 * day,
              due=now - 2 * day, next_check_at=now - 2 * day, assignee=officer)  # fmt: skip
    add_clock(running, Stage.DEPARTMENT_REVIEW, state=ClockState.RUNNING, started=now - day,
              due=now + 5 * day, warn2_at=now + 4 * day, assignee=officer)  # fmt: skip
    add_clock(done, Stage.ACCEPTANCE, state=ClockState.MET, started=now - 4 * day,
              due=now - day, stopped_at=now - 2 * day, assignee=officer)  # fmt: skip
    clocks_sweep(now=now)
    return Escalation.objects.get()


def figure(page, metric):
    return page.locator(f".board-card[data-metric={metric}] a.board-figure")


def test_a_supervisor_reads_the_board_follows_a_figure_and_resolves_an_escalation(
    laptop_page, mailbox, supervisor, board_data
):
    mails_to = mailbox(supervisor)
    page = laptop_page
    login(page, "supervisor", PASSWORD)
    # The supervisor lands on the board.
    page.wait_for_url("**/sla/board/")
    # The escalation reached them: in the app, and by email when the outbox is
    # next swept (as the scheduler does every minute).
    told(page, "超时升级：济市监罚〔2026〕301号 · 初审", unread_now=1)
    letters_sweep()
    assert [m for m in mails_to(supervisor) if "【超时升级】济市监罚〔2026〕301号" in m]
    page.get_by_role("link", name="时限看板").click()
    page.wait_for_url("**/sla/board/")
    assert page.locator("h1").inner_text() == "时限看板"
    assert figure(page, "open").inner_text() == "2"
    assert figure(page, "breached").inner_text() == "1"
    assert figure(page, "rated").inner_text() == "100.0%"

    # The headline figures and the trend chart fit a laptop screen without scrolling.
    page.screenshot(path=f"{SHOTS}/sla_board_e2e_1366x768.png")
    cards = page.locator("section.board-cards").bounding_box()
    assert cards["y"] + cards["height"] <= LAPTOP["height"]
    chart = page.locator("svg.chart").bounding_box()
    assert chart["y"] + chart["height"] <= LAPTOP["height"]
    assert page.locator("svg.chart .chart-bar").count() >= 4

    figure(page, "open").click()
    page.wait_for_url("**/sla/board/list/**metric=open**")
    rows = page.locator("table.clock-list tbody tr")
    assert rows.count() == 2
    assert "济市监罚〔2026〕301号" in rows.first.inner_text()  # the late one first
    assert "已超时" in rows.first.inner_text()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="导出 CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("sla-open-")
    content = open(download.path(), "rb").read()  # noqa: SIM115 - Playwright owns the file
    assert content.startswith(b"\xef\xbb\xbf")
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0] == "案件,环节,认定单位,承办人,开始时间,期限（北京时间）,状态,超时时长"
    assert len(lines) == 3

    page.get_by_role("link", name="超时升级").click()
    page.wait_for_url("**/sla/escalations/")
    row = page.locator("tr.pending", has_text="济市监罚〔2026〕301号")
    assert "超时 2 天" in row.inner_text()
    row.locator("textarea[name=note]").fill("已电话督促承办人，今日办结")
    page.screenshot(path=f"{SHOTS}/sla_escalations_e2e_1366x768.png")
    row.get_by_role("button", name="处理完毕").click()
    page.wait_for_url("**/sla/escalations/")
    assert "已处理：济市监罚〔2026〕301号" in page.locator(".messages").inner_text()
    assert page.locator("tr.resolved", has_text="已电话督促承办人，今日办结").count() == 1
    board_data.refresh_from_db()
    assert board_data.resolved_by == supervisor
