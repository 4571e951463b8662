"""Admin edits of legal data (policies, rule sets, limits) are audited: every
add, change and delete, including the bulk delete action and the rows of
inlines, writes an audit event with the old and the new values (issue 17,
finding 3). The admin wraps each save in one transaction, so the event
commits exactly when the edit does."""

from django.contrib import admin

from repair_flow.audit import audit_record


class ReadOnlyMixin:
    """For models that change only through their services: the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


def plain(value) -> str:
    """A value as the audit shows it: model instances by their label."""
    if value is None:
        return ""
    if isinstance(value, list | tuple | set) or hasattr(value, "model"):
        return ", ".join(sorted(str(item) for item in value))
    return str(value)


def _changed(form, names, *, change: bool) -> tuple[list[str], dict, dict]:
    before = {name: plain(form.initial.get(name)) for name in names}
    after = {name: plain(form.cleaned_data.get(name)) for name in names}
    if change:
        # A field Django calls changed whose value reads the same (a JSON
        # list posted back as shown) is left out: the audit shows real edits.
        names = [name for name in names if before[name] != after[name]]
        before = {name: before[name] for name in names}
    after = {name: after[name] for name in names}
    return names, before if change else {}, after


def form_diff(form, *, change: bool) -> dict:
    """The changed fields of a model form, old (as the form was shown) and new."""
    names, before, after = _changed(form, list(form.changed_data), change=change)
    return {"changed": names, "before": before, "after": after}


def formset_diff(formsets) -> list[dict]:
    """Rows added, changed (old and new values) and deleted through inlines."""
    rows = []
    for formset in formsets:
        model = formset.model._meta.label
        for obj in formset.new_objects:
            rows.append({"model": model, "added": str(obj)})
        changed = {id(obj): fields for obj, fields in formset.changed_objects}
        for form in formset.forms:
            fields = changed.get(id(form.instance))
            if fields:
                names, before, after = _changed(form, fields, change=True)
                if names:
                    rows.append(
                        {
                            "model": model,
                            "changed": str(form.instance),
                            "before": before,
                            "after": after,
                        }
                    )
        for obj in formset.deleted_objects:
            rows.append({"model": model, "deleted": str(obj)})
    return rows


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

    def save_related(self, request, form, formsets, change):
        # After the inlines are saved, so one event tells the whole edit.
        super().save_related(request, form, formsets, change)
        summary = form_diff(form, change=change)
        inlines = formset_diff(formsets)
        if inlines:
            summary["inlines"] = inlines
        self._audit(request, form.instance, "change" if change else "add", summary)

    def delete_model(self, request, obj):
        self._audit(request, obj, "delete", {"before": str(obj)})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
