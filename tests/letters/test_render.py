"""Each kind of letter as printed: one A4 page in Chinese with real CJK
glyphs, every fact of domain section 9 on it, a resident ID masked, and the
verification box; rendered once, retried with backoff after a failure, and
stored once when two workers render it at the same time."""

import datetime as dt
import hashlib
import io
import re
import subprocess
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, connections
from PIL import Image

from letters import render as render_module
from letters import services
from letters.kinds import KINDS, addressee_facts, record_facts
from letters.models import Letter, LetterKind, LetterSetting, RenderStatus
from letters.outbox import letter_render, letters_render_due
from letters.services import file_sha256, letter_issue
from records.identifiers import mask_resident_id

TZ = ZoneInfo("Asia/Shanghai")
ISSUED = dt.datetime(2026, 11, 27, 10, 0, tzinfo=TZ)
ISSUED_ON = "2026年11月27日"
BASIS = "《信用修复管理办法》（国家发展和改革委员会令2025年第36号）第十条"
ITEMS = [
    {"name": "罚款缴纳凭证", "problem": "未提交；请上传加盖银行印章的罚款缴款书或电子缴款凭证。"},
    {"name": "信用修复承诺书", "problem": "未签署；请在平台上阅读并电子签署。"},
    {"name": "营业执照副本", "problem": "复印件模糊，无法辨认统一社会信用代码，请重新上传。"},
    {"name": "授权委托书", "problem": "缺少委托人签章及委托期限。"},
    {"name": "法定代表人身份证明书", "problem": "身份证号码与登记信息不一致。"},
]
# The new penalty a notice of intended revocation and a revocation name.
NEW_PENALTY = {
    "decision_number": "济药罚〔2026〕40号",
    "department": "济南市药品监督管理局",
    "decision_date": "2026-11-02",
    "penalty": "罚款",
}
KIND_FACTS = {
    LetterKind.ACCEPTANCE: {},
    LetterKind.REFUSAL_TO_ACCEPT: {
        "reasons": ["该行政处罚信息的最短公示期尚未届满，自2026年4月15日起方可申请。"],
        "basis": BASIS,
    },
    LetterKind.SUPPLEMENT: {"items": ITEMS, "deadline": "2026-12-11T17:00:00+08:00"},
    LetterKind.REPAIR_DECISION: {
        "decision": "对上述行政处罚信息予以信用修复，在信用网站停止公示。",
        "basis": BASIS,
        "effective_on": "2026-12-01",
    },
    LetterKind.REPAIR_REFUSAL: {
        "reasons": ["距上一次信用修复不足一年。", "同类失信行为五年内已修复一次。"],
        "basis": BASIS,
    },
    LetterKind.OBJECTION_RESULT: {
        "matter": "异议申请",
        "outcome": "correct",
        "reasons": ["经与认定单位核实，处罚决定日期登记有误。"],
        "basis": "《山东省社会信用条例》第三十九条",
        "changes": [{"field": "处罚决定日期", "old": "2026年1月5日", "new": "2026年1月15日"}],
    },
    LetterKind.REVOCATION_NOTICE: {
        "facts": "2026年11月2日因同类违法行为再次受到行政处罚。",
        "trigger": {"source": "new_penalty", "penalty": NEW_PENALTY},
        "repaired_on": "2026-06-01",
        "repair_number": "济信修决〔2026〕3号",
        "statement_due": "2026-12-04T17:00:00+08:00",
        "statement_days": 5,
    },
    LetterKind.REVOCATION: {
        "reasons": ["提交的罚款缴纳凭证系伪造。"],
        "basis": BASIS,
        "repaired_on": "2026-06-01",
        "trigger": {"source": "new_penalty", "penalty": NEW_PENALTY},
        "hearing": {
            "notice_number": "济信修拟撤〔2026〕1号",
            "noticed_on": "2026-11-20",
            "statement_due": "2026-11-27T17:00:00+08:00",
            "stated_on": "2026-11-24",
            "answer": "申辩所称缴款凭证系银行补打，经向银行核实不属实。",
        },
        "barred_until": "2029-11-27",
        "bar_basis": "《某市信用修复管理规定》第十二条",
        "repair_number": "济信修决〔2026〕3号",
    },
    LetterKind.COMMITMENT: {
        "signature": {
            "name": "王芳",
            "signed_at": "2026-11-27T09:45:00+08:00",
            "draft_sha256": "9f2c" * 16,
        }
    },
    LetterKind.REPAIR_INFO: {
        "eligibility": {
            "eligibility": "not_yet",
            "eligible_from": "2026-04-15",
            "publicity_ends_on": "2027-01-15",
            "published": True,
            "reason": "",
            "legal_basis": BASIS,
        },
        "prepare": ["已履行行政处罚决定所规定义务的证明"],
        "apply_at": "http://127.0.0.1:8000/",
    },
}
# What each kind must print, beyond the common facts, as it reads on the page.
KIND_TEXT = {
    LetterKind.ACCEPTANCE: ["2026年11月20日", "决定予以受理"],
    LetterKind.REFUSAL_TO_ACCEPT: [
        "2026年11月20日",
        *KIND_FACTS["refusal_to_accept"]["reasons"],
        f"根据{BASIS}的规定",
        "不予受理",
    ],
    LetterKind.SUPPLEMENT: [
        "2026年11月20日",
        "共5项",
        *(f"{n}.{item['name']}：{item['problem']}" for n, item in enumerate(ITEMS, 1)),
        "请于2026年12月11日17时00分前",
    ],
    LetterKind.REPAIR_DECISION: [
        "2026年11月20日",
        f"根据{BASIS}的规定",
        KIND_FACTS["repair_decision"]["decision"],
        "自2026年12月1日起生效",
    ],
    LetterKind.REPAIR_REFUSAL: [
        "2026年11月20日",
        "1.距上一次信用修复不足一年。",
        "2.同类失信行为五年内已修复一次。",
        f"根据{BASIS}的规定",
        "不予信用修复",
    ],
    LetterKind.OBJECTION_RESULT: [
        "2026年11月20日",
        "异议申请",
        "《山东省社会信用条例》第三十九条",
        "处理结果为：更正",
        "经与认定单位核实，处罚决定日期登记有误。",
        "处罚决定日期2026年1月5日2026年1月15日",
    ],
    LetterKind.REVOCATION_NOTICE: [
        "已于2026年6月1日完成信用修复（济信修决〔2026〕3号）",
        "济药罚〔2026〕40号",
        "济南市药品监督管理局",
        "2026年11月2日",
        "经查：2026年11月2日因同类违法行为再次受到行政处罚。",
        "拟撤销对上述行政处罚信息的信用修复",
        # A natural person's record is shared, never published (Shandong Art. 20).
        "该信息恢复作为失信信息共享",
        "有权进行陈述和申辩",
        "请于2026年12月4日17时00分前（自本告知书发出之日起5个工作日内）",
    ],
    LetterKind.REVOCATION: [
        "已于2026年6月1日完成信用修复（济信修决〔2026〕3号）",
        "济药罚〔2026〕40号",
        "提交的罚款缴纳凭证系伪造。",
        "于2026年11月20日发出拟撤销信用修复告知书（济信修拟撤〔2026〕1号）",
        "你于2026年11月24日提出了陈述申辩",
        "经复核，申辩所称缴款凭证系银行补打，经向银行核实不属实。",
        f"根据{BASIS}的规定",
        "该信息恢复作为失信信息共享",
        "依据《某市信用修复管理规定》第十二条，你至2029年11月27日（含当日）不得再次申请信用修复",
    ],
    LetterKind.COMMITMENT: [
        "所提交的全部申请材料真实",
        "已全部履行行政处罚决定书规定的义务",
        "严格遵守法律、法规和规章",
        "自愿接受有关部门的监督检查",
        "愿意接受撤销信用修复决定",
        "接受信用惩戒",
        "签署人：王芳电子签署",
        "签署时间：2026年11月27日09时45分",
        f"SHA-256：{'9f2c' * 16}",
    ],
    LetterKind.REPAIR_INFO: [
        "自2026年4月15日起可以申请信用修复",
        "已履行行政处罚决定所规定义务的证明",
        "http://127.0.0.1:8000/",
    ],
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def facts_for(kind: str, record) -> dict:
    facts = {"addressee": addressee_facts(record.subject), "record": record_facts(record)}
    if "received_on" in KINDS[kind].required:
        facts["received_on"] = "2026-11-20"
    return {**facts, **KIND_FACTS[kind]}


def issue(kind, record, actor, committed, **kwargs) -> Letter:
    with time_machine.travel(ISSUED, tick=False):
        letter = committed(
            letter_issue,
            kind=kind,
            facts=kwargs.pop("facts", None) or facts_for(kind, record),
            record=record,
            actor=actor,
            **kwargs,
        )
    letter.refresh_from_db()
    return letter


def run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def pdf_text(letter: Letter) -> str:
    """The page's text with all white space removed: Chinese has none of its
    own, and -layout pads columns and justified lines with spaces."""
    return re.sub(r"\s+", "", run("pdftotext", "-layout", letter.file.path, "-"))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def fonts(letter: Letter) -> list[tuple[str, str]]:
    """(name, emb) of each font in the PDF, from pdffonts."""
    rows = run("pdffonts", letter.file.path).splitlines()[2:]
    # The type column has spaces; count from the end: emb sub uni object-id generation.
    return [(row.split()[0], row.split()[-5]) for row in rows]


def cjk_fonts(letter: Letter) -> list[str]:
    return [name for name, _ in fonts(letter) if re.search(r"Noto.*CJK|WenQuanYi", name)]


def stored_files(media) -> list:
    return sorted(p for p in media.rglob("*") if p.is_file())


@pytest.mark.parametrize("kind", list(LetterKind))
def test_each_kind_renders_one_page_with_every_fact_and_the_verification_box(
    kind, person_record, person, officer, committed
):
    letter = issue(kind, person_record, officer, committed)

    assert letter.status == RenderStatus.RENDERED
    assert letter.pages == 1
    with open(letter.file.path, "rb") as f:
        content = f.read()
    assert content.startswith(b"%PDF-")
    assert hashlib.sha256(content).hexdigest() == letter.sha256 == file_sha256(letter)
    assert letter.size == len(content)
    assert re.search(r"^Pages:\s+1$", run("pdfinfo", letter.file.path), re.M)
    assert cjk_fonts(letter)
    assert {emb for _, emb in fonts(letter)} == {"yes"}

    text = pdf_text(letter)
    assert str(LetterKind(kind).label) in text
    assert letter.number in text
    prefix = letter.issuer_ref.prefixes.get(series=kind).prefix
    assert letter.number.startswith(prefix + "〔2026〕")
    # Domain section 8: the resident ID shows its first 6 and last 4 characters, no more.
    masked = mask_resident_id(person.identifier)
    assert masked == person.identifier[:6] + "*" * 8 + person.identifier[-4:]
    assert masked in text
    assert person.identifier not in text
    assert person.identifier[6:14] not in text
    assert person.name in text
    for value in ("济市监罚〔2026〕9号", "济南市市场监督管理局", "2026年1月15日", "罚款"):
        assert value in text
    for expected in KIND_TEXT[kind]:
        assert squash(expected) in text, expected
    remedies = letter.facts["remedies"]
    if remedies:
        assert squash(remedies) in text
    else:
        assert "行政复议" not in text and "行政诉讼" not in text
    assert letter.issuer in text
    assert ISSUED_ON in text
    code = letter.verification_code
    assert f"核验码：{code[:4]}-{code[4:8]}-{code[8:]}" in text
    assert f"/verify/{code}" in text
    assert "第1页，共1页" in text


def test_the_remedies_line_follows_the_setting_of_the_kind(person_record, officer, committed):
    LetterSetting.objects.filter(kind="acceptance").update(remedies="如有疑问，可致电12345咨询。")
    LetterSetting.objects.filter(kind="repair_refusal").update(remedies="")

    acceptance = issue("acceptance", person_record, officer, committed)
    refusal = issue("repair_refusal", person_record, officer, committed)

    assert "如有疑问，可致电12345咨询。" in pdf_text(acceptance)
    refusal_text = pdf_text(refusal)
    assert "不予信用修复" in refusal_text
    assert "行政复议" not in refusal_text


def test_an_enterprise_is_named_with_its_full_credit_code_and_legal_representative(
    record, enterprise, officer, committed
):
    letter = issue("commitment", record, officer, committed)

    text = pdf_text(letter)
    assert f"承诺主体{enterprise.name}" in text
    assert f"统一社会信用代码{enterprise.identifier}" in text
    assert f"法定代表人{enterprise.legal_representative}" in text
    assert "本单位就上述行政处罚信息申请信用修复" in text
    # Domain section 9: an enterprise consents to its commitment being published.
    assert "五、同意将本承诺书在信用网站向社会公开" in text


def test_a_commitment_draft_has_no_number_no_code_and_an_empty_signature_line(
    person_record, officer, committed
):
    facts = facts_for("commitment", person_record)
    del facts["signature"]
    letter = issue("commitment", person_record, officer, committed, facts=facts, draft=True)

    assert (letter.status, letter.pages, letter.number) == (RenderStatus.RENDERED, 1, None)
    text = pdf_text(letter)
    assert "信用修复承诺书" in text and "（待签署稿）" in text
    assert "签署人：待签署" in text
    assert "电子签署" not in text.replace("确认并电子签署", "")
    assert "核验码：" not in text and "/verify/" not in text
    assert "本人就上述行政处罚信息申请信用修复" in text
    # Shandong Social Credit Regulation Art. 20: a natural person's commitment
    # has no publication clause and never speaks of 公示.
    assert "公示" not in text and "向社会公开" not in text
    assert ISSUED_ON in text


def test_the_pdf_embeds_a_cjk_font_and_its_title_is_drawn(person_record, officer, committed):
    letter = issue("supplement", person_record, officer, committed)

    # pdftotext reads the right text even when every glyph is an empty box;
    # only the embedded fonts tell that the glyphs are real.
    embedded = fonts(letter)
    assert embedded
    assert all(emb == "yes" for _, emb in embedded), embedded
    # One CJK face: the title's bold is synthetic (a second face would embed
    # a second subset of about 85 KiB; see letter.css).
    assert len(cjk_fonts(letter)) == len(embedded) == 1, embedded
    assert "Bold" not in embedded[0][0], embedded

    png = subprocess.run(
        ["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", letter.file.path],
        check=True,
        capture_output=True,
    ).stdout
    page = Image.open(io.BytesIO(png)).convert("L")
    width, height = page.size
    # Issuing body, title and number take about 1,100 dark pixels at 50 dpi.
    dark = sum(page.crop((0, 0, width, height // 4)).histogram()[:128])
    assert dark > 600, dark


def test_a_failed_render_is_retried_later_with_backoff_and_then_succeeds(
    person_record, officer, committed, monkeypatch, media
):
    def broken(letter):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(render_module, "render_letter_pdf", broken)
    letter = issue("acceptance", person_record, officer, committed)

    assert letter.status == RenderStatus.FAILED
    assert letter.attempts == 1
    assert letter.last_error == "RuntimeError: no fonts"
    assert letter.next_attempt_at == ISSUED + dt.timedelta(minutes=1)
    assert not letter.file and stored_files(media) == []

    # Not due a second before the retry; due at it, and failing again doubles the wait.
    assert letters_render_due(now=ISSUED + dt.timedelta(seconds=59)) == 0
    letter.refresh_from_db()
    assert letter.attempts == 1
    retry = ISSUED + dt.timedelta(minutes=1)
    assert letters_render_due(now=retry) == 0
    letter.refresh_from_db()
    assert (letter.status, letter.attempts) == (RenderStatus.FAILED, 2)
    assert letter.next_attempt_at == retry + dt.timedelta(minutes=2)

    monkeypatch.undo()
    later = retry + dt.timedelta(minutes=2)
    assert letters_render_due(now=later - dt.timedelta(seconds=1)) == 0
    assert letters_render_due(now=later) == 1
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED
    assert (letter.attempts, letter.last_error, letter.next_attempt_at) == (3, "", None)
    assert file_sha256(letter) == letter.sha256
    assert str(LetterKind.ACCEPTANCE.label) in pdf_text(letter)


def test_a_failure_inside_weasyprint_is_recorded_the_same_way(
    person_record, officer, committed, monkeypatch
):
    from weasyprint import HTML

    def broken(self, *args, **kwargs):
        raise OSError("cannot load font")

    monkeypatch.setattr(HTML, "render", broken)
    letter = issue("refusal_to_accept", person_record, officer, committed)

    assert letter.status == RenderStatus.FAILED
    assert letter.last_error == "OSError: cannot load font"
    assert letter.next_attempt_at > ISSUED


def test_a_rendered_letter_is_never_rendered_again(
    person_record, officer, committed, monkeypatch, media
):
    letter = issue("repair_decision", person_record, officer, committed)
    before = (letter.file.name, letter.sha256, letter.rendered_at, letter.attempts)
    files = stored_files(media)
    assert len(files) == 1

    calls = []
    monkeypatch.setattr(render_module, "render_letter_pdf", lambda letter: calls.append(letter))
    result = letter_render(letter_id=letter.pk, now=ISSUED + dt.timedelta(days=1))
    assert result.rendered is False
    assert letters_render_due(now=ISSUED + dt.timedelta(days=365)) == 0

    assert calls == []
    letter.refresh_from_db()
    assert (letter.file.name, letter.sha256, letter.rendered_at, letter.attempts) == before
    assert stored_files(media) == files
    assert file_sha256(letter) == letter.sha256


def test_the_qr_code_is_one_compact_path_of_the_verify_url():
    svg = render_module.qr_svg("http://127.0.0.1:8000/verify/ABCD2345EFGH")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<path") == 1
    # One subpath per run of dark modules, not one per module.
    assert 100 < svg.count("M") < 300


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_rendering_one_letter_at_once_store_exactly_one_file(
    person_record, officer, monkeypatch, media
):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    # Issue without the after-commit render, so that the two workers race for it.
    monkeypatch.setattr(services, "_render_after_commit", lambda letter_pk: None)
    with time_machine.travel(ISSUED, tick=False):
        letter = letter_issue(
            kind="acceptance",
            facts=facts_for("acceptance", person_record),
            record=person_record,
            actor=officer,
        )
    renders = []
    original = render_module.render_letter_pdf

    def counted(letter):
        renders.append(letter.pk)
        return original(letter)

    monkeypatch.setattr(render_module, "render_letter_pdf", counted)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            results.append(letter_render(letter_id=letter.pk))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(r.rendered for r in results) == [False, True]
    assert renders == [letter.pk]
    letter.refresh_from_db()
    assert (letter.status, letter.attempts) == (RenderStatus.RENDERED, 1)
    assert stored_files(media) == [media / letter.file.name]
    assert file_sha256(letter) == letter.sha256
