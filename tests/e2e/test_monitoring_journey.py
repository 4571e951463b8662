"""Post-repair monitoring in the browser: a new penalty of a repaired subject
opens a breach review; the reviewer of the department that decided the repair
finds it in the menu and sends a notice of intended revocation; the applicant
states their case with evidence from the case page; the department answers
and revokes; the applicant sees the commitment breached, the repair revoked
and the revocation letter. And an officer reports false materials
from a repaired case's work page, with the evidence uploaded.

The approved repair is set up through the services (its pages are covered
by the staff journey); everything after that is done in the pages.
"""

import pytest
from django.utils import timezone

from flows.models import BreachReview, BreachStatus, CaseStatus
from flows.monitoring.services import statement_clock
from letters.models import Letter, LetterKind
from records.models import RecordStatus
from tests.e2e.conftest import told
from tests.e2e.test_staff_journey import PDF
from tests.flows.conftest import (
    approve_repair,
    draft_with_materials,
    import_rows,
    penalty_row,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def repaired(mailbox, applicant, record, officer, reviewer):
    mailbox(applicant, reviewer)
    case = draft_with_materials(applicant, record)
    return approve_repair(case, officer=officer, reviewer=reviewer)


def test_a_new_penalty_is_heard_and_the_repair_revoked(
    browser_as, mailbox, repaired, applicant, reviewer, enterprise, department, record, tmp_path
):
    mails_to = mailbox(applicant, reviewer)
    today = timezone.localdate().isoformat()
    import_rows(penalty_row(enterprise, department, number="济市监罚〔2026〕777号", day=today))
    review = BreachReview.objects.get()

    # The department's reviewer is told (besides the repair's review task of
    # before), then finds it from the menu, first in the list.
    desk = browser_as("reviewer")
    told(desk, f"新的履约核查：已修复的案件 {repaired.number}", unread_now=2)
    assert [m for m in mails_to(reviewer) if "新的履约核查" in m]
    desk.get_by_role("navigation").get_by_role("link", name="履约核查").click()
    desk.wait_for_url("**/cases/breaches/")
    row = desk.locator("tbody tr").first
    assert repaired.number in row.inner_text() and "济市监罚〔2026〕777号" in row.inner_text()
    row.get_by_role("link", name="第1次", exact=True).click()
    desk.wait_for_url(f"**/cases/breaches/{review.pk}/")
    assert "济市监罚〔2026〕777号" in desk.locator("main").inner_text()

    # No revocation before the hearing: only the notice and the dismissal.
    assert desk.locator(f"form[action='/cases/breaches/{review.pk}/confirm/']").count() == 0
    notice = desk.locator(f"form[action='/cases/breaches/{review.pk}/notice/']")
    notice.get_by_role("button", name="发出拟撤销信用修复告知书").click()
    assert "请填写拟撤销的事实和理由" in desk.locator("main").inner_text()
    assert BreachReview.objects.get().status == BreachStatus.OPEN
    notice = desk.locator(f"form[action='/cases/breaches/{review.pk}/notice/']")
    notice.get_by_label("拟撤销的事实和理由").fill("监管期内因同类违法行为再次受到行政处罚。")
    notice.get_by_role("button", name="发出拟撤销信用修复告知书").click()
    desk.wait_for_url(f"**/cases/breaches/{review.pk}/")
    assert "拟撤销信用修复告知书已发出" in desk.locator("main").inner_text()
    assert desk.locator(".statement-wait").count() == 1
    review.refresh_from_db()
    assert review.status == BreachStatus.NOTIFIED
    notice_letter = Letter.objects.get(kind=LetterKind.REVOCATION_NOTICE)

    # The applicant is told, with the last day for a statement, and mailed the
    # notice; reads it on their case page and states their case with evidence.
    me = browser_as("applicant")
    by = timezone.localtime(statement_clock(review).due_at).strftime("%Y-%m-%d %H:%M")
    told(me, f"{repaired.number} 拟撤销信用修复，您可在 {by} 前陈述申辩", unread_now=4)
    assert [m for m in mails_to(applicant) if "拟撤销信用修复告知书" in m]
    me.goto(f"{me.base}/cases/{repaired.pk}/")
    hearing = me.locator(f".hearing[data-review='{review.pk}']")
    assert notice_letter.number in hearing.inner_text()
    assert "济市监罚〔2026〕777号" in hearing.inner_text()
    form = hearing.locator("form.statement")
    form.get_by_label("陈述申辩的内容").fill("该处罚所涉行为已于当日整改完毕，请求不予撤销。")
    evidence = tmp_path / "整改说明.pdf"
    evidence.write_bytes(PDF)
    form.get_by_label("证据材料").set_input_files(str(evidence))
    form.get_by_role("button", name="提交陈述申辩").click()
    me.wait_for_url(f"**/cases/{repaired.pk}/")
    assert "陈述申辩已提交" in me.locator("main").inner_text()
    assert me.locator("form.statement").count() == 0

    # The department reads it and decides: revoking needs the answer to it.
    desk.reload()
    main = desk.locator("main").inner_text()
    assert "该处罚所涉行为已于当日整改完毕" in main and "整改说明.pdf" in main
    confirm = desk.locator(f"form[action='/cases/breaches/{review.pk}/confirm/']")
    confirm.get_by_label("在信用修复承诺履约监管期内再次因同类失信行为受到行政处罚").check()
    # Revoking asks first, naming the case; saying no sends nothing.
    asked = []
    desk.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    confirm.get_by_role("button", name="认定违反承诺并撤销修复").click()
    # Still on the page, the form as it was.
    assert confirm.get_by_label(
        "在信用修复承诺履约监管期内再次因同类失信行为受到行政处罚"
    ).is_checked()
    assert asked == [
        f"确认认定违反承诺并撤销 {repaired.number} 的信用修复？"
        "将发出撤销信用修复决定书，该记录重新披露，不能撤回。"
    ]
    assert BreachReview.objects.get().status == BreachStatus.NOTIFIED
    desk.once("dialog", lambda dialog: dialog.accept())
    confirm.get_by_role("button", name="认定违反承诺并撤销修复").click()
    assert "请填写对陈述申辩的答复" in desk.locator("main").inner_text()
    assert BreachReview.objects.get().status == BreachStatus.NOTIFIED

    confirm = desk.locator(f"form[action='/cases/breaches/{review.pk}/confirm/']")
    confirm.get_by_label("在信用修复承诺履约监管期内再次因同类失信行为受到行政处罚").check()
    confirm.get_by_label("对陈述申辩的答复").fill("整改不改变再次违法的事实，申辩理由不成立。")
    desk.once("dialog", lambda dialog: dialog.accept())
    confirm.get_by_role("button", name="认定违反承诺并撤销修复").click()
    desk.wait_for_url(f"**/cases/breaches/{review.pk}/")
    review.refresh_from_db()
    repaired.refresh_from_db()
    record.refresh_from_db()
    assert review.status == BreachStatus.CONFIRMED
    assert repaired.status == CaseStatus.REVOKED
    assert record.status in (RecordStatus.PUBLISHED, RecordStatus.EXPIRED)
    letter = Letter.objects.get(kind=LetterKind.REVOCATION)
    assert letter.number in desk.locator("main").inner_text()
    assert "认定违反信用承诺" in desk.locator("main").inner_text()
    assert letter.facts["hearing"]["answer"] == "整改不改变再次违法的事实，申辩理由不成立。"

    # The applicant is told of the revocation and mailed its letter.
    told(me, f"{repaired.number} 的信用修复已撤销（撤销信用修复决定书", unread_now=5)
    assert [m for m in mails_to(applicant) if "撤销信用修复决定书" in m]

    # The applicant sees the commitment breached and the repair revoked, and
    # opens the revocation letter.
    me.get_by_role("navigation").get_by_role("link", name="履约监管").click()
    me.wait_for_url("**/cases/monitoring/")
    assert repaired.number in me.locator("main").inner_text()
    assert "违反承诺" in me.locator("main").inner_text()
    me.goto(f"{me.base}/cases/{repaired.pk}/")
    assert me.locator(".facts .case-status").inner_text() == "已撤销修复"
    item = me.locator(f"ul.case-letters li[data-letter='{letter.pk}']")
    assert "撤销信用修复决定书" in item.inner_text()
    href = item.get_by_role("link", name="查看 PDF").get_attribute("href")
    response = me.request.get(me.base + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")


def test_an_officer_reports_false_materials_with_the_evidence(
    browser_as, repaired, officer, tmp_path
):
    desk = browser_as("officer")
    desk.goto(f"{desk.base}/cases/{repaired.pk}/work/")
    report = desk.locator(f"form[action='/cases/{repaired.pk}/work/report-false/']")
    report.locator("textarea[name=statement]").fill("经向开户银行核实，缴款凭证系伪造。")
    evidence = tmp_path / "银行核实函.pdf"
    evidence.write_bytes(PDF)
    report.locator("input[name=evidence]").set_input_files(str(evidence))
    report.get_by_role("button", name="报告申请材料不实").click()
    review = BreachReview.objects.get()
    desk.wait_for_url(f"**/cases/breaches/{review.pk}/")
    main = desk.locator("main").inner_text()
    assert "经向开户银行核实，缴款凭证系伪造。" in main and "银行核实函.pdf" in main
    assert (review.source, review.reported_by, review.department_id) == (
        "false_materials",
        officer,
        repaired.record.department_id,
    )
    # The officer may not decide it: no forms, the department's reviewer will.
    assert desk.locator("form[action$='/confirm/']").count() == 0
