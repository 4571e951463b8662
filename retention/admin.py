from django.contrib import admin

from repair_flow.admin_audit import AuditedAdminMixin, ReadOnlyAdmin
from retention.models import (
    DestructionEntry,
    DestructionRun,
    PendingFileDeletion,
    RetentionRule,
)


@admin.register(RetentionRule)
class RetentionRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Periods are law, so data (PIPL Art. 47): edited here, audited with old
    and new values. One rule per kind, from the migration: none added or
    removed here (a missing rule would silently keep data for ever)."""

    audit_prefix = "retention.rule"
    list_display = ["kind", "period_years", "counted_from", "unconfirmed"]
    list_filter = ["unconfirmed"]
    readonly_fields = ["kind"]
    fields = ["kind", "period_years", "counted_from", "legal_source", "unconfirmed"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DestructionEntryInline(admin.TabularInline):
    model = DestructionEntry
    fields = ["object_type", "object_id", "action", "rule", "files_removed"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DestructionRun)
class DestructionRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "started_at", "trigger", "counts"]


@admin.register(DestructionEntry)
class DestructionEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "object_type", "object_id", "action", "rule", "run"]
    list_filter = ["object_type", "action"]
    search_fields = ["object_id"]


@admin.register(PendingFileDeletion)
class PendingFileDeletionAdmin(ReadOnlyAdmin):
    """Files a run could not remove yet (a crash, a storage error): the next
    run retries them; an administrator sees what is waiting and why."""

    list_display = ["id", "field", "run", "attempts", "last_error"]
