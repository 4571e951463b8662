import secrets

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sla import calendar


def new_stamp() -> int:
    return secrets.randbelow(2**31)


class CalendarYear(models.Model):
    """A year whose official holiday arrangement is loaded.

    Deadlines reaching a year without a row here assume weekends alone and are
    marked provisional (shared domain reference section 6).
    """

    year = models.PositiveSmallIntegerField(_("年度"), unique=True)
    source = models.CharField(
        _("来源"),
        max_length=200,
        blank=True,
        help_text=_("例如国务院办公厅放假安排通知的文号，或载入的文件名"),
    )
    loaded_at = models.DateTimeField(_("载入时间"), default=timezone.now)
    # A fresh random number on every change to the year or its days. The
    # per-process calendar cache is keyed on (count, sum of stamps): random,
    # so neither a frozen clock nor a rolled-back transaction can repeat a key
    # (sla.services.work_calendar).
    stamp = models.PositiveIntegerField(_("版本标记"), default=new_stamp, editable=False)

    class Meta:
        ordering = ["-year"]
        verbose_name = _("已载入的日历年度")
        verbose_name_plural = _("已载入的日历年度")

    def __str__(self) -> str:
        return str(self.year)


class DayKind(models.TextChoices):
    HOLIDAY = calendar.HOLIDAY, _("放假")
    WORKDAY = calendar.WORKDAY, _("调休上班")


class CalendarDay(models.Model):
    """An exception to Monday-to-Friday: a holiday, or a weekend make-up working day."""

    calendar_year = models.ForeignKey(
        CalendarYear, on_delete=models.CASCADE, related_name="days", verbose_name=_("年度")
    )
    date = models.DateField(_("日期"), unique=True)
    kind = models.CharField(_("类型"), max_length=10, choices=DayKind.choices)
    name = models.CharField(
        _("节日"),
        max_length=calendar.NAME_MAX_LENGTH,
        blank=True,
        help_text=_("放假或调休所属的节日，例如 国庆节"),
    )

    class Meta:
        ordering = ["date"]
        verbose_name = _("节假日与调休日")
        verbose_name_plural = _("节假日与调休日")

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.name} {self.get_kind_display()}".replace("  ", " ")

    def clean(self) -> None:
        errors = {}
        try:
            # In the admin's inline the year may be unsaved yet: use the object.
            calendar_year = self.calendar_year
        except CalendarYear.DoesNotExist:
            calendar_year = None
        if (
            self.date
            and calendar_year
            and calendar_year.year
            and self.date.year != calendar_year.year
        ):
            errors["date"] = _("日期须在 %(year)s 年内") % {"year": calendar_year.year}
        if self.date and self.kind == DayKind.WORKDAY and not calendar.is_weekend(self.date):
            errors["kind"] = _("%(date)s 是%(weekday)s，本来就是工作日，不能登记为调休上班") % {
                "date": self.date.isoformat(),
                "weekday": calendar.weekday_label(self.date),
            }
        if self.kind == DayKind.HOLIDAY and not self.name.strip():
            errors["name"] = _("放假日须写明节日名称")
        if errors:
            raise ValidationError(errors)
