"""Repair cases: the case, its materials, its supplement requests and its timeline.

The status is a protected FSM field: it changes only through the transitions
below, and only the services (flows/cases/, flows/repair/) fire them (with the clocks,
letters, timeline row and audit event in the same transaction).
"""

import functools

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.sql.where import AND, WhereNode
from django.utils.translation import gettext_lazy as _
from django_fsm import (
    RETURN_VALUE,
    ConcurrentTransitionMixin,
    FSMField,
    FSMFieldMixin,
    transition,
)
from viewflow.workflow.models import Process, Task

from records.models import BindingCapacity


class CaseStatus(models.TextChoices):
    # ../shared/design.md, case lifecycles (repair)
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已提交")
    IN_PRELIMINARY_REVIEW = "in_preliminary_review", _("初审中")
    AWAITING_SUPPLEMENT = "awaiting_supplement", _("待补正")
    RESUBMITTED = "resubmitted", _("已补正")
    NOT_ACCEPTED = "not_accepted", _("不予受理")
    LAPSED = "lapsed", _("逾期未补正")
    ACCEPTED = "accepted", _("已受理")
    IN_DEPARTMENT_REVIEW = "in_department_review", _("认定单位审核中")
    APPROVED = "approved", _("准予修复")
    REJECTED = "rejected", _("不予修复")
    WITHDRAWN = "withdrawn", _("已撤回")
    # ../shared/design.md, case lifecycles (objection)
    IN_VERIFICATION = "in_verification", _("核查中")
    CORRECTED = "corrected", _("记录已更正")
    DELETED = "deleted", _("记录已删除")
    MAINTAINED = "maintained", _("记录维持")
    # Domain section 5: the record stays, with a visible note on it.
    UNVERIFIABLE = "unverifiable", _("无法核实")
    # ../shared/design.md: approved -> monitoring -> completed | revoked. An
    # approved repair case is under monitoring (flows.MonitoringWindow).
    COMPLETED = "completed", _("监管期满")
    REVOKED = "revoked", _("已撤销修复")


# Cases that no longer hold the record: a new case may be filed (approved and
# rejected are decided; the monitoring after an approval does not reopen the
# record either: a repaired record is not eligible, and a revoked repair's
# subject is barred from filing again).
CLOSED_STATUSES = (
    CaseStatus.NOT_ACCEPTED,
    CaseStatus.LAPSED,
    CaseStatus.WITHDRAWN,
    CaseStatus.APPROVED,
    CaseStatus.COMPLETED,
    CaseStatus.REVOKED,
    CaseStatus.REJECTED,
    CaseStatus.CORRECTED,
    CaseStatus.DELETED,
    CaseStatus.MAINTAINED,
    CaseStatus.UNVERIFIABLE,
)
# A repair that took place (approved, its monitoring ended, or later revoked):
# what the repeat limits count.
REPAIRED_STATUSES = (CaseStatus.APPROVED, CaseStatus.COMPLETED, CaseStatus.REVOKED)
WITHDRAWABLE = (
    CaseStatus.DRAFT,
    CaseStatus.SUBMITTED,
    CaseStatus.IN_PRELIMINARY_REVIEW,
    CaseStatus.AWAITING_SUPPLEMENT,
    CaseStatus.RESUBMITTED,
    CaseStatus.ACCEPTED,
    CaseStatus.IN_DEPARTMENT_REVIEW,
    CaseStatus.IN_VERIFICATION,
)


class CaseKind(models.TextChoices):
    REPAIR = "repair", _("信用修复")
    OBJECTION = "objection", _("异议")


class CaseSequence(models.Model):
    """The last case number issued per year: incremented by one upsert in the
    submitting transaction (as letters' LetterSequence), so numbers never skip
    or repeat."""

    kind = models.CharField(max_length=20, choices=CaseKind.choices, default=CaseKind.REPAIR)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "year"], name="one_case_sequence_per_kind_year")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.year}: {self.last}"


class CaseClockJoin(models.ForeignObject):
    """A join from a case (or a breach review, which runs clocks of its own)
    to the SLA clocks of its kind (sla.SlaClock names its case by content
    type and id), with no column of its own. Many clocks
    match a case: it is only ever read through a FilteredRelation whose
    condition leaves one (one open clock per case and stage, a unique
    constraint), never as an attribute."""

    # No column, so no constraint: the schema editor asks when a migration
    # removes the field (SQLite's remove_field reads it of any relation).
    db_constraint = False

    def __init__(
        self,
        to="sla.SlaClock",
        on_delete=models.DO_NOTHING,
        from_fields=("id",),
        to_fields=("case_id",),
        **kwargs,
    ):
        # Every kind of case (and the breach review) declares the same join:
        # `sla_clock = CaseClockJoin()`. The arguments stay accepted, as the
        # migrations that added the field name them all.
        kwargs.update(related_name="+", null=True, blank=True, editable=False)
        super().__init__(
            to, on_delete, from_fields=list(from_fields), to_fields=list(to_fields), **kwargs
        )

    def get_extra_restriction(self, alias, related_alias):
        # `alias` is the clock table's: only clocks of this kind of case.
        field = self.remote_field.model._meta.get_field("case_type")
        content_type = ContentType.objects.get_for_model(self.model)
        return WhereNode(
            [field.get_lookup("exact")(field.get_col(alias), content_type.pk)], connector=AND
        )

    def _check_unique_target(self):
        # Not a to-one relation on purpose (see the class docstring).
        return []


@functools.cache
def fsm_state_fields(model) -> tuple:
    return tuple(field for field in model._meta.fields if isinstance(field, FSMFieldMixin))


class ConcurrentTransitions(ConcurrentTransitionMixin):
    """django-fsm's optimistic lock on the state (a save fails when another
    request changed it since this one read it), with the model's state
    fields found once per model: django-fsm filters every field of the model
    for each instance it loads, ~0.1 ms a case, 50 cases a page (issue 18)."""

    @property
    def state_fields(self):
        return fsm_state_fields(type(self))


class CaseBase(ConcurrentTransitions, models.Model):
    """What a repair case and an objection case share: the filing, the
    same-day preliminary review with its one-time supplement notice, the
    decision, the exits, and the transitions of that common front half.
    The status field lives here so both kinds share these transitions."""

    kind: str = ""

    # The case's SLA clocks, for joins only: a list picks one (the open clock
    # of a task's stage) with a FilteredRelation and sorts by its stored,
    # indexed due_at, instead of a subquery per row (issue 18).
    sla_clock = CaseClockJoin()

    number = models.CharField(_("申请编号"), max_length=40, unique=True, null=True, blank=True)
    filed_by_capacity = models.CharField(
        _("申请人身份"), max_length=30, choices=BindingCapacity.choices
    )
    details = models.TextField(_("申请说明"), blank=True)
    status = FSMField(
        _("状态"),
        max_length=30,
        choices=CaseStatus.choices,
        default=CaseStatus.DRAFT,
        protected=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    decided_at = models.DateTimeField(_("决定时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("初审人员"),
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("审核人员"),
    )
    supplement_count = models.PositiveSmallIntegerField(_("补正次数"), default=0)
    decision_reasons = models.JSONField(_("决定理由"), default=list, blank=True)
    decision_basis = models.CharField(_("决定依据"), max_length=300, blank=True)
    decision_letter = models.ForeignKey(
        "letters.Letter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("决定文书"),
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """What clocks, letters and notifications call the case."""
        return self.number or f"草稿 #{self.pk}"

    sla_label = label

    @property
    def sla_department(self):
        """The issuing department: its clocks belong to it, except the
        platform's own stages (sla.models.PLATFORM_STAGES)."""
        return self.record.department

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    # Transitions change fields only; the services do everything else.

    @transition(field=status, source=CaseStatus.DRAFT, target=CaseStatus.SUBMITTED)
    def submit(self, *, number: str, at) -> None:
        self.number, self.submitted_at = number, at

    @transition(
        field=status,
        source=[CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED],
        target=CaseStatus.IN_PRELIMINARY_REVIEW,
    )
    def claim_preliminary_review(self, *, officer) -> None:
        self.officer = officer

    @transition(
        field=status,
        source=CaseStatus.IN_PRELIMINARY_REVIEW,
        target=RETURN_VALUE(CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED),
    )
    def release_preliminary_review(self) -> str:
        # Back to where it was claimed from: a supplemented case waits as resubmitted.
        self.officer = None
        return CaseStatus.RESUBMITTED if self.supplement_count else CaseStatus.SUBMITTED

    @transition(
        field=status, source=CaseStatus.IN_PRELIMINARY_REVIEW, target=CaseStatus.AWAITING_SUPPLEMENT
    )
    def request_supplement(self) -> None:
        self.supplement_count += 1

    @transition(field=status, source=CaseStatus.AWAITING_SUPPLEMENT, target=CaseStatus.RESUBMITTED)
    def resubmit(self) -> None:
        pass

    @transition(field=status, source=CaseStatus.AWAITING_SUPPLEMENT, target=CaseStatus.LAPSED)
    def lapse(self, *, at) -> None:
        self.closed_at = at

    @transition(
        field=status, source=CaseStatus.IN_PRELIMINARY_REVIEW, target=CaseStatus.NOT_ACCEPTED
    )
    def refuse(self, *, reasons: list[str], basis: str, letter, at) -> None:
        self.decision_reasons, self.decision_basis = reasons, basis
        self.decision_letter, self.decided_at, self.closed_at = letter, at, at

    @transition(field=status, source=list(WITHDRAWABLE), target=CaseStatus.WITHDRAWN)
    def withdraw(self, *, at) -> None:
        self.closed_at = at


class RepairCase(CaseBase):
    """An application to repair one administrative-penalty record."""

    kind = CaseKind.REPAIR

    record = models.ForeignKey(
        "records.CreditRecord",
        on_delete=models.PROTECT,
        related_name="repair_cases",
        verbose_name=_("行政处罚信息"),
    )
    subject = models.ForeignKey(
        "records.Subject",
        on_delete=models.PROTECT,
        related_name="repair_cases",
        verbose_name=_("信用主体"),
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="repair_cases",
        verbose_name=_("申请人"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("信用修复申请")
        verbose_name_plural = _("信用修复申请")
        constraints = [
            # Domain section 3: one repair per penalty record at a time.
            models.UniqueConstraint(
                fields=["record"],
                condition=~models.Q(status__in=[s.value for s in CLOSED_STATUSES]),
                name="one_open_repair_case_per_record",
            )
        ]
        indexes = [
            models.Index(fields=["status"], name="flows_repaircase_status"),
            # The case lists' order (issue 18): a page is an index range, for
            # staff and for an agent bound to many subjects alike (the
            # bindings are then a semi-join checked along the index).
            models.Index(fields=["-created_at", "-id"], name="flows_repaircase_list_order"),
            # A number searched by its beginning (LIKE 'q%', flows.cases.
            # selectors.cases_numbered): the pattern operator class on
            # PostgreSQL, as the records' decision numbers have.
            models.Index(
                fields=["number"],
                name="repaircase_number_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    # Repair's own transitions: accepted, the case goes to the department. The
    # commitment was signed with the filing (国办发〔2025〕22号: it is part of the
    # application), so nothing waits for the applicant after acceptance.

    @transition(field="status", source=CaseStatus.IN_PRELIMINARY_REVIEW, target=CaseStatus.ACCEPTED)
    def accept(self, *, at) -> None:
        self.accepted_at = at

    @transition(field="status", source=CaseStatus.ACCEPTED, target=CaseStatus.IN_DEPARTMENT_REVIEW)
    def claim_department_review(self, *, reviewer) -> None:
        self.reviewer = reviewer

    @transition(field="status", source=CaseStatus.IN_DEPARTMENT_REVIEW, target=CaseStatus.ACCEPTED)
    def release_department_review(self) -> None:
        self.reviewer = None

    @transition(field="status", source=CaseStatus.IN_DEPARTMENT_REVIEW, target=CaseStatus.APPROVED)
    def approve(self, *, basis: str, letter, at) -> None:
        self.decision_basis, self.decision_letter, self.decided_at = basis, letter, at

    @transition(field="status", source=CaseStatus.IN_DEPARTMENT_REVIEW, target=CaseStatus.REJECTED)
    def reject(self, *, reasons: list[str], basis: str, letter, at) -> None:
        self.decision_reasons, self.decision_basis = reasons, basis
        self.decision_letter, self.decided_at, self.closed_at = letter, at, at

    # After the repair: the monitoring of the commitment (flows/monitoring/services.py).
    # The sweep completes cases in bulk (one UPDATE, same source and target).

    @transition(field="status", source=CaseStatus.APPROVED, target=CaseStatus.COMPLETED)
    def complete(self) -> None:
        pass

    # False materials may come to light after the monitoring ended.
    @transition(
        field="status",
        source=[CaseStatus.APPROVED, CaseStatus.COMPLETED],
        target=CaseStatus.REVOKED,
    )
    def revoke(self) -> None:
        pass


class ObjectionGround(models.TextChoices):
    # The grounds an applicant may give (Shandong Social Credit Regulation Arts. 39-40).
    ERROR = "error", _("信息有误")
    OMISSION = "omission", _("信息遗漏")
    NOT_PUBLISHABLE = "not_publishable", _("不应公示")
    PAST_PERIOD = "past_period", _("超过公示期限仍在公示")
    DUPLICATE = "duplicate", _("重复公示")
    INCONSISTENT = "inconsistent", _("与认定单位数据不一致")
    DECISION_REVOKED = "decision_revoked", _("处罚决定已被撤销或变更")
    OTHER = "other", _("其他")


class ObjectionScope(models.TextChoices):
    # Shandong Social Credit Regulation Art. 39: 3 working days for the
    # platform's own check, 7 when another unit must verify.
    PLATFORM = "platform", _("平台自行核查")
    DEPARTMENT = "department", _("认定单位核实")


class ObjectionCase(CaseBase):
    """An objection to one record: it is flagged 异议处理中 from acceptance
    until the case closes, and is corrected, deleted, maintained or found
    unverifiable (the record then stays, with a note)."""

    kind = CaseKind.OBJECTION

    record = models.ForeignKey(
        "records.CreditRecord",
        on_delete=models.PROTECT,
        related_name="objection_cases",
        verbose_name=_("行政处罚信息"),
    )
    subject = models.ForeignKey(
        "records.Subject",
        on_delete=models.PROTECT,
        related_name="objection_cases",
        verbose_name=_("信用主体"),
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="objection_cases",
        verbose_name=_("申请人"),
    )
    grounds = models.JSONField(_("异议理由"), default=list)
    # The objection commitment (the materials are true), signed by the
    # logged-in applicant: the account's name, in the capacity of its binding
    # (letters.commitments.Signer; an agent under the power of attorney).
    attested_name = models.CharField(_("承诺人"), max_length=100, blank=True)
    attested_capacity = models.CharField(
        _("承诺人身份"), max_length=30, choices=BindingCapacity.choices, blank=True
    )
    attested_at = models.DateTimeField(_("承诺时间"), null=True, blank=True)
    attested_ip = models.GenericIPAddressField(_("承诺 IP"), null=True, blank=True)
    scope = models.CharField(
        _("核查方式"), max_length=20, choices=ObjectionScope.choices, blank=True
    )
    verifier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("核查人员"),
    )
    # The record's status when it was flagged, given back when the case closes.
    record_status_before = models.CharField(max_length=20, blank=True)
    changes = models.JSONField(_("更正内容"), default=list, blank=True)
    evidence = models.CharField(_("核查依据材料"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("异议申请")
        verbose_name_plural = _("异议申请")
        constraints = [
            # Issue: a record cannot have two open objections.
            models.UniqueConstraint(
                fields=["record"],
                condition=~models.Q(status__in=[s.value for s in CLOSED_STATUSES]),
                name="one_open_objection_per_record",
            )
        ]
        indexes = [
            models.Index(fields=["status"], name="flows_objection_status"),
            # The case lists' order, as the repair cases' (issue 18).
            models.Index(fields=["-created_at", "-id"], name="flows_objection_list_order"),
            models.Index(
                fields=["number"], name="objection_number_prefix", opclasses=["varchar_pattern_ops"]
            ),
        ]

    # Objection's own transitions: acceptance flags the record and routes the
    # check (to the platform or the issuing department); the verifier claims it.

    @transition(field="status", source=CaseStatus.IN_PRELIMINARY_REVIEW, target=CaseStatus.ACCEPTED)
    def accept(self, *, at, scope: str, record_status_before: str) -> None:
        self.accepted_at, self.scope = at, scope
        self.record_status_before = record_status_before

    @transition(field="status", source=CaseStatus.ACCEPTED, target=CaseStatus.IN_VERIFICATION)
    def claim_verification(self, *, verifier) -> None:
        self.verifier = verifier

    @transition(field="status", source=CaseStatus.IN_VERIFICATION, target=CaseStatus.ACCEPTED)
    def release_verification(self) -> None:
        self.verifier = None

    def _decide(self, *, reasons, basis, letter, at) -> None:
        self.decision_reasons, self.decision_basis = reasons, basis
        self.decision_letter, self.decided_at, self.closed_at = letter, at, at

    @transition(field="status", source=CaseStatus.IN_VERIFICATION, target=CaseStatus.CORRECTED)
    def correct(self, *, reasons, basis, letter, at, changes, evidence) -> None:
        self._decide(reasons=reasons, basis=basis, letter=letter, at=at)
        self.changes, self.evidence = changes, evidence

    @transition(field="status", source=CaseStatus.IN_VERIFICATION, target=CaseStatus.DELETED)
    def delete_record(self, *, reasons, basis, letter, at, evidence) -> None:
        self._decide(reasons=reasons, basis=basis, letter=letter, at=at)
        self.evidence = evidence

    @transition(field="status", source=CaseStatus.IN_VERIFICATION, target=CaseStatus.MAINTAINED)
    def maintain(self, *, reasons, basis, letter, at) -> None:
        self._decide(reasons=reasons, basis=basis, letter=letter, at=at)

    @transition(field="status", source=CaseStatus.IN_VERIFICATION, target=CaseStatus.UNVERIFIABLE)
    def find_unverifiable(self, *, reasons, basis, letter, at) -> None:
        self._decide(reasons=reasons, basis=basis, letter=letter, at=at)


class MaterialKind(models.TextChoices):
    # Domain section 3, materials
    # Domain section 3: no longer asked for (the online filing is the
    # application; the platform holds the subject's registration data). Kept
    # for the files of earlier cases.
    APPLICATION_FORM = "application_form", _("信用修复申请书")
    COMMITMENT = "commitment", _("信用修复承诺书")
    PERFORMANCE_PROOF = "performance_proof", _("履行义务证明")
    IDENTITY_DOCUMENT = "identity_document", _("主体身份证明（营业执照等）")
    POWER_OF_ATTORNEY = "power_of_attorney", _("授权委托书")
    LEGAL_REP_PROOF = "legal_rep_proof", _("法定代表人身份证明书")
    EVIDENCE = "evidence", _("异议证明材料")
    FALSE_MATERIAL_EVIDENCE = "false_material_evidence", _("材料不实的证据")
    STATEMENT_EVIDENCE = "statement_evidence", _("陈述申辩的证据")
    OTHER = "other", _("其他材料")


# Kept from the applicant (pages, API, downloads): an officer's evidence of
# false materials may name third parties; the revocation letter states the facts.
STAFF_ONLY_MATERIALS = frozenset({MaterialKind.FALSE_MATERIAL_EVIDENCE})


# The extension of each accepted type (flows.cases.materials.MAGIC): stored
# and downloaded names take it from the detected type, never from the upload.
MATERIAL_EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def material_path(instance: "CaseMaterial", filename: str) -> str:
    # The stored name is the digest: the applicant's file name is kept in
    # original_name only, never in a path.
    extension = MATERIAL_EXTENSIONS.get(instance.content_type, "bin")
    folder = (
        f"cases/{instance.case_id}" if instance.case_id else f"objections/{instance.objection_id}"
    )
    return f"{folder}/{instance.sha256}.{extension}"


class CaseMaterial(models.Model):
    # Exactly one of the two: the repair case or the objection it belongs to.
    case = models.ForeignKey(
        RepairCase, null=True, blank=True, on_delete=models.CASCADE, related_name="materials"
    )
    objection = models.ForeignKey(
        ObjectionCase, null=True, blank=True, on_delete=models.CASCADE, related_name="materials"
    )
    kind = models.CharField(_("材料类型"), max_length=30, choices=MaterialKind.choices)
    file = models.FileField(_("文件"), upload_to=material_path, max_length=200)
    original_name = models.CharField(_("原文件名"), max_length=255)
    content_type = models.CharField(_("文件类型"), max_length=50)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("上传时间"))
    round = models.PositiveSmallIntegerField(_("轮次"), default=0, help_text=_("0 申请，1 补正"))

    class Meta:
        ordering = ["case", "objection", "round", "uploaded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(case__isnull=False, objection__isnull=True)
                | models.Q(case__isnull=True, objection__isnull=False),
                name="material_of_one_case",
            )
        ]
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")

    def __str__(self) -> str:
        return f"{self.owner} · {self.get_kind_display()} · {self.original_name}"

    @property
    def owner(self):
        return self.case or self.objection


class SupplementRequest(models.Model):
    """The one-time notice (一次性告知) of everything to supplement."""

    # Exactly one of the two: the repair case or the objection it belongs to.
    case = models.ForeignKey(
        RepairCase,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="supplement_requests",
    )
    objection = models.ForeignKey(
        ObjectionCase,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="supplement_requests",
    )
    items = models.JSONField(_("补正事项"), default=list)  # [{"material", "name", "problem"}]
    deadline = models.DateTimeField(_("补正期限"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("告知时间"))
    letter = models.ForeignKey(
        "letters.Letter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    answered_at = models.DateTimeField(_("补正时间"), null=True, blank=True)
    # Jinan plan: one notice per case; a second one needs a supervisor's override.
    override_reason = models.CharField(_("再次告知理由"), max_length=500, blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["case", "objection", "requested_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(case__isnull=False, objection__isnull=True)
                | models.Q(case__isnull=True, objection__isnull=False),
                name="supplement_of_one_case",
            )
        ]
        verbose_name = _("补正告知")
        verbose_name_plural = _("补正告知")

    def __str__(self) -> str:
        return f"{self.case or self.objection} · {self.requested_at:%Y-%m-%d}"

    @property
    def materials(self) -> set[str]:
        return {item["material"] for item in self.items}


# What each timeline row's action is called on the staff pages.
ACTION_LABELS = {
    "submit": _("提交申请"),
    "claim_preliminary_review": _("领取初审"),
    "release_preliminary_review": _("退回初审队列"),
    "request_supplement": _("一次性告知补正"),
    "resubmit": _("提交补正"),
    "lapse": _("逾期未补正"),
    "refuse": _("不予受理"),
    "accept": _("受理"),
    # Timeline rows of the retired step after acceptance (flows migration
    # 0011_commitment_at_filing).
    "commitment_signed": _("签署信用修复承诺书"),
    "commitment_at_filing": _("承诺书改为申请时签署"),
    "claim_department_review": _("领取审核"),
    "release_department_review": _("退回审核队列"),
    "approve": _("准予修复"),
    "reject": _("不予修复"),
    "withdraw": _("撤回申请"),
    "reassign": _("改派"),
    "claim_verification": _("领取核查"),
    "release_verification": _("退回核查队列"),
    "correct": _("更正"),
    "delete_record": _("删除"),
    "maintain": _("维持"),
    "find_unverifiable": _("无法核实"),
    "breach_review_opened": _("开启履约核查"),
    "breach_dismissed": _("履约核查：不予认定"),
    "complete": _("监管期满"),
    "revoke": _("撤销信用修复决定"),
}


# No case is in these any more, but old timeline rows name them: until the
# commitment became part of the filing, accepted cases waited for it here.
RETIRED_STATUSES = [("awaiting_commitment", _("待签署信用承诺（原流程）"))]
EVENT_STATUSES = [*CaseStatus.choices, *RETIRED_STATUSES]


class CaseEvent(models.Model):
    """The case timeline: one row per transition."""

    # Exactly one of the two: the repair case or the objection it belongs to.
    case = models.ForeignKey(
        RepairCase, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    objection = models.ForeignKey(
        ObjectionCase, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(_("时间"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(_("操作"), max_length=40)
    from_status = models.CharField(max_length=30, choices=EVENT_STATUSES)
    to_status = models.CharField(max_length=30, choices=EVENT_STATUSES)
    comment = models.TextField(_("说明"), blank=True)

    class Meta:
        ordering = ["case", "objection", "at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(case__isnull=False, objection__isnull=True)
                | models.Q(case__isnull=True, objection__isnull=False),
                name="event_of_one_case",
            )
        ]
        verbose_name = _("案件记录")
        verbose_name_plural = _("案件记录")

    def __str__(self) -> str:
        return f"{self.case or self.objection} {self.action} {self.from_status} → {self.to_status}"

    @property
    def action_label(self) -> str:
        return str(ACTION_LABELS.get(self.action, self.action))


class RepairProcess(Process):
    """The viewflow process of one repair case (flows/flows.py): viewflow
    owns who must do what next, the case's FSM status stays the truth."""

    case = models.OneToOneField(
        RepairCase, on_delete=models.PROTECT, related_name="process", verbose_name=_("申请")
    )

    class Meta:
        verbose_name = _("修复流程")
        verbose_name_plural = _("修复流程")


class ObjectionProcess(Process):
    """The viewflow process of one objection (flows/flows.py ObjectionFlow)."""

    case = models.OneToOneField(
        ObjectionCase, on_delete=models.PROTECT, related_name="process", verbose_name=_("申请")
    )

    class Meta:
        verbose_name = _("异议流程")
        verbose_name_plural = _("异议流程")


class SameKind(models.TextChoices):
    """Which new penalties fall within what the commitment promised (the same
    kind of conduct, domain section 3): compared with the repaired record."""

    SECTOR = "sector", _("同一领域（领域为“其他”的，同一认定单位）")
    DEPARTMENT = "department", _("同一认定单位")
    ANY = "any", _("任何行政处罚")


# Data, not UI text: stored in the policy row as the administrator will read it.
SAME_KIND_BASIS = (
    "产品默认值（未经核实）：信用修复承诺针对的是同类失信行为，"
    "以被修复记录的认定单位所属领域界定“同类”；其他新增行政处罚仅在履约监管中提示，不开展履约核查。"
)


class MonitoringPolicy(models.Model):
    """How long a repaired subject's commitment is watched (Jinan plan:
    信用修复承诺履约监管), which new penalties count as the same kind of
    conduct the commitment covered, and whether a revoked repair bars the
    subject from applying again (domain section 3: disabled unless an
    administrator enters its legal basis, NDRC Order 36 Art. 2). Data,
    versioned by effective date."""

    effective_from = models.DateField(_("生效日期"), unique=True)
    months = models.PositiveSmallIntegerField(
        _("监管期（月）"),
        default=12,
        validators=[MinValueValidator(1)],
        help_text=_("自准予修复之日起计算"),
    )
    same_kind = models.CharField(
        _("同类失信行为"),
        max_length=20,
        choices=SameKind.choices,
        default=SameKind.SECTOR,
        help_text=_(
            "监管期内新增的行政处罚属于此范围的，才开展履约核查；其他仅在履约监管中提示。"
            "默认“同一领域”，未经核实。"
        ),
    )
    same_kind_basis = models.TextField(
        _("同类认定的依据"), default=SAME_KIND_BASIS, help_text=_("写明文件和条款，或注明未经核实")
    )
    bar_enabled = models.BooleanField(
        _("撤销修复后限制再申请"),
        default=False,
        help_text=_(
            "《信用修复管理办法》第二条：只有法律、行政法规和党中央、国务院政策文件可以排除信用修复。"
            "须填写依据方可启用。"
        ),
    )
    bar_years = models.PositiveSmallIntegerField(
        _("撤销修复后不得再申请（年）"),
        default=3,
        validators=[MinValueValidator(1)],
        help_text=_("自撤销信用修复决定之日起计算；仅在启用时适用"),
    )
    bar_basis = models.TextField(
        _("限制再申请的依据"), blank=True, help_text=_("文件名称和条款；启用限制时必填")
    )
    unconfirmed = models.BooleanField(
        _("未经核实"), default=True, help_text=_("产品默认值，尚未核实法律依据")
    )
    note = models.TextField(_("说明"), blank=True)

    class Meta:
        ordering = ["-effective_from"]
        verbose_name = _("履约监管期限")
        verbose_name_plural = _("履约监管期限")

    def __str__(self) -> str:
        return f"{self.effective_from}: {self.months}"

    def clean(self):
        if self.bar_enabled and not " ".join((self.bar_basis or "").split()):
            raise ValidationError(
                {"bar_basis": _("启用撤销修复后的再申请限制，须写明其法律依据（文件和条款）。")}
            )


class MonitoringStatus(models.TextChoices):
    OPEN = "open", _("监管中")
    COMPLETED = "completed", _("监管期满")
    BREACHED = "breached", _("违反承诺")


class MonitoringWindow(models.Model):
    """The watch over one repair's commitment, opened on approval.

    `starts_on`/`ends_on` are the Beijing dates of the two instants: a
    penalty decided on a day between them (inclusive) is a possible breach
    (flows/monitoring/services.py)."""

    case = models.OneToOneField(
        RepairCase, on_delete=models.PROTECT, related_name="monitoring", verbose_name=_("申请")
    )
    subject = models.ForeignKey(
        "records.Subject", on_delete=models.PROTECT, related_name="+", verbose_name=_("信用主体")
    )
    commitment = models.ForeignKey(
        "letters.Commitment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("信用修复承诺书"),
    )
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    status = models.CharField(
        _("状态"), max_length=20, choices=MonitoringStatus.choices, default=MonitoringStatus.OPEN
    )
    closed_at = models.DateTimeField(_("结束处理时间"), null=True, blank=True)
    # The policy's "same kind" when the window opened: the commitment's reach
    # does not change with a later policy.
    same_kind = models.CharField(
        _("同类失信行为"), max_length=20, choices=SameKind.choices, default=SameKind.SECTOR
    )

    class Meta:
        ordering = ["ends_at", "id"]
        verbose_name = _("履约监管")
        verbose_name_plural = _("履约监管")
        indexes = [
            # The daily sweep (post-repair monitoring) reads open windows by end.
            models.Index(
                fields=["ends_at"],
                condition=models.Q(status="open"),
                name="flows_monitoring_open_ends",
            ),
            # A new penalty is matched to its subject's windows by this index.
            models.Index(fields=["subject", "status"], name="flows_monitoring_subject"),
            # The sweep's late-arrival pass reads recently completed windows.
            models.Index(
                fields=["closed_at"],
                condition=models.Q(status="completed"),
                name="flows_monitoring_completed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} → {self.ends_at:%Y-%m-%d}"


class BreachSource(models.TextChoices):
    NEW_PENALTY = "new_penalty", _("监管期内新增行政处罚")
    FALSE_MATERIALS = "false_materials", _("申请材料不实")


class BreachFoundVia(models.TextChoices):
    IMPORT = "import", _("数据归集时发现")
    SWEEP = "sweep", _("每日巡检发现")
    APPROVAL = "approval", _("准予修复时发现")
    REPORT = "report", _("工作人员报告")


class BreachStatus(models.TextChoices):
    OPEN = "open", _("核查中")
    # The notice of intended revocation is out: the applicant may state their case.
    NOTIFIED = "notified", _("已告知拟撤销，听取陈述申辩")
    CONFIRMED = "confirmed", _("认定违反承诺")
    DISMISSED = "dismissed", _("不予认定")
    SUPERSEDED = "superseded", _("已随其他核查撤销")


# A review not decided yet: it holds its window open.
PENDING_BREACH_STATUSES = (BreachStatus.OPEN, BreachStatus.NOTIFIED)


class BreachReview(ConcurrentTransitions, models.Model):
    """A review of whether a repaired subject broke its commitment: a new
    penalty of the same kind decided during the monitoring, or materials
    found false. The department that made the repair decision reviews it
    (`department`); a new penalty's issuer is informed and may read it.
    Before revoking, the department sends a notice of intended revocation
    (拟撤销信用修复告知书) and hears the applicant (陈述申辩) until the
    statement arrives or its period ends; then it confirms (the repair
    revoked) or dismisses (the monitoring goes on)."""

    # The review's SLA clocks, for joins only: the staff's list reads pending
    # reviews in the order of their open breach_review clock's stored, indexed
    # due_at (sla_clock_breach_due) instead of a subquery per row (issue 18).
    sla_clock = CaseClockJoin()

    window = models.ForeignKey(
        MonitoringWindow,
        on_delete=models.PROTECT,
        related_name="breach_reviews",
        verbose_name=_("履约监管"),
    )
    case = models.ForeignKey(
        RepairCase, on_delete=models.PROTECT, related_name="breach_reviews", verbose_name=_("申请")
    )
    subject = models.ForeignKey(
        "records.Subject", on_delete=models.PROTECT, related_name="+", verbose_name=_("信用主体")
    )
    source = models.CharField(_("来源"), max_length=20, choices=BreachSource.choices)
    found_via = models.CharField(_("发现途径"), max_length=10, choices=BreachFoundVia.choices)
    # The new penalty (source new_penalty).
    record = models.ForeignKey(
        "records.CreditRecord",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("新增行政处罚信息"),
    )
    department = models.ForeignKey(
        "records.Department",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("核查单位"),
        help_text=_("作出信用修复决定的单位"),
    )
    # The officer's report (source false_materials).
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("报告人"),
    )
    statement = models.TextField(_("报告内容"), blank=True)
    evidence = models.ForeignKey(
        CaseMaterial,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("证据材料"),
    )
    status = FSMField(
        _("状态"),
        max_length=20,
        choices=BreachStatus.choices,
        default=BreachStatus.OPEN,
        protected=True,
    )
    opened_at = models.DateTimeField(_("开启时间"))
    decided_at = models.DateTimeField(_("决定时间"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("决定人"),
    )
    reasons = models.JSONField(_("理由"), default=list, blank=True)
    basis = models.CharField(_("依据"), max_length=300, blank=True)
    letter = models.ForeignKey(
        "letters.Letter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("撤销信用修复决定书"),
    )
    # Confirmed: the subject may not apply for a repair before this day's end.
    barred_until = models.DateField(_("不得申请修复至"), null=True, blank=True)
    # The hearing: the notice of intended revocation and the applicant's statement.
    notice_facts = models.TextField(_("拟撤销的事实和理由"), blank=True)
    notice_letter = models.ForeignKey(
        "letters.Letter",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("拟撤销信用修复告知书"),
    )
    noticed_at = models.DateTimeField(_("告知时间"), null=True, blank=True)
    noticed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("告知人"),
    )
    representation = models.TextField(_("陈述申辩"), blank=True)
    representation_at = models.DateTimeField(_("陈述申辩时间"), null=True, blank=True)
    representation_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("陈述申辩人"),
    )
    representation_evidence = models.ForeignKey(
        CaseMaterial,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("陈述申辩的证据"),
    )
    # The department's answer to the statement, printed in the revocation decision.
    answer = models.TextField(_("对陈述申辩的答复"), blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("履约核查")
        verbose_name_plural = _("履约核查")
        constraints = [
            # One review per window and new penalty, however often it is seen
            # (import, sweep, a second sweeper): the INSERT ... ON CONFLICT target.
            models.UniqueConstraint(fields=["window", "record"], name="one_review_per_penalty"),
            models.UniqueConstraint(
                fields=["window"],
                condition=models.Q(source="false_materials", status__in=["open", "notified"]),
                name="one_pending_false_material_review",
            ),
            models.CheckConstraint(
                condition=models.Q(source="false_materials") | models.Q(record__isnull=False),
                name="breach_penalty_has_record",
            ),
        ]
        indexes = [
            models.Index(fields=["department", "status"], name="flows_breach_department"),
            # The API's list, newest first (read backwards), and the staff's list
            # after the pending reviews: the decided ones, newest first.
            models.Index(fields=["opened_at", "id"], name="flows_breach_opened"),
            models.Index(
                fields=["opened_at", "id"],
                condition=~models.Q(status__in=PENDING_BREACH_STATUSES),
                name="flows_breach_decided_opened",
            ),
            # The bar on new repairs (flows/cases/limits.py).
            models.Index(
                fields=["subject", "barred_until"],
                condition=models.Q(status="confirmed"),
                name="flows_breach_bar",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("flows:breach_detail", args=[self.pk])

    @property
    def ordinal(self) -> int:
        """Which of the repair's breach reviews this is: the 1st, the 2nd. Read
        from the `ordinal_in_case` annotation (breach_review_ordinal) when the
        list's query brought it, so a page asks no query per row."""
        annotated = self.__dict__.get("ordinal_in_case")
        if annotated is not None:
            return annotated
        return BreachReview.objects.filter(case_id=self.case_id, pk__lte=self.pk).count()

    @property
    def label(self) -> str:
        """A person's name for it, never the row id: the repair's number and
        which of its reviews this is."""
        return _("%(case)s 第%(n)s次履约核查") % {"case": self.case.number, "n": self.ordinal}

    # What reading `label` for many reviews at once needs (the access
    # register's page): the related case, and the ordinal as an annotation.
    label_reads = (("case",), {"ordinal_in_case": lambda: breach_review_ordinal()})

    @property
    def sla_label(self) -> str:
        return self.label

    @property
    def sla_department(self):
        return self.department

    @transition(field=status, source=BreachStatus.OPEN, target=BreachStatus.NOTIFIED)
    def notify(self, *, by, at, facts: str, letter) -> None:
        self.noticed_by, self.noticed_at = by, at
        self.notice_facts, self.notice_letter = facts, letter

    # Revocation only after the hearing (the notice and the statement or its period).
    @transition(field=status, source=BreachStatus.NOTIFIED, target=BreachStatus.CONFIRMED)
    def confirm(
        self, *, by, at, reasons: list[str], basis: str, answer: str, letter, barred_until
    ) -> None:
        self.decided_by, self.decided_at = by, at
        self.reasons, self.basis, self.letter = reasons, basis, letter
        self.answer, self.barred_until = answer, barred_until

    # Another review of the same window revoked the repair: nothing left to decide.
    @transition(field=status, source=PENDING_BREACH_STATUSES, target=BreachStatus.SUPERSEDED)
    def supersede(self, *, at) -> None:
        self.decided_at = at

    @transition(field=status, source=PENDING_BREACH_STATUSES, target=BreachStatus.DISMISSED)
    def dismiss(self, *, by, at, reasons: list[str], basis: str) -> None:
        self.decided_by, self.decided_at = by, at
        self.reasons, self.basis = reasons, basis


def breach_review_ordinal() -> models.Subquery:
    """BreachReview.ordinal as an annotation (`ordinal_in_case`): which of its
    repair's reviews each is, counted in the list's own query (issue 18)."""
    earlier = (
        BreachReview.objects.filter(
            case_id=models.OuterRef("case_id"), pk__lte=models.OuterRef("pk")
        )
        .order_by()
        .values("case_id")
        .annotate(n=models.Count("pk"))
        .values("n")
    )
    return models.Subquery(earlier, output_field=models.IntegerField())


class TaskClockJoin(models.ForeignObject):
    """A join from a task to the SLA clocks of the case it works: the task's
    artifact (the case, bound when viewflow creates the task, flows.engine
    task_case_bind) to the clock's case, with no column of its own. Read only
    through a FilteredRelation that leaves one clock (the case's open clock of
    a task stage, a partial unique constraint), never as an attribute.
    A private field, as a generic relation is: viewflow's Task stays as it is."""

    db_constraint = False

    def contribute_to_class(self, cls, name, private_only=False, **kwargs):
        super().contribute_to_class(cls, name, private_only=True, **kwargs)

    def get_joining_fields(self, reverse_join=False):
        # The task's artifact id is an integer, the clock's case id a bigint:
        # PostgreSQL's backend casts the clock's side to match, which keeps
        # the join off the clock's (case_type, case_id) index (a sequential
        # scan of every clock to fetch a page's 50 tasks). Both integer
        # types compare directly, so the task's column is given as the
        # clock's type and nothing is cast.
        pairs = []
        for lhs, rhs in super().get_joining_fields(reverse_join):
            if isinstance(lhs, models.IntegerField) and isinstance(rhs, models.IntegerField):
                same = type(rhs)()
                same.set_attributes_from_name(lhs.name)
                same.column, same.model = lhs.column, lhs.model
                lhs = same
            pairs.append((lhs, rhs))
        return tuple(pairs)

    def _check_unique_target(self):
        # Not a to-one relation on purpose (see the class docstring).
        return []


class QueueTask(Task):
    """viewflow's Task as the queues read it: with the join to its deadline."""

    # The case's open clock of a task stage: its stored, indexed due_at is
    # the queue's sort key, so a page is read in the index's order (issue 18:
    # a CASE over four joins sorted all 100,000 open tasks for each page).
    sla_clock = TaskClockJoin(
        "sla.SlaClock",
        on_delete=models.DO_NOTHING,
        from_fields=["artifact_content_type", "artifact_object_id"],
        to_fields=["case_type", "case_id"],
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )

    class Meta:
        proxy = True


def task_case_bind(*, task: Task, case) -> None:
    """Record on a new human task the case it works (viewflow's artifact):
    the key QueueTask.sla_clock joins its deadline by. Set once, as the task
    is created (flows/flows.py task_created); a task never changes case."""
    task.artifact_content_type = ContentType.objects.get_for_model(type(case))
    task.artifact_object_id = case.pk
    task.save(update_fields=["artifact_content_type", "artifact_object_id"])
