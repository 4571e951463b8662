"""The staff side of a repair, in the browser, with every person on the case:
the officer's queue, claim, one-time supplement notice and acceptance; the
applicant's supplement; the issuing department's reviewer's
approval; the supervisor's reassignment and second-notice override; and a
refusal worked on a phone.

Each person has their own browser context (their own session). The submitted
cases are set up through the services (filing in the browser is covered by
test_repair_filing_journey.py); everything after that is done in the pages.
"""

import os
import tempfile

import pytest
from django.utils import timezone

from flows.cases.materials import case_material_add
from flows.cases.review import preliminary_review_claim, supplement_answer, supplement_request
from flows.models import CaseStatus, MaterialKind, RepairCase
from flows.repair.services import repair_case_submit
from letters.models import Letter, LetterKind
from records.models import RecordStatus
from repair_flow.models import Role
from sla.clocks import clocks_for
from tests.conftest import PASSWORD, make_record, make_user
from tests.e2e.conftest import PHONE, login, nav, notices, told, unread
from tests.flows.conftest import draft_with_materials, upload

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
# Where the screenshots go; look at them after a run.
SHOTS = os.environ.get("SCREENSHOT_DIR") or tempfile.gettempdir()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def submitted(applicant, record):
    case = draft_with_materials(applicant, record)
    return repair_case_submit(applicant=applicant, case=case)


def due(case, stage):
    clock = clocks_for(case).filter(stage=stage).order_by("-started_at", "-id").first()
    return clock, timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")


def row(page, case):
    return page.locator(f"table.tasks tr[data-case='{case.pk}']")


def messages(page):
    return page.locator(".messages").inner_text()


def open_tasks(page):
    nav(page).get_by_role("link", name="办理", exact=True).click()
    page.wait_for_url("**/cases/tasks/")
    assert page.locator("h1").inner_text() == "信用修复办理"


# The irreversible steps ask first, in the browser's confirm dialog.
CONFIRMED = {"accept", "refuse", "approve", "reject"}


def submit(page, case, action, button):
    """Press `button` in the work page's form for `action` (saying yes when
    asked to confirm); wait for the redirect."""
    form = page.locator(f"form[action='/cases/{case.pk}/work/{action}/']")
    asked = []
    if action in CONFIRMED:
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    form.get_by_role("button", name=button, exact=True).click()
    page.wait_for_url(f"**/cases/{case.pk}/work/")
    if action in CONFIRMED:
        assert len(asked) == 1 and case.number in asked[0] and "不能撤回" in asked[0]


# 1. The whole repair ------------------------------------------------------------------


def test_a_repair_from_the_queue_to_the_decision_letter(
    browser_as, mailbox, applicant, record, officer, reviewer, tmp_path
):
    mails_to = mailbox(applicant, officer, reviewer)
    case = submitted(applicant, record)
    _, preliminary_due = due(case, "preliminary_review")
    queued_text = f"新的待办：案件 {case.number} 已进入您的待办队列"

    # The applicant is told the filing was received, in the app and by email.
    me = browser_as("applicant")
    told(me, f"已收到您的申请 {case.number}", unread_now=1)
    assert any("已收到您的申请" in m for m in mails_to(applicant))

    # The applicant sees the filed case in 我的申请.
    me.get_by_role("navigation").get_by_role("link", name="我的申请").click()
    me.wait_for_url("**/cases/")
    mine = me.locator(f"tr[data-case='{case.pk}']").inner_text()
    assert case.number in mine and "已提交" in mine

    # The officer is told of the new task, then finds it in the queue with
    # its deadline, and claims it.
    desk = browser_as("officer")
    told(desk, queued_text, unread_now=1)
    assert [m for m in mails_to(officer) if queued_text in m and f"/cases/{case.pk}/work/" in m]
    open_tasks(desk)
    assert desk.locator("nav.tabs a.active").get_attribute("data-box") == "queue"
    queued = row(desk, case)
    assert case.number in queued.inner_text() and record.decision_number in queued.inner_text()
    assert queued.locator(".due-at").inner_text() == preliminary_due
    assert "初审" in queued.inner_text() and "已提交" in queued.inner_text()
    queued.get_by_role("button", name="领取").click()
    desk.wait_for_url(f"**/cases/{case.pk}/work/")
    assert "已领取，请在期限内办理。" in messages(desk)
    assert desk.locator("h1.case-number").inner_text() == case.number
    assert desk.locator(".facts .holder").inner_text() == "刘洋"
    assert desk.locator(".facts .case-status").inner_text() == "初审中"
    # The flow chart is drawn.
    desk.wait_for_function(
        "() => { const i = document.querySelector('.flow-chart img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW and case.officer == officer

    # One-time supplement notice with one item.
    desk.screenshot(path=f"{SHOTS}/staff_work_claimed_1280.png", full_page=True)
    notice = desk.locator(f"form[action='/cases/{case.pk}/work/supplement/']")
    tick = notice.locator("input[name=item_performance_proof]")
    # The box sits next to its material's name, not alone across the page.
    assert tick.bounding_box()["width"] < 40
    tick.check()
    notice.get_by_label("履行义务证明的问题").fill("缴款凭证不清晰，请上传加盖银行印章的凭证")
    submit(desk, case, "supplement", "发出补正告知书")
    assert "一次性补正告知书已发出" in messages(desk)
    assert "缴款凭证不清晰" in desk.locator(".supplement-request").inner_text()
    case.refresh_from_db()
    assert case.status == CaseStatus.AWAITING_SUPPLEMENT
    (notice_row,) = case.supplement_requests.all()
    assert [i["material"] for i in notice_row.items] == [MaterialKind.PERFORMANCE_PROOF]

    # The applicant is told, with the deadline, and mailed the notice letter.
    deadline = timezone.localtime(notice_row.deadline).strftime("%Y-%m-%d %H:%M")
    told(me, f"需要补正材料，请在 {deadline} 前提交", unread_now=2)
    assert [m for m in mails_to(applicant) if "补正材料一次性告知书" in m]

    # The applicant uploads the requested file on the case page and submits the supplement.
    me.goto(f"{me.base}/cases/{case.pk}/")
    panel = me.locator("section.supplement")
    assert "缴款凭证不清晰，请上传加盖银行印章的凭证" in panel.inner_text()
    assert deadline in panel.inner_text()
    proof = tmp_path / "缴款凭证（盖章）.pdf"
    proof.write_bytes(PDF)
    me.set_input_files("#file_performance_proof", str(proof))
    panel.get_by_role("button", name="上传", exact=True).click()
    me.wait_for_url(f"**/cases/{case.pk}/")
    assert "已上传 1 个文件。" in messages(me)
    slot = me.locator("section.supplement .upload-slot[data-kind=performance_proof]")
    assert "已上传" in slot.inner_text()
    me.locator("section.supplement").get_by_role("button", name="提交补正").click()
    me.wait_for_url(f"**/cases/{case.pk}/")
    assert "补正材料已提交，等待再次初审。" in messages(me)
    assert me.locator(".facts .case-status").inner_text() == "已补正"
    case.refresh_from_db()
    assert case.status == CaseStatus.RESUBMITTED

    # The officers are told of the resubmission: new work in their queue.
    queued_notice = queued_text + "，请及时领取办理。"
    assert [n for n in notices(desk) if queued_text in n] == [queued_notice] * 2
    assert unread(desk) == 2
    # The officer finds it back in the queue, claims it again and accepts.
    open_tasks(desk)
    queued = row(desk, case)
    assert "已补正" in queued.inner_text()
    _, again_due = due(case, "preliminary_review")
    assert queued.locator(".due-at").inner_text() == again_due
    queued.get_by_role("button", name="领取").click()
    desk.wait_for_url(f"**/cases/{case.pk}/work/")
    # The one notice is used: no second notice form for the officer.
    assert desk.locator(f"form[action='/cases/{case.pk}/work/supplement/']").count() == 0
    assert "本案已一次性告知过补正材料" in desk.locator(".supplement-used").inner_text()
    # The commitment the applicant signed with the filing is on the officer's page.
    assert "已签署：张伟" in desk.locator(".facts .commitment-state").inner_text()
    submit(desk, case, "accept", "受理")
    assert "已受理，受理通知书已发出，案件转认定单位审核。" in messages(desk)
    case.refresh_from_db()
    # Nothing waits for the applicant after acceptance: the case goes to the department.
    assert case.status == CaseStatus.ACCEPTED

    # The applicant is told of the acceptance; the reviewers of the issuing
    # department of the task now in their queue.
    told(me, f"申请 {case.number} 已受理", unread_now=3)
    assert [m for m in mails_to(applicant) if "受理通知书" in m]
    desk2 = browser_as("reviewer")
    told(desk2, queued_text, unread_now=1)
    assert [m for m in mails_to(reviewer) if queued_text in m]

    # The reviewer of the issuing department sees it in their queue, claims and approves.
    _, review_due = due(case, "department_review")
    open_tasks(desk2)
    queued = row(desk2, case)
    assert "认定单位审核" in queued.inner_text() and "已受理" in queued.inner_text()
    assert queued.locator(".due-at").inner_text() == review_due
    desk2.screenshot(path=f"{SHOTS}/staff_reviewer_queue_1280.png", full_page=True)
    queued.get_by_role("button", name="领取").click()
    desk2.wait_for_url(f"**/cases/{case.pk}/work/")
    assert desk2.locator(".facts .holder").inner_text() == "陈静"
    desk2.screenshot(path=f"{SHOTS}/staff_work_department_review_1280.png", full_page=True)
    basis = "《信用修复管理办法》（国家发展改革委令2025年第36号）第十二条"
    approve = desk2.locator(f"form[action='/cases/{case.pk}/work/approve/']")
    approve.get_by_label("依据").fill(basis)
    submit(desk2, case, "approve", "准予修复")
    assert "已准予修复，信用修复决定书已发出。" in messages(desk2)
    assert desk2.locator(".facts .case-status").inner_text() == "准予修复"
    desk2.goto(f"{desk2.base}/cases/tasks/archive/")
    assert case.number in row(desk2, case).inner_text()

    # The applicant is told of the decision and mailed the letter; the officer
    # and the reviewer were told of nothing more.
    told(me, f"申请 {case.number} 已作出决定", unread_now=4)
    assert [m for m in mails_to(applicant) if "信用修复决定书" in m]
    desk.reload()
    desk2.reload()
    assert unread(desk) == 2 and unread(desk2) == 1

    # The applicant sees 准予修复 and opens the decision letter's PDF.
    me.goto(f"{me.base}/cases/{case.pk}/")
    assert me.locator(".facts .case-status").inner_text() == "准予修复"
    decision = Letter.objects.get(case_id=case.pk, kind=LetterKind.REPAIR_DECISION)
    item = me.locator(f"ul.case-letters li[data-letter='{decision.pk}']")
    assert "信用修复决定书" in item.inner_text() and decision.number in item.inner_text()
    href = item.get_by_role("link", name="查看 PDF").get_attribute("href")
    response = me.request.get(me.base + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")

    case.refresh_from_db()
    record.refresh_from_db()
    assert case.status == CaseStatus.APPROVED
    assert case.reviewer == reviewer and case.officer == officer
    assert case.decision_basis == basis
    assert record.status == RecordStatus.REPAIRED
    assert case.supplement_requests.get().answered_at is not None
    assert case.materials.filter(round=1, kind=MaterialKind.PERFORMANCE_PROOF).count() == 1


# 2. The supervisor ----------------------------------------------------------------------


def test_a_supervisor_reassigns_a_case_and_approves_a_second_notice(
    browser_as, mailbox, applicant, record, department, enterprise, officer, supervisor
):
    officer_b = make_user("officer_b", Role.OFFICER, first_name="周强")
    mails_to = mailbox(officer_b)
    held = preliminary_review_claim(officer=officer, case=submitted(applicant, record))

    boss = browser_as("supervisor")
    open_tasks(boss)
    boss.locator("nav.tabs a[data-box=inbox]").click()
    boss.wait_for_url("**/cases/tasks/inbox/")
    boss.screenshot(path=f"{SHOTS}/staff_supervisor_inbox_1280.png", full_page=True)
    line = row(boss, held)
    assert "刘洋" in line.inner_text() and held.number in line.inner_text()
    line.get_by_role("link", name="办理").click()
    boss.wait_for_url(f"**/cases/{held.pk}/work/")
    assert boss.locator(".facts .holder").inner_text() == "刘洋"

    reassign = boss.locator(f"form[action='/cases/{held.pk}/work/reassign/']")
    reassign.get_by_label("办理人").select_option(label="周强")
    reassign.get_by_label("理由").fill("刘洋休假，改由周强办理")
    submit(boss, held, "reassign", "改派")
    assert "已改派。" in messages(boss)
    assert boss.locator(".facts .holder").inner_text() == "周强"
    assert "刘洋休假，改由周强办理" in boss.locator("ol.timeline").inner_text()
    held.refresh_from_db()
    assert held.officer == officer_b and held.status == CaseStatus.IN_PRELIMINARY_REVIEW

    # The officer named is told (besides the filing's new task, of which
    # every officer was told), in the app and by email; the work is theirs.
    desk_b = browser_as("officer_b")
    told(desk_b, f"案件 {held.number} 已指派给您办理。", unread_now=2)
    assert [m for m in mails_to(officer_b) if "已指派给您办理" in m and held.number in m]
    open_tasks(desk_b)
    desk_b.locator("nav.tabs a[data-box=inbox]").click()
    desk_b.wait_for_url("**/cases/tasks/inbox/")
    assert "周强" in row(desk_b, held).inner_text()

    # A second case: the first notice has been answered and the officer holds it again.
    second_record = make_record(
        department=department, subject=enterprise, decision_number="济市监罚〔2026〕2号"
    )
    second = preliminary_review_claim(officer=officer, case=submitted(applicant, second_record))
    supplement_request(
        officer=officer,
        case=second,
        items=[{"material": "performance_proof", "problem": "缴款凭证不清晰"}],
    )
    case_material_add(
        case=second, user=applicant, kind="performance_proof", upload=upload("凭证.pdf")
    )
    supplement_answer(applicant=applicant, case=second)
    second = preliminary_review_claim(officer=officer, case=RepairCase.objects.get(pk=second.pk))

    boss.goto(f"{boss.base}/cases/{second.pk}/work/")
    boss.screenshot(path=f"{SHOTS}/staff_work_override_1280.png", full_page=True)
    override = boss.locator("section.supplement")
    assert "再次告知补正（监督人员批准）" in override.inner_text()
    form = boss.locator(f"form[action='/cases/{second.pk}/work/supplement/']")
    # No 营业执照 to ask for (the platform holds the subject, domain section 3).
    assert form.locator("input[name=item_identity_document]").count() == 0
    form.locator("input[name=item_other]").check()
    form.get_by_label("其他材料的问题").fill("缺少整改情况说明，请补充并加盖公章")
    reason = "补正后发现违法行为整改情况未说明，须补充"
    form.get_by_label("再次告知的理由").fill(reason)
    submit(boss, second, "supplement", "发出补正告知书")
    assert "一次性补正告知书已发出" in messages(boss)
    recorded = boss.locator(".supplement-request .override").inner_text()
    assert recorded == f"监督人员 孙敏 批准再次告知：{reason}"

    second.refresh_from_db()
    assert second.status == CaseStatus.AWAITING_SUPPLEMENT
    first_notice, second_notice = second.supplement_requests.order_by("requested_at", "id")
    assert first_notice.answered_at is not None and first_notice.override_by is None
    assert second_notice.override_by == supervisor and second_notice.override_reason == reason
    assert second_notice.requested_by == officer
    assert [i["material"] for i in second_notice.items] == ["other"]

    # The applicant is asked for the new item only.
    me = browser_as("applicant")
    me.goto(f"{me.base}/cases/{second.pk}/")
    assert "缺少整改情况说明" in me.locator("section.supplement").inner_text()
    assert me.locator("section.supplement .upload-slot").count() == 1


# 3. A refusal on a phone ----------------------------------------------------------------


def test_an_officer_refuses_on_a_phone_and_the_applicant_reads_why(
    phone_page, browser_as, applicant, record, officer
):
    case = submitted(applicant, record)
    page = phone_page
    login(page, "officer", PASSWORD)
    page.wait_for_url("**/cases/tasks/")
    open_tasks(page)
    page.screenshot(path=f"{SHOTS}/staff_queue_phone_390.png", full_page=True)
    row(page, case).get_by_role("button", name="领取").click()
    page.wait_for_url(f"**/cases/{case.pk}/work/")

    page.screenshot(path=f"{SHOTS}/staff_work_phone_390.png", full_page=True)
    refuse = page.locator(f"form[action='/cases/{case.pk}/work/refuse/']")
    scope = refuse.get_by_label("不属于信用修复受理范围")
    assert scope.bounding_box()["width"] < 40
    scope.check()
    refuse.get_by_label("申请人不是信用主体或其授权代理人").check()
    refuse.scroll_into_view_if_needed()
    submit(page, case, "refuse", "不予受理")
    assert "已作出不予受理决定" in messages(page)
    assert page.locator(".facts .case-status").inner_text() == "不予受理"
    # Nothing of the page is wider than the phone.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the work page is {width}px wide on a 390px phone"

    case.refresh_from_db()
    assert case.status == CaseStatus.NOT_ACCEPTED
    assert case.decision_reasons == [
        "不属于信用修复受理范围",
        "申请人不是信用主体或其授权代理人",
    ]
    assert case.decision_basis == "《信用修复管理办法》（国家发展改革委令2025年第36号）"

    me = browser_as("applicant", phone=True)
    me.goto(f"{me.base}/cases/{case.pk}/")
    assert me.locator(".facts .case-status").inner_text() == "不予受理"
    facts = me.locator(".facts").inner_text()
    assert "不属于信用修复受理范围" in facts and "申请人不是信用主体或其授权代理人" in facts
    assert "不予受理通知书" in me.locator("ul.case-letters").inner_text()
