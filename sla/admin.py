"""Administrators correct or add holidays here; every save goes through
`calendar_year_touch`, which audits the edit and invalidates the cached calendar."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from repair_flow.admin_audit import ReadOnlyAdmin, form_diff
from repair_flow.audit import audit_record
from sla.calendar import weekday_label
from sla.models import CalendarDay, CalendarYear, SlaClock, SlaPolicy
from sla.services import calendar_year_delete, calendar_year_touch


def _day_label(day: CalendarDay) -> str:
    return f"{day.date.isoformat()} {day.kind} {day.name}".rstrip()


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0
    fields = ("date", "kind", "name")


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ("year", "holiday_count", "workday_count", "source", "loaded_at")
    search_fields = ("=year", "source")
    readonly_fields = ("loaded_at",)
    inlines = [CalendarDayInline]

    @admin.display(description=_("放假日"))
    def holiday_count(self, obj: CalendarYear) -> int:
        return sum(1 for day in obj.days.all() if day.kind == "holiday")

    @admin.display(description=_("调休上班日"))
    def workday_count(self, obj: CalendarYear) -> int:
        return sum(1 for day in obj.days.all() if day.kind == "workday")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("days")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # After the days are saved: one audit event and a new stamp per save.
        summary = {"year_changed": form.changed_data, "added": [], "changed": [], "removed": []}
        for formset in formsets:
            summary["added"] += [_day_label(d) for d in formset.new_objects]
            summary["changed"] += [_day_label(d) for d, _fields in formset.changed_objects]
            summary["removed"] += [_day_label(d) for d in formset.deleted_objects]
        calendar_year_touch(
            calendar_year=form.instance,
            actor=request.user,
            action="calendar.edit_year" if change else "calendar.add_year",
            summary=summary,
        )

    def delete_model(self, request, obj):
        calendar_year_delete(calendar_year=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for calendar_year in queryset:
            calendar_year_delete(calendar_year=calendar_year, actor=request.user)


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ("date", "weekday", "kind", "name", "calendar_year")
    list_filter = ("kind", "calendar_year")
    search_fields = ("name", "=date")
    date_hierarchy = "date"

    @admin.display(description=_("星期"))
    def weekday(self, obj: CalendarDay) -> str:
        return weekday_label(obj.date)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        calendar_year_touch(
            calendar_year=obj.calendar_year,
            actor=request.user,
            action="calendar.edit_day",
            summary={
                "changed" if change else "added": [_day_label(obj)],
                "fields": form.changed_data,
            },
        )

    def delete_model(self, request, obj):
        calendar_year, label = obj.calendar_year, _day_label(obj)
        super().delete_model(request, obj)
        calendar_year_touch(
            calendar_year=calendar_year,
            actor=request.user,
            action="calendar.edit_day",
            summary={"removed": [label]},
        )

    def delete_queryset(self, request, queryset):
        removed: dict[CalendarYear, list[str]] = {}
        for day in queryset.select_related("calendar_year"):
            removed.setdefault(day.calendar_year, []).append(_day_label(day))
        super().delete_queryset(request, queryset)
        for calendar_year, labels in removed.items():
            calendar_year_touch(
                calendar_year=calendar_year,
                actor=request.user,
                action="calendar.edit_day",
                summary={"removed": labels},
            )


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    """Policies are data: administrators edit them here (validated by
    SlaPolicy.clean) and every save is audited. A running clock keeps the
    policy it started under; add a new version with a later effective date to
    change the rules for new clocks."""

    list_display = (
        "stage",
        "rule",
        "n",
        "warn_percent_1",
        "warn_percent_2",
        "unconfirmed",
        "effective_from",
        "effective_to",
    )
    list_filter = ("stage", "unconfirmed")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="sla.policy_change" if change else "sla.policy_add",
            object_type="sla.SlaPolicy",
            object_id=obj.pk,
            summary={**form_diff(form, change=change), "policy": str(obj)},
        )


@admin.register(SlaClock)
class SlaClockAdmin(ReadOnlyAdmin):
    """Read-only: clocks change only through sla.clocks and the sweep."""

    list_display = ("case_label", "stage", "state", "due_at", "assignee", "provisional")
    list_filter = ("state", "stage", "provisional")
    search_fields = ("case_label",)
