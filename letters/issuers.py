"""Who issues which letter, in which words, under which number, with which seal.

The issuer is the body that decides (../shared/domain.md sections 1 and 9;
"谁认定、谁修复"): the issuing department for its decisions, the public credit
information institution for the platform's steps (Shandong Social Credit
Regulation Art. 9: the platform is run by the institution and is not an
authority itself). `ISSUER_RULES` is that rule, once; `letter_issue` applies
it and the admin shows it.

Each kind has its own number series per issuer (objection notices apart from
the repair ones); a series' prefix is the issuer's data (`IssuerPrefix`).
"""

import io
import re
import xml.etree.ElementTree as ET

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from letters.models import Issuer, IssuerKind, IssuerPrefix, LetterKind
from repair_flow.audit import audit_record

INSTITUTION = "institution"
DEPARTMENT = "department"
# The objection result: the department's when it checked the record itself,
# the institution's when the platform checked (Shandong Art. 39).
CHECKER = "checker"

ISSUER_RULES = {
    LetterKind.ACCEPTANCE: INSTITUTION,
    LetterKind.REFUSAL_TO_ACCEPT: INSTITUTION,
    LetterKind.SUPPLEMENT: INSTITUTION,
    LetterKind.COMMITMENT: INSTITUTION,
    LetterKind.REPAIR_DECISION: DEPARTMENT,
    LetterKind.REPAIR_REFUSAL: DEPARTMENT,
    LetterKind.REVOCATION_NOTICE: DEPARTMENT,
    LetterKind.REVOCATION: DEPARTMENT,
    LetterKind.OBJECTION_RESULT: CHECKER,
    # 谁认定、谁告知: the department that imposed the penalty tells of repair.
    LetterKind.REPAIR_INFO: DEPARTMENT,
}

RULE_LABELS = {
    INSTITUTION: gettext_lazy("公共信用信息机构"),
    DEPARTMENT: gettext_lazy("作出决定的认定单位"),
    CHECKER: gettext_lazy(
        "核查单位：认定单位核实的由认定单位出具，平台核查的由公共信用信息机构出具"
    ),
}

# The steps on a filing that both case kinds take: an objection's have a
# series of their own (济信异受…), not the repair one.
FILING_KINDS = (LetterKind.ACCEPTANCE, LetterKind.REFUSAL_TO_ACCEPT, LetterKind.SUPPLEMENT)

# Series key -> (label, the prefix's ending after the issuer's 代字 and 信).
SERIES = {
    "acceptance": (gettext_lazy("受理通知书（信用修复）"), "修受"),
    "refusal_to_accept": (gettext_lazy("不予受理通知书（信用修复）"), "修不受"),
    "supplement": (gettext_lazy("补正材料一次性告知书（信用修复）"), "修补"),
    "commitment": (gettext_lazy("信用修复承诺书"), "诺"),
    "repair_decision": (gettext_lazy("信用修复决定书"), "修决"),
    "repair_refusal": (gettext_lazy("不予修复决定书"), "修不决"),
    "revocation_notice": (gettext_lazy("拟撤销信用修复告知书"), "修拟撤"),
    "revocation": (gettext_lazy("撤销信用修复决定书"), "修撤"),
    "objection_acceptance": (gettext_lazy("受理通知书（异议）"), "异受"),
    "objection_refusal_to_accept": (gettext_lazy("不予受理通知书（异议）"), "异不受"),
    "objection_supplement": (gettext_lazy("补正材料一次性告知书（异议）"), "异补"),
    "objection_result": (gettext_lazy("异议处理结果告知书"), "异"),
    "repair_info": (gettext_lazy("信用修复告知书"), "修告"),
}

# The series each kind of issuer numbers (the checker's result is both's).
ISSUER_SERIES = {
    IssuerKind.INSTITUTION: (
        "acceptance",
        "refusal_to_accept",
        "supplement",
        "commitment",
        "objection_acceptance",
        "objection_refusal_to_accept",
        "objection_supplement",
        "objection_result",
    ),
    IssuerKind.DEPARTMENT: (
        "repair_decision",
        "repair_refusal",
        "revocation_notice",
        "revocation",
        "objection_result",
        "repair_info",
    ),
}

SELF_REFERENCE = {IssuerKind.INSTITUTION: "本中心", IssuerKind.DEPARTMENT: "本机关"}


def series_for(kind: str, *, objection: bool = False) -> str:
    if objection and kind in FILING_KINDS:
        return f"objection_{kind}"
    return str(kind)


def default_prefix(code: str, series: str) -> str:
    """济信 + 修受 -> 济信修受; a department's 济市监 -> 济市监信修决."""
    ending = SERIES[series][1]
    return f"{code}{ending}" if code.endswith("信") else f"{code}信{ending}"


def institution_issuer() -> Issuer:
    issuer = Issuer.objects.filter(kind=IssuerKind.INSTITUTION).first()
    if issuer is None:
        raise ValidationError(
            _("尚未设置公共信用信息机构（出具机关），请管理员在“出具机关”中添加。"),
            code="no_institution",
        )
    return issuer


def department_issuer(department) -> Issuer:
    """The department's issuer; made on its first letter for a department
    added after the issuers were set up, with the institution's remedies
    bodies and contact and prefixes from the department's code, for an
    administrator to complete."""
    issuer = Issuer.objects.filter(department=department).first()
    if issuer is not None:
        return issuer
    institution = institution_issuer()
    try:
        with transaction.atomic():
            issuer = Issuer.objects.create(
                code=re.sub(r"[^a-z0-9_]", "_", f"dept_{department.code}".lower())[:40],
                name=department.name,
                kind=IssuerKind.DEPARTMENT,
                department=department,
                self_reference=SELF_REFERENCE[IssuerKind.DEPARTMENT],
                contact_office=institution.contact_office,
                contact_phone=institution.contact_phone,
                reconsideration_body=institution.reconsideration_body,
                court=institution.court,
            )
            IssuerPrefix.objects.bulk_create(
                IssuerPrefix(
                    issuer=issuer, series=series, prefix=default_prefix(department.code, series)
                )
                for series in ISSUER_SERIES[IssuerKind.DEPARTMENT]
            )
    except IntegrityError:
        # Another transaction made it first.
        return Issuer.objects.get(department=department)
    return issuer


def issuer_for(kind: str, *, department=None) -> Issuer:
    """The issuer of a letter of `kind` (ISSUER_RULES). `department` is the
    department that decides (a department rule) or that checked (an
    objection's result); without one, the result is the institution's."""
    rule = ISSUER_RULES[kind]
    if rule == INSTITUTION or (rule == CHECKER and department is None):
        return institution_issuer()
    if department is None:
        raise ValidationError(
            _("%(kind)s 由作出决定的认定单位出具，请指明认定单位。")
            % {"kind": LetterKind(kind).label},
            code="no_department",
        )
    return department_issuer(department)


def issuer_prefix(issuer: Issuer, series: str) -> str:
    prefix = issuer.prefixes.filter(series=series).values_list("prefix", flat=True).first()
    if not prefix:
        raise ValidationError(
            _("出具机关“%(issuer)s”没有设置“%(series)s”的文号前缀，请管理员补充。")
            % {"issuer": issuer.name, "series": SERIES[series][0]},
            code="no_prefix",
        )
    return prefix


def department_issuers_with_prefix(departments, series: str) -> dict[int, tuple[Issuer, str]]:
    """For each of `departments` (by id): its issuer and that issuer's prefix
    for `series`, in two queries whatever their number (a batch of notices
    spans many departments); an issuer or prefix missing is made or refused
    as `department_issuer` and `issuer_prefix` do one."""
    departments = {department.pk: department for department in departments}
    issuers: dict[int, Issuer] = {}
    for issuer in Issuer.objects.filter(department_id__in=departments).order_by("pk"):
        issuers.setdefault(issuer.department_id, issuer)  # the first, as department_issuer
    for pk, department in departments.items():
        if pk not in issuers:
            issuers[pk] = department_issuer(department)
    prefixes = dict(
        IssuerPrefix.objects.filter(
            issuer__in=[issuers[pk] for pk in departments], series=series
        ).values_list("issuer_id", "prefix")
    )
    return {
        pk: (issuers[pk], prefixes.get(issuers[pk].pk) or issuer_prefix(issuers[pk], series))
        for pk in departments
    }


def issuer_facts(issuer: Issuer) -> dict:
    """What a letter keeps of its issuer (frozen with the letter's facts)."""
    return {
        "code": issuer.code,
        "name": issuer.name,
        "self_reference": issuer.self_reference,
        "contact_office": issuer.contact_office,
        "contact_phone": issuer.contact_phone,
        "reconsideration_body": issuer.reconsideration_body,
        "court": issuer.court,
        "seal": issuer.seal.name if issuer.seal else "",
    }


REMEDY_FIELDS = {"{reconsideration_body}": "reconsideration_body", "{court}": "court"}


def remedies_text(template: str, issuer: Issuer) -> str:
    """The kind's remedies line with the issuer's bodies named."""
    for placeholder, field in REMEDY_FIELDS.items():
        template = template.replace(placeholder, getattr(issuer, field))
    return template


def remedies_check(template: str) -> None:
    """A remedies line names both bodies, through their placeholders, or is empty."""
    if not template.strip():
        return
    missing = [p for p in REMEDY_FIELDS if p not in template]
    if missing:
        raise ValidationError(
            _("救济途径须写明行政复议机关和人民法院：请保留占位符 %(missing)s。")
            % {"missing": "、".join(missing)},
            code="remedies_placeholder",
        )


# The seal

SEAL_MAX_BYTES = 512 * 1024
SEAL_MAX_PIXELS = 2000  # each side; a 42 mm seal at 600 dpi is about 1000
SEAL_MIN_PIXELS = 200  # each side: fewer would print blurred at 42 mm
SVG_NS = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def seal_size_check(size: int) -> None:
    if size > SEAL_MAX_BYTES:
        raise ValidationError(
            _("印章文件为 %(size)d KB，超过上限 %(limit)d KB。")
            % {"size": (size + 1023) // 1024, "limit": SEAL_MAX_BYTES // 1024},
            code="seal_too_large",
        )


def seal_check(data: bytes) -> str:
    """The seal's media type ("image/png" or "image/svg+xml") if the file is
    usable as a seal; a ValidationError saying what is wrong otherwise."""
    seal_size_check(len(data))
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        _png_check(data)
        return "image/png"
    head = data[:512].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or head.startswith(b"<!--"):
        _svg_check(data)
        return "image/svg+xml"
    raise ValidationError(
        _("印章须为带透明通道的 PNG 图片或 SVG 矢量图，上传的文件两者都不是。"),
        code="seal_type",
    )


def _png_check(data: bytes) -> None:
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as error:
        raise ValidationError(
            _("PNG 文件已损坏，无法读取：%(error)s") % {"error": error}, code="seal_damaged"
        ) from error
    width, height = image.size
    if max(width, height) > SEAL_MAX_PIXELS or min(width, height) < SEAL_MIN_PIXELS:
        raise ValidationError(
            _("印章图片为 %(w)d×%(h)d 像素；每边须在 %(min)d 至 %(max)d 像素之间。")
            % {"w": width, "h": height, "min": SEAL_MIN_PIXELS, "max": SEAL_MAX_PIXELS},
            code="seal_pixels",
        )
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode not in ("RGBA", "LA", "PA"):
        raise ValidationError(
            _(
                "印章 PNG 没有透明通道（颜色模式 %(mode)s）：盖在落款上会遮住文字。"
                "请上传背景透明的 PNG。"
            )
            % {"mode": image.mode},
            code="seal_no_alpha",
        )
    low, _high = image.getchannel("A").getextrema()
    if low == 255:
        raise ValidationError(
            _("印章 PNG 的透明通道没有透明之处：盖在落款上会遮住文字。请上传背景透明的 PNG。"),
            code="seal_no_alpha",
        )


def _svg_check(data: bytes) -> None:
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        # No DTD: no entity expansion, no external entities.
        raise ValidationError(_("SVG 印章不能含有 DOCTYPE 或实体声明。"), code="seal_svg_dtd")
    if re.search(rb"url\(\s*['\"]?(?!#)", data) or b"@import" in data:
        raise ValidationError(
            _("SVG 印章不能引用外部资源（url() 或 @import）。"), code="seal_svg_content"
        )
    try:
        root = ET.fromstring(data)  # noqa: S314 - DTDs refused above
    except ET.ParseError as error:
        raise ValidationError(
            _("SVG 文件无法解析：%(error)s") % {"error": error}, code="seal_damaged"
        ) from error
    if root.tag not in (f"{SVG_NS}svg", "svg"):
        raise ValidationError(_("SVG 文件的根元素不是 svg。"), code="seal_type")
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("script", "foreignObject"):
            raise ValidationError(
                _("SVG 印章不能含有 %(tag)s 元素。") % {"tag": tag}, code="seal_svg_content"
            )
        for name, value in element.attrib.items():
            local = name.rsplit("}", 1)[-1]
            if local.lower().startswith("on"):
                raise ValidationError(
                    _("SVG 印章不能含有事件属性 %(name)s。") % {"name": local},
                    code="seal_svg_content",
                )
            # Rendering must not fetch anything: only references inside the
            # file or embedded data.
            if (name in ("href", XLINK_HREF)) and not value.startswith(("#", "data:")):
                raise ValidationError(
                    _("SVG 印章不能引用外部资源：%(value)s") % {"value": value[:80]},
                    code="seal_svg_content",
                )


# Services (the admin edits issuers directly, audited there)


def issuer_seal_set(*, issuer: Issuer, data: bytes, filename: str, actor) -> Issuer:
    """A new seal for letters issued from now on (issued letters keep the
    one they name): checked first, nothing saved when it is refused."""
    media_type = seal_check(data)
    extension = "png" if media_type == "image/png" else "svg"
    stem = filename.rsplit(".", 1)[0] or "seal"
    with transaction.atomic():
        issuer.seal.save(f"{stem}.{extension}", ContentFile(data), save=False)
        issuer.save(update_fields=["seal", "updated_at"])
        audit_record(
            actor=actor,
            action="letters.issuer_seal_set",
            object_type="letters.Issuer",
            object_id=issuer.pk,
            summary={"code": issuer.code, "seal": issuer.seal.name, "bytes": len(data)},
        )
    return issuer


def issuer_prefixes_set(*, issuer: Issuer, prefixes: dict[str, str], actor) -> Issuer:
    """Set the number prefix of some of the issuer's series."""
    unknown = sorted(set(prefixes) - set(SERIES))
    if unknown:
        raise ValidationError(
            _("没有这种文书系列：%(series)s") % {"series": "、".join(unknown)}, code="series"
        )
    with transaction.atomic():
        for series, prefix in prefixes.items():
            IssuerPrefix.objects.update_or_create(
                issuer=issuer, series=series, defaults={"prefix": prefix}
            )
        audit_record(
            actor=actor,
            action="letters.issuer_prefixes_set",
            object_type="letters.Issuer",
            object_id=issuer.pk,
            summary={"code": issuer.code, "prefixes": prefixes},
        )
    return issuer


# Digits with the separators a printed number carries: 0531-12345678, (0531) 8888 6666, +86 ...
_PHONE = re.compile(r"\+?[0-9(][0-9 ()\-]{2,38}")


def issuer_contact_set(*, issuer: Issuer, office: str, phone: str, actor) -> Issuer:
    """The contact office and telephone printed on the issuer's letters (where
    the addressee asks about the letter): checked first, nothing saved when refused."""
    office, phone = (office or "").strip(), (phone or "").strip()
    errors = {}
    if not office:
        errors["contact_office"] = _("请填写联系机构")
    elif len(office) > Issuer._meta.get_field("contact_office").max_length:
        errors["contact_office"] = _("联系机构不能超过 100 个字")
    if not _PHONE.fullmatch(phone):
        errors["contact_phone"] = _(
            "联系电话“%(value)s”无法识别：应为数字，可含区号连字符、空格或括号，例如 0531-12345678"
        ) % {"value": phone}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        issuer.contact_office, issuer.contact_phone = office, phone
        issuer.save(update_fields=["contact_office", "contact_phone", "updated_at"])
        audit_record(
            actor=actor,
            action="letters.issuer_contact_set",
            object_type="letters.Issuer",
            object_id=issuer.pk,
            summary={"code": issuer.code, "contact_office": office, "contact_phone": phone},
        )
    return issuer
