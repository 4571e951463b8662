"""How a record's disclosure is spoken of, by whose record it is.

Shandong Social Credit Regulation Art. 20: a natural person's public credit
information is disclosed only by authorised query and sharing between
authorities, never publicly (不得公开公示). So wherever an enterprise's record
is "published" (公示), a natural person's is "shared and used as a negative
record" (作为失信信息共享和使用), and its repair ends that use rather than
publication. Every page, letter, API answer and sync event takes its words
from here (`disclosure_words`; in templates the `records.templatetags.disclosure`
filters; in letters the `disclosure` context), so none speaks of 公示 for a
natural person.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from records.models import RecordStatus, SubjectKind


@dataclass(frozen=True)
class DisclosureWords:
    person: bool
    disclosed: Promise  # 公示 / 共享
    period: Promise  # 公示期 / 披露期
    in_force: Promise  # 公示中 / 共享使用中
    stop: Promise  # 停止公示 / 不再作为失信信息共享和使用
    resume: Promise  # 恢复公示 / 恢复作为失信信息共享和使用


_ENTERPRISE = DisclosureWords(
    person=False,
    disclosed=_("公示"),
    period=_("公示期"),
    in_force=_("公示中"),
    stop=_("停止公示"),
    resume=_("恢复公示"),
)
_PERSON = DisclosureWords(
    person=True,
    disclosed=_("共享"),
    period=_("披露期"),
    in_force=_("共享使用中"),
    stop=_("不再作为失信信息共享和使用"),
    resume=_("恢复作为失信信息共享和使用"),
)

# A natural person's record by status, as the person and staff read it.
_PERSON_STATUS = {
    RecordStatus.PUBLISHED: _PERSON.in_force,
    RecordStatus.EXPIRED: _("披露期满"),
}


def is_natural_person(subject) -> bool:
    """`subject`: a Subject, a subject kind ("person", "enterprise"), or a bool."""
    if isinstance(subject, bool):
        return subject
    if isinstance(subject, str):
        return subject == SubjectKind.PERSON
    return getattr(subject, "kind", None) == SubjectKind.PERSON


def disclosure_words(subject) -> DisclosureWords:
    """The words for a subject's records (see `is_natural_person` for `subject`)."""
    return _PERSON if is_natural_person(subject) else _ENTERPRISE


def record_status_label(record) -> str:
    """The record's status as shown to people: never 公示 for a natural person."""
    if is_natural_person(record.subject) and record.status in _PERSON_STATUS:
        return str(_PERSON_STATUS[record.status])
    return str(RecordStatus(record.status).label)


def status_choices(*, person: bool) -> list[tuple[str, str]]:
    """The statuses for a filter: a natural person's own words when every
    record shown is a natural person's."""
    if not person:
        return list(RecordStatus.choices)
    return [(value, str(_PERSON_STATUS.get(value, label))) for value, label in RecordStatus.choices]
