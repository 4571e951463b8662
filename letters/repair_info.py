"""The credit-repair notice (信用修复告知书) sent with the penalty (两书同送).

国办发〔2025〕22号 has the department that imposes a penalty tell the subject
about credit repair when the penalty is delivered. The records import runs
`on_records_saved` (registered in letters.apps as a records hook, so records/
does not import letters) in its own transaction: each new or changed record
of a subject the platform can reach gets one notice, issued by the record's
department (谁认定) and rendered after commit by the render queue (the
letters sweep, in the background; never inside the import); the bound
applicant receives it among their letters and, with an email address, by the
outbox (`letter_issue` queues that once).

Reachable: a subject bound to an applicant account (records.SubjectBinding),
or one with a contact email or mobile number of its own (from the import or
the admin): that subject gets the letter by email (PDF attached) and a text
with the link to the verification page, each once per letter (its
idempotency key), and a record has one notice, so a re-import tells no one twice.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from letters.kinds import addressee_facts, record_facts
from letters.models import Letter, LetterKind
from letters.services import NewLetter, letters_issue_many
from records.models import CreditRecord, SubjectBinding, SubjectKind
from records.publicity import RecordFacts, answer, load_rule_sets

PREPARE_COMMON = (
    "已履行行政处罚决定所规定义务的证明（如罚款、没收违法所得的缴纳凭证）",
    "信用修复承诺书（在信用修复平台在线签署）",
)
PREPARE_ENTERPRISE = ("法定代表人身份证明；委托他人办理的，另附授权委托书和经办人身份证件",)
PREPARE_PERSON = ("本人身份证件；委托他人办理的，另附授权委托书和受托人身份证件",)


def repair_info_facts(record, *, as_of: dt.date, rule_sets=None) -> dict:
    """What the notice says of `record` on `as_of`."""
    found = answer(RecordFacts.of(record), rule_sets or load_rule_sets(), as_of)
    person = record.subject.kind == SubjectKind.PERSON
    return {
        "addressee": addressee_facts(record.subject),
        "record": record_facts(record),
        "eligibility": {
            "eligibility": found.eligibility,
            "eligible_from": found.eligible_from.isoformat() if found.eligible_from else None,
            "publicity_ends_on": found.publicity_ends_on.isoformat(),
            "published": found.published,
            "reason": found.reason,
            "legal_basis": found.legal_basis,
        },
        "prepare": [*PREPARE_COMMON, *(PREPARE_PERSON if person else PREPARE_ENTERPRISE)],
        "apply_at": f"{settings.SITE_URL.rstrip('/')}/",
    }


def on_records_saved(*, record_ids: list[int], actor, at: dt.datetime) -> None:
    """Issue the notice for each record of a reachable subject that has none."""
    # The subject's first bound account receives it.
    recipients: dict[int, int] = {}
    bound = SubjectBinding.objects.filter(
        subject_id__in=CreditRecord.objects.filter(pk__in=record_ids).values("subject_id")
    ).order_by("pk")
    for subject_id, user_id in bound.values_list("subject_id", "user_id"):
        recipients.setdefault(subject_id, user_id)
    # Subjects with no account but an email or a phone: told at that address
    # (letters.outbox.messages_for_letters), the letter with no recipient.
    unbound = set(
        CreditRecord.objects.filter(pk__in=record_ids)
        .exclude(subject_id__in=recipients)
        .exclude(subject__contact_email="", subject__contact_phone="")
        .values_list("subject_id", flat=True)
    )
    if not recipients and not unbound:
        return
    told = set(
        Letter.objects.filter(kind=LetterKind.REPAIR_INFO, record_id__in=record_ids).values_list(
            "record_id", flat=True
        )
    )
    records = (
        CreditRecord.objects.filter(pk__in=record_ids, subject_id__in=[*recipients, *unbound])
        .exclude(pk__in=told)
        .select_related("subject", "department")
        .order_by("pk")
    )
    rule_sets = load_rule_sets()
    as_of = timezone.localdate(at)
    users = get_user_model().objects.in_bulk(set(recipients.values()))
    letters_issue_many(
        kind=LetterKind.REPAIR_INFO,
        letters=[
            NewLetter(
                facts=repair_info_facts(record, as_of=as_of, rule_sets=rule_sets),
                record=record,
                recipient=users.get(recipients.get(record.subject_id)),
            )
            for record in records
        ],
        actor=actor,
        at=at,
    )
