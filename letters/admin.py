"""Letters in the admin.

Issuers (name, wording, contact, remedies bodies, number prefixes, seal) and
letter settings (remedies) are data an administrator edits; every save is
audited, as SLA policies are. Letters, commitments and
messages are read-only here: they change only through letters.services,
letters.commitments and letters.outbox. A letter's frozen facts hold the
resident ID whole, so the admin does not show them (domain section 8).
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from letters.issuers import (
    ISSUER_RULES,
    ISSUER_SERIES,
    RULE_LABELS,
    SERIES,
    remedies_check,
    seal_check,
    seal_size_check,
)
from letters.models import (
    Commitment,
    DeliveryEvent,
    Issuer,
    IssuerPrefix,
    Letter,
    LetterSetting,
    OutboundMessage,
)
from repair_flow.admin_access import PersonalDataAdminMixin
from repair_flow.admin_audit import ReadOnlyAdmin, form_diff, formset_diff
from repair_flow.audit import audit_record


class LetterSettingForm(forms.ModelForm):
    class Meta:
        model = LetterSetting
        fields = ("remedies",)

    def clean_remedies(self):
        remedies = self.cleaned_data["remedies"]
        remedies_check(remedies)
        return remedies


@admin.register(LetterSetting)
class LetterSettingAdmin(admin.ModelAdmin):
    """One row per kind, shipped by migration; a new setting applies to
    letters issued after the save (issued letters keep their frozen facts).
    The issuer rule is code (letters.issuers.ISSUER_RULES), shown here."""

    form = LetterSettingForm
    list_display = ("kind", "issuer_rule", "has_remedies", "updated_at")
    fields = ("kind", "issuer_rule", "remedies", "updated_at")
    readonly_fields = ("issuer_rule", "updated_at")

    @admin.display(description=_("印救济途径"), boolean=True)
    def has_remedies(self, obj: LetterSetting) -> bool:
        return bool(obj.remedies.strip())

    @admin.display(description=_("出具机关"))
    def issuer_rule(self, obj: LetterSetting) -> str:
        # The add page shows an unsaved row with no kind yet.
        rule = ISSUER_RULES.get(obj.kind)
        return str(RULE_LABELS[rule]) if rule else "—"

    def get_readonly_fields(self, request, obj=None):
        # The kind names the row issuing looks up: fixed once made.
        fixed = ("issuer_rule", "updated_at")
        return ("kind", *fixed) if obj is not None else fixed

    def has_delete_permission(self, request, obj=None):
        # Issuing a letter of a kind without its setting would fail.
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="letters.setting_change" if change else "letters.setting_add",
            object_type="letters.LetterSetting",
            object_id=obj.pk,
            summary={"kind": obj.kind, **form_diff(form, change=change)},
        )


class IssuerForm(forms.ModelForm):
    class Meta:
        model = Issuer
        fields = (
            "name", "code", "kind", "department", "self_reference", "contact_office",
            "contact_phone", "reconsideration_body", "court", "seal",
        )  # fmt: skip
        help_texts = {
            "seal": _(
                "带透明通道的 PNG（每边 200 至 2000 像素）或 SVG，不超过 512 KB；"
                "盖在落款的出具机关和日期上。"
            )
        }

    def clean_seal(self):
        seal = self.cleaned_data.get("seal")
        if seal and "seal" in self.changed_data:
            # A new upload: checked whole before anything is saved (its
            # size first, so an oversized file is not read at all).
            seal_size_check(seal.size)
            seal.seek(0)
            data = seal.read()
            seal.seek(0)
            seal_check(data)
        return seal

    def clean(self):
        cleaned = super().clean()
        kind, department = cleaned.get("kind"), cleaned.get("department")
        if kind == "department" and department is None:
            raise ValidationError({"department": _("认定单位类型的出具机关须选择所属认定单位。")})
        if kind == "institution" and department is not None:
            raise ValidationError({"department": _("公共信用信息机构不属于认定单位，请清空。")})
        return cleaned


class IssuerPrefixForm(forms.ModelForm):
    series = forms.ChoiceField(
        label=_("文书系列"), choices=[(key, label) for key, (label, _end) in SERIES.items()]
    )

    class Meta:
        model = IssuerPrefix
        fields = ("series", "prefix")

    def clean_prefix(self):
        prefix = "".join((self.cleaned_data["prefix"] or "").split())
        if any(mark in prefix for mark in "〔〕[]号"):
            raise ValidationError(_("文号前缀只写代字，如 济信修受；年份和序号由系统加上。"))
        return prefix


class IssuerPrefixInline(admin.TabularInline):
    model = IssuerPrefix
    form = IssuerPrefixForm
    extra = 0


@admin.register(Issuer)
class IssuerAdmin(admin.ModelAdmin):
    """The bodies letters are issued in the name of. Which one issues which
    kind is the rule shown under 文书设置; each series a kind of issuer
    numbers needs a prefix here."""

    form = IssuerForm
    inlines = [IssuerPrefixInline]
    list_display = ("name", "code", "kind", "contact_phone", "has_seal", "updated_at")
    list_filter = ("kind",)
    search_fields = ("name", "code")
    readonly_fields = ("series_needed", "updated_at")
    fields = (
        "name", "code", "kind", "department", "self_reference", "contact_office",
        "contact_phone", "reconsideration_body", "court", "seal", "series_needed", "updated_at",
    )  # fmt: skip

    @admin.display(description=_("电子印章"), boolean=True)
    def has_seal(self, obj: Issuer) -> bool:
        return bool(obj.seal)

    @admin.display(description=_("须设文号前缀的系列"))
    def series_needed(self, obj: Issuer) -> str:
        series = ISSUER_SERIES.get(obj.kind, ()) if obj.pk else ()
        return "、".join(str(SERIES[key][0]) for key in series) or "—"

    def has_delete_permission(self, request, obj=None):
        # Letters keep their issuer (PROTECT); an issuer is renamed, not deleted.
        return False

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        audit_record(
            actor=request.user,
            action="letters.issuer_change" if change else "letters.issuer_add",
            object_type="letters.Issuer",
            object_id=obj.pk,
            summary={
                "code": obj.code,
                "name": obj.name,
                **form_diff(form, change=change),
                "inlines": formset_diff(formsets),
                "seal": obj.seal.name if obj.seal else "",
                "prefixes": dict(obj.prefixes.values_list("series", "prefix")),
            },
        )


@admin.register(Letter)
class LetterAdmin(PersonalDataAdminMixin, ReadOnlyAdmin):
    list_display = ("__str__", "kind", "issued_at", "status", "attempts", "case_label")
    list_filter = ("kind", "status")
    search_fields = ("=number", "=verification_code", "case_label")
    date_hierarchy = "issued_at"
    fields = (
        "kind", "number", "verification_code", "issuer", "issuer_ref", "issued_at", "case_label",
        "record",
        "subject", "recipient", "status", "attempts", "next_attempt_at", "last_error", "file",
        "sha256", "size", "pages", "rendered_at", "created_by",
    )  # fmt: skip


class DeliveryEventInline(admin.TabularInline):
    model = DeliveryEvent
    extra = 0
    can_delete = False
    fields = ("event_type", "event_id", "occurred_at", "description", "received_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Commitment)
class CommitmentAdmin(PersonalDataAdminMixin, ReadOnlyAdmin):
    list_display = (
        "record", "subject", "status", "signer_name", "signer_capacity", "signed_at", "created_at",
    )  # fmt: skip
    list_filter = ("status", "signer_capacity")
    search_fields = ("record__decision_number", "subject__name", "signer_name")
    fields = (
        "record", "subject", "status", "draft", "signed", "signer_name", "signer_capacity",
        "signed_by",
        "signed_at", "signed_ip", "signed_user_agent", "signed_sha256", "created_at",
    )  # fmt: skip


@admin.register(OutboundMessage)
class OutboundMessageAdmin(PersonalDataAdminMixin, ReadOnlyAdmin):
    """Every message goes to someone's address and tells of their case: the
    pages ask a purpose and register each message shown, under the letter's
    subject when that is a natural person."""

    subject_path = "letter__subject"
    every_row_personal = True
    list_display = (
        "subject",
        "channel",
        "display_to",
        "status",
        "attempts",
        "sent_at",
        "created_at",
    )
    list_filter = ("status", "channel")
    # Not by address: it is encrypted at rest (repair_flow/encryption.py).
    search_fields = ("subject", "idempotency_key", "esp_message_id")
    fields = (
        "idempotency_key", "channel", "user", "to", "subject", "body", "letter", "status",
        "attempts", "next_attempt_at", "claimed_at", "sent_at", "esp_message_id", "last_error",
        "created_at", "updated_at",
    )  # fmt: skip
    inlines = [DeliveryEventInline]
