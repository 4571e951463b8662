"""What a valid penalty record is, whichever way it comes in.

Records arrive from department systems as files (`import_records`) or over the
API (`POST /api/v1/records/`); both hand their rows to
`records.services.records_ingest`, which checks every row with `validate_row`
here, so a row is judged the same whichever door it came through.

Rules beyond the field formats (decided with the first integration):
- `fine_amount` is required, and must be above zero, when `penalty_types`
  includes `fine`; it must be left empty otherwise (an amount without a fine is
  a data error the sending department should see).
- `facts` may be empty; every other field is required.
- Penalty type codes are those of records.models.PenaltyType (Administrative
  Penalty Law Art. 9), at least one, no repeats; spaces and case are forgiven.
- The decision date must be a real date, not after today (Asia/Shanghai) and
  covered by a publicity rule set, which fixes the publicity window.
- `decision_change` (optional, default empty: the decision stands) reports
  that the decision was `revoked` or `changed` (Shandong Social Credit
  Regulation Art. 40), with `decision_change_date` (required then: a real
  date, not after today nor before the decision) and `decision_change_basis`
  (optional: the revoking or changing document). Such a row must name a
  record already registered; a changed row carries the new values. Only the
  issuing department may send one (records.services.record_decision_change).

Optional fields, each with its default when absent or empty:
- `conduct_end_date` (YYYY-MM-DD, not after today; default: the decision
  date): the day the conduct ended. Shandong Social Credit Regulation Art. 38:
  a record is disclosed at most five years (the rule set's figure) from that
  day, so the publicity window ends there at the latest.
- `procedure`: `general` (普通程序, the default) or `simplified` (简易程序).
- `minor_remedied`: `true` when the violation was minor and the offender
  actively removed or reduced its harm (违法行为轻微且主动消除、减轻违法行为危害
  后果); `false` (the default). In CSV: true/false, 1/0, yes/no or 是/否.
  Shandong Social Credit Regulation Art. 13: penalties under the simplified
  procedure, and minor ones whose harm was actively removed, are not collected
  as public credit information: such a row is refused (code `not_collected`).
- `subject_email`, `subject_phone` (a mainland mobile number, 1[3-9] and 9
  digits; spaces and hyphens forgiven): how the platform reaches the subject
  when no account is bound to it, to send the credit-repair notice (两书同送).
  Empty leaves a contact already known as it is; a value replaces it.

This module also reads import files (CSV with a header, or JSON Lines) into
`(line number, row)` pairs. It never writes to the database.
"""

import codecs
import csv
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from records.identifiers import (
    IdentifierError,
    validate_mobile,
    validate_resident_id,
    validate_uscc,
)
from records.models import Department, PenaltyType, Severity, SubjectKind
from records.publicity import NoRuleSetError, RuleSet, load_rule_sets, publicity_window

FIELDS = (
    "decision_number",
    "department_code",
    "subject_type",
    "subject_identifier",
    "subject_name",
    "decision_date",
    "fine_amount",
    "severity",
    "penalty_types",
    "facts",
    "decision_change",
    "decision_change_date",
    "decision_change_basis",
    "conduct_end_date",
    "procedure",
    "minor_remedied",
    "subject_email",
    "subject_phone",
)
OPTIONAL_FIELDS = frozenset(
    {
        "fine_amount",
        "facts",
        "decision_change",
        "decision_change_date",
        "decision_change_basis",
        "conduct_end_date",
        "procedure",
        "minor_remedied",
        "subject_email",
        "subject_phone",
    }
)
DECISION_CHANGES = ("revoked", "changed")  # records.models.DecisionChangeKind
BASIS_MAX = 300  # DecisionChange.note
REQUIRED_FIELDS = tuple(name for name in FIELDS if name not in OPTIONAL_FIELDS)

DECISION_NUMBER_MAX = 100  # CreditRecord.decision_number
SUBJECT_NAME_MAX = 200  # Subject.name
FINE_INTEGER_DIGITS = 12  # CreditRecord.fine_amount: max_digits=14, decimal_places=2

_PENALTY_TYPES = frozenset(PenaltyType.values)
_SEVERITIES = frozenset(Severity.values)
_SUBJECT_KINDS = {
    SubjectKind.ENTERPRISE.value: validate_uscc,
    SubjectKind.PERSON.value: validate_resident_id,
}
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_AMOUNT_RE = re.compile(r"(\d+)(?:\.(\d+))?")
_CACHE_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class RowError:
    """One reason a row was rejected. `line` is the file's line number (or the
    item's index for the API); `code` is a stable machine-readable reason."""

    line: int
    field: str
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass(slots=True)
class RecordRow:
    """A validated row, normalised and ready to save."""

    line: int
    department_id: int
    decision_number: str
    subject_kind: str
    subject_identifier: str
    subject_name: str
    decision_date: dt.date
    conduct_end_date: dt.date
    penalty_types: list[str]
    fine_amount: Decimal | None
    severity: str
    facts: str
    publicity_starts_on: dt.date
    publicity_ends_on: dt.date
    decision_change: str = ""
    decision_change_date: dt.date | None = None
    decision_change_basis: str = ""
    # How to reach the subject (两书同送); "" leaves a known contact as it is.
    subject_email: str = ""
    subject_phone: str = ""

    @property
    def key(self) -> tuple[int, str]:
        return (self.department_id, self.decision_number)


class ValidationContext:
    """What validation needs from the database, read once per import: the
    departments by code and the publicity rule sets. It also remembers answers
    for values that repeat across rows (a subject's identifier, a date)."""

    def __init__(self, *, departments: Mapping[str, int], rule_sets: list[RuleSet], today: dt.date):
        self.departments = dict(departments)
        self.rule_sets = rule_sets
        self.today = today
        self._identifiers: dict[tuple[str, str], str | IdentifierError] = {}
        self._dates: dict[str, dt.date | tuple[str, str]] = {}
        self._windows: dict[tuple[dt.date, str, dt.date], tuple[dt.date, dt.date] | str] = {}
        self._penalties: dict[str, list[str] | tuple[str, str]] = {}

    @classmethod
    def load(cls, *, today: dt.date | None = None) -> "ValidationContext":
        return cls(
            departments=dict(Department.objects.values_list("code", "id")),
            rule_sets=load_rule_sets(),
            today=today or timezone.localdate(),
        )

    def identifier(self, kind: str, raw: str) -> str | IdentifierError:
        key = (kind, raw)
        found = self._identifiers.get(key)
        if found is None:
            try:
                found = _SUBJECT_KINDS[kind](raw)
            except IdentifierError as error:
                found = error
            if len(self._identifiers) >= _CACHE_LIMIT:
                self._identifiers.clear()
            self._identifiers[key] = found
        return found

    def window(
        self, decision_date: dt.date, severity: str, conduct_end_date: dt.date
    ) -> tuple[dt.date, dt.date] | str:
        key = (decision_date, severity, conduct_end_date)
        found = self._windows.get(key)
        if found is None:
            try:
                found = publicity_window(
                    self.rule_sets,
                    decision_date=decision_date,
                    severity=severity,
                    conduct_end_date=conduct_end_date,
                )
            except (NoRuleSetError, KeyError):
                found = _("%(day)s 没有施行中的公示规则，无法确定公示期") % {"day": decision_date}
            self._windows[key] = found
        return found


def _text(raw: Mapping, name: str, line: int, errors: list[RowError]) -> str:
    """The field as stripped text; "" when absent. Records a type error."""
    value = raw.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    errors.append(RowError(line, name, _("应为文本"), "type"))
    return ""


def _required(line: int, name: str, errors: list[RowError]) -> None:
    # A value of the wrong type has already been reported as such.
    if not any(error.field == name for error in errors):
        errors.append(RowError(line, name, _("必填，不能为空"), "required"))


def _date(value: str, context: ValidationContext) -> dt.date | tuple[str, str]:
    """The date, or (code, message) when the text is not a real YYYY-MM-DD date."""
    found = context._dates.get(value)
    if found is not None:
        return found
    if not _DATE_RE.fullmatch(value):
        found = ("format", _("应为 YYYY-MM-DD 格式的日期"))
    else:
        try:
            found = dt.date(int(value[:4]), int(value[5:7]), int(value[8:]))
        except ValueError:
            found = ("not_a_date", _("“%(value)s”不是真实的日期") % {"value": value})
    if len(context._dates) >= _CACHE_LIMIT:
        context._dates.clear()
    context._dates[value] = found
    return found


def _penalty_types(value, line: int, context: ValidationContext) -> list[str] | RowError:
    if isinstance(value, str):
        cached = context._penalties.get(value)
        if cached is None:
            cached = _check_penalty_types(value.split(";"))
            if len(context._penalties) < _CACHE_LIMIT:
                context._penalties[value] = cached
    elif isinstance(value, list | tuple):
        if not all(isinstance(item, str) for item in value):
            return RowError(
                line, "penalty_types", _("应为处罚类型代码的列表或以分号分隔的文本"), "type"
            )
        cached = _check_penalty_types(value)
    elif value is None:
        cached = _check_penalty_types([])
    else:
        return RowError(
            line, "penalty_types", _("应为处罚类型代码的列表或以分号分隔的文本"), "type"
        )
    if isinstance(cached, tuple):
        code, message = cached
        return RowError(line, "penalty_types", message, code)
    return list(cached)


def _check_penalty_types(items) -> list[str] | tuple[str, str]:
    codes = [code for code in (item.strip().lower() for item in items) if code]
    if not codes:
        return "required", _("至少填写一种处罚类型")
    unknown = [code for code in codes if code not in _PENALTY_TYPES]
    if unknown:
        return "unknown", _("未知的处罚类型：%(codes)s（可用：%(known)s）") % {
            "codes": pgettext("list separator", "、").join(unknown),
            "known": ", ".join(PenaltyType.values),
        }
    seen: set[str] = set()
    repeated = [code for code in codes if code in seen or seen.add(code)]
    if repeated:
        return "duplicate", _("处罚类型重复：%(codes)s") % {
            "codes": pgettext("list separator", "、").join(dict.fromkeys(repeated))
        }
    return codes


def _amount(value, line: int) -> Decimal | RowError | None:
    if value is None:
        return None
    if isinstance(value, bool):
        text = "?"
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
    elif isinstance(value, int | Decimal):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = "?"
    match = _AMOUNT_RE.fullmatch(text)
    if match is None:
        if text.startswith("-"):
            return RowError(line, "fine_amount", _("罚款金额不能为负数"), "negative")
        return RowError(
            line,
            "fine_amount",
            _("应为以元为单位的金额，最多两位小数，例如 5000 或 5000.50"),
            "format",
        )
    whole, cents = match.groups()
    if cents is not None and len(cents) > 2:
        return RowError(
            line, "fine_amount", _("罚款金额最多两位小数（精确到分）"), "decimal_places"
        )
    if len(whole.lstrip("0")) > FINE_INTEGER_DIGITS:
        return RowError(line, "fine_amount", _("罚款金额超出上限（整数部分最多12位）"), "too_large")
    return Decimal(text)


def _bounded_text(
    raw: Mapping, name: str, limit: int, too_long: str, line: int, errors: list[RowError]
) -> str:
    """A required text field of at most `limit` characters (`too_long` says so)."""
    value = _text(raw, name, line, errors)
    if not value:
        _required(line, name, errors)
    elif len(value) > limit:
        errors.append(RowError(line, name, too_long % {"max": limit, "n": len(value)}, "too_long"))
    return value


def _choice(
    raw: Mapping, name: str, choices, expected: str, line: int, errors: list[RowError]
) -> str:
    """A required code from `choices`, lower-cased; `expected` lists them for the reader."""
    value = _text(raw, name, line, errors).lower()
    if not value:
        _required(line, name, errors)
    elif value not in choices:
        errors.append(RowError(line, name, expected, "unknown"))
    return value


def _department_id(
    raw: Mapping, line: int, context: ValidationContext, errors: list[RowError]
) -> int | None:
    code = _text(raw, "department_code", line, errors)
    department_id = context.departments.get(code)
    if not code:
        _required(line, "department_code", errors)
    elif department_id is None:
        message = _("认定单位代码“%(code)s”不存在") % {"code": code[:40]}
        errors.append(RowError(line, "department_code", message, "unknown"))
    return department_id


def _subject_identifier(
    raw: Mapping, kind: str, line: int, context: ValidationContext, errors: list[RowError]
) -> str:
    """The identifier, checked and normalised for the subject's kind ("" if it fails)."""
    value = _text(raw, "subject_identifier", line, errors)
    if not value:
        _required(line, "subject_identifier", errors)
    elif kind in _SUBJECT_KINDS:
        checked = context.identifier(kind, value)
        if not isinstance(checked, IdentifierError):
            return checked
        errors.append(RowError(line, "subject_identifier", checked.message, checked.rule))
    return ""


def _past_date(
    text: str, name: str, line: int, context: ValidationContext, errors: list[RowError]
) -> dt.date | None:
    """A date field's text as a real date not after today; None when it is not."""
    parsed = _date(text, context)
    if isinstance(parsed, tuple):
        errors.append(RowError(line, name, parsed[1], parsed[0]))
        return None
    if parsed > context.today:
        message = {
            "decision_date": _("处罚决定日期不能晚于今天（%(today)s）"),
            "conduct_end_date": _("失信行为终止日期不能晚于今天（%(today)s）"),
        }[name] % {"today": context.today}
        errors.append(RowError(line, name, message, "future"))
        return None
    return parsed


def _decision_date(
    raw: Mapping, severity: str, line: int, context: ValidationContext, errors: list[RowError]
) -> tuple[dt.date | None, dt.date | None, tuple[dt.date, dt.date] | str | None]:
    """(decision date, end of the conduct, publicity window) — the window once
    the severity is known; the conduct ends on the decision date unless told."""
    text = _text(raw, "decision_date", line, errors)
    end_text = _text(raw, "conduct_end_date", line, errors)
    if not text:
        _required(line, "decision_date", errors)
        return None, None, None
    parsed = _past_date(text, "decision_date", line, context, errors)
    conduct_end = (
        _past_date(end_text, "conduct_end_date", line, context, errors) if end_text else parsed
    )
    if parsed is None or conduct_end is None:
        return None, None, None
    if severity not in _SEVERITIES:
        return parsed, conduct_end, None
    window = context.window(parsed, severity, conduct_end)
    if isinstance(window, str):
        errors.append(RowError(line, "decision_date", window, "no_rule_set"))
    return parsed, conduct_end, window


_TRUE = frozenset({"true", "1", "yes", "是"})
_FALSE = frozenset({"", "false", "0", "no", "否"})


def _not_collected(raw: Mapping, line: int, errors: list[RowError]) -> None:
    """Shandong Social Credit Regulation Art. 13: penalties under the simplified
    procedure, and minor ones whose harm was actively removed or reduced, are
    not in the public credit information catalogue: refused, not imported."""
    procedure = _text(raw, "procedure", line, errors).lower() or "general"
    if procedure == "simplified":
        message = _(
            "适用简易程序作出的行政处罚信息不纳入公共信用信息数据清单，不予归集"
            "（《山东省社会信用条例》第十三条）"
        )
        errors.append(RowError(line, "procedure", message, "not_collected"))
    elif procedure != "general":
        message = _("应为 general（普通程序，默认）或 simplified（简易程序）")
        errors.append(RowError(line, "procedure", message, "unknown"))
    value = raw.get("minor_remedied")
    if isinstance(value, bool) or value is None:
        remedied = bool(value)
    elif isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        remedied = value.strip().lower() in _TRUE
    else:
        message = _("应为 true 或 false（默认 false）")
        errors.append(RowError(line, "minor_remedied", message, "format"))
        return
    if remedied:
        message = _(
            "违法行为轻微且主动消除、减轻违法行为危害后果的行政处罚信息不纳入公共信用信息"
            "数据清单，不予归集（《山东省社会信用条例》第十三条）"
        )
        errors.append(RowError(line, "minor_remedied", message, "not_collected"))


def _fine_amount(
    raw: Mapping, penalty_types: list[str] | None, line: int, errors: list[RowError]
) -> Decimal | None:
    """The fine, required with a fine among the penalty types and refused without one."""
    amount = _amount(raw.get("fine_amount"), line)
    if isinstance(amount, RowError):
        errors.append(amount)
        return None
    if penalty_types is None:  # already rejected: nothing to check the amount against
        return amount
    if PenaltyType.FINE not in penalty_types:
        if amount is not None:
            message = _("处罚类型不含罚款（fine）时不应填写罚款金额")
            errors.append(RowError(line, "fine_amount", message, "unexpected"))
    elif amount is None:
        message = _("处罚类型包含罚款（fine）时必须填写罚款金额")
        errors.append(RowError(line, "fine_amount", message, "required"))
    elif not amount:
        errors.append(RowError(line, "fine_amount", _("罚款金额应大于0"), "zero"))
    return amount


def _decision_change(
    raw: Mapping,
    decision_date: dt.date | None,
    line: int,
    context: ValidationContext,
    errors: list[RowError],
) -> tuple[str, dt.date | None, str]:
    """(kind, date, basis) of a revoked or changed decision; ("", None, "") when it stands."""
    kind = _text(raw, "decision_change", line, errors).lower()
    text = _text(raw, "decision_change_date", line, errors)
    basis = _text(raw, "decision_change_basis", line, errors)
    if not kind:
        if text:
            message = _("未填写 decision_change（revoked 或 changed）时不应填写撤销或变更日期")
            errors.append(RowError(line, "decision_change_date", message, "unexpected"))
        return "", None, ""
    if kind not in DECISION_CHANGES:
        message = _("应为 revoked（处罚决定已撤销）或 changed（处罚决定已变更），或留空")
        errors.append(RowError(line, "decision_change", message, "unknown"))
        return "", None, ""
    if len(basis) > BASIS_MAX:
        message = _("依据文书最多%(max)d个字符") % {"max": BASIS_MAX}
        errors.append(RowError(line, "decision_change_basis", message, "too_long"))
    if not text:
        message = _("处罚决定已撤销或变更时必须填写撤销或变更日期")
        errors.append(RowError(line, "decision_change_date", message, "required"))
        return kind, None, basis
    parsed = _date(text, context)
    if isinstance(parsed, tuple):
        errors.append(RowError(line, "decision_change_date", parsed[1], parsed[0]))
        return kind, None, basis
    if parsed > context.today:
        message = _("撤销或变更日期不能晚于今天（%(today)s）") % {"today": context.today}
        errors.append(RowError(line, "decision_change_date", message, "future"))
    elif decision_date is not None and parsed < decision_date:
        message = _("撤销或变更日期不能早于处罚决定日期（%(day)s）") % {"day": decision_date}
        errors.append(RowError(line, "decision_change_date", message, "before_decision"))
    return kind, parsed, basis


def _has_contact(raw: Mapping) -> bool:
    # Most rows carry no contact: two lookups, no work.
    return bool(raw.get("subject_email") or raw.get("subject_phone"))


def _contact(raw: Mapping, line: int, errors: list[RowError]) -> tuple[str, str]:
    """The subject's optional email and mobile number, checked."""
    email = _text(raw, "subject_email", line, errors)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(RowError(line, "subject_email", _("不是有效的电子邮件地址"), "invalid"))
    phone = _text(raw, "subject_phone", line, errors)
    if phone:
        try:
            phone = validate_mobile(phone)
        except IdentifierError as error:
            errors.append(RowError(line, "subject_phone", error.message, error.rule))
    return email, phone


def validate_row(
    raw: Mapping, *, line: int, context: ValidationContext
) -> RecordRow | list[RowError]:
    """Check one row; return it normalised, or every reason it is rejected
    (in the order of the fields)."""
    errors: list[RowError] = []
    decision_number = _bounded_text(
        raw,
        "decision_number",
        DECISION_NUMBER_MAX,
        _("处罚决定书文号最多%(max)d个字符，实际%(n)d个"),
        line,
        errors,
    )
    department_id = _department_id(raw, line, context, errors)
    kind = _choice(
        raw,
        "subject_type",
        _SUBJECT_KINDS,
        _("应为 enterprise（法人和非法人组织）或 person（自然人）"),
        line,
        errors,
    )
    identifier = _subject_identifier(raw, kind, line, context, errors)
    subject_name = _bounded_text(
        raw, "subject_name", SUBJECT_NAME_MAX, _("名称最多%(max)d个字符"), line, errors
    )
    severity = _choice(
        raw,
        "severity",
        _SEVERITIES,
        _("应为 minor（轻微）、general（一般）或 serious（严重）"),
        line,
        errors,
    )
    decision_date, conduct_end_date, window = _decision_date(raw, severity, line, context, errors)
    penalty_types = _penalty_types(raw.get("penalty_types"), line, context)
    if isinstance(penalty_types, RowError):
        errors.append(penalty_types)
        penalty_types = None
    fine_amount = _fine_amount(raw, penalty_types, line, errors)
    facts = _text(raw, "facts", line, errors)
    change, change_date, change_basis = _decision_change(raw, decision_date, line, context, errors)
    _not_collected(raw, line, errors)
    email, phone = _contact(raw, line, errors) if _has_contact(raw) else ("", "")
    if errors:
        return errors
    return RecordRow(
        line=line,
        department_id=department_id,
        decision_number=decision_number,
        subject_kind=kind,
        subject_identifier=identifier,
        subject_name=subject_name,
        decision_date=decision_date,
        conduct_end_date=conduct_end_date,
        penalty_types=penalty_types,
        fine_amount=fine_amount,
        severity=severity,
        facts=facts,
        publicity_starts_on=window[0],
        publicity_ends_on=window[1],
        decision_change=change,
        decision_change_date=change_date,
        decision_change_basis=change_basis,
        subject_email=email,
        subject_phone=phone,
    )


# Reading import files ----------------------------------------------------------------------


class UnreadableFile(Exception):
    """The file cannot be imported at all: nothing in it is looked at."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class RowSource:
    """The rows of an import file as `(line, row)`; a line that cannot be parsed
    comes as `(line, RowError)`. Use as a context manager to close the file."""

    path: Path
    format: str
    lines: int
    rows: Iterator[tuple[int, Mapping | RowError]]
    warnings: list[str] = field(default_factory=list)
    _handle: object = None

    def __enter__(self) -> "RowSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


FORMATS = {".csv": "csv", ".jsonl": "jsonl"}
_CHUNK = 1 << 20


def _count_lines_checking_utf8(path: Path) -> int:
    """Read the whole file once as bytes: it must be UTF-8 throughout before a
    single row is imported, and the line count drives the progress bar."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    last = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            pending = decoder.getstate()[0]
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                data = pending + chunk
                line = lines + data.count(b"\n", len(pending), max(error.start, len(pending))) + 1
                raise UnreadableFile(
                    _("不是 UTF-8 编码的文本（第%(line)d行有无法解码的字节）") % {"line": line}
                ) from None
            lines += chunk.count(b"\n")
            last = chunk[-1:]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UnreadableFile(
                _("不是 UTF-8 编码的文本（第%(line)d行有无法解码的字节）") % {"line": lines + 1}
            ) from None
    if last and last != b"\n":
        lines += 1
    return lines


def read_rows(path: Path, *, fmt: str | None = None) -> RowSource:
    """Open an import file. Raises UnreadableFile when it is missing, not UTF-8,
    of an unknown kind, or (CSV) without a header naming the required columns."""
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt not in FORMATS.values():
        raise UnreadableFile(_("无法识别文件类型：扩展名应为 .csv 或 .jsonl"))
    try:
        lines = _count_lines_checking_utf8(path)
        # utf-8-sig: a byte-order mark, as spreadsheet programs write, is dropped.
        handle = path.open(encoding="utf-8-sig", newline="" if fmt == "csv" else None)
    except FileNotFoundError:
        raise UnreadableFile(_("文件不存在")) from None
    except IsADirectoryError:
        raise UnreadableFile(_("这是一个目录，不是文件")) from None
    except OSError as error:
        raise UnreadableFile(
            _("无法打开文件：%(error)s") % {"error": error.strerror or error}
        ) from None
    try:
        if fmt == "csv":
            rows, warnings = _csv_rows(handle)
        else:
            rows, warnings = _jsonl_rows(handle), []
    except BaseException:
        handle.close()
        raise
    return RowSource(
        path=path, format=fmt, lines=lines, rows=rows, warnings=warnings, _handle=handle
    )


def _csv_rows(handle) -> tuple[Iterator[tuple[int, Mapping | RowError]], list[str]]:
    reader = csv.reader(handle)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise UnreadableFile(_("无法读取表头：%(error)s") % {"error": error}) from None
    columns = [name.strip().lower() for name in header or ()]
    if not any(columns):
        raise UnreadableFile(_("文件为空或第1行没有表头"))
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        raise UnreadableFile(_("表头中的列重复：%(columns)s") % {"columns": ", ".join(repeated)})
    missing = [name for name in REQUIRED_FIELDS if name not in columns]
    if missing:
        raise UnreadableFile(_("表头缺少必需的列：%(columns)s") % {"columns": ", ".join(missing)})
    warnings = []
    unknown = [name for name in columns if name not in FIELDS]
    if unknown:
        warnings.append(
            _("表头中的以下列不认识，已忽略：%(columns)s") % {"columns": ", ".join(unknown)}
        )
    return _csv_records(reader, columns), warnings


def _csv_records(reader, columns: list[str]) -> Iterator[tuple[int, Mapping | RowError]]:
    width = len(columns)
    previous = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield previous + 1, RowError(previous + 1, "csv", str(error), "csv")
            previous = reader.line_num
            continue
        # A record starts on the line after the previous one ended (quoted
        # fields may span lines); blank lines and rows of empty cells are skipped.
        line, previous = previous + 1, reader.line_num
        if not any(values):
            continue
        if len(values) != width:
            yield (
                line,
                RowError(
                    line,
                    "csv",
                    _("该行有%(n)d列，表头有%(width)d列") % {"n": len(values), "width": width},
                    "columns",
                ),
            )
            continue
        yield line, dict(zip(columns, values, strict=True))


def _reject_constant(name: str):
    raise ValueError(_("不支持 %(name)s") % {"name": name})


def _jsonl_rows(handle) -> Iterator[tuple[int, Mapping | RowError]]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            # Decimal, not float: a fine of 0.1 + 0.2 yuan stays exact.
            value = json.loads(
                text.rstrip("\r\n"), parse_float=Decimal, parse_constant=_reject_constant
            )
        except json.JSONDecodeError as error:
            yield (
                line,
                RowError(
                    line,
                    "json",
                    _("不是有效的 JSON：%(error)s（第%(col)d列）")
                    % {"error": error.msg, "col": error.colno},
                    "json",
                ),
            )
            continue
        except ValueError as error:
            yield (
                line,
                RowError(line, "json", _("不是有效的 JSON：%(error)s") % {"error": error}, "json"),
            )
            continue
        if not isinstance(value, dict):
            yield line, RowError(line, "json", _("每行应为一个 JSON 对象"), "not_object")
            continue
        yield line, value
