import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from repair_flow.models import display_name
from sla import calendar
from sla.notices import notice_text


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
    # (sla.office.work_calendar).
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


class Stage(models.TextChoices):
    PRELIMINARY_REVIEW = "preliminary_review", _("初审")
    SUPPLEMENT = "supplement", _("申请人补正")
    ACCEPTANCE = "acceptance", _("受理决定")
    COMMITMENT = "commitment", _("签署信用承诺")
    DEPARTMENT_REVIEW = "department_review", _("认定单位审核")
    WHOLE_DECISION = "whole_decision", _("修复决定（全程）")
    SYNC = "sync", _("结果同步")
    OBJECTION_OWN = "objection_own", _("异议核查（本单位）")
    OBJECTION_OTHER = "objection_other", _("异议核查（需其他单位核实）")
    RECORD_CHANGE = "record_change", _("决定撤销后的记录变更")
    BREACH_REVIEW = "breach_review", _("履约核查")
    STATEMENT = "statement", _("申请人陈述申辩")


# Whose work a stage is. The platform's stages have no department on their
# clocks; every other clock carries the issuing department (the case's record's,
# or the breach review's deciding department). The applicant's stages wait for
# the applicant: shown apart from staff work, never "not assigned".
PLATFORM_STAGES = frozenset(
    {Stage.PRELIMINARY_REVIEW, Stage.ACCEPTANCE, Stage.SYNC, Stage.OBJECTION_OWN}
)
APPLICANT_STAGES = frozenset({Stage.SUPPLEMENT, Stage.COMMITMENT, Stage.STATEMENT})
# The platform's internal steps, never listed among an applicant's deadlines.
INTERNAL_STAGES = frozenset({Stage.SYNC})
# The stages a staff member's queued task runs against (flows.engine.HUMAN_NODES):
# a case is in at most one of them at a time, so its open clock of these is
# its task's deadline, the key the task queues sort by (issue 18).
TASK_STAGES = (
    Stage.PRELIMINARY_REVIEW,
    Stage.DEPARTMENT_REVIEW,
    Stage.OBJECTION_OWN,
    Stage.OBJECTION_OTHER,
    Stage.RECORD_CHANGE,
)


class Rule(models.TextChoices):
    SAME_DAY = calendar.RULE_SAME_DAY, _("当日办结（截止时点前收件）")
    WORKING_DAYS = calendar.RULE_WORKING_DAYS, _("N 个工作日")
    CALENDAR_DAYS = calendar.RULE_CALENDAR_DAYS, _("N 个自然日")


class SlaPolicy(models.Model):
    """How long a stage may take, who is warned and who is escalated to.

    Data, versioned by effective date: a clock keeps the policy it started
    under. Defaults come from shared domain reference section 5.
    """

    stage = models.CharField(_("环节"), max_length=30, choices=Stage.choices)
    rule = models.CharField(_("规则"), max_length=20, choices=Rule.choices)
    n = models.PositiveSmallIntegerField(_("天数"), null=True, blank=True)
    warn_percent_1 = models.PositiveSmallIntegerField(
        _("第一次预警（用时百分比）"), null=True, blank=True, default=50
    )
    warn_percent_2 = models.PositiveSmallIntegerField(
        _("第二次预警（用时百分比）"), null=True, blank=True, default=75
    )
    # Recipients: "assignee", "supervisors", or "group:<name>" (a Django group).
    warn_to = models.JSONField(_("预警通知对象"), default=list, blank=True)
    escalate_to = models.JSONField(_("超时升级对象"), default=list, blank=True)
    legal_basis = models.CharField(_("依据"), max_length=300)
    unconfirmed = models.BooleanField(
        _("未经核实"), default=False, help_text=_("合理默认值，法律依据尚未核实")
    )
    effective_from = models.DateField(_("生效日期"))
    effective_to = models.DateField(_("失效日期"), null=True, blank=True)

    class Meta:
        ordering = ["stage", "-effective_from"]
        verbose_name = _("时限规则")
        verbose_name_plural = _("时限规则")

    def __str__(self) -> str:
        return f"{self.get_stage_display()} · {self.describe()}"

    def describe(self) -> str:
        if self.rule == Rule.SAME_DAY:
            return str(_("当日办结"))
        if self.rule == Rule.WORKING_DAYS:
            return str(_("%(n)s 个工作日") % {"n": self.n})
        return str(_("%(n)s 个自然日") % {"n": self.n})

    @property
    def thresholds(self) -> list[int]:
        return [p for p in (self.warn_percent_1, self.warn_percent_2) if p]

    def clean(self) -> None:
        errors = {}
        if self.rule != Rule.SAME_DAY and not self.n:
            errors["n"] = _("按工作日或自然日计算的规则须填写天数")
        if self.rule == Rule.SAME_DAY and self.n:
            errors["n"] = _("当日办结规则不填写天数")
        for name in ("warn_percent_1", "warn_percent_2"):
            value = getattr(self, name)
            if value is not None and not 0 < value < 100:
                errors[name] = _("预警百分比应在 1 到 99 之间")
        first, second = self.warn_percent_1, self.warn_percent_2
        if first and second and first >= second:
            errors["warn_percent_2"] = _("第二次预警须晚于第一次")
        for name in ("warn_to", "escalate_to"):
            for target in getattr(self, name) or []:
                if target not in ("assignee", "supervisors") and not str(target).startswith(
                    "group:"
                ):
                    errors[name] = _("通知对象只能是 assignee、supervisors 或 group:组名")
        if self.effective_to and self.effective_to < self.effective_from:
            errors["effective_to"] = _("失效日期不能早于生效日期")
        if errors:
            raise ValidationError(errors)


class ClockState(models.TextChoices):
    RUNNING = "running", _("计时中")
    PAUSED = "paused", _("已暂停")
    MET = "met", _("按时办结")
    BREACHED = "breached", _("已超时")
    CANCELLED = "cancelled", _("已取消")


# A clock is open until it is stopped: a breached clock keeps running (the
# work is still owed), only later.


class SlaClock(models.Model):
    """One stage of one case against its policy.

    Points are stored (`due_at`, the warning instants) and the sweep finds
    work by `next_check_at`, the next instant anything happens to a running
    clock, through a partial index.
    """

    case_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.PROTECT, related_name="+"
    )
    case_id = models.PositiveBigIntegerField()
    case_label = models.CharField(_("案件"), max_length=100)
    department = models.ForeignKey(
        "records.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stage = models.CharField(_("环节"), max_length=30, choices=Stage.choices)
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="clocks")
    state = models.CharField(_("状态"), max_length=10, choices=ClockState.choices)
    started_at = models.DateTimeField(_("开始时间"))
    due_at = models.DateTimeField(_("期限"), db_index=True)
    warn1_at = models.DateTimeField(null=True, blank=True)
    warn2_at = models.DateTimeField(null=True, blank=True)
    warned_level = models.PositiveSmallIntegerField(default=0)
    next_check_at = models.DateTimeField(null=True, blank=True)
    total_seconds = models.PositiveIntegerField(default=0)
    remaining_seconds = models.PositiveIntegerField(null=True, blank=True)
    provisional = models.BooleanField(_("暂定"), default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    breached_at = models.DateTimeField(_("超时时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at"]
        verbose_name = _("时限计时")
        verbose_name_plural = _("时限计时")
        constraints = [
            # One open clock per case and stage; a case may run a stage again later.
            models.UniqueConstraint(
                fields=["case_type", "case_id", "stage"],
                condition=models.Q(stopped_at__isnull=True),
                name="one_open_clock_per_case_stage",
            ),
            # What the task queues join a task's deadline by: one row per case.
            models.UniqueConstraint(
                fields=["case_type", "case_id"],
                condition=models.Q(stopped_at__isnull=True, stage__in=TASK_STAGES),
                name="one_open_task_clock_per_case",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_check_at"],
                condition=models.Q(state="running"),
                name="sla_clock_due_check",
            ),
            models.Index(fields=["case_type", "case_id"], name="sla_clock_case"),
            # The task queues' order: read in this index's order, a page of the
            # queue stops after its rows instead of sorting every open task.
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(stopped_at__isnull=True, stage__in=TASK_STAGES),
                name="sla_clock_task_due",
            ),
            # The staff's breach review list: the pending reviews in the order
            # of their open clock's deadline, then the review's id (the clock's
            # case_id, equal to it through the join; at most one open clock
            # per review and stage, one_open_clock_per_case_stage).
            models.Index(
                fields=["due_at", "case_id"],
                condition=models.Q(stopped_at__isnull=True, stage=Stage.BREACH_REVIEW),
                name="sla_clock_breach_due",
            ),
            models.Index(fields=["state", "stage"], name="sla_clock_state_stage"),
            # The supervisors' board (sla/board.py) reads these three without
            # touching the table: every column its queries use is in the index.
            models.Index(
                fields=[
                    "stage",
                    "department",
                    "assignee",
                    "state",
                    "due_at",
                    "warn2_at",
                    "warned_level",
                    "breached_at",
                    "stopped_at",
                ],
                condition=models.Q(stopped_at__isnull=True),
                name="sla_clock_open_board",
            ),
            models.Index(
                fields=["stopped_at", "state", "stage", "department", "assignee"],
                condition=models.Q(stopped_at__isnull=False),
                name="sla_clock_stopped_board",
            ),
            models.Index(
                fields=["case_type", "case_id", "started_at", "department", "stage"],
                condition=models.Q(stage="supplement"),
                name="sla_clock_supplement_case",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_label} · {self.get_stage_display()}"

    @property
    def is_open(self) -> bool:
        return self.stopped_at is None

    @property
    def on_time(self) -> bool | None:
        if self.state == ClockState.MET:
            return True
        if self.state == ClockState.BREACHED:
            return False
        return None


class SlaPause(models.Model):
    """The pause ledger: every stop of a clock, why, and for how long."""

    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="pauses")
    started_at = models.DateTimeField(_("暂停时间"))
    ended_at = models.DateTimeField(_("恢复时间"), null=True, blank=True)
    reason = models.CharField(_("原因"), max_length=200)
    paused_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.clock} {self.started_at:%Y-%m-%d %H:%M} {self.reason}"


class DeadlineChange(models.Model):
    """A deadline that moved after the fact (a calendar year loaded), and why."""

    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField(default=timezone.now)
    old_due_at = models.DateTimeField()
    new_due_at = models.DateTimeField()
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.clock}: {self.old_due_at} → {self.new_due_at}"


class NotificationKind(models.TextChoices):
    WARNING = "warning", _("时限预警")
    BREACH = "breach", _("已超时")
    ESCALATION = "escalation", _("超时升级")
    EVENT = "event", _("办理事项")


class Notification(models.Model):
    """In-app notification. The unique key makes a second sweep's attempt to
    notify the same thing a no-op."""

    # Few indexes on purpose: the sweep writes thousands of these in one
    # transaction. The unique key serves lookups by clock, the composite
    # index a user's list.
    # No database foreign keys either (db_constraint=False): on PostgreSQL the
    # two referential checks were 80 % of the cost of writing 10,000 rows
    # (measured: 290 ms with them, 50 ms without). The only writer
    # (notifications_create) takes its ids from rows it has just read in the
    # same transaction; users are deactivated, not deleted, and clocks are
    # never deleted, and Django's delete still cascades to these rows.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    clock = models.ForeignKey(
        SlaClock,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=12, choices=NotificationKind.choices)
    level = models.PositiveSmallIntegerField(default=0)
    # A clock event stores its facts, not a sentence: the headline is written
    # when read, in the reader's language (Notification.headline), and
    # the sweep formats nothing. The facts are those of the moment it was
    # sent: the deadline then, the share of time used, who had the case.
    percent = models.PositiveSmallIntegerField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # Free text, for a notification that is not about a clock.
    title = models.CharField(max_length=200, blank=True, db_default="")
    # For an event notice (flows.notify): where it leads, and the event's key,
    # unique per user, so a repeated event notifies once.
    link = models.CharField(max_length=300, blank=True, db_default="")
    event_key = models.CharField(max_length=120, blank=True, db_default="")
    # An event notice stores its message id and parameters (sla.notices), not
    # a sentence: it is written when read, in the reader's language. Notices
    # written before these columns keep their sentence in `title`.
    message = models.CharField(max_length=40, blank=True, db_default="")
    params = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clock", "kind", "level", "user"], name="one_notification_per_event"
            ),
            models.UniqueConstraint(
                fields=["event_key", "user"],
                condition=~models.Q(event_key=""),
                name="one_notification_per_event_key",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="sla_notification_user"),
            # The unread badge on every page: its bounded count reads only
            # unread rows, however many a user has read (issue 18).
            models.Index(
                fields=["user"], condition=models.Q(read_at=None), name="sla_notification_unread"
            ),
        ]

    def __str__(self) -> str:
        return self.headline

    @property
    def headline(self) -> str:
        """The sentence for a notification, in the active language.

        预警：济市监罚〔2026〕1号 · 认定单位审核 已用时 50%，期限 2026-10-14 13:00
        Recipients other than the assignee are told whose case it is. Reading a
        page of them wants select_related("clock", "assignee")
        (sla.notifications.notifications_for_user does it).
        """
        if self.message:
            return notice_text(self.message, self.params) or self.title
        clock = self.clock
        if clock is None or self.due_at is None:
            return self.title
        # The office's time (Asia/Shanghai), whatever zone the request runs in.
        due = timezone.localtime(self.due_at, timezone.get_default_timezone())
        params = {
            "case": clock.case_label,
            "stage": clock.get_stage_display(),
            "due": due.strftime("%Y-%m-%d %H:%M"),
        }
        if self.assignee_id and self.assignee:
            assignee = display_name(self.assignee)
        else:
            assignee = gettext("未指派")
        if self.kind == NotificationKind.BREACH:
            return gettext(
                "已超时：%(case)s · %(stage)s 期限 %(due)s 已过，承办人 %(assignee)s"
            ) % {
                **params,
                "assignee": assignee,
            }
        if self.kind == NotificationKind.ESCALATION:
            return gettext(
                "超时升级：%(case)s · %(stage)s 期限 %(due)s 已过，承办人 %(assignee)s"
            ) % {**params, "assignee": assignee}
        if self.percent:
            text = gettext("预警：%(case)s · %(stage)s 已用时 %(percent)s%%，期限 %(due)s") % {
                **params,
                "percent": self.percent,
            }
        else:
            text = gettext("预警：%(case)s · %(stage)s 临近期限 %(due)s") % params
        if self.assignee_id and self.assignee_id != self.user_id and self.assignee:
            text += gettext("，承办人 %(assignee)s") % {"assignee": assignee}
        return text


class Escalation(models.Model):
    """A breached clock in the supervisors' queue."""

    clock = models.OneToOneField(SlaClock, on_delete=models.CASCADE, related_name="escalation")
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["resolved_at", "created_at"]

    def __str__(self) -> str:
        return f"escalation {self.clock}"
