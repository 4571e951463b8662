"""Retention as data: how long each kind of data is kept, counted from what,
on which legal source (shared domain reference section 8: PIPL Art. 47;
Shandong Social Credit Regulation Art. 38 for records; UNCONFIRMED defaults
for the rest), and the destruction register that says what went, when,
under which rule and in which run. The register holds ids only, never
personal data."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class DataKind(models.TextChoices):
    RECORD = "record", _("信用记录")
    CASE_FILE = "case_file", _("案卷")
    MATERIAL = "material", _("申请材料")
    LETTER = "letter", _("文书")
    # The credit-repair notice (信用修复告知书) sent with a penalty, before
    # any case: it tells of the record, so it goes with the record.
    REPAIR_NOTICE = "repair_notice", _("信用修复告知书（无案件）")
    ACCESS_REGISTER = "access_register", _("查阅登记")
    AUDIT_PAYLOAD = "audit_payload", _("审计事件内容")
    SUBJECT = "subject", _("信用主体")


class CountedFrom(models.TextChoices):
    DISCLOSURE_END = "disclosure_end", _("公示截止日")
    CASE_CLOSED = "case_closed", _("案件办结日")
    ENTRY_TIME = "entry_time", _("登记时间")
    NOTHING_LEFT = "nothing_left", _("其余信息均已销毁")


# Which starting point each kind has a date for; the rule's form refuses others.
ALLOWED_START = {
    DataKind.RECORD: {CountedFrom.DISCLOSURE_END},
    DataKind.CASE_FILE: {CountedFrom.CASE_CLOSED},
    DataKind.MATERIAL: {CountedFrom.CASE_CLOSED},
    DataKind.LETTER: {CountedFrom.CASE_CLOSED},
    DataKind.REPAIR_NOTICE: {CountedFrom.DISCLOSURE_END},
    DataKind.ACCESS_REGISTER: {CountedFrom.ENTRY_TIME},
    DataKind.AUDIT_PAYLOAD: {CountedFrom.ENTRY_TIME},
    DataKind.SUBJECT: {CountedFrom.NOTHING_LEFT},
}
# Kinds destroyed the moment their starting point is reached: a subject has
# no date of its own, it goes in the run that destroys the last of its data.
IMMEDIATE = {DataKind.SUBJECT}


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class RetentionRule(models.Model):
    """One kind of data: kept `period_years` from `counted_from`, then
    destroyed by the destroy_expired job. Editable in the admin (audited)."""

    kind = models.CharField(_("数据种类"), max_length=20, choices=DataKind.choices, unique=True)
    period_years = models.PositiveSmallIntegerField(
        _("保存期限（年）"), help_text=_("期满当日起可销毁；0 表示起算日即到期")
    )
    counted_from = models.CharField(_("起算"), max_length=20, choices=CountedFrom.choices)
    legal_source = models.TextField(_("依据"))
    unconfirmed = models.BooleanField(
        _("待确认"), default=True, help_text=_("依据尚未经法务确认的默认值")
    )

    class Meta:
        ordering = ["kind"]
        verbose_name = _("保存期限规则")
        verbose_name_plural = _("保存期限规则")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.period_years}"

    def clean(self) -> None:
        allowed = ALLOWED_START.get(self.kind, set())
        if self.counted_from not in allowed:
            raise ValidationError(
                {
                    "counted_from": _("%(kind)s只能从%(allowed)s起算")
                    % {
                        "kind": self.get_kind_display(),
                        "allowed": "、".join(str(CountedFrom(a).label) for a in allowed),
                    }
                }
            )
        if self.kind in IMMEDIATE and self.period_years:
            raise ValidationError(
                {"period_years": _("信用主体在其余信息均已销毁时即处理，保存期限只能为0")}
            )

    def cutoff(self, today: dt.date) -> dt.date:
        """Data whose starting day is on or before this day is due today."""
        return years_before(today, self.period_years)


class DestructionRun(models.Model):
    """One run of the destroy_expired job that destroyed something or not."""

    started_at = models.DateTimeField(_("开始时间"), db_index=True)
    trigger = models.CharField(_("触发方式"), max_length=20)  # "scheduler" or "command"
    counts = models.JSONField(_("各类销毁数量"), default=dict)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("销毁批次")
        verbose_name_plural = _("销毁批次")

    def __str__(self) -> str:
        return f"#{self.pk} {self.started_at:%Y-%m-%d %H:%M}"


class PendingFileDeletion(models.Model):
    """A file whose row the destruction removed or anonymised, still to be
    removed from storage. Written in the destruction's transaction, so a
    crash between the commit and the removal leaves this row, and the next
    run removes the file (removing a missing file is no error)."""

    field = models.CharField(_("文件字段"), max_length=100)  # "app_label.Model.field"
    name = models.CharField(_("文件名"), max_length=255)
    run = models.ForeignKey(
        DestructionRun,
        on_delete=models.PROTECT,
        related_name="pending_files",
        verbose_name=_("批次"),
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("待删除文件")
        verbose_name_plural = _("待删除文件")

    def __str__(self) -> str:
        return f"{self.field} #{self.pk}"


class DestructionAction(models.TextChoices):
    DELETED = "deleted", _("删除")
    ANONYMISED = "anonymised", _("去除个人信息")


class DestructionEntry(models.Model):
    """The destruction register (PIPL Art. 47): what (type and id, never its
    content), when, under which rule and in which run."""

    run = models.ForeignKey(
        DestructionRun, on_delete=models.PROTECT, related_name="entries", verbose_name=_("批次")
    )
    rule = models.ForeignKey(
        RetentionRule, on_delete=models.PROTECT, related_name="+", verbose_name=_("规则")
    )
    at = models.DateTimeField(_("销毁时间"))
    object_type = models.CharField(_("对象类型"), max_length=80)
    object_id = models.CharField(_("对象编号"), max_length=64)
    action = models.CharField(_("处理"), max_length=20, choices=DestructionAction.choices)
    files_removed = models.PositiveSmallIntegerField(_("删除文件数"), default=0)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name = _("销毁登记")
        verbose_name_plural = _("销毁登记")

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id} {self.get_action_display()}"
