from django.contrib import admin

from records.models import (
    CreditRecord,
    Department,
    DepartmentMembership,
    NonRepairableRule,
    PublicityPeriod,
    PublicityRuleSet,
    Subject,
    SubjectBinding,
)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "sector")
    search_fields = ("code", "name")


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "display_identifier")
    list_filter = ("kind",)
    search_fields = ("name", "identifier")
    # The full resident ID is never shown (shared domain reference section 8).
    exclude = ("identifier",)
    readonly_fields = ("display_identifier",)


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
    list_display = ("name", "code", "effective_from", "effective_to")
    inlines = [PeriodInline, NonRepairableInline]


admin.site.register(SubjectBinding)
admin.site.register(DepartmentMembership)
