"""The credit-repair notice (信用修复告知书) sent with the penalty (两书同送).

国办发〔2025〕22号 has the department that imposes a penalty tell the subject
about credit repair when the penalty is delivered. The records import runs
`on_records_saved` (registered in letters.apps as a records hook, so records/
does not import letters) in its own transaction: each new or changed record
of a subject the platform can reach gets one notice, issued by the record's
department (谁认定) and rendered after commit in the background (one render
task per batch where a worker or broker runs, else the letters sweep; never
inside the import: an import of 100,000 rows may be slowed by at most 20 %,
tests/bench/bench_import.py); the bound applicant receives it among their
letters and, with an email address, by the outbox once the PDF exists
(`letter_render` queues that email once).

Reachable: a subject bound to an applicant account (records.SubjectBinding),
or one with a contact email or mobile number of its own (from the import or
the admin): that subject gets the letter by email (PDF attached) and a text
with the link to the verification page, each once per letter (its
idempotency key), and a record has one notice, so a re-import tells no one twice.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from letters.kinds import addressee_facts, record_facts
from letters.models import Letter, LetterKind
from letters.services import NewLetter, letters_issue_many
from records.models import CreditRecord, Department, Subject, SubjectBinding, SubjectKind
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
    """Issue the notice for each record of a reachable subject that has none.

    Runs inside the import's batch transaction, so it does only what must be
    there, in a handful of statements per batch: one query for the records
    to tell (with their recipient, skipping those told already), one each
    for their subjects, departments and recipients, then `letters_issue_many`
    (numbers, one INSERT, one audit event). Rendering, signing and the email come after commit.
    """
    # The subject's first bound account receives it.
    first_binding = SubjectBinding.objects.filter(subject_id=OuterRef("subject_id")).order_by("pk")
    told = Letter.objects.filter(kind=LetterKind.REPAIR_INFO, record_id=OuterRef("pk"))
    # A subject with no account but an email or a phone is told at that
    # address (letters.outbox.messages_for_bulk_letter), the letter with no recipient.
    reachable = ~Q(subject__contact_email="") | ~Q(subject__contact_phone="")
    records = list(
        CreditRecord.objects.filter(pk__in=record_ids)
        .annotate(recipient_id=Subquery(first_binding.values("user_id")[:1]))
        .filter(Q(recipient_id__isnull=False) | reachable)
        .exclude(Exists(told))  # one per record, never twice on re-import
        .order_by("pk")
    )
    if not records:
        return
    # A batch's records share a few subjects and departments: one instance
    # each, not one per record as select_related would build.
    subjects = Subject.objects.in_bulk({record.subject_id for record in records})
    departments = Department.objects.in_bulk({record.department_id for record in records})
    for record in records:
        record.subject = subjects[record.subject_id]
        record.department = departments[record.department_id]
    rule_sets = load_rule_sets()
    as_of = timezone.localdate(at)
    users = get_user_model().objects.in_bulk(
        {record.recipient_id for record in records if record.recipient_id is not None}
    )
    letters_issue_many(
        kind=LetterKind.REPAIR_INFO,
        letters=[
            NewLetter(
                facts=repair_info_facts(record, as_of=as_of, rule_sets=rule_sets),
                record=record,
                recipient=users.get(record.recipient_id),
            )
            for record in records
        ],
        actor=actor,
        at=at,
    )
