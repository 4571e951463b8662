from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from repair_flow.models import AccessLogEntry, AuditEvent, User


@admin.register(User)
class AccountAdmin(UserAdmin):
    list_display = ("username", "get_full_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (*UserAdmin.fieldsets, (_("角色"), {"fields": ("role", "phone")}))
    add_fieldsets = (*UserAdmin.add_fieldsets, (_("角色"), {"fields": ("role",)}))


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "actor_label", "action", "object_type", "object_id", "request_id")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor_label", "request_id")


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "user", "subject", "what", "purpose", "channel")
    list_filter = ("purpose", "channel")
