"""System checks: settings that name data the database defines."""

from django.conf import settings
from django.core.checks import Error, register

from repair_flow.models import AccessPurpose


@register()
def integration_purposes_check(app_configs, **kwargs) -> list[Error]:
    """Every purpose in INTEGRATION_ACCESS_PURPOSES is one the register knows."""
    return [
        Error(
            f"INTEGRATION_ACCESS_PURPOSES: {username}={purpose!r} is not a purpose; use one "
            f"of {', '.join(AccessPurpose.values)}",
            id="repair_flow.E001",
        )
        for username, purpose in settings.INTEGRATION_ACCESS_PURPOSES.items()
        if purpose not in AccessPurpose.values
    ]
