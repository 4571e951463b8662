"""The registry in the admin (issue 17, finding 3): legal data changes only
through records.services, with the same validation, audit and sync as an
import or an objection correction, or not at all.

- Read-only: penalty records (they change by the issuing department's import,
  an objection's correction, a case's decision or a reported decision change,
  each with its sync event), a subject's identity (kind, identifier, name: set
  by the import), sync events, decision changes.
- Through a service: departments (department_upsert), a subject's legal
  representative (subject_legal_representative_set), its contact email and
  mobile (subject_contact_set), subject bindings
  (subject_binding_*), department memberships (department_membership_*).
- Audited with old and new values (repair_flow.admin_audit): publicity rule
  sets with their periods and not-repairable rules, repeat limits.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
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
from records.services import (
    department_membership_remove,
    department_membership_set,
    department_upsert,
    subject_binding_add,
    subject_binding_capacity_set,
    subject_binding_check,
    subject_binding_remove,
    subject_contact_set,
    subject_legal_representative_set,
)
from repair_flow.admin_access import PersonalDataAdminMixin
from repair_flow.admin_audit import AuditedAdminMixin, ReadOnlyAdmin
from repair_flow.models import Role


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    """Saved through department_upsert (audited, old and new); the code names
    the department in imports and tokens, so it is fixed once made."""

    list_display = ("code", "name", "sector")
    search_fields = ("code", "name")

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        saved = department_upsert(
            actor=request.user, code=obj.code, name=obj.name, sector=obj.sector
        )
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        # Records, reviewers and issuers point at it (PROTECT).
        return False


class SubjectForm(forms.ModelForm):
    """The mobile number is never shown in full (section 8): the field starts
    empty, its help names the masked number, and empty keeps it."""

    clear_phone = forms.BooleanField(label=_("删除联系手机号码"), required=False)

    class Meta:
        model = Subject
        fields = ("legal_representative", "contact_email", "contact_phone")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.display_phone if self.instance.pk else ""
        self.initial["contact_phone"] = ""
        if current:
            self.fields["contact_phone"].help_text = _("当前：%(phone)s；留空保持不变。") % {
                "phone": current
            }


@admin.register(Subject)
class SubjectAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    """A subject's identity comes from the issuing department's import; only
    an enterprise's legal representative (subject_legal_representative_set)
    and the contact the platform reaches it at (subject_contact_set) are
    edited here, each through its service (validated, audited)."""

    subject_path = ""

    form = SubjectForm
    list_display = ("name", "kind", "display_identifier", "contact_email", "display_phone")
    list_filter = ("kind",)
    # By part of a name only: the identifier is encrypted at rest
    # (repair_flow/encryption.py), and an identifier in the admin's GET is
    # refused anyway (admin_access: it would sit in the URL).
    search_fields = ("name",)
    # The full resident ID is never shown (shared domain reference section 8).
    fields = (
        "kind",
        "display_identifier",
        "name",
        "legal_representative",
        "contact_email",
        "contact_phone",
        "clear_phone",
    )
    readonly_fields = ("kind", "display_identifier", "name")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_person:
            return (*self.readonly_fields, "legal_representative")
        return self.readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        before = Subject.objects.get(pk=obj.pk)
        if "legal_representative" in form.changed_data:
            subject_legal_representative_set(
                actor=request.user,
                subject=before,
                name=form.cleaned_data["legal_representative"],
            )
        email = form.cleaned_data.get("contact_email", "")
        phone = form.cleaned_data.get("contact_phone", "")
        if not phone and not form.cleaned_data.get("clear_phone"):
            phone = before.contact_phone
        if (email, phone) != (before.contact_email, before.contact_phone):
            subject_contact_set(
                actor=request.user, subject=Subject.objects.get(pk=obj.pk), email=email, phone=phone
            )


@admin.register(CreditRecord)
class CreditRecordAdmin(PersonalDataAdminMixin, ReadOnlyAdmin):
    """Read-only: a record's status and facts change through records.services
    (import, correction after an objection, a case's decision, a reported
    decision change), each audited and with its sync event."""

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
class PublicityRuleSetAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The publicity periods and the not-repairable list are law as data:
    every save, inlines included, is audited with old and new values."""

    audit_prefix = "records.rule_set"
    list_display = ("name", "code", "effective_from", "effective_to", "disclosure_max_years")
    inlines = [PeriodInline, NonRepairableInline]


class SubjectBindingForm(forms.ModelForm):
    class Meta:
        model = SubjectBinding
        fields = ("user", "subject", "capacity")

    def clean(self):
        cleaned = super().clean()
        user = cleaned.get("user", self.instance.user if self.instance.pk else None)
        subject = cleaned.get("subject", self.instance.subject if self.instance.pk else None)
        if user is not None and subject is not None and cleaned.get("capacity"):
            subject_binding_check(user=user, subject=subject, capacity=cleaned["capacity"])
        return cleaned


@admin.register(SubjectBinding)
class SubjectBindingAdmin(PersonalDataAdminMixin, admin.ModelAdmin):
    """Who acts for which subject decides what an applicant sees (its records,
    cases and letters): every add, change and removal goes through
    records.services, validated and audited with old and new values. An
    account or subject is not re-pointed: remove the binding and add another."""

    form = SubjectBindingForm
    list_display = ("user", "subject", "capacity")
    list_filter = ("capacity",)
    search_fields = ("user__username", "subject__name")
    raw_id_fields = ("user", "subject")

    def get_readonly_fields(self, request, obj=None):
        return ("user", "subject") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            saved = subject_binding_capacity_set(
                actor=request.user, binding=obj, capacity=obj.capacity
            )
        else:
            saved = subject_binding_add(
                actor=request.user, user=obj.user, subject=obj.subject, capacity=obj.capacity
            )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        subject_binding_remove(actor=request.user, binding=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            subject_binding_remove(actor=request.user, binding=obj)


class DepartmentMembershipForm(forms.ModelForm):
    class Meta:
        model = DepartmentMembership
        fields = ("user", "department")

    def clean_user(self):
        user = self.cleaned_data["user"]
        if user.role not in (Role.REVIEWER, Role.INTEGRATION):
            raise ValidationError(_("只有认定单位审核人和系统对接账号可以属于认定单位"))
        return user


@admin.register(DepartmentMembership)
class DepartmentMembershipAdmin(admin.ModelAdmin):
    """A reviewer's department decides which records and cases it sees and
    decides: changed through records.services, audited with old and new."""

    form = DepartmentMembershipForm
    list_display = ("user", "department")
    list_filter = ("department",)
    raw_id_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        return ("user",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        saved = department_membership_set(
            actor=request.user, user=obj.user, department=obj.department
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        department_membership_remove(actor=request.user, membership=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            department_membership_remove(actor=request.user, membership=obj)


@admin.register(SyncEvent)
class SyncEventAdmin(PersonalDataAdminMixin, ReadOnlyAdmin):
    """Read-only: events are written by records.sync in the decision's transaction."""

    subject_path = "record__subject"

    list_display = ("id", "kind", "record", "occurred_at", "acknowledged")
    list_filter = ("kind",)
    search_fields = ("record__decision_number", "source", "key")
    list_select_related = ("record",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(ack_count=Count("acks"))

    @admin.display(description=_("已确认数"), ordering="ack_count")
    def acknowledged(self, obj) -> int:
        return obj.ack_count


@admin.register(DecisionChange)
class DecisionChangeAdmin(PersonalDataAdminMixin, ReadOnlyAdmin):
    """Read-only: reported by the issuing department through records.services
    (Art. 40), with the record change, clock and sync event in one transaction."""

    subject_path = "record__subject"

    list_display = ("id", "record", "kind", "changed_on", "source", "recorded_at")
    list_filter = ("kind", "source")
    search_fields = ("record__decision_number", "note")
    list_select_related = ("record",)


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
