"""Identifier validation (shared domain reference section 7). Pure functions.

USCC: GB 32100-2015, with the embedded organisation code checked per GB 11714.
Resident ID: GB 11643-1999.
Each failure raises `IdentifierError` naming the rule that failed.
"""

import datetime as dt
import re

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714 organisation code: digits and capital letters (A=10 ... Z=35).
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# First two digits of resident ID region codes: the provincial-level divisions
# of GB/T 2260 (71 Taiwan, 81 Hong Kong, 82 Macao included).
PROVINCE_CODES = frozenset(
    {
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    }
)


class IdentifierError(ValueError):
    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule
        self.message = message


def normalise(value: str) -> str:
    return (value or "").strip().upper()


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUES[ch] * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    total = sum(int(ch, 36) * w for ch, w in zip(first8, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def validate_uscc(value: str) -> str:
    """Return the normalised USCC or raise IdentifierError."""
    code = normalise(value)
    if len(code) != 18:
        raise IdentifierError(
            "length", _("统一社会信用代码应为18位，实际为%(n)d位") % {"n": len(code)}
        )
    bad = sorted({ch for ch in code if ch not in _USCC_VALUES})
    if bad:
        raise IdentifierError(
            "alphabet",
            _("统一社会信用代码含有不允许的字符：%(chars)s（不使用 I、O、S、V、Z）")
            % {"chars": pgettext("list separator", "、").join(bad)},
        )
    if not code[2:8].isdigit():
        raise IdentifierError("region", _("统一社会信用代码第3至8位应为行政区划代码（6位数字）"))
    org = code[8:17]
    if org_code_check_char(org[:8]) != org[8]:
        raise IdentifierError(
            "organisation_check",
            _("统一社会信用代码第9至17位的组织机构代码校验码不正确（GB 11714）"),
        )
    if uscc_check_char(code[:17]) != code[17]:
        raise IdentifierError(
            "check_character", _("统一社会信用代码第18位校验码不正确（GB 32100）")
        )
    return code


def resident_id_check_char(first17: str) -> str:
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def validate_resident_id(value: str) -> str:
    """Return the normalised resident ID number or raise IdentifierError."""
    number = normalise(value)
    if len(number) != 18:
        raise IdentifierError(
            "length", _("居民身份证号码应为18位，实际为%(n)d位") % {"n": len(number)}
        )
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdentifierError("characters", _("居民身份证号码前17位应为数字，第18位为数字或X"))
    if number[:2] not in PROVINCE_CODES or number[2:6] == "0000":
        raise IdentifierError("region", _("居民身份证号码前6位不是有效的行政区划代码"))
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentifierError(
            "birth_date", _("居民身份证号码第7至14位不是真实的出生日期")
        ) from None
    if birth.year < 1900 or birth > dt.date.today():
        raise IdentifierError("birth_date", _("居民身份证号码中的出生日期不在合理范围内"))
    if resident_id_check_char(number[:17]) != number[17]:
        raise IdentifierError("check_character", _("居民身份证号码第18位校验码不正确（GB 11643）"))
    return number


def mask_resident_id(number: str) -> str:
    """First 6 and last 4 characters shown (shared domain reference section 8)."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


# A mainland China mobile number: 11 digits, 1 then 3-9 (the numbering plan's mobile blocks).
MOBILE_PATTERN = r"1[3-9]\d{9}"
MOBILE_RE = re.compile(MOBILE_PATTERN)


def validate_mobile(value: str) -> str:
    """Return the mobile number without spaces or hyphens, or raise IdentifierError."""
    number = re.sub(r"[\s-]", "", value or "")
    if not MOBILE_RE.fullmatch(number):
        raise IdentifierError("mobile", _("手机号码应为11位中国大陆手机号（1开头，第二位为3至9）"))
    return number


def mask_phone(number: str) -> str:
    """First 3 and last 4 digits shown."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def make_uscc(*, serial: int, region: str = "370100", authority: str = "9", kind: str = "1") -> str:
    """A valid USCC for demo data and tests: organisation code from `serial`."""
    org8 = f"{serial:08d}"[-8:]
    org9 = org8 + org_code_check_char(org8)
    first17 = authority + kind + region + org9
    return first17 + uscc_check_char(first17)


def make_resident_id(*, birth: dt.date, serial: int, region: str = "370102") -> str:
    """A valid resident ID number for demo data and tests."""
    first17 = f"{region}{birth:%Y%m%d}{serial % 1000:03d}"
    return first17 + resident_id_check_char(first17)
