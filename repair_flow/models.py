from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as AuthUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import TokenProxy

from repair_flow.encryption import EncryptedTextField


class Role(models.TextChoices):
    APPLICANT = "applicant", _("申请人")
    OFFICER = "officer", _("平台工作人员")
    REVIEWER = "reviewer", _("认定单位审核人")
    SUPERVISOR = "supervisor", _("监督人员")
    ADMINISTRATOR = "administrator", _("系统管理员")
    INTEGRATION = "integration", _("系统对接账号")


STAFF_ROLES = frozenset({Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMINISTRATOR})


class UserManager(AuthUserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        # `manage.py createsuperuser` must give a working administrator: the
        # role, not is_superuser, opens the staff pages (repair_flow.roles), and
        # an applicant with is_superuser would meet 403 on every one of them.
        extra_fields.setdefault("role", Role.ADMINISTRATOR)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """A person or a system account. The role decides what the account may see
    and do; department reviewers also have a department membership
    (records.DepartmentMembership) and applicants their subject bindings."""

    role = models.CharField(_("角色"), max_length=20, choices=Role.choices, default=Role.APPLICANT)
    # Encrypted at rest (repair_flow/encryption.py).
    phone = EncryptedTextField(_("手机号码"), max_length=20, blank=True)
    # In-app notices always; email and SMS only while this is on (profile page).
    email_notifications = models.BooleanField(_("接收邮件和短信通知"), default=True)
    # The language of the emails and texts this person receives (profile
    # page); pages follow the language switcher.
    language = models.CharField(
        _("通知语言"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )

    objects = UserManager()

    @property
    def is_platform_staff(self) -> bool:
        return self.role in STAFF_ROLES


def display_name(user) -> str:
    """How a person is named on pages and in notices: full name, else username."""
    return user.get_full_name() or user.get_username()


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are never updated")

    def delete(self):
        raise AppendOnlyError("audit events are never deleted")


class AuditEvent(models.Model):
    """Append-only, keyed chain: each event's `hash` is an HMAC (key outside
    the database) over its fields, its payload digest and the link before.

    Rows are written only by `repair_flow.audit.audit_record`; the queryset and
    `save` refuse updates and deletes, and on PostgreSQL a trigger refuses
    them too (except blanking the payload, for retention). `verify_audit`
    recomputes the chain and checks the daily anchors.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64, blank=True)
    # Null once retention has destroyed it; payload_digest stays in the chain.
    summary = models.JSONField(default=dict, null=True)
    payload_digest = models.CharField(max_length=64, default="")
    # The server's own id for the request, and beside it the id a proxy or
    # client sent (only when it had the strict format: repair_flow/middleware.py).
    request_id = models.CharField(max_length=64, blank=True)
    client_request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        # A guard, not business logic: the trail is append-only.
        if not self._state.adding:
            raise AppendOnlyError("audit events are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are never deleted")


class AuditChainHead(models.Model):
    """One row: the last sequence number and hash. Locked while an event is
    appended so concurrent writers form one chain, and it lets verification
    notice removal of the newest events."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit chain head #{self.last_seq}"


class AccessPurpose(models.TextChoices):
    REPAIR_CASE = "repair_case", _("办理信用修复")
    OBJECTION_CASE = "objection_case", _("核查异议申请")
    SUPERVISION = "supervision", _("监督检查")
    DATA_MAINTENANCE = "data_maintenance", _("信息核对与维护")


class AccessChannel(models.TextChoices):
    PAGE = "page", _("网页")
    API = "api", _("接口（API）")
    ADMIN = "admin", _("管理后台")
    EXPORT = "export", _("导出文件")
    FEED = "feed", _("同步接口")


class AccessLogEntry(models.Model):
    """The access register: every staff view of a natural person's identifiers
    or records (shared domain reference section 8, modelled on the Credit
    Reporting Regulation Art. 22): who, when, what, and for what purpose."""

    at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Empty for a search that found no natural person: the search itself is a
    # view (shared domain reference section 8), and `what` says what was
    # searched, masked.
    subject = models.ForeignKey(
        "records.Subject", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    what = models.CharField(max_length=200)
    purpose = models.CharField(max_length=30, choices=AccessPurpose.choices)
    channel = models.CharField(max_length=10, choices=AccessChannel.choices)
    request_id = models.CharField(max_length=64, blank=True)
    client_request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "access log entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} {self.what}"


# Characters of an API token's key shown to people: enough to tell two tokens
# apart, far too few to use one (a key is 40 hex characters).
TOKEN_KEY_SHOWN = 6


class ApiToken(TokenProxy):
    """A system account's API token as the admin shows it: by the first
    characters of its key only. DRF's own admin named a token by its whole
    key (its __str__) on every list, page title and message: a credential in
    clear on the screen and in the browser's history."""

    class Meta:
        proxy = True
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return self.key_prefix

    @property
    def key_prefix(self) -> str:
        return f"{self.key[:TOKEN_KEY_SHOWN]}…" if self.key else ""


class ExportState(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("生成中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
    EXPIRED = "expired", _("已过期")


class ExportJob(models.Model):
    """A file made in the background because it was too large to stream in
    the request (repair_flow/exports.py): who asked, for what, how far it got,
    and where the finished file lies in storage until it expires.

    Generic: `kind` is the registered name of the Celery task that writes it
    (e.g. "sla.export_board"), `parameters` what that task needs to read the
    same rows the request would have streamed. The state moves only by
    conditional UPDATEs (the writer, the sweep), so a re-queued job is never
    written twice nor marked done half-written."""

    kind = models.CharField(max_length=80)
    title = models.CharField(_("内容"), max_length=300)
    parameters = models.JSONField(default=dict)
    # The language the requester read the page in: the file's labels follow it.
    language = models.CharField(max_length=10)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(
        _("状态"), max_length=10, choices=ExportState.choices, default=ExportState.QUEUED
    )
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    # The storage name (default_storage) of the finished file; empty until
    # done and again once expired.
    file = models.CharField(max_length=255, blank=True)
    download_name = models.CharField(max_length=200)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(_("申请时间"))
    # When it was last put on the queue: the sweep re-queues a job queued too
    # long ago (its worker was lost before it started).
    queued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    # The writer's last progress: a running job silent for long lost its worker.
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["requested_by", "kind", "-created_at"]),
            models.Index(fields=["state", "queued_at"]),
        ]

    def __str__(self) -> str:
        return f"export #{self.pk} {self.kind} {self.state}"

    @property
    def is_active(self) -> bool:
        return self.state in (ExportState.QUEUED, ExportState.RUNNING)
