"""The credit-repair notice (信用修复告知书) sent with the penalty (两书同送).

国办发〔2025〕22号 has the department that imposes a penalty tell the subject
about credit repair when the penalty is delivered. The records import runs
`on_records_saved` (registered in letters.apps as a records hook, so records/
does not import letters) in its own transaction: each new or changed record
of a subject the platform can reach is marked due (RepairInfoDue), nothing
more, since an import of 100,000 rows may be slowed by at most 20 %
(tests/bench/bench_import.py). After commit the background
(`repair_info_issue_due`: the embedded worker or a Celery worker; the
`letters-repair-info-due` job for what no worker took or a crash left)
issues one notice per record, by the record's department (谁认定), and
renders it; the bound applicant receives it among their letters and, with
an email address, by the outbox once the PDF exists (`letter_render`
queues that email once).

Reachable: a subject bound to an applicant account (records.SubjectBinding),
or one with a contact email or mobile number of its own (from the import or
the admin): that subject gets the letter by email (PDF attached) and a text
with the link to the verification page, each once per letter (its
idempotency key), and a record has one notice, so a re-import tells no one twice.
"""

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from letters.kinds import addressee_facts, record_facts
from letters.models import Letter, LetterKind, RepairInfoDue
from letters.services import NewLetter, letters_issue_many
from records.models import CreditRecord, Department, Subject, SubjectBinding, SubjectKind
from records.publicity import RecordFacts, answer, load_rule_sets
from repair_flow.background import task_enqueue_in_background

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


# A subject with no account but an email or a phone is told at that address
# (letters.outbox.messages_for_bulk_letter), the letter with no recipient.
REACHABLE_AT_OWN_ADDRESS = ~Q(subject__contact_email="") | ~Q(subject__contact_phone="")


def on_records_saved(*, record_ids: list[int], actor, at: dt.datetime) -> None:
    """Mark the notice due for each record of a reachable subject that has none.

    Runs inside the import's batch transaction, so it writes only the
    marker (RepairInfoDue: the record, when, who imported): one query for
    the records to tell and one small INSERT per batch. The letters
    themselves (numbers, facts, the audit event) are built after commit in
    the background, `repair_info_issue_due`; what a crash leaves due, the
    `letters-repair-info-due` job issues (repair_flow/jobs.py).
    """
    # Which records, not who is told (the background finds the recipient):
    # an EXISTS per record instead of the recipient's subquery.
    bound = SubjectBinding.objects.filter(subject_id=OuterRef("subject_id"))
    due = list(
        CreditRecord.objects.filter(pk__in=record_ids)
        .filter(Exists(bound) | REACHABLE_AT_OWN_ADDRESS)
        .exclude(Exists(notice_of_record()))
        .values_list("pk", flat=True)
    )
    if not due:
        return
    actor_id = getattr(actor, "pk", None)
    actor_label = "" if actor_id else str(actor or "")
    # A record marked already (imported twice before the background ran)
    # keeps its first marker: still one notice.
    RepairInfoDue.objects.bulk_create(
        [
            RepairInfoDue(record_id=pk, due_at=at, actor_id=actor_id, actor_label=actor_label)
            for pk in due
        ],
        ignore_conflicts=True,
    )
    transaction.on_commit(lambda: task_enqueue_in_background("letters.repair_info_issue_due"))


def records_to_tell(record_ids):
    """The records among `record_ids` whose subject the platform can reach
    and that have no notice yet, each with its `recipient_id` (the bound
    account told, or None for a subject told at its own address)."""
    # The subject's first bound account receives it.
    first_binding = SubjectBinding.objects.filter(subject_id=OuterRef("subject_id")).order_by("pk")
    return (
        CreditRecord.objects.filter(pk__in=record_ids)
        .annotate(recipient_id=Subquery(first_binding.values("user_id")[:1]))
        .filter(Q(recipient_id__isnull=False) | REACHABLE_AT_OWN_ADDRESS)
        .exclude(Exists(notice_of_record()))  # one per record, never twice on re-import
        .order_by("pk")
    )


def notice_of_record():
    """The credit-repair notice of the outer query's record (at most one)."""
    return Letter.objects.filter(kind=LetterKind.REPAIR_INFO, record_id=OuterRef("pk"))


def repair_info_issue_due(*, batch_size: int = 500, now: dt.datetime | None = None) -> list[int]:
    """Issue the notices due (the background's part of 两书同送), a batch
    per transaction; the ids of the letters issued, in order.

    Each batch claims its markers by deleting them in the transaction that
    issues their letters (on PostgreSQL the rows are locked first, skipping
    those another runner holds): a second runner finds nothing to claim, a
    crash rolls both back, and the unique notice per record stops the rest.
    A record whose subject can no longer be reached, or that was told
    meanwhile, loses its marker and gets nothing.
    """
    issued: list[int] = []
    while True:
        with transaction.atomic():
            claimed = list(
                RepairInfoDue.objects.select_for_update(skip_locked=True)
                .order_by("record_id")
                .values_list("record_id", "actor_id", "actor_label")[:batch_size]
            )
            if not claimed:
                return issued
            deleted, _ = RepairInfoDue.objects.filter(
                record_id__in=[record_id for record_id, *_ in claimed]
            ).delete()
            if deleted != len(claimed):
                # Another runner took some of them between the read and
                # the delete (SQLite, which has no row locks): this batch
                # is theirs; the next run finds what is left.
                transaction.set_rollback(True)
                return issued
            by_actor: dict[tuple[int | None, str], list[int]] = {}
            for record_id, actor_id, actor_label in claimed:
                by_actor.setdefault((actor_id, actor_label), []).append(record_id)
            users = get_user_model().objects.in_bulk({pk for pk, _ in by_actor if pk is not None})
            at = now or timezone.now()
            for (actor_id, actor_label), ids in by_actor.items():
                actor = users.get(actor_id) or actor_label or "system"
                issued += repair_info_issue(record_ids=ids, actor=actor, at=at)


def repair_info_issue(*, record_ids: list[int], actor, at: dt.datetime) -> list[int]:
    """Issue the notice for each of `record_ids` still to tell: a handful of
    statements whatever their number (numbers, one INSERT, one audit event,
    letters_issue_many); the letters' ids. Rendering, signing and the email
    come after commit."""
    records = list(records_to_tell(record_ids))
    if not records:
        return []
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
    return letters_issue_many(
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
