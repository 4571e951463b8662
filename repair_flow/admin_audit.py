"""Admin edits of legal data (policies, limits) are audited: every add, change
and delete, including the bulk delete action, writes an audit event."""

from repair_flow.audit import audit_record


class AuditedAdminMixin:
    audit_prefix = ""  # e.g. "records.repeat_limit_policy"

    def _audit(self, request, obj, what: str, summary: dict) -> None:
        audit_record(
            actor=request.user,
            action=f"{self.audit_prefix}_{what}",
            object_type=obj._meta.label,
            object_id=obj.pk,
            summary=summary,
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._audit(
            request,
            obj,
            "change" if change else "add",
            {
                "changed": form.changed_data,
                "values": {name: str(form.cleaned_data.get(name)) for name in form.changed_data},
            },
        )

    def delete_model(self, request, obj):
        self._audit(request, obj, "delete", {"policy": str(obj)})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
