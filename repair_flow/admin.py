"""Accounts, groups, API tokens and the audit trail in the admin.

Every change of what an account may see or do (role, active, admin flags,
groups, permissions; a group's permissions; an API token) is audited with its
old and new values through repair_flow.accounts (issue 17, finding 3); the
admin site and permissions are for the administrator role only. Departments
and subject bindings are changed on their own pages through records.services.
The audit trail and the access register are read-only.
"""

# django-axes registers its pages on import; this module re-registers them
# behind the purpose gate below, so they must be registered first.
import axes.admin  # noqa: F401
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from repair_flow.accounts import (
    ACCESS_KEYS,
    account_access_check,
    account_access_record,
    account_access_snapshot,
    account_password_set_record,
    group_change_record,
    group_snapshot,
)
from repair_flow.admin_access import PersonalDataAdminMixin
from repair_flow.admin_audit import ReadOnlyAdmin, form_diff
from repair_flow.audit import audit_record
from repair_flow.models import AccessLogEntry, ApiToken, AuditEvent, User


class AccountChangeForm(UserChangeForm):
    def clean(self):
        cleaned = super().clean()
        account_access_check(
            role=cleaned.get("role", self.instance.role),
            is_staff=cleaned.get("is_staff", self.instance.is_staff),
            is_superuser=cleaned.get("is_superuser", self.instance.is_superuser),
        )
        return cleaned


@admin.register(User)
class AccountAdmin(PersonalDataAdminMixin, UserAdmin):
    """Accounts are people: names, email addresses, phone numbers. Their
    pages ask a purpose and register each account shown (shared domain
    reference section 8), as the subjects' pages do."""

    form = AccountChangeForm
    subject_path = ""
    every_row_personal = True
    list_display = ("username", "get_full_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (*UserAdmin.fieldsets, (_("角色"), {"fields": ("role", "phone")}))
    add_fieldsets = (*UserAdmin.add_fieldsets, (_("角色"), {"fields": ("role",)}))

    def save_model(self, request, obj, form, change):
        # Read before the save: the database still holds the old access.
        form.access_before = account_access_snapshot(obj) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        diff = form_diff(form, change=change)
        details = {
            name: {"before": diff["before"].get(name), "after": diff["after"][name]}
            for name in diff["changed"]
            if name not in ACCESS_KEYS and not name.startswith("password")
        }
        account_access_record(
            actor=request.user, user=form.instance, before=form.access_before, details=details
        )

    def user_change_password(self, request, id, form_url=""):
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                account_password_set_record(actor=request.user, user=User.objects.get(pk=id))
        return response

    def delete_model(self, request, obj):
        audit_record(
            actor=request.user,
            action="account.delete",
            object_type="repair_flow.User",
            object_id=obj.pk,
            summary={"username": obj.get_username(), "before": account_access_snapshot(obj)},
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def subject_of(self, obj):
        # An account is registered as itself (`what` names it), not as a subject.
        return None


admin.site.unregister(Group)


@admin.register(Group)
class AuditedGroupAdmin(GroupAdmin):
    """A group's permissions are every member's: each change is audited."""

    def save_model(self, request, obj, form, change):
        form.group_before = group_snapshot(obj) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        group_change_record(actor=request.user, group=form.instance, before=form.group_before)

    def delete_model(self, request, obj):
        group_change_record(actor=request.user, group=obj, before=group_snapshot(obj), deleted=True)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class AuditedTokenAdmin(TokenAdmin):
    """An API token is a system account's credential: issuing and revoking
    one is audited (the key itself never is), and the admin shows only the
    first characters of a key (ApiToken), on the list as on every page."""

    list_display = ("key_shown", "user", "created")

    @admin.display(description=_("令牌（前几位）"))
    def key_shown(self, obj) -> str:
        return obj.key_prefix

    def _audit(self, request, obj, action: str) -> None:
        audit_record(
            actor=request.user,
            action=action,
            object_type="authtoken.Token",
            object_id=obj.user_id,
            summary={"username": obj.user.get_username()},
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._audit(request, obj, "account.token_change" if change else "account.token_add")

    def delete_model(self, request, obj):
        self._audit(request, obj, "account.token_delete")
        super().delete_model(request, obj)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "actor_label", "action", "object_type", "object_id", "request_id")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor_label", "request_id")


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "user", "subject", "what", "purpose", "channel")
    list_filter = ("purpose", "channel")


class LoginAttemptsAdminMixin(PersonalDataAdminMixin):
    """django-axes's pages of login attempts name the accounts tried and the
    addresses they came from: a person's data (PIPL Art. 4), shown after a
    purpose and registered row by row, under no subject."""

    subject_path = ""
    every_row_personal = True

    def subject_of(self, obj):
        return None


# Its own admin classes (lockout reset, filters) stay; the gate goes on top.
for axes_model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(axes_model):
        axes_admin = type(admin.site.get_model_admin(axes_model))
        admin.site.unregister(axes_model)
        admin.site.register(
            axes_model,
            type(f"Gated{axes_admin.__name__}", (LoginAttemptsAdminMixin, axes_admin), {}),
        )
