from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.admin import ProcessAdmin, TaskAdmin
from viewflow.workflow.models import Process, Task

from flows.models import BreachReview, MonitoringPolicy, MonitoringWindow
from repair_flow.admin_access import PersonalDataAdminMixin
from repair_flow.admin_audit import AuditedAdminMixin, ReadOnlyAdmin, ReadOnlyMixin


@admin.register(MonitoringPolicy)
class MonitoringPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The monitoring period (12 months), what counts as the same kind of
    conduct (the same sector) and the bar after a revocation (3 years,
    disabled until its legal basis is entered) are product defaults awaiting
    the customer's confirmation: edited here, audited, versioned by date."""

    list_display = (
        "effective_from",
        "months",
        "same_kind",
        "bar_enabled",
        "bar_years",
        "unconfirmed_flag",
    )
    audit_prefix = "flows.monitoring_policy"

    @admin.display(description=_("未经核实"), ordering="unconfirmed")
    def unconfirmed_flag(self, obj: MonitoringPolicy) -> str:
        return _("未经核实") if obj.unconfirmed else _("已核实")


@admin.register(MonitoringWindow)
class MonitoringWindowAdmin(PersonalDataAdminMixin, ReadOnlyAdmin):
    """Read-only: windows open on approval and close through the monitoring sweep."""

    list_display = ("case", "subject", "starts_at", "ends_at", "status")
    list_filter = ("status",)


@admin.register(BreachReview)
class BreachReviewAdmin(ReadOnlyAdmin):
    """Read-only: reviews are opened by the import, the sweep or an officer's
    report, and decided on their page (/cases/breaches/<id>/)."""

    list_display = ("id", "case", "source", "department", "status", "opened_at", "decided_at")
    list_filter = ("status", "source", "found_via")


# viewflow's own admin lets a process or task be edited or deleted, which
# would move a case's work behind its FSM and audit: read-only here (issue 17,
# finding 3). Tasks move through the flow's views and services only.
admin.site.unregister(Process)
admin.site.unregister(Task)


@admin.register(Process)
class ReadOnlyProcessAdmin(ReadOnlyMixin, ProcessAdmin):
    pass


@admin.register(Task)
class ReadOnlyTaskAdmin(ReadOnlyMixin, TaskAdmin):
    pass
