"""Account services: people and systems, with their role, department or subjects."""

from collections.abc import Sequence

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
def profile_notifications_set(*, user: User, email_notifications: bool) -> User:
    """A person turns their email and SMS notices on or off (their own only:
    the in-app notices on the 通知 page always arrive)."""
    if not (user and user.is_authenticated):
        raise AccountError(_("请先登录。"))
    email_notifications = bool(email_notifications)
    if user.email_notifications != email_notifications:
        user.email_notifications = email_notifications
        user.save(update_fields=["email_notifications"])
        audit_record(
            actor=user,
            action="profile.notifications",
            object_type="user",
            object_id=user.pk,
            summary={"email_notifications": email_notifications},
        )
    return user
