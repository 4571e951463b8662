"""Issue 17, finding 3: admin edits of legal data and of access go through the
services (validated, audited with old and new values) or are read-only.
Every test posts the admin's own forms, as an administrator does."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.forms import MultiWidget

from records.models import (
    BindingCapacity,
    CreditRecord,
    Department,
    DepartmentMembership,
    PublicityRuleSet,
    SubjectBinding,
    SyncEvent,
)
from repair_flow.models import AuditEvent, Role, User


def form_data(response) -> dict:
    """The admin change form as shown (its fields, and its inlines'), ready to
    post back: what the browser would send if nothing were edited."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = form[name].value()
            key = form.add_prefix(name)
            if isinstance(field.widget, MultiWidget):
                for i, part in enumerate(field.widget.decompress(value)):
                    data[f"{key}_{i}"] = "" if part is None else str(part)
            elif isinstance(value, bool):
                if value:
                    data[key] = "on"
            elif isinstance(value, list | tuple):
                data[key] = [str(item) for item in value]
            else:
                data[key] = "" if value is None else str(value)

    add(response.context["adminform"].form)
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        add(formset.management_form)
        for form in formset.forms:
            add(form)
    return data


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


@pytest.fixture
def admin_client(client_for, administrator):
    client = client_for(administrator)
    # The admin's pages of subjects and records first ask a purpose (issue 17):
    # stated once for the session, as an administrator does.
    client.post("/access-purpose/", {"purpose": "data_maintenance"})
    return client


# Penalty records -----------------------------------------------------------


def test_a_record_is_read_only_in_the_admin(admin_client, record):
    url = f"/admin/records/creditrecord/{record.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "adminform" in page.context and not page.context["has_change_permission"]
    # A direct status edit, as the old change form accepted it, is refused.
    response = admin_client.post(
        url,
        {
            "department": record.department_id,
            "decision_number": record.decision_number,
            "subject": record.subject_id,
            "decision_date": "2026-01-15",
            "penalty_types": '["fine"]',
            "severity": "general",
            "facts": "改过的事实",
            "status": "deleted",
            "publicity_starts_on": str(record.publicity_starts_on),
            "publicity_ends_on": str(record.publicity_ends_on),
        },
    )
    assert response.status_code == 403
    record.refresh_from_db()
    assert (record.status, record.facts) == ("published", "未按规定标示食品生产日期。")
    assert admin_client.post(f"/admin/records/creditrecord/{record.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/records/creditrecord/add/").status_code == 403
    assert CreditRecord.objects.filter(pk=record.pk).exists()
    assert not SyncEvent.objects.exists()


# Subjects ------------------------------------------------------------------


def test_a_subjects_identity_is_read_only_and_its_representative_goes_through_the_service(
    admin_client, enterprise
):
    url = f"/admin/records/subject/{enterprise.pk}/change/"
    data = form_data(admin_client.get(url))
    assert "name" not in data and "identifier" not in data and "kind" not in data
    old_name, old_representative = enterprise.name, enterprise.legal_representative
    response = admin_client.post(
        url, {**data, "name": "改名公司", "identifier": "X", "legal_representative": "王五"}
    )
    assert response.status_code == 302
    enterprise.refresh_from_db()
    assert enterprise.name == old_name
    assert enterprise.legal_representative == "王五"
    (event,) = events("records.subject.legal_representative")
    assert event.summary == {"before": old_representative, "after": "王五"}
    assert event.actor.username == "administrator"


# Subject bindings ----------------------------------------------------------


def test_a_binding_added_in_the_admin_is_validated_audited_and_opens_the_subject(
    admin_client, client_for, applicant, person, person_record
):
    assert client_for(applicant).get(f"/records/{person_record.pk}/").status_code == 404
    admin_client.force_login(User.objects.get(username="administrator"))
    page = admin_client.get("/admin/records/subjectbinding/add/")
    assert page.status_code == 200
    # A natural person has no legal representative: refused with the reason.
    refused = admin_client.post(
        "/admin/records/subjectbinding/add/",
        {"user": applicant.pk, "subject": person.pk, "capacity": "legal_representative"},
    )
    assert refused.status_code == 200
    assert "不能以“法定代表人”身份绑定" in refused.content.decode()
    assert not SubjectBinding.objects.filter(user=applicant, subject=person).exists()
    response = admin_client.post(
        "/admin/records/subjectbinding/add/",
        {"user": applicant.pk, "subject": person.pk, "capacity": "agent"},
    )
    assert response.status_code == 302
    (event,) = events("records.binding_add")
    assert event.summary["user"] == "applicant"
    assert event.summary["before"] is None
    assert event.summary["after"] == {"capacity": "agent"}
    assert person.pk in event.summary["subjects_now"]
    # The full resident ID never reaches the trail.
    assert person.identifier not in str(event.summary)
    assert client_for(applicant).get(f"/records/{person_record.pk}/").status_code == 200


def test_staff_accounts_cannot_be_bound_to_a_subject(admin_client, officer, enterprise):
    response = admin_client.post(
        "/admin/records/subjectbinding/add/",
        {"user": officer.pk, "subject": enterprise.pk, "capacity": "agent"},
    )
    assert response.status_code == 200
    assert "只有申请人账号可以绑定信用主体" in response.content.decode()
    assert not SubjectBinding.objects.filter(user=officer).exists()
    assert not events("records.binding_add")


def test_a_bindings_capacity_change_and_removal_are_audited_and_close_the_subject(
    admin_client, client_for, applicant, enterprise, record
):
    binding = SubjectBinding.objects.get(user=applicant, subject=enterprise)
    url = f"/admin/records/subjectbinding/{binding.pk}/change/"
    data = form_data(admin_client.get(url))
    assert "user" not in data and "subject" not in data
    assert admin_client.post(url, {**data, "capacity": "agent"}).status_code == 302
    (change,) = events("records.binding_change")
    assert change.summary["before"] == {"capacity": BindingCapacity.LEGAL_REPRESENTATIVE}
    assert change.summary["after"] == {"capacity": BindingCapacity.AGENT}

    assert client_for(applicant).get(f"/records/{record.pk}/").status_code == 200
    admin_client.force_login(User.objects.get(username="administrator"))
    admin_client.post("/access-purpose/", {"purpose": "data_maintenance"})  # a new session
    response = admin_client.post(
        f"/admin/records/subjectbinding/{binding.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    (removal,) = events("records.binding_remove")
    assert removal.summary["before"] == {"capacity": "agent"}
    assert removal.summary["after"] is None
    assert removal.summary["subjects_now"] == []
    # What the account may see follows at once: the subject's record is gone.
    assert client_for(applicant).get(f"/records/{record.pk}/").status_code == 404


# Department memberships and departments ------------------------------------


def test_a_reviewer_moved_to_another_department_is_audited_old_and_new(
    admin_client, reviewer, department, other_department
):
    membership = DepartmentMembership.objects.get(user=reviewer)
    url = f"/admin/records/departmentmembership/{membership.pk}/change/"
    data = form_data(admin_client.get(url))
    response = admin_client.post(url, {**data, "department": other_department.pk})
    assert response.status_code == 302
    (event,) = events("records.membership_set")
    assert event.summary["before"] == {"department": department.code}
    assert event.summary["after"] == {"department": other_department.code}


def test_only_reviewers_and_systems_join_a_department(admin_client, applicant, department):
    response = admin_client.post(
        "/admin/records/departmentmembership/add/",
        {"user": applicant.pk, "department": department.pk},
    )
    assert response.status_code == 200
    assert not DepartmentMembership.objects.filter(user=applicant).exists()


def test_a_department_renamed_in_the_admin_goes_through_the_service(admin_client, department):
    url = f"/admin/records/department/{department.pk}/change/"
    data = form_data(admin_client.get(url))
    assert "code" not in data
    old = department.name
    assert admin_client.post(url, {**data, "name": "济南市新名称局"}).status_code == 302
    (event,) = events("department.update")
    assert event.summary["before"]["name"] == old
    assert event.summary["after"]["name"] == "济南市新名称局"
    assert Department.objects.get(pk=department.pk).name == "济南市新名称局"


# Accounts, groups, tokens --------------------------------------------------


def test_a_role_and_group_change_is_audited_with_old_and_new_values(admin_client, officer):
    group = Group.objects.create(name="数据核对")
    url = f"/admin/repair_flow/user/{officer.pk}/change/"
    data = form_data(admin_client.get(url))
    response = admin_client.post(
        url, {**data, "role": Role.SUPERVISOR, "groups": [str(group.pk)], "email": "o@x.cn"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    (event,) = events("account.access_change")
    assert event.summary["username"] == "officer"
    assert event.summary["access"]["role"] == {"before": "officer", "after": "supervisor"}
    assert event.summary["access"]["groups"] == {"before": [], "after": ["数据核对"]}
    assert event.summary["details"]["email"] == {"before": "", "after": "o@x.cn"}
    assert "is_staff" not in event.summary["access"]


def test_admin_rights_are_for_the_administrator_role_only(admin_client, officer):
    url = f"/admin/repair_flow/user/{officer.pk}/change/"
    data = form_data(admin_client.get(url))
    response = admin_client.post(url, {**data, "is_staff": "on", "is_superuser": "on"})
    assert response.status_code == 200
    assert "只有系统管理员角色可以进入管理后台" in response.content.decode()
    officer.refresh_from_db()
    assert not officer.is_staff and not officer.is_superuser
    assert not events("account.access_change")


def test_a_granted_permission_is_audited(admin_client, supervisor):
    permission = Permission.objects.get(codename="view_creditrecord")
    url = f"/admin/repair_flow/user/{supervisor.pk}/change/"
    data = form_data(admin_client.get(url))
    assert (
        admin_client.post(url, {**data, "user_permissions": [str(permission.pk)]}).status_code
        == 302
    )
    (event,) = events("account.access_change")
    assert event.summary["access"]["user_permissions"] == {
        "before": [],
        "after": ["records.view_creditrecord"],
    }


def test_a_password_set_by_an_administrator_is_audited_without_the_password(admin_client, officer):
    response = admin_client.post(
        f"/admin/repair_flow/user/{officer.pk}/password/",
        {"password1": "Another-long-pass-42", "password2": "Another-long-pass-42"},
    )
    assert response.status_code == 302
    (event,) = events("account.password_set")
    assert "Another-long-pass-42" not in str(event.summary)


def test_a_groups_permissions_change_is_audited_with_its_members(admin_client, officer):
    group = Group.objects.create(name="核查")
    officer.groups.add(group)
    permission = Permission.objects.get(codename="change_subject")
    url = f"/admin/auth/group/{group.pk}/change/"
    data = form_data(admin_client.get(url))
    assert admin_client.post(url, {**data, "permissions": [str(permission.pk)]}).status_code == 302
    (event,) = events("account.group_change")
    assert event.summary["before"] == {"name": "核查", "permissions": []}
    assert event.summary["after"] == {"name": "核查", "permissions": ["records.change_subject"]}
    assert event.summary["members"] == ["officer"]


def test_an_api_token_issued_in_the_admin_is_audited(admin_client, officer):
    system = User.objects.create(username="dept_system_2", role=Role.INTEGRATION)
    response = admin_client.post("/admin/repair_flow/apitoken/add/", {"user": system.pk})
    assert response.status_code == 302
    (event,) = events("account.token_add")
    assert event.summary == {"username": "dept_system_2"}


# Rule sets (law as data) ---------------------------------------------------


def test_a_rule_set_edit_is_audited_with_old_and_new_values_of_its_periods(admin_client):
    rule_set = PublicityRuleSet.objects.order_by("effective_from").last()
    url = f"/admin/records/publicityruleset/{rule_set.pk}/change/"
    data = form_data(admin_client.get(url))
    period_key = next(k for k in data if k.endswith("-max_months"))
    old_months = data[period_key]
    new_months = str(int(old_months) + 1)
    response = admin_client.post(url, {**data, period_key: new_months})
    assert response.status_code == 302, response.context["adminform"].form.errors
    (event,) = events("records.rule_set_change")
    (row,) = event.summary["inlines"]
    assert row["before"] == {"max_months": old_months}
    assert row["after"] == {"max_months": new_months}


# Flows ---------------------------------------------------------------------


def test_viewflow_processes_and_tasks_are_read_only_in_the_admin(admin_client):
    for model in ("process", "task"):
        page = admin_client.get(f"/admin/viewflow/{model}/")
        assert page.status_code == 200
        assert not page.context["cl"].model_admin.has_change_permission(page.wsgi_request)
        assert not page.context["cl"].model_admin.has_delete_permission(page.wsgi_request)
