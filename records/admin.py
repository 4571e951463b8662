from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from records.models import (
    CreditRecord,
    DecisionChange,
    Department,
    DepartmentMembership,
    NonRepairableRule,
    PublicityPeriod,
    PublicityRuleSet,
    RepeatLimitPolicy,
    Subject,
    SubjectBinding,
    SyncEvent,
)
from records.services import subject_contact_set
from repair_flow.admin_audit import AuditedAdminMixin


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "sector")
    search_fields = ("code", "name")


class SubjectForm(forms.ModelForm):
    """The mobile number is never shown in full (section 8): the field starts
    empty, its help names the masked number, and empty keeps it."""

    clear_phone = forms.BooleanField(label=_("删除联系手机号码"), required=False)

    class Meta:
        model = Subject
        fields = ("kind", "name", "legal_representative", "contact_email", "contact_phone")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.display_phone if self.instance.pk else ""
        self.initial["contact_phone"] = ""
        if current:
            self.fields["contact_phone"].help_text = _("当前：%(phone)s；留空保持不变。") % {
                "phone": current
            }


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    form = SubjectForm
    list_display = ("name", "kind", "display_identifier", "contact_email", "display_phone")
    list_filter = ("kind",)
    search_fields = ("name", "identifier")
    # The full resident ID is never shown (shared domain reference section 8).
    readonly_fields = ("display_identifier",)

    def save_model(self, request, obj, form, change):
        # The contact goes through its service (validated, audited, masked).
        email = form.cleaned_data.get("contact_email", "")
        phone = form.cleaned_data.get("contact_phone", "")
        if change:
            before = Subject.objects.get(pk=obj.pk)
            obj.contact_email, obj.contact_phone = before.contact_email, before.contact_phone
            if not phone and not form.cleaned_data.get("clear_phone"):
                phone = before.contact_phone
        super().save_model(request, obj, form, change)
        if (email, phone) != (obj.contact_email, obj.contact_phone):
            subject_contact_set(actor=request.user, subject=obj, email=email, phone=phone)


@admin.register(CreditRecord)
class CreditRecordAdmin(admin.ModelAdmin):
    list_display = (
        "decision_number",
        "department",
        "subject",
        "decision_date",
        "severity",
        "status",
    )
    list_filter = ("severity", "status", "department")
    search_fields = ("decision_number", "subject__name")
    raw_id_fields = ("subject",)


class PeriodInline(admin.TabularInline):
    model = PublicityPeriod
    extra = 0


class NonRepairableInline(admin.TabularInline):
    model = NonRepairableRule
    extra = 0


@admin.register(PublicityRuleSet)
class PublicityRuleSetAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "effective_from", "effective_to", "disclosure_max_years")
    inlines = [PeriodInline, NonRepairableInline]


admin.site.register(SubjectBinding)
admin.site.register(DepartmentMembership)


@admin.register(SyncEvent)
class SyncEventAdmin(admin.ModelAdmin):
    """Read-only: events are written by records.sync in the decision's transaction."""

    list_display = ("id", "kind", "record", "occurred_at", "acknowledged")
    list_filter = ("kind",)
    search_fields = ("record__decision_number", "source", "key")
    list_select_related = ("record",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(ack_count=Count("acks"))

    @admin.display(description=_("已确认数"), ordering="ack_count")
    def acknowledged(self, obj) -> int:
        return obj.ack_count

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DecisionChange)
class DecisionChangeAdmin(admin.ModelAdmin):
    """Read-only: reported by the issuing department through records.services
    (Art. 40), with the record change, clock and sync event in one transaction."""

    list_display = ("id", "record", "kind", "changed_on", "source", "recorded_at")
    list_filter = ("kind", "source")
    search_fields = ("record__decision_number", "note")
    list_select_related = ("record",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RepeatLimitPolicy)
class RepeatLimitPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The repeat limits of shared domain reference section 3 are a local
    example, UNCONFIRMED as national law, shipped disabled: administrators
    enable a version only with its legal basis (the model refuses otherwise),
    and every save is audited (as SLA policies are). Add a version with a
    later effective date to change the rules from that day on."""

    list_display = (
        "effective_from",
        "enabled",
        "min_interval_days",
        "max_repairs",
        "max_repairs_window_years",
        "same_conduct_window_years",
        "unconfirmed_flag",
    )
    list_filter = ("enabled", "unconfirmed")
    audit_prefix = "records.repeat_limit_policy"

    @admin.display(description=_("未经核实"), ordering="unconfirmed")
    def unconfirmed_flag(self, obj: RepeatLimitPolicy) -> str:
        # The flag stays in sight: these numbers are not confirmed as national law.
        return _("未经核实") if obj.unconfirmed else _("已核实")
