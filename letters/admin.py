"""Letters in the admin.

Letter settings (issuer, number prefix, remedies) are data an administrator
edits; every save is audited, as SLA policies are. Letters, commitments and
messages are read-only here: they change only through letters.services,
letters.commitments and letters.outbox. A letter's frozen facts hold the
resident ID whole, so the admin does not show them (domain section 8).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from letters.models import Commitment, DeliveryEvent, Letter, LetterSetting, OutboundMessage
from repair_flow.audit import audit_record


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LetterSetting)
class LetterSettingAdmin(admin.ModelAdmin):
    """One row per kind, shipped by migration 0002; a new setting applies to
    letters issued after the save (issued letters keep their frozen facts)."""

    list_display = ("kind", "issuer", "number_prefix", "has_remedies", "updated_at")
    fields = ("kind", "issuer", "number_prefix", "remedies", "updated_at")
    readonly_fields = ("updated_at",)

    @admin.display(description=_("印救济途径"), boolean=True)
    def has_remedies(self, obj: LetterSetting) -> bool:
        return bool(obj.remedies.strip())

    def get_readonly_fields(self, request, obj=None):
        # The kind names the row numbering and issuing look up: fixed once made.
        return ("kind", "updated_at") if obj is not None else ("updated_at",)

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
            summary={
                "kind": obj.kind,
                "changed": form.changed_data,
                "issuer": obj.issuer,
                "number_prefix": obj.number_prefix,
            },
        )


@admin.register(Letter)
class LetterAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "kind", "issued_at", "status", "attempts", "case_label")
    list_filter = ("kind", "status")
    search_fields = ("=number", "=verification_code", "case_label")
    date_hierarchy = "issued_at"
    fields = (
        "kind", "number", "verification_code", "issuer", "issued_at", "case_label", "record",
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
class CommitmentAdmin(ReadOnlyAdmin):
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
class OutboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("subject", "channel", "to", "status", "attempts", "sent_at", "created_at")
    list_filter = ("status", "channel")
    search_fields = ("to", "subject", "idempotency_key", "esp_message_id")
    fields = (
        "idempotency_key", "channel", "user", "to", "subject", "body", "letter", "status",
        "attempts", "next_attempt_at", "claimed_at", "sent_at", "esp_message_id", "last_error",
        "created_at", "updated_at",
    )  # fmt: skip
    inlines = [DeliveryEventInline]
