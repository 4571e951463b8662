from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from flows.models import MonitoringPolicy, MonitoringWindow
from repair_flow.admin_audit import AuditedAdminMixin


@admin.register(MonitoringPolicy)
class MonitoringPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The monitoring period is a product default (12 months) awaiting the
    customer's confirmation: edited here, audited, versioned by date."""

    list_display = ("effective_from", "months", "unconfirmed_flag")
    audit_prefix = "flows.monitoring_policy"

    @admin.display(description=_("未经核实"), ordering="unconfirmed")
    def unconfirmed_flag(self, obj: MonitoringPolicy) -> str:
        return _("未经核实") if obj.unconfirmed else _("已核实")


@admin.register(MonitoringWindow)
class MonitoringWindowAdmin(admin.ModelAdmin):
    """Read-only: windows open on approval and close through the monitoring sweep."""

    list_display = ("case", "subject", "starts_at", "ends_at", "status")
    list_filter = ("status",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
