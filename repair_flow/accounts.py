"""Account services: people and systems, with their role, department or subjects."""

from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from records.models import DepartmentMembership, SubjectBinding
from repair_flow.audit import audit_record
from repair_flow.models import Role, User


class AccountError(ValueError):
    pass


@transaction.atomic
def account_create(
    *,
    actor,
    username: str,
    password: str | None,
    role: str,
    full_name: str = "",
    email: str = "",
    department=None,
    subjects: Sequence[tuple] = (),
) -> User:
    """Create an account. Reviewers need exactly one department; applicants
    are bound to subjects as (subject, capacity) pairs; integration accounts
    get an API token and no password."""
    if role not in Role.values:
        raise AccountError(_("未知角色：%(role)s") % {"role": role})
    if User.objects.filter(username=username).exists():
        raise AccountError(_("用户名已存在：%(username)s") % {"username": username})
    if role == Role.REVIEWER and department is None:
        raise AccountError(_("认定单位审核人必须属于一个认定单位"))
    if role not in (Role.REVIEWER, Role.INTEGRATION) and department is not None:
        # An integration account may be a department's own system: it then
        # reports that department's revoked or changed decisions (Art. 40).
        raise AccountError(_("只有认定单位审核人和系统对接账号可以属于认定单位"))
    if subjects and role != Role.APPLICANT:
        raise AccountError(_("只有申请人可以绑定信用主体"))
    user = User(
        username=username,
        role=role,
        first_name=full_name,
        email=email,
        is_staff=role == Role.ADMINISTRATOR,
        is_superuser=role == Role.ADMINISTRATOR,
    )
    if password and role != Role.INTEGRATION:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    if department is not None:
        DepartmentMembership.objects.create(user=user, department=department)
    for subject, capacity in subjects:
        SubjectBinding.objects.create(user=user, subject=subject, capacity=capacity)
    if role == Role.INTEGRATION:
        Token.objects.create(user=user)
    audit_record(
        actor=actor,
        action="account.create",
        object_type="repair_flow.User",
        object_id=user.pk,
        summary={
            "after": {
                "username": username,
                "role": role,
                "department": getattr(department, "code", None),
                "subjects": [s.pk for s, _ in subjects],
            }
        },
    )
    return user


@transaction.atomic
def profile_notifications_set(
    *, user: User, email_notifications: bool, language: str | None = None
) -> User:
    """A person turns their email and SMS notices on or off, and chooses the
    language they are written in (their own only: the in-app notices on the
    通知 page always arrive). A language the platform does not offer is
    refused, nothing saved."""
    if not (user and user.is_authenticated):
        raise AccountError(_("请先登录。"))
    email_notifications = bool(email_notifications)
    language = user.language if language is None else language
    if language not in dict(settings.LANGUAGES):
        message = _("不支持的通知语言：%(language)s") % {"language": language}
        raise ValidationError({"language": message})
    changed = {}
    if user.email_notifications != email_notifications:
        changed["email_notifications"] = email_notifications
    if user.language != language:
        changed["language"] = language
    if changed:
        for field, value in changed.items():
            setattr(user, field, value)
        user.save(update_fields=list(changed))
        audit_record(
            actor=user,
            action="profile.notifications",
            object_type="user",
            object_id=user.pk,
            summary=changed,
        )
    return user


# What decides what an account may see and do: its role, whether it may log
# in, the admin flags, its groups and permissions, its department and the
# subjects it acts for.
ACCESS_KEYS = (
    "role", "is_active", "is_staff", "is_superuser", "groups", "user_permissions",
    "department", "subjects",
)  # fmt: skip


def account_access_snapshot(user: User) -> dict:
    """An account's access as stored now (read from the database, not from
    an instance a form may have changed)."""
    stored = User.objects.get(pk=user.pk)
    membership = DepartmentMembership.objects.filter(user=stored).select_related("department")
    return {
        "role": stored.role,
        "is_active": stored.is_active,
        "is_staff": stored.is_staff,
        "is_superuser": stored.is_superuser,
        "groups": sorted(stored.groups.values_list("name", flat=True)),
        "user_permissions": sorted(
            f"{app}.{codename}"
            for app, codename in stored.user_permissions.values_list(
                "content_type__app_label", "codename"
            )
        ),
        "department": next((m.department.code for m in membership), None),
        "subjects": sorted(
            SubjectBinding.objects.filter(user=stored).values_list("subject_id", flat=True)
        ),
    }


def account_access_check(*, role: str, is_staff: bool, is_superuser: bool) -> None:
    """The admin site and every permission are for administrators only
    (account_create gives them to that role and no other)."""
    if (is_staff or is_superuser) and role != Role.ADMINISTRATOR:
        raise ValidationError(
            {
                "role": [
                    _(
                        "只有系统管理员角色可以进入管理后台或拥有全部权限（职员状态、超级用户状态）。"
                    )
                ]
            }
        )


def account_access_record(*, actor, user: User, before: dict | None, details: dict) -> None:
    """Audit a change of an account made elsewhere in this transaction (the
    admin's user form): every access key that changed, old and new, plus the
    other fields the form changed (`details`: their old and new values)."""
    account_access_check(role=user.role, is_staff=user.is_staff, is_superuser=user.is_superuser)
    after = account_access_snapshot(user)
    if before is None:
        changed = {key: {"before": None, "after": after[key]} for key in ACCESS_KEYS}
        action = "account.create"
    else:
        changed = {
            key: {"before": before[key], "after": after[key]}
            for key in ACCESS_KEYS
            if before[key] != after[key]
        }
        action = "account.access_change" if changed else "account.change"
    if not changed and not details:
        return
    audit_record(
        actor=actor,
        action=action,
        object_type="repair_flow.User",
        object_id=user.pk,
        summary={"username": user.get_username(), "access": changed, "details": details},
    )


@transaction.atomic
def account_password_set_record(*, actor, user: User) -> None:
    """Audit an administrator setting an account's password (never the password)."""
    audit_record(
        actor=actor,
        action="account.password_set",
        object_type="repair_flow.User",
        object_id=user.pk,
        summary={"username": user.get_username()},
    )


def group_snapshot(group: Group) -> dict:
    return {
        "name": group.name,
        "permissions": sorted(
            f"{app}.{codename}"
            for app, codename in Group.objects.get(pk=group.pk).permissions.values_list(
                "content_type__app_label", "codename"
            )
        ),
    }


def group_change_record(*, actor, group: Group, before: dict | None, deleted: bool = False):
    """Audit a group's name or permissions changing (every member's
    permissions change with it): old and new, and who the members are."""
    after = None if deleted else group_snapshot(group)
    if before is not None and before == after:
        return
    audit_record(
        actor=actor,
        action="account.group_delete"
        if deleted
        else ("account.group_change" if before else "account.group_add"),
        object_type="auth.Group",
        object_id=group.pk,
        summary={
            "before": before,
            "after": after,
            "members": sorted(group.user_set.values_list("username", flat=True)),
        },
    )
