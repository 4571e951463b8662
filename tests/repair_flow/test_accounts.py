import pytest
from rest_framework.authtoken.models import Token

from records.models import BindingCapacity
from repair_flow.accounts import AccountError, account_create
from repair_flow.models import AuditEvent, Role, User


def test_a_reviewer_belongs_to_one_department(department):
    user = account_create(
        actor="test",
        username="r1",
        password="pw-123456789",
        role=Role.REVIEWER,
        full_name="陈静",
        department=department,
    )
    assert user.department_membership.department == department
    event = AuditEvent.objects.get(action="account.create")
    assert event.summary["after"] == {
        "username": "r1",
        "role": "reviewer",
        "department": department.code,
        "subjects": [],
    }
    assert event.actor_label == "test"


def test_a_reviewer_without_a_department_is_refused(db):
    with pytest.raises(AccountError, match="必须属于一个认定单位"):
        account_create(actor="test", username="r2", password="x", role=Role.REVIEWER)
    assert not User.objects.filter(username="r2").exists()


def test_only_applicants_bind_subjects(enterprise):
    with pytest.raises(AccountError, match="只有申请人"):
        account_create(
            actor="test",
            username="o1",
            password="x",
            role=Role.OFFICER,
            subjects=[(enterprise, BindingCapacity.AGENT)],
        )
    user = account_create(
        actor="test",
        username="a1",
        password="pw-123456789",
        role=Role.APPLICANT,
        subjects=[(enterprise, BindingCapacity.AGENT)],
    )
    assert list(user.subject_bindings.values_list("subject", "capacity")) == [
        (enterprise.pk, "agent")
    ]


def test_integration_accounts_get_a_token_and_no_password(db):
    user = account_create(actor="test", username="sys", password="ignored", role=Role.INTEGRATION)
    assert Token.objects.filter(user=user).exists()
    assert not user.has_usable_password()


def test_duplicate_usernames_and_unknown_roles_are_refused(officer):
    with pytest.raises(AccountError, match="用户名已存在"):
        account_create(actor="test", username="officer", password="x", role=Role.OFFICER)
    with pytest.raises(AccountError, match="未知角色"):
        account_create(actor="test", username="new", password="x", role="king")
