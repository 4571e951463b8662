import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from records.identifiers import MOBILE_PATTERN, mask_phone, mask_resident_id
from repair_flow.encryption import BlindIndexField, EncryptedTextField, blind_indexes


class Sector(models.TextChoices):
    FOOD_DRUG = "food_drug", _("食品药品")
    ENVIRONMENT = "environment", _("生态环境")
    CONSTRUCTION = "construction", _("建设工程质量")
    WORK_SAFETY = "work_safety", _("安全生产")
    FIRE_SAFETY = "fire_safety", _("消防安全")
    OTHER = "other", _("其他")


class Department(models.Model):
    """An authority that issues penalties and reviews their repair ("谁认定、谁修复")."""

    code = models.CharField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    sector = models.CharField(
        _("领域"), max_length=20, choices=Sector.choices, default=Sector.OTHER
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("认定单位")
        verbose_name_plural = _("认定单位")

    def __str__(self) -> str:
        return self.name


class SubjectKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("法人和非法人组织")
    PERSON = "person", _("自然人")


class SubjectQuerySet(models.QuerySet):
    def identified_by(self, identifier: str):
        """The subject with this identifier, through its blind index."""
        return self.filter(identifier_index__in=blind_indexes(identifier))

    def identified_by_any(self, identifiers):
        return self.filter(
            identifier_index__in=[index for value in identifiers for index in blind_indexes(value)]
        )


class Subject(models.Model):
    """A market subject: an enterprise by USCC or a natural person by resident ID."""

    kind = models.CharField(_("主体类型"), max_length=10, choices=SubjectKind.choices)
    # Encrypted at rest (repair_flow/encryption.py; PIPL Art. 51): found by
    # its keyed blind index (`Subject.objects.identified_by`), never by value.
    identifier = EncryptedTextField(_("证件号码"), max_length=18)
    identifier_index = BlindIndexField(source="identifier", unique=True)
    name = models.CharField(_("名称"), max_length=200)
    legal_representative = models.CharField(_("法定代表人"), max_length=100, blank=True)
    # The subject's issuing source: the department whose import first
    # supplied it (for subjects registered before, the department of its
    # earliest record). Only it may rename the subject by an import.
    source_department = models.ForeignKey(
        "Department",
        verbose_name=_("报送来源单位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="supplied_subjects",
    )
    # How the platform reaches a subject no account is bound to (两书同送,
    # 国办发〔2025〕22号): from the import or the admin (subject_contact_set).
    contact_email = models.EmailField(_("联系邮箱"), blank=True)
    contact_phone = EncryptedTextField(
        _("联系手机号码"),
        max_length=11,
        blank=True,
        validators=[RegexValidator(rf"^{MOBILE_PATTERN}\Z", _("手机号码应为11位中国大陆手机号"))],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("信用主体")
        verbose_name_plural = _("信用主体")

    def __str__(self) -> str:
        return f"{self.name} ({self.display_identifier})"

    @property
    def is_person(self) -> bool:
        return self.kind == SubjectKind.PERSON

    @property
    def display_identifier(self) -> str:
        """Resident IDs are never shown in full (section 8); USCCs are public."""
        return mask_resident_id(self.identifier) if self.is_person else self.identifier

    @property
    def display_phone(self) -> str:
        """The first 3 and last 4 digits (shared domain reference section 8)."""
        return mask_phone(self.contact_phone) if self.contact_phone else ""

    @property
    def reachable(self) -> bool:
        return bool(self.contact_email or self.contact_phone)


class BindingCapacity(models.TextChoices):
    SELF = "self", _("本人")
    LEGAL_REPRESENTATIVE = "legal_representative", _("法定代表人")
    AGENT = "agent", _("委托代理人")


class SubjectBinding(models.Model):
    """An applicant account acting for a subject."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subject_bindings"
    )
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="bindings")
    capacity = models.CharField(_("身份"), max_length=30, choices=BindingCapacity.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "subject"], name="unique_subject_binding")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.subject}"


class DepartmentMembership(models.Model):
    """A department reviewer belongs to exactly one department."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="department_membership"
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="members")

    def __str__(self) -> str:
        return f"{self.user} @ {self.department}"


class Severity(models.TextChoices):
    MINOR = "minor", _("轻微")
    GENERAL = "general", _("一般")
    SERIOUS = "serious", _("严重")


class PenaltyType(models.TextChoices):
    """Administrative Penalty Law Art. 9."""

    WARNING = "warning", _("警告")
    PUBLIC_CRITICISM = "public_criticism", _("通报批评")
    FINE = "fine", _("罚款")
    CONFISCATION = "confiscation", _("没收违法所得、没收非法财物")
    LICENCE_SUSPENSION = "licence_suspension", _("暂扣许可证件")
    QUALIFICATION_DOWNGRADE = "qualification_downgrade", _("降低资质等级")
    LICENCE_REVOCATION = "licence_revocation", _("吊销许可证件")
    BUSINESS_RESTRICTION = "business_restriction", _("限制开展生产经营活动")
    PRODUCTION_SUSPENSION = "production_suspension", _("责令停产停业")
    CLOSURE = "closure", _("责令关闭")
    OCCUPATION_BAN = "occupation_ban", _("限制从业")
    DETENTION = "detention", _("行政拘留")
    OTHER = "other", _("其他")


class RecordStatus(models.TextChoices):
    PUBLISHED = "published", _("公示中")
    REPAIRED = "repaired", _("已修复")
    EXPIRED = "expired", _("公示期满")
    DELETED = "deleted", _("已删除")
    UNDER_OBJECTION = "under_objection", _("异议处理中")
    # Shandong Social Credit Regulation Art. 38: deleted when its disclosure
    # period ends. The row stays as a tombstone with no personal content
    # (retention/services.py), hidden from every query by the default manager.
    DESTROYED = "destroyed", _("已销毁")


class LiveRecordManager(models.Manager):
    """Records not destroyed under their retention rule: a destroyed record
    is no longer queryable (Shandong Social Credit Regulation Art. 38), so
    every list, search, page and API that reads `CreditRecord.objects` skips
    it. Links to it (a case's `record`) still resolve through the base
    manager; the retention job reads `all_objects`."""

    def get_queryset(self):
        return super().get_queryset().exclude(status=RecordStatus.DESTROYED)


def destroyed_decision_number(department_id: int, decision_number: str) -> str:
    """What a destroyed record keeps of its decision number: a digest, so a
    re-import of the same decision is recognised without keeping the number."""
    digest = hashlib.sha256(f"{department_id}:{decision_number}".encode()).hexdigest()
    return f"sha256:{digest}"


class CreditRecord(models.Model):
    """An administrative-penalty record pushed in by the issuing department."""

    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="records", verbose_name=_("认定单位")
    )
    decision_number = models.CharField(_("处罚决定书文号"), max_length=100)
    # Empty only once the record is destroyed (retention): the tombstone no
    # longer says whose penalty it was.
    subject = models.ForeignKey(
        Subject,
        null=True,
        on_delete=models.PROTECT,
        related_name="records",
        verbose_name=_("信用主体"),
    )
    decision_date = models.DateField(_("处罚决定日期"))
    # Shandong Social Credit Regulation Art. 38: disclosure ends at most five
    # years after the conduct ended. Empty means the decision date (the import
    # fills it in; rows older than the field were given their decision date).
    conduct_end_date = models.DateField(
        _("失信行为终止日期"), null=True, blank=True, help_text=_("未填写的，以处罚决定日期为准")
    )
    penalty_types = models.JSONField(_("处罚类型"), default=list)
    fine_amount = models.DecimalField(
        _("罚款金额（元）"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    severity = models.CharField(_("严重程度"), max_length=10, choices=Severity.choices)
    facts = models.TextField(_("违法事实"), blank=True)
    status = models.CharField(
        _("状态"), max_length=20, choices=RecordStatus.choices, default=RecordStatus.PUBLISHED
    )
    # An objection that could not be verified (无法核实): the record stays as
    # it is, and every page and API answer that shows it shows this note
    # (shared domain reference section 5).
    objection_note = models.CharField(_("异议标注"), max_length=500, blank=True)
    # The publicity window, fixed by the rule set in force on the decision date.
    publicity_starts_on = models.DateField(_("公示起始日"))
    publicity_ends_on = models.DateField(_("公示截止日"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    all_objects = models.Manager()
    objects = LiveRecordManager()

    class Meta:
        base_manager_name = "all_objects"
        default_manager_name = "objects"
        ordering = ["-decision_date", "-id"]
        verbose_name = _("行政处罚信息")
        verbose_name_plural = _("行政处罚信息")
        constraints = [
            models.UniqueConstraint(
                fields=["department", "decision_number"], name="unique_decision_per_department"
            )
        ]
        indexes = [
            models.Index(fields=["status", "publicity_ends_on"]),
            # The lists' order (newest decision first) read from an index, with
            # and without their filters: a page is an index range, not a sort
            # of every row (issue 18).
            models.Index(fields=["-decision_date", "-id"], name="record_list_order"),
            models.Index(
                fields=["status", "-decision_date", "-id"], name="record_status_list_order"
            ),
            models.Index(
                fields=["department", "-decision_date", "-id"], name="record_dept_list_order"
            ),
            # A decision number searched by its prefix (LIKE 'q%'): the pattern
            # operator class on PostgreSQL (other databases ignore it).
            models.Index(
                fields=["decision_number"],
                name="record_decision_number_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return self.decision_number

    @property
    def conduct_ended_on(self):
        return self.conduct_end_date or self.decision_date

    def penalty_type_labels(self) -> list[str]:
        labels = dict(PenaltyType.choices)
        return [str(labels.get(code, code)) for code in self.penalty_types]


class PublicityRuleSet(models.Model):
    """A version of the publicity rules, in force between two dates."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    legal_basis = models.TextField(_("依据"))
    effective_from = models.DateField(_("施行日期"))
    effective_to = models.DateField(_("废止日期"), null=True, blank=True)
    disclosure_max_years = models.PositiveSmallIntegerField(
        _("失信信息披露最长期限（年）"),
        default=5,
        help_text=_("自失信行为终止之日起计算；期满后不再公示、共享，也不再作为任何限制的依据"),
    )
    disclosure_max_basis = models.CharField(
        _("披露最长期限依据"), max_length=300, default="《山东省社会信用条例》第三十八条"
    )

    class Meta:
        ordering = ["-effective_from"]
        verbose_name = _("公示规则")
        verbose_name_plural = _("公示规则")

    def __str__(self) -> str:
        return self.name


class PublicityPeriod(models.Model):
    rule_set = models.ForeignKey(PublicityRuleSet, on_delete=models.CASCADE, related_name="periods")
    severity = models.CharField(_("严重程度"), max_length=10, choices=Severity.choices)
    published = models.BooleanField(_("是否公示"), default=True)
    min_months = models.PositiveSmallIntegerField(_("最短公示期（月）"))
    max_months = models.PositiveSmallIntegerField(_("最长公示期（月）"))
    unconfirmed = models.BooleanField(
        _("未经核实"), default=False, help_text=_("合理默认值，法律依据尚未核实")
    )
    note = models.CharField(_("说明"), max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule_set", "severity"], name="unique_period_severity")
        ]
        verbose_name = _("公示期限")
        verbose_name_plural = _("公示期限")

    def __str__(self) -> str:
        return f"{self.rule_set.code}/{self.severity}"


class NonRepairableRule(models.Model):
    """Penalty types whose publicity runs to the maximum: no early repair."""

    rule_set = models.ForeignKey(
        PublicityRuleSet, on_delete=models.CASCADE, related_name="non_repairable"
    )
    penalty_type = models.CharField(_("处罚类型"), max_length=30, choices=PenaltyType.choices)
    sectors = models.JSONField(
        _("适用领域"), default=list, blank=True, help_text=_("为空表示所有领域")
    )
    reason = models.CharField(_("原因"), max_length=300)
    legal_basis = models.CharField(_("依据"), max_length=300)
    unconfirmed = models.BooleanField(_("未经核实"), default=False)

    class Meta:
        verbose_name = _("不可提前修复情形")
        verbose_name_plural = _("不可提前修复情形")

    def __str__(self) -> str:
        return f"{self.rule_set.code}/{self.penalty_type}"


class SyncKind(models.TextChoices):
    REPAIRED = "repaired", _("修复")
    CORRECTED = "corrected", _("更正")
    DELETED = "deleted", _("删除")
    MAINTAINED = "maintained", _("维持")
    UNVERIFIABLE = "unverifiable", _("无法核实")
    # Shandong Social Credit Regulation Art. 40: the decision itself was revoked or changed.
    DECISION_REVOKED = "decision_revoked", _("处罚决定撤销")
    DECISION_CHANGED = "decision_changed", _("处罚决定变更")
    REPUBLISHED = "republished", _("恢复公示")


class SyncEvent(models.Model):
    """A change of a record's publication that other credit platforms must be told of.

    An outbox row: written in the decision's transaction, pulled by each
    integration account from the feed and acknowledged per consumer.
    """

    # Idempotency: a retried transaction or a re-run queues the same key again.
    key = models.CharField(_("幂等键"), max_length=200, unique=True)
    record = models.ForeignKey(
        CreditRecord,
        on_delete=models.PROTECT,
        related_name="sync_events",
        verbose_name=_("行政处罚信息"),
    )
    kind = models.CharField(_("事件类型"), max_length=20, choices=SyncKind.choices)
    payload = models.JSONField(_("推送内容"))
    source = models.CharField(_("来源"), max_length=100)
    occurred_at = models.DateTimeField(_("发生时间"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("同步事件")
        verbose_name_plural = _("同步事件")

    def __str__(self) -> str:
        return f"{self.kind}:{self.record_id}"


class SyncAck(models.Model):
    """One consumer's acknowledgement of one event."""

    event = models.ForeignKey(SyncEvent, on_delete=models.CASCADE, related_name="acks")
    consumer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sync_acks"
    )
    acked_at = models.DateTimeField(_("确认时间"))

    class Meta:
        verbose_name = _("同步确认")
        verbose_name_plural = _("同步确认")
        constraints = [
            models.UniqueConstraint(fields=["event", "consumer"], name="unique_sync_ack")
        ]
        # The feed: "events this consumer has not acked, after id N".
        indexes = [models.Index(fields=["consumer", "event"], name="sync_ack_consumer_event")]

    def __str__(self) -> str:
        return f"{self.consumer} ✓ {self.event_id}"


class RepeatLimitPolicy(models.Model):
    """Repeat limits on credit repair (shared domain reference section 3).

    A local example, UNCONFIRMED as national law, so the numbers are data,
    versioned by effective date: an application is judged by the version in
    force on the day it is checked (filing, acceptance, approval). A "repair"
    is an approved repair case of the same subject, dated by its decision.

    Shipped disabled: NDRC Order 2025 No. 36 Art. 2 lets only laws,
    administrative regulations and central policy exclude a record from
    repair, so a limit refuses nobody until an administrator enables it with
    its legal basis (document and article), which every refusal then cites.
    """

    effective_from = models.DateField(_("施行日期"), unique=True)
    enabled = models.BooleanField(
        _("启用"),
        default=False,
        help_text=_("启用前须填写法律依据（文件名称及条款）并确认已核实；未启用时不限制"),
    )
    min_interval_days = models.PositiveSmallIntegerField(
        _("两次修复最短间隔（日）"),
        default=365,
        help_text=_("距该主体上次信用修复不满此天数的，不予受理；0 表示不限制"),
    )
    max_repairs = models.PositiveSmallIntegerField(
        _("期间内最多修复次数"),
        default=2,
        help_text=_("统计期间内该主体已修复达到此次数的，不予受理"),
    )
    max_repairs_window_years = models.PositiveSmallIntegerField(
        _("修复次数统计期间（年）"), default=5, help_text=_("0 表示不限制修复次数")
    )
    same_conduct_window_years = models.PositiveSmallIntegerField(
        _("同类失信行为限制期间（年）"),
        default=5,
        help_text=_(
            "同类失信行为已于此期间内修复的，不予受理；0 表示不限制。"
            "同类失信行为指同一认定单位作出、处罚类型有重合的行政处罚"
            "（行政处罚信息不记载违法行为类别，以此近似）"
        ),
    )
    unconfirmed = models.BooleanField(
        _("未经核实"), default=True, help_text=_("合理默认值，法律依据尚未核实")
    )
    legal_basis = models.TextField(_("依据"))
    note = models.CharField(_("说明"), max_length=300, blank=True)

    class Meta:
        ordering = ["-effective_from"]
        verbose_name = _("重复修复限制")
        verbose_name_plural = _("重复修复限制")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_repairs__gte=1),
                name="repeat_limit_max_repairs_positive",
                violation_error_message=_("最多修复次数至少为 1"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.effective_from:%Y-%m-%d}"

    def clean(self) -> None:
        super().clean()
        if self.enabled and (self.unconfirmed or not " ".join(self.legal_basis.split())):
            raise ValidationError(
                {
                    "enabled": _(
                        "启用重复修复限制须填写其法律依据（文件名称及条款），并取消“未经核实”："
                        "只有法律、行政法规和党中央、国务院政策文件可以排除信用修复"
                        "（《信用修复管理办法》第二条）。"
                    )
                }
            )


class RecordCorrection(models.Model):
    """A correction of a record's fields after an objection (更正): the diff,
    the evidence it rests on and the case that ordered it, shown in the
    record's history."""

    record = models.ForeignKey(
        CreditRecord, on_delete=models.PROTECT, related_name="corrections", verbose_name=_("记录")
    )
    changes = models.JSONField(_("更正内容"), default=list)  # [{"field", "label", "old", "new"}]
    evidence = models.CharField(_("依据材料"), max_length=300)
    source = models.CharField(_("来源"), max_length=100)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("更正人"),
    )
    at = models.DateTimeField(_("更正时间"))

    class Meta:
        ordering = ["record", "at", "id"]
        verbose_name = _("记录更正")
        verbose_name_plural = _("记录更正")

    def __str__(self) -> str:
        return f"{self.record_id} @ {self.at:%Y-%m-%d}"


class DecisionChangeKind(models.TextChoices):
    REVOKED = "revoked", _("撤销")
    CHANGED = "changed", _("变更")


class DecisionChange(models.Model):
    """A penalty decision revoked or changed (by reconsideration, a court, or
    the department itself), as its department reports it (Shandong Social
    Credit Regulation Art. 40: the record is changed within 3 working days of
    the revocation or change). The record is deleted or corrected in the same
    transaction; the record-change clock measures the report against the date."""

    record = models.ForeignKey(
        CreditRecord,
        on_delete=models.PROTECT,
        related_name="decision_changes",
        verbose_name=_("行政处罚信息"),
    )
    kind = models.CharField(_("类型"), max_length=10, choices=DecisionChangeKind.choices)
    changed_on = models.DateField(_("撤销或变更日期"))
    changes = models.JSONField(_("变更内容"), default=list, blank=True)
    note = models.CharField(_("依据文书"), max_length=300, blank=True)
    source = models.CharField(_("来源"), max_length=100)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("登记人"),
    )
    recorded_at = models.DateTimeField(_("登记时间"))

    class Meta:
        ordering = ["record", "recorded_at", "id"]
        verbose_name = _("处罚决定撤销或变更")
        verbose_name_plural = _("处罚决定撤销或变更")

    def __str__(self) -> str:
        return f"{self.record.decision_number} {self.get_kind_display()} {self.changed_on}"

    @property
    def sla_label(self) -> str:
        # Stored on the clock: data, in Chinese whatever the reporter's language.
        kind = "处罚决定撤销" if self.kind == DecisionChangeKind.REVOKED else "处罚决定变更"
        return f"{self.record.decision_number}（{kind}）"

    @property
    def sla_department(self):
        return self.record.department
