"""The applicant's side of an objection (异议), in the browser.

1. On a desktop: an agent (王五) files an objection for the enterprise from
   the record page (grounds, statement, an evidence PDF; the commitment is
   signed as the logged-in agent, and a first try before the power of
   attorney is uploaded is refused, as the page said beforehand; then the
   power of attorney, and the signature block reads as an agent's), the
   officer accepts it for a platform check,
   the record shows 异议处理中 to both, the officer deletes the record, and the
   applicant reads 已删除 and the 异议处理结果告知书.
2. On a phone: a record already under an accepted objection offers no repair
   and explains why, and nothing is wider than the phone.

Each person has a browser context of their own; the phone journey's
objection is set up through the services.
"""

import os
import tempfile

import pytest
from django.utils import timezone

from flows.models import CaseStatus, MaterialKind, ObjectionCase
from letters.models import Letter, LetterKind
from records.models import BindingCapacity, RecordStatus, SubjectBinding, SyncEvent, SyncKind
from repair_flow.models import Role
from sla.clocks import clocks_for
from tests.conftest import PASSWORD, make_record, make_user
from tests.e2e.conftest import PHONE, login
from tests.e2e.test_objection_journey import submit, work
from tests.e2e.test_staff_journey import messages, open_tasks, row
from tests.flows.test_objections import accepted

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NO_POWER_OF_ATTORNEY = (
    "您以委托代理人身份申请，须先在申请中上传授权委托书，再以受托人身份签署异议承诺。"
)
AGENT_BLOCK = "受托人：王五（代理 济南泉城食品有限公司）"

# Where the screenshots go; look at them after a run.
SHOTS = os.environ.get("SCREENSHOT_DIR") or tempfile.gettempdir()


def small_pdf() -> bytes:
    """A real one-page PDF (with a correct cross-reference table), a few hundred bytes."""
    text = b"BT /F1 18 Tf 72 720 Td (Evidence: fine paid, receipt attached) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
        b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def record_status(page) -> str:
    """The 状态 line of the record page's 处罚信息."""
    return page.locator("dl.facts").first.locator("dt:text-is('状态') + dd").inner_text()


# 1. Filed, accepted, deleted ------------------------------------------------------------


def test_an_agent_files_an_objection_and_the_record_is_deleted(
    page, browser_as, enterprise, record, officer, tmp_path
):
    evidence = tmp_path / "缴款凭证及说明.pdf"
    evidence.write_bytes(small_pdf())
    power_of_attorney = tmp_path / "授权委托书.pdf"
    power_of_attorney.write_bytes(small_pdf())
    agent = make_user("wangwu", Role.APPLICANT, first_name="王五")
    SubjectBinding.objects.create(user=agent, subject=enterprise, capacity=BindingCapacity.AGENT)

    # The agent opens the record and chooses 提出异议.
    me = page
    login(me, "wangwu", PASSWORD)
    me.wait_for_url("**/cases/")
    me.goto(f"{me.base}/records/{record.pk}/")
    assert record_status(me) == "公示中"
    me.locator("section.objection").get_by_role("link", name="提出异议").click()
    me.wait_for_url(f"**/cases/objections/new/{record.pk}/")
    assert me.locator("h1").inner_text() == "提出异议"
    assert me.locator(".capacity").inner_text() == "委托代理人"

    # Two grounds and a statement, saved as a draft.
    form = me.locator("form.objection-form")
    form.get_by_label("信息有误").check()
    form.get_by_label("与认定单位数据不一致").check()
    statement = "罚款金额登记为 5000 元，处罚决定书载明为 500 元，且认定单位系统中无此记录。"
    form.get_by_label("异议说明").fill(statement)
    me.screenshot(path=f"{SHOTS}/objection_new_1280.png", full_page=True)
    form.get_by_role("button", name="保存草稿并上传材料").click()
    me.wait_for_url("**/cases/objections/*/materials/")
    assert "异议已保存为草稿，请上传异议证明材料。" in messages(me)
    case = ObjectionCase.objects.get(record=record)
    assert me.url.endswith(f"/cases/objections/{case.pk}/materials/")
    assert case.status == CaseStatus.DRAFT and case.number is None
    assert sorted(case.grounds) == ["error", "inconsistent"]
    assert me.locator(".facts .grounds").inner_text() == "信息有误、与认定单位数据不一致"
    assert statement in me.locator("section.card").first.inner_text()

    # The evidence PDF.
    slot = me.locator(".upload-slot[data-kind=evidence]")
    assert "未上传" in slot.inner_text()
    me.set_input_files("#file_evidence", str(evidence))
    me.get_by_role("button", name="上传", exact=True).click()
    me.wait_for_url(f"**/cases/objections/{case.pk}/materials/")
    assert "已上传 1 个文件。" in messages(me)
    assert "已上传" in slot.inner_text()
    assert evidence.name in me.locator("table.materials").inner_text()
    (material,) = case.materials.all()
    assert material.kind == MaterialKind.EVIDENCE and material.content_type == "application/pdf"

    # Who signs, shown before the agent tries: the logged-in account's person in
    # its binding's capacity (no name to type), and why they may not sign yet.
    commitment = me.locator("section.objection-commitment")
    assert commitment.locator("input[name=attested_name]").count() == 0
    assert commitment.locator(".signer-name").inner_text() == "王五"
    assert commitment.locator(".signer-capacity").inner_text() == "委托代理人"
    assert commitment.locator(".signer-problem").inner_text() == NO_POWER_OF_ATTORNEY
    # A first try without the power of attorney (and unticked) is refused; still a draft.
    commitment.get_by_role("button", name="签署承诺并提交异议").click()
    me.locator("#confirmed-error").wait_for()
    assert "请确认承诺" in me.locator("#confirmed-error").inner_text()
    commitment = me.locator("section.objection-commitment")
    assert commitment.locator(".signer-problem").inner_text() == NO_POWER_OF_ATTORNEY
    assert me.get_by_text(NO_POWER_OF_ATTORNEY).count() == 1  # said once, beside the signer
    assert me.locator("#confirmed").get_attribute("aria-invalid") == "true"
    me.screenshot(path=f"{SHOTS}/objection_submit_refused_1280.png", full_page=True)
    case.refresh_from_db()
    assert case.status == CaseStatus.DRAFT and case.number is None
    assert case.attested_at is None and case.submitted_at is None

    # The power of attorney: the agent may now sign, as an agent.
    me.set_input_files("#file_power_of_attorney", str(power_of_attorney))
    me.get_by_role("button", name="上传", exact=True).click()
    me.wait_for_url(f"**/cases/objections/{case.pk}/materials/")
    assert "已上传 1 个文件。" in messages(me)
    commitment = me.locator("section.objection-commitment")
    assert commitment.locator(".signer-problem").count() == 0
    assert commitment.locator(".signer-block").inner_text() == AGENT_BLOCK
    commitment.get_by_label("本人已阅读并确认上述承诺").check()
    commitment.get_by_role("button", name="签署承诺并提交异议").click()
    me.wait_for_url(f"**/cases/objections/{case.pk}/")
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED and case.number
    assert (case.attested_name, case.attested_capacity) == ("王五", "agent")
    assert me.locator(".facts .attestation .signed-block").inner_text() == AGENT_BLOCK
    assert f"异议已提交，申请编号 {case.number}。" in messages(me)
    assert me.locator("h1.case-number").inner_text() == case.number
    assert me.locator(".facts .case-status").inner_text() == "已提交"
    # The same-day preliminary review's deadline, explained.
    clock = clocks_for(case).get(stage="preliminary_review")
    due = timezone.localtime(clock.due_at)
    panel = me.locator(f"#clock-{clock.pk}")
    assert due.strftime("%Y-%m-%d %H:%M") in panel.locator(".due-at").inner_text()
    assert "当日办结" in panel.inner_text()
    panel.locator("summary").click()  # the deadline explains itself, without staff wording
    assert f"期限届满：{due:%Y-%m-%d}" in panel.locator("ol.explain").inner_text()
    assert "预警" not in panel.inner_text() and "未经核实" not in panel.inner_text()
    assert due.date() >= timezone.localtime(case.submitted_at).date()
    me.screenshot(path=f"{SHOTS}/objection_submitted_1280.png", full_page=True)

    # Filed but not yet accepted: the record is still 公示中, but no repair may be filed.
    me.goto(f"{me.base}/records/{record.pk}/")
    assert record_status(me) == "公示中"
    assert me.locator("a.repair-apply").count() == 0
    filed = me.locator("section.objection .objection-open").inner_text()
    assert case.number in filed and "已提交" in filed
    me.screenshot(path=f"{SHOTS}/objection_record_filed_1280.png", full_page=True)

    # The officer claims it from the queue and accepts it for a platform check.
    desk = browser_as("officer")
    open_tasks(desk)
    queued = row(desk, case)
    assert case.number in queued.inner_text() and queued.locator("td.kind").inner_text() == "异议"
    queued.get_by_role("button", name="领取").click()
    desk.wait_for_url(f"**{work(case)}")
    assert "已领取，请在期限内办理。" in messages(desk)
    assert desk.locator(".facts .grounds").inner_text() == "信息有误、与认定单位数据不一致"
    assert AGENT_BLOCK in desk.locator(".facts .attestation").inner_text()
    assert evidence.name in desk.locator("table.materials").inner_text()
    desk.locator("section.accept").get_by_label("平台自行核查", exact=False).check()
    submit(desk, case, "accept", "受理")
    assert "异议处理中" in messages(desk)
    assert desk.locator(".facts .scope").inner_text().startswith("平台自行核查")
    case.refresh_from_db()
    record.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED and case.scope == "platform"
    assert record.status == RecordStatus.UNDER_OBJECTION

    # The record page shows 异议处理中, to the officer and to the applicant.
    desk.goto(f"{desk.base}/records/{record.pk}/")
    assert record_status(desk) == "异议处理中"
    assert case.number in desk.locator("section.answer .objection-open").inner_text()
    me.goto(f"{me.base}/records/{record.pk}/")
    assert record_status(me) == "异议处理中"
    assert "异议处理中" in me.locator("section.answer .objection-open").inner_text()
    assert me.locator("a.repair-apply").count() == 0
    open_case = me.locator("section.objection .objection-open")
    assert case.number in open_case.inner_text() and "已受理" in open_case.inner_text()

    # The officer claims the check and deletes the record.
    desk.goto(desk.base + work(case))
    submit(desk, case, "claim", "领取办理")
    assert desk.locator(".facts .case-status").inner_text() == "核查中"
    delete = desk.locator("section.delete")
    delete.get_by_label("依据材料", exact=True).fill(
        "认定单位出具的情况说明（济市监函〔2026〕12号）"
    )
    delete.get_by_label("理由", exact=True).fill(
        "经核查，该处罚决定未在认定单位系统中登记，系重复导入"
    )
    basis = "《山东省社会信用条例》第三十九条"
    delete.get_by_label("依据", exact=True).fill(basis)
    desk.screenshot(path=f"{SHOTS}/objection_delete_form_1280.png", full_page=True)
    submit(desk, case, "delete", "删除该记录")
    assert "已删除该记录，异议处理结果告知书已发出。" in messages(desk)
    assert desk.locator(".facts .case-status").inner_text() == "记录已删除"
    assert desk.locator(".record-now .record-status").inner_text() == "已删除"

    # The applicant sees 已删除 and opens the result notice's PDF.
    me.goto(f"{me.base}/cases/objections/{case.pk}/")
    assert me.locator(".facts .case-status").inner_text() == "记录已删除"
    assert me.locator(".facts .record-status").inner_text() == "已删除"
    assert "记录已删除，详见异议处理结果告知书。" in me.locator(".next-step").inner_text()
    letter = Letter.objects.get(case_id=case.pk, kind=LetterKind.OBJECTION_RESULT)
    item = me.locator(f"ul.case-letters li[data-letter='{letter.pk}']")
    assert "异议处理结果告知书" in item.inner_text() and letter.number in item.inner_text()
    me.screenshot(path=f"{SHOTS}/objection_deleted_1280.png", full_page=True)
    href = item.get_by_role("link", name="查看 PDF").get_attribute("href")
    response = me.request.get(me.base + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")

    # The record page shows 已删除.
    me.goto(f"{me.base}/records/{record.pk}/")
    assert record_status(me) == "已删除"
    assert me.locator(".objection-open").count() == 0

    case.refresh_from_db()
    record.refresh_from_db()
    assert case.status == CaseStatus.DELETED
    assert case.officer == officer and case.verifier == officer
    assert case.decision_basis == basis
    assert record.status == RecordStatus.DELETED
    (event,) = SyncEvent.objects.filter(record=record, kind=SyncKind.DELETED)
    assert event.source == f"flows.ObjectionCase:{case.pk}"
    assert letter.recipient == agent and letter.record_id == record.pk
    assert letter.facts.get("basis") == basis


# 2. On a phone: a record under objection offers no repair ------------------------------


def test_a_record_under_objection_offers_no_repair_on_a_phone(
    phone_page, applicant, record, department, enterprise, officer
):
    case = accepted(applicant, record, officer, "platform")
    record.refresh_from_db()
    assert record.status == RecordStatus.UNDER_OBJECTION
    # Another record of the same enterprise, with no objection: repair is offered there.
    free = make_record(
        department=department, subject=enterprise, decision_number="济市监罚〔2026〕3号"
    )

    page = phone_page
    login(page, "applicant", PASSWORD)
    page.wait_for_url("**/cases/")
    page.goto(f"{page.base}/records/{free.pk}/")
    assert page.locator("a.repair-apply").count() == 1

    page.goto(f"{page.base}/records/{record.pk}/")
    page.screenshot(path=f"{SHOTS}/objection_record_phone_390.png", full_page=True)
    assert record_status(page) == "异议处理中"
    blocked = page.locator("section.answer .objection-open").inner_text()
    assert "异议处理中" in blocked and case.number in blocked
    assert "异议办结后方可申请信用修复" in blocked
    assert page.get_by_role("link", name="申请信用修复").count() == 0
    # No second objection either: the open one is linked instead.
    objection = page.locator("section.objection")
    assert objection.get_by_role("link", name="提出异议").count() == 0
    assert objection.get_by_role("link", name=case.number).count() == 1
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the record page is {width}px wide on a 390px phone"

    # The repair filing URL, opened directly, explains instead of showing the form.
    page.goto(f"{page.base}/cases/new/{record.pk}/")
    page.screenshot(path=f"{SHOTS}/objection_repair_blocked_phone_390.png", full_page=True)
    explanation = page.locator("p.objection-open").inner_text()
    assert case.number in explanation and "异议办结后方可申请信用修复" in explanation
    assert page.locator("form.case-form").count() == 0
    assert page.get_by_role("button", name="保存草稿并上传材料").count() == 0
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the filing page is {width}px wide on a 390px phone"

    # Nothing was filed.
    assert not record.repair_cases.exists()
    assert ObjectionCase.objects.filter(record=record).count() == 1
