"""HTML to A4 PDF with WeasyPrint, in Chinese, with real CJK glyphs.

Letters are always in Chinese (they are the legal documents), whatever the
language of the request or task that renders them: their wording is literal
Chinese in the templates (letters/templates/letters/) and in the few words
below that depend on who is addressed, never translated. The font is named in
the CSS (letters/static/letters/letter.css: Noto Serif/Sans CJK SC, then
WenQuanYi Micro Hei), installed by scripts/install.sh; a page without one
would show empty boxes while its text still extracts correctly, so the tests
check the embedded fonts with pdffonts.

Speed (tests/bench/bench_letters.py): a notice costs about 1.4x a bare
WeasyPrint page of the same text and font. The font configuration and the
parsed stylesheet are built once per thread, the QR code is one compact path,
and the title's bold is synthetic (`title_svg`), so one CJK face is embedded.
"""

import base64
import datetime as dt
import re
import threading

import qrcode
import qrcode.constants
from django.conf import settings
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import mark_safe

from letters.issuers import seal_check
from letters.kinds import KINDS, OUTCOMES
from letters.links import verify_url
from letters.models import Letter
from records.disclosure import disclosure_words
from records.identifiers import mask_resident_id

LETTER_LANGUAGE = "zh-hans"
STYLESHEET = settings.BASE_DIR / "letters" / "static" / "letters" / "letter.css"


# One font configuration and one parsed stylesheet per thread, kept for the
# life of the process: building them loads fontconfig's font list and parses
# the CSS (about 0.8 s on the first letter); every later letter reuses them.
# Per thread, because Pango's font map is not safe to share between threads.
_local = threading.local()


def _font_config():
    from weasyprint.text.fonts import FontConfiguration

    if not hasattr(_local, "font_config"):
        _local.font_config = FontConfiguration()
    return _local.font_config


def _stylesheet():
    from weasyprint import CSS

    if not hasattr(_local, "stylesheet"):
        _local.stylesheet = CSS(filename=str(STYLESHEET), font_config=_font_config())
    return _local.stylesheet


def qr_svg(data: str, *, size: str = "22mm") -> str:
    """An inline SVG QR code (no raster, no temp file): one path, one
    rectangle per horizontal run of dark modules.

    qrcode's own SvgPathImage draws every dark module as a square of its own,
    about three times the path commands, and WeasyPrint parses and draws the
    path on every render.
    """
    code = qrcode.QRCode(border=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()  # border included
    modules = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < modules:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < modules and row[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {modules} {modules}"'
        f' width="{size}" height="{size}"><path d="{"".join(runs)}"/></svg>'
    )


def title_svg(title: str) -> str:
    """The title in synthetic bold: the regular face filled and stroked (an
    SVG text, still text in the PDF), so the PDF embeds one CJK subset, not a
    second one for the bold face (about 85 KiB of every letter; see
    tests/bench/bench_signing.py). 22 pt across the 160 mm text width."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" class="title" width="160mm" height="11mm"'
        ' viewBox="0 0 1600 110"><text x="800" y="82" text-anchor="middle"'
        ' font-family="Noto Serif CJK SC, Noto Sans CJK SC, WenQuanYi Micro Hei"'
        ' font-size="77.6" font-weight="400" letter-spacing="7.8" fill="#000" stroke="#000"'
        f' stroke-width="2.4" stroke-linejoin="round">{escape(title)}</text></svg>'
    )


def chinese_date(value) -> str:
    """2026年11月27日"""
    if isinstance(value, str):
        value = (
            dt.date.fromisoformat(value[:10])
            if len(value) <= 10
            else dt.datetime.fromisoformat(value)
        )
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value, timezone.get_default_timezone()).date()
    return f"{value.year}年{value.month}月{value.day}日"


def chinese_datetime(value) -> str:
    """2026年12月11日17时00分"""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    local = timezone.localtime(value, timezone.get_default_timezone())
    return f"{local.year}年{local.month}月{local.day}日{local.hour:02d}时{local.minute:02d}分"


def _grouped(code: str) -> str:
    """ABCD-EFGH-JKMN: easier to read aloud and type; verify ignores the dashes."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def letter_context(letter: Letter) -> dict:
    facts = dict(letter.facts)
    addressee = dict(facts.get("addressee") or {})
    person = addressee.get("kind") == "person"
    if person and addressee.get("identifier"):
        # Domain section 8: a resident ID shows its first 6 and last 4 characters.
        addressee["identifier"] = mask_resident_id(addressee["identifier"])
    record = dict(facts.get("record") or {})
    if record.get("decision_date"):
        record["decision_date_text"] = chinese_date(record["decision_date"])
    # The issuer as frozen at issue; a letter issued before issuers had none.
    issued_by = dict(facts.get("issued_by") or {})
    context = {
        "letter": letter,
        "facts": facts,
        "issued_by": issued_by,
        # How the issuer speaks of itself (本中心 / 本机关 / 本单位).
        "organ_self": issued_by.get("self_reference") or "本机关",
        "seal": seal_data_uri(issued_by.get("seal", "")),
        "addressee": addressee,
        "record": record,
        "title": letter.get_kind_display(),
        "title_svg": mark_safe(title_svg(letter.get_kind_display())),  # noqa: S308 - escaped
        "number": letter.number or "",
        "issuer": letter.issuer,
        "issued_on": chinese_date(letter.issued_at),
        "remedies": facts.get("remedies", ""),
        "outcome_label": OUTCOMES.get(facts.get("outcome", ""), ""),
        # Letter wording that depends on the subject (literal: letters are Chinese).
        "identifier_label": "公民身份号码" if person else "统一社会信用代码",
        # Shandong Social Credit Regulation Art. 20: no 公示 for a natural person.
        "disclosure": disclosure_words(person),
        # How a notice addresses the subject, and how the commitment speaks for it.
        "you": "你" if person else "你单位",
        "we": "本人" if person else "本单位",
        "matter": facts.get("matter") or "信用修复申请",
        "reasons": list(facts.get("reasons") or []),
        "items": list(facts.get("items") or []),
        "changes": [_change_shown(change) for change in facts.get("changes") or []],
        "signature": facts.get("signature") or {},
    }
    for name in ("received_on", "effective_on", "repaired_on", "barred_until"):
        if facts.get(name):
            context[f"{name}_text"] = chinese_date(facts[name])
    if facts.get("deadline"):
        context["deadline_text"] = chinese_datetime(facts["deadline"])
    if (facts.get("time_limit") or {}).get("due"):
        context["time_limit_due_text"] = chinese_datetime(facts["time_limit"]["due"])
    context.update(_hearing_context(facts))
    if facts.get("eligibility"):
        # The credit-repair notice: when repair may be applied for.
        eligibility = dict(facts["eligibility"])
        for name in ("eligible_from", "publicity_ends_on"):
            if eligibility.get(name):
                eligibility[f"{name}_text"] = chinese_date(eligibility[name])
        context["eligibility"] = eligibility
    if context["signature"].get("signed_at"):
        context["signed_at_text"] = chinese_datetime(context["signature"]["signed_at"])
    if letter.verification_code:
        url = verify_url(letter)
        context["verify_url"] = url
        context["verification_code"] = _grouped(letter.verification_code)
        context["qr"] = mark_safe(qr_svg(url))  # noqa: S308 - our own generated SVG
    return context


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _change_shown(change: dict) -> dict:
    """A correction's old and new values; a date (stored ISO) in Chinese."""
    shown = dict(change)
    for side in ("old", "new"):
        value = str(shown.get(side) or "")
        if ISO_DATE.fullmatch(value):
            shown[side] = chinese_date(value)
    return shown


def seal_data_uri(name: str) -> str:
    """The issuer's seal, inline (a data URI: nothing for the renderer to
    fetch), checked again as on upload; "" for an issuer without one."""
    if not name:
        return ""
    with default_storage.open(name, "rb") as f:
        data = f.read()
    media_type = seal_check(data)
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _hearing_context(facts: dict) -> dict:
    """The notice of intended revocation and the revocation: the new penalty
    and the hearing's dates, in Chinese."""
    context = {}
    trigger = dict(facts.get("trigger") or {})
    if trigger.get("penalty"):
        penalty = dict(trigger["penalty"])
        penalty["decision_date_text"] = chinese_date(penalty["decision_date"])
        trigger["penalty"] = penalty
    context["trigger"] = trigger
    if facts.get("statement_due"):
        context["statement_due_text"] = chinese_datetime(facts["statement_due"])
    hearing = dict(facts.get("hearing") or {})
    for name in ("noticed_on", "stated_on"):
        if hearing.get(name):
            hearing[f"{name}_text"] = chinese_date(hearing[name])
    if hearing.get("statement_due"):
        hearing["statement_due_text"] = chinese_datetime(hearing["statement_due"])
    context["hearing"] = hearing
    return context


def render_letter_html(letter: Letter) -> str:
    with translation.override(LETTER_LANGUAGE):
        return render_to_string(KINDS[letter.kind].template, letter_context(letter))


def render_letter_pdf(letter: Letter) -> tuple[bytes, int]:
    """(PDF bytes, page count)."""
    from weasyprint import HTML

    html = render_letter_html(letter)
    document = HTML(string=html, base_url=str(settings.BASE_DIR)).render(
        stylesheets=[_stylesheet()], font_config=_font_config()
    )
    return document.write_pdf(), len(document.pages)
