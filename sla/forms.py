import datetime as dt
import re

from django import forms
from django.utils.translation import gettext_lazy as _

from sla.calendar import RULE_SAME_DAY, RULE_WORKING_DAYS

N_MIN, N_MAX = 1, 365
YEAR_MIN, YEAR_MAX = 1900, 2100

RULE_CHOICES = [
    (RULE_SAME_DAY, _("当日办结（截止时点前收件）")),
    (RULE_WORKING_DAYS, _("N 个工作日（收件日不计）")),
]

# An unencoded "+" in a query string arrives as a space: "...T10:00:00 08:00".
_PLUS_AS_SPACE = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


class DeadlineQueryForm(forms.Form):
    """The deadline calculator's question, for the page and the API.

    The API insists on a UTC offset in `received`; the page's date-time input
    has none, so the page passes `default_tz` and the time is read in it.
    """

    received = forms.CharField(
        label=_("收件时间"),
        strip=True,
        error_messages={"required": _("缺少收件时间 received（ISO 8601，带时区偏移）")},
    )
    rule = forms.ChoiceField(
        label=_("计算规则"),
        choices=RULE_CHOICES,
        error_messages={
            "required": _("缺少计算规则 rule，应为 same_day 或 working_days"),
            "invalid_choice": _("未知的计算规则“%(value)s”，应为 same_day 或 working_days"),
        },
    )
    n = forms.CharField(label=_("工作日天数"), required=False, strip=True)

    def __init__(self, *args, default_tz: dt.tzinfo | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_tz = default_tz

    def clean_received(self) -> dt.datetime:
        raw = self.cleaned_data["received"]
        value = _PLUS_AS_SPACE.sub(r"\1+\2", raw)
        try:
            received = dt.datetime.fromisoformat(value)
        except ValueError:
            raise forms.ValidationError(
                _(
                    "无法解析收件时间“%(value)s”，"
                    "应为 ISO 8601 格式，例如 2026-09-30T15:30:00+08:00"
                ),
                code="invalid",
                params={"value": raw},
            ) from None
        if received.tzinfo is None:
            if self.default_tz is None:
                raise forms.ValidationError(
                    _("收件时间“%(value)s”缺少时区偏移，请写明例如 +08:00 或 Z"),
                    code="no_offset",
                    params={"value": raw},
                )
            received = received.replace(tzinfo=self.default_tz)
        if not YEAR_MIN <= received.year <= YEAR_MAX:
            raise forms.ValidationError(
                _("收件时间须在 %(min)s 年至 %(max)s 年之间"),
                code="out_of_range",
                params={"min": YEAR_MIN, "max": YEAR_MAX},
            )
        return received

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("rule") != RULE_WORKING_DAYS:
            # The same-day rule has no N; whatever the form sent is ignored.
            cleaned["n"] = None
            return cleaned
        raw = cleaned.get("n", "")
        if not raw:
            self.add_error("n", _("按工作日计算时须提供天数 n（%(min)s 至 %(max)s）") % _RANGE)
        elif not re.fullmatch(r"[+-]?\d{1,9}", raw):
            self.add_error("n", _("天数 n 须为整数，收到“%(value)s”") % {"value": raw})
        elif not N_MIN <= int(raw) <= N_MAX:
            self.add_error(
                "n",
                _("天数 n 须在 %(min)s 至 %(max)s 之间，收到 %(value)s") % {**_RANGE, "value": raw},
            )
        else:
            cleaned["n"] = int(raw)
        return cleaned

    def error_messages_by_field(self) -> dict[str, str]:
        """One message per parameter, for the API's 400 answer."""
        return {field: str(errors[0]) for field, errors in self.errors.items()}


_RANGE = {"min": N_MIN, "max": N_MAX}
