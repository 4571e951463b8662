"""What every page of flows/web does with a service's refusal."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from records.models import CreditRecord
from records.services import CORRECTABLE_FIELDS


def refusal_messages(error: ValidationError | PermissionDenied) -> list[str]:
    """A service's refusal as the lines a page shows."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        # A correction's errors name their field, as the import report does.
        labels = {
            name: CreditRecord._meta.get_field(name).verbose_name for name in CORRECTABLE_FIELDS
        }
        labels["evidence"] = _("依据材料")
        return [
            f"{labels[field]}：{message}" if field in labels else message
            for field, errors in error.message_dict.items()
            for message in errors
        ]
    if isinstance(error, ValidationError):
        return list(error.messages)
    return [str(error) or _("您无权办理此操作。")]
