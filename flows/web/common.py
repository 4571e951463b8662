"""What every page of flows/web does with a service's refusal."""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.models import ObjectionGround
from records.disclosure import is_natural_person
from records.models import CreditRecord
from records.services import CORRECTABLE_FIELDS

# Shandong Social Credit Regulation Art. 20: a natural person's record is
# never published, so the grounds that speak of publication read otherwise.
_PERSON_GROUNDS = {
    ObjectionGround.NOT_PUBLISHABLE: gettext_lazy("不应采集或共享使用"),
    ObjectionGround.PAST_PERIOD: gettext_lazy("超过期限仍在共享使用"),
    ObjectionGround.DUPLICATE: gettext_lazy("重复记录"),
}


def objection_ground_choices(subject) -> list[tuple[str, str]]:
    """The grounds an applicant may give, in the words for `subject`'s records."""
    person = is_natural_person(subject)
    return [
        (value, str(_PERSON_GROUNDS.get(value, label)) if person else str(label))
        for value, label in ObjectionGround.choices
    ]


def objection_ground_labels(grounds: Iterable[str], subject) -> list[str]:
    """The grounds given, as shown for `subject`'s records."""
    labels = dict(objection_ground_choices(subject))
    return [labels[ground] for ground in grounds if ground in labels]


def error_summary(error: ValidationError | PermissionDenied | None, anchors: dict) -> list[dict]:
    """A refusal as the lines of the summary at the top of a form: each
    message, linked to the field its code is about (anchors: code -> "#id")."""
    if error is None:
        return []
    if isinstance(error, ValidationError) and not hasattr(error, "error_dict"):
        return [
            {"message": message, "href": anchors.get(item.code, "")}
            for item in error.error_list
            for message in item.messages
        ]
    return [{"message": message, "href": ""} for message in refusal_messages(error)]


def upload_summary(slots: list[dict], stray: list[str]) -> list[dict]:
    """The upload slots' refusals for the summary, each linked to its slot."""
    return [
        {"message": message, "href": f"#file_{slot['kind']}"}
        for slot in slots
        for message in slot["errors"]
    ] + [{"message": message, "href": ""} for message in stray]


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
