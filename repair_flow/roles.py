"""Who may do what: role checks for views and the API."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from repair_flow.models import STAFF_ROLES, Role


def has_role(user, *roles: str) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.role in roles)


def role_required(*roles: str):
    """Log in first; a signed-in user with another role gets 403."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class HasRole(BasePermission):
    roles: tuple[str, ...] = ()
    message = _("您的账号角色无权执行此操作。")

    def has_permission(self, request, view):
        return has_role(request.user, *self.roles)


def role_permission(*roles: str) -> type[BasePermission]:
    return type("HasRole_" + "_".join(roles), (HasRole,), {"roles": roles})


def is_staff_role(user) -> bool:
    return bool(user and user.is_authenticated and user.role in STAFF_ROLES)


def role_context(request):
    user = getattr(request, "user", None)
    role = user.role if user is not None and user.is_authenticated else None
    return {
        "current_role": role,
        "is_supervisor": role in (Role.SUPERVISOR, Role.ADMINISTRATOR),
        "is_platform_staff": role in STAFF_ROLES,
    }
