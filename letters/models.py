"""Letters (numbered PDF notices), the credit commitment, and the outbox.

A letter's facts are frozen when it is issued; it is rendered once, after
commit, and the stored bytes with their SHA-256 are the letter from then on.
Messages (email now, SMS later) are outbox rows written in the transaction of
the event that causes them and sent after commit.
"""

import secrets

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from records.identifiers import mask_phone
from records.models import BindingCapacity, CreditRecord, Department, Subject
from repair_flow.encryption import EncryptedJSONField, EncryptedTextField


class LetterKind(models.TextChoices):
    # ../shared/domain.md section 9
    ACCEPTANCE = "acceptance", _("受理通知书")
    REFUSAL_TO_ACCEPT = "refusal_to_accept", _("不予受理通知书")
    SUPPLEMENT = "supplement", _("补正材料一次性告知书")
    REPAIR_DECISION = "repair_decision", _("信用修复决定书")
    REPAIR_REFUSAL = "repair_refusal", _("不予修复决定书")
    OBJECTION_RESULT = "objection_result", _("异议处理结果告知书")
    REVOCATION_NOTICE = "revocation_notice", _("拟撤销信用修复告知书")
    REVOCATION = "revocation", _("撤销信用修复决定书")
    COMMITMENT = "commitment", _("信用修复承诺书")
    # 两书同送 (国办发〔2025〕22号): told of repair with the penalty.
    REPAIR_INFO = "repair_info", _("信用修复告知书")


class LetterSetting(models.Model):
    """Per kind: the remedies line. The issuing body, its wording and its
    number prefixes are the issuer's (`Issuer`); which issuer signs which
    kind is the rule in letters/issuers.py.

    Data, edited in the admin: the remedies' periods are the law's
    (Administrative Reconsideration Law Art. 20: 60 days; Administrative
    Litigation Law Art. 46: 6 months) and the law may change them. The line
    names the issuer's reconsideration body and court through the
    placeholders {reconsideration_body} and {court}.
    """

    kind = models.CharField(_("文书种类"), max_length=20, choices=LetterKind.choices, unique=True)
    remedies = models.TextField(
        _("救济途径"),
        blank=True,
        help_text=_(
            "留空则不印救济途径（如受理通知书、承诺书）。{reconsideration_body}、{court} "
            "印出具机关设置的行政复议机关和人民法院。"
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        verbose_name = _("文书设置")
        verbose_name_plural = _("文书设置")

    def __str__(self) -> str:
        return self.get_kind_display()


class IssuerKind(models.TextChoices):
    INSTITUTION = "institution", _("公共信用信息机构")
    DEPARTMENT = "department", _("认定单位")


def seal_upload_to(issuer: "Issuer", filename: str) -> str:
    return f"seals/{issuer.code}/{filename}"


class Issuer(models.Model):
    """A body that issues letters in its own name: the public credit
    information institution for the platform's steps, a department for its
    decisions ("谁认定、谁修复"; Shandong Social Credit Regulation Art. 9: the
    platform itself is not an authority). Data, edited in the admin.

    `code` is stable (letters, digits and underscores, so that it can name
    an environment variable): the PDF signature finds the issuer's key in
    the environment by it ("centre"; a department's "dept_<its code>").
    Letters keep the name and wording they were issued with (their facts);
    a change here applies to letters issued after it.
    """

    code = models.CharField(
        _("代码"),
        max_length=40,
        unique=True,
        validators=[
            RegexValidator(
                r"^[a-z][a-z0-9_]*$",
                _("代码只能由小写英文字母、数字和下划线组成，并以字母开头。"),
            )
        ],
        help_text=_("稳定的英文代码，签章证书按此代码配置"),
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=12, choices=IssuerKind.choices)
    department = models.OneToOneField(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="issuer",
        verbose_name=_("认定单位"),
    )
    self_reference = models.CharField(
        _("自称"), max_length=10, help_text=_("文书正文中的自称，如 本中心、本机关、本单位")
    )
    contact_office = models.CharField(_("联系机构"), max_length=100)
    contact_phone = models.CharField(_("联系电话"), max_length=40)
    reconsideration_body = models.CharField(
        _("行政复议机关"), max_length=100, help_text=_("如 济南市人民政府")
    )
    court = models.CharField(
        _("人民法院"), max_length=100, help_text=_("如 济南市历下区人民法院，或 有管辖权的人民法院")
    )
    seal = models.FileField(_("电子印章"), upload_to=seal_upload_to, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("出具机关")
        verbose_name_plural = _("出具机关")
        constraints = [
            # Platform steps are issued by the one institution.
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind="institution"),
                name="one_institution_issuer",
            ),
            models.CheckConstraint(
                condition=Q(kind="institution", department__isnull=True)
                | Q(kind="department", department__isnull=False),
                name="department_issuer_has_department",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class IssuerPrefix(models.Model):
    """The number prefix of one series (a letter kind, objections apart) of
    one issuer: 济信修受〔2026〕1号. Unique across issuers, so every series
    has numbers of its own."""

    issuer = models.ForeignKey(Issuer, on_delete=models.CASCADE, related_name="prefixes")
    series = models.CharField(_("文书系列"), max_length=40)
    prefix = models.CharField(
        _("文号前缀"),
        max_length=20,
        unique=True,
        help_text=_("文号为“前缀〔年份〕序号号”，如 济信修受〔2026〕1号"),
        error_messages={"unique": _("这个文号前缀已被其他文书系列使用，各系列的前缀不能相同。")},
    )

    class Meta:
        ordering = ["issuer", "series"]
        verbose_name = _("文号前缀")
        verbose_name_plural = _("文号前缀")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "series"], name="one_prefix_per_series")
        ]

    def __str__(self) -> str:
        return self.prefix


class LetterSequence(models.Model):
    """The last number issued per series (its prefix) and year. Incremented
    in the transaction that writes the letter, so a rollback takes its number
    back and numbers never skip; the row lock makes concurrent issuers queue."""

    prefix = models.CharField(max_length=20)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prefix", "year"], name="one_sequence_per_prefix_year")
        ]

    def __str__(self) -> str:
        return f"{self.prefix} {self.year}: {self.last}"


class RenderStatus(models.TextChoices):
    PENDING = "pending", _("待生成")
    RENDERING = "rendering", _("生成中")
    RENDERED = "rendered", _("已生成")
    FAILED = "failed", _("生成失败")


def verification_code() -> str:
    """12 characters from an alphabet without look-alikes (no 0/O, 1/I/L)."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def letter_upload_to(letter: "Letter", filename: str) -> str:
    return f"letters/{letter.issued_at:%Y/%m}/{filename}"


class Letter(models.Model):
    """One notice (or commitment) as issued: facts frozen, rendered once.

    `number` and `verification_code` are empty only for a commitment draft
    (what the applicant reads before signing; the signed commitment is a
    letter of its own with a number).
    """

    kind = models.CharField(_("文书种类"), max_length=20, choices=LetterKind.choices)
    number = models.CharField(_("文号"), max_length=60, unique=True, null=True, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    serial = models.PositiveIntegerField(null=True, blank=True)
    verification_code = models.CharField(max_length=12, unique=True, null=True, blank=True)
    issuer = models.CharField(_("出具机关"), max_length=100)
    # Which issuer (the name above is frozen with the letter); empty only for
    # letters older than issuers that no issuer's name matched.
    issuer_ref = models.ForeignKey(
        Issuer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="letters",
        verbose_name=_("出具机关"),
    )
    issued_at = models.DateTimeField(_("出具时间"), default=timezone.now)

    # The case the letter belongs to (any case model), like SlaClock's link.
    case_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    case_id = models.PositiveBigIntegerField(null=True, blank=True)
    case_label = models.CharField(max_length=100, blank=True)
    record = models.ForeignKey(
        CreditRecord, null=True, blank=True, on_delete=models.PROTECT, related_name="letters"
    )
    subject = models.ForeignKey(
        Subject, null=True, blank=True, on_delete=models.PROTECT, related_name="letters"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="letters",
        help_text=_("收件的申请人账号"),
    )
    # The addressee's identifier, name, address and phone are in here:
    # encrypted at rest as one value (repair_flow/encryption.py).
    facts = EncryptedJSONField(default=dict, help_text=_("出具时确定的全部内容，生成后不再改变"))

    status = models.CharField(
        max_length=10, choices=RenderStatus.choices, default=RenderStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    file = models.FileField(upload_to=letter_upload_to, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    # The SHA-256 of the certificate that signed the PDF (letters/signing.py):
    # the signer check compares with it. Empty for letters stored unsigned
    # before signing existed.
    signer_sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)
    pages = models.PositiveSmallIntegerField(null=True, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("文书")
        verbose_name_plural = _("文书")
        indexes = [
            models.Index(fields=["case_type", "case_id"], name="letter_case"),
            models.Index(fields=["recipient", "-issued_at"], name="letter_recipient"),
            # The letters list's order for staff and agents (issue 18).
            models.Index(fields=["-issued_at", "-id"], name="letter_list_order"),
            # The list's search: a letter's or its case's number by its
            # beginning (LIKE 'q%'), the pattern operator class on PostgreSQL.
            models.Index(
                fields=["number"], name="letter_number_prefix", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["case_label"],
                name="letter_case_label_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
            # The render sweep reads only letters still to render.
            models.Index(
                fields=["next_attempt_at"],
                name="letter_render_due",
                condition=~Q(status="rendered"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="commitment") | Q(number__isnull=False),
                name="only_commitment_drafts_have_no_number",
            ),
            # One credit-repair notice per record, whatever re-imports it.
            models.UniqueConstraint(
                fields=["record"],
                condition=Q(kind="repair_info"),
                name="one_repair_info_per_record",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"{self.get_kind_display()}（{_('待签署')}）"

    @property
    def is_draft(self) -> bool:
        return self.number is None


class CommitmentStatus(models.TextChoices):
    DRAFT = "draft", _("待签署")
    SIGNED = "signed", _("已签署")
    VOID = "void", _("已作废")


class Commitment(models.Model):
    """The credit commitment (信用修复承诺书) for one penalty record.

    One open commitment per record (domain section 3). The applicant reads
    `draft` and signs it by an explicit act; the signature keeps the hash of
    the exact draft PDF signed, and `signed` is the numbered letter that
    shows the signature block.
    """

    record = models.ForeignKey(CreditRecord, on_delete=models.PROTECT, related_name="commitments")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="commitments")
    case_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    case_id = models.PositiveBigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=CommitmentStatus.choices, default=CommitmentStatus.DRAFT
    )
    draft = models.OneToOneField(Letter, on_delete=models.PROTECT, related_name="commitment_draft")
    signed = models.OneToOneField(
        Letter,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commitment_signed",
    )
    # Who signed, by the name on their account, and in which capacity their
    # binding to the subject gives them (an agent signs as agent, 受托人).
    signer_name = models.CharField(_("签署人"), max_length=100, blank=True)
    signer_capacity = models.CharField(
        _("签署身份"), max_length=30, choices=BindingCapacity.choices, blank=True
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_ip = models.GenericIPAddressField(null=True, blank=True)
    signed_user_agent = models.CharField(max_length=400, blank=True)
    signed_sha256 = models.CharField(
        max_length=64, blank=True, help_text=_("签署时所见承诺书 PDF 的 SHA-256")
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("信用修复承诺书")
        verbose_name_plural = _("信用修复承诺书")
        constraints = [
            models.UniqueConstraint(
                fields=["record"],
                condition=~Q(status="void"),
                name="one_open_commitment_per_record",
            )
        ]

    def __str__(self) -> str:
        return f"{self.record} · {self.get_status_display()}"


class Channel(models.TextChoices):
    EMAIL = "email", _("电子邮件")
    SMS = "sms", _("短信")


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    DELIVERED = "delivered", _("已送达")
    BOUNCED = "bounced", _("被退回")
    FAILED = "failed", _("发送失败")


class OutboundMessage(models.Model):
    """One message to send, written with the event that causes it.

    The idempotency key names the event (e.g. "letter:42:email"), so writing
    the same message twice is refused by the database. A sender claims the
    row (queued -> sending) with a conditional UPDATE before calling the ESP;
    a row left in "sending" by a crash is never sent again automatically (the
    ESP may have accepted it): it is marked failed for an officer to check.
    """

    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    idempotency_key = models.CharField(max_length=120, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    # An email address or a mobile number: encrypted at rest (repair_flow/encryption.py).
    to = EncryptedTextField(_("收件地址"), max_length=254)
    subject = models.CharField(_("主题"), max_length=200)
    body = models.TextField(_("正文"))
    letter = models.ForeignKey(
        Letter, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    esp_message_id = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("外发消息")
        verbose_name_plural = _("外发消息")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="message_send_due",
                condition=Q(status__in=["queued", "sending"]),
            ),
            models.Index(fields=["esp_message_id"], name="message_esp_id"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.display_to}: {self.subject}"

    @property
    def display_to(self) -> str:
        """A phone number shows its first 3 and last 4 digits (domain.md section 8)."""
        return mask_phone(self.to) if self.channel == Channel.SMS else self.to


class DeliveryEvent(models.Model):
    """A tracking event from the ESP's webhook (anymail's normalised form)."""

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=30)
    event_id = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    description = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "event_id"],
                condition=~Q(event_id=""),
                name="one_delivery_event_per_esp_event",
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_id}: {self.event_type}"


class RepairInfoDue(models.Model):
    """A credit-repair notice (两书同送) due for a record: what the import
    commits in its own transaction instead of the letter itself.

    A row is a few bytes where a letter is 27 columns and its frozen facts:
    the import writes these (an import of 100,000 rows may be slowed by at
    most 20 %, tests/bench/bench_import.py), and the background
    (letters.repair_info.repair_info_issue_due, after commit, and the
    `letters-repair-info-due` job for what a crash left) turns them into
    numbered letters, deleting each row in the transaction that issues its
    letter, so a record is told once.
    """

    record = models.OneToOneField(
        CreditRecord, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    due_at = models.DateTimeField()
    # Who imported the record: the notice's audit event names them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An actor with no account: the command's name ("import_records").
    actor_label = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = _("待发信用修复告知书")
        verbose_name_plural = _("待发信用修复告知书")

    def __str__(self) -> str:
        return f"{self.record_id}: {self.due_at:%Y-%m-%d %H:%M}"
