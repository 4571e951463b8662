"""Issuing, numbering and verifying letters.

`letter_issue` is the one way a letter comes to exist: in the caller's
transaction it takes the next number, freezes the facts, writes the letter
and its email, and asks for the PDF after commit. Rendering (letters.outbox,
where the after-commit work lives) claims the letter with a conditional
UPDATE, so two workers never both store one; the bytes stored first are the
letter for ever (never re-rendered), and their SHA-256 is what
/verify/<code> confirms.
"""

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from letters import signing
from letters.issuers import (
    DEPARTMENT,
    ISSUER_RULES,
    department_issuers_with_prefix,
    issuer_facts,
    issuer_for,
    issuer_prefix,
    remedies_text,
    series_for,
)
from letters.kinds import KINDS, missing_facts
from letters.models import (
    Letter,
    LetterKind,
    LetterSequence,
    LetterSetting,
    RenderStatus,
    verification_code,
)
from letters.outbox import (
    RenderResult,
    letter_render,
    message_for_letter,
)
from letters.signing import SignatureCheck
from repair_flow.audit import AuditEntry, audit_record, audit_record_many
from repair_flow.background import task_enqueue, task_enqueue_in_background
from repair_flow.sequences import sequence_next, sequence_take_many


def letter_number(*, prefix: str, year: int, serial: int) -> str:
    """济信修受〔2026〕15号 (the usual form of a Chinese document number)."""
    return f"{prefix}〔{year}〕{serial}号"


def _case_link(case) -> dict:
    if case is None:
        return {}
    return {
        "case_type": ContentType.objects.get_for_model(case),
        "case_id": case.pk,
        "case_label": str(getattr(case, "label", "") or case)[:100],
    }


def letter_issue(
    *,
    kind: str,
    facts: dict,
    actor,
    case=None,
    record=None,
    subject=None,
    recipient=None,
    at: dt.datetime | None = None,
    draft: bool = False,
    department=None,
    objection: bool = False,
    render_by_sweep: bool = False,
) -> Letter:
    """Issue a letter: numbered (unless a commitment draft), facts frozen,
    rendered after commit, and emailed to the recipient once rendered.

    The issuer follows letters.issuers.ISSUER_RULES: `department` is the
    department that decides (default: the record's) or, for an objection's
    result, that checked the record. `objection` puts a filing's notices in
    the objection series. The issuer's name, wording, contact and remedies
    bodies are frozen with the facts. `render_by_sweep` leaves the rendering
    to the letters sweep (the render queue, within a minute) instead of
    after commit: for letters issued in bulk, as an import does.

    Raises ValidationError naming every missing fact; nothing is written then.
    """
    if kind not in KINDS:
        raise ValidationError(_("没有这种文书：%(kind)s") % {"kind": kind})
    if draft and kind != LetterKind.COMMITMENT:
        raise ValidationError(_("只有承诺书有待签署的草稿。"))
    missing = missing_facts(kind, facts)
    if missing:
        raise ValidationError(
            _("%(kind)s 缺少必填内容：%(missing)s")
            % {"kind": LetterKind(kind).label, "missing": "、".join(missing)}
        )
    at = at or timezone.now()
    setting = LetterSetting.objects.get(kind=kind)
    year = timezone.localtime(at).year
    if department is None and ISSUER_RULES[kind] == DEPARTMENT and record is not None:
        # "谁认定、谁修复": the department that issued the penalty decides.
        department = record.department
    with transaction.atomic():
        issuer = issuer_for(kind, department=department)
        numbering = {}
        if not draft:
            prefix = issuer_prefix(issuer, series_for(kind, objection=objection))
            serial = sequence_next(LetterSequence, prefix=prefix, year=year)
            numbering = {
                "year": year,
                "serial": serial,
                "number": letter_number(prefix=prefix, year=year, serial=serial),
                "verification_code": verification_code(),
            }
        letter = Letter.objects.create(
            kind=kind,
            issuer=issuer.name,
            issuer_ref=issuer,
            issued_at=at,
            record=record,
            subject=subject or (record.subject if record is not None else None),
            recipient=recipient,
            facts={
                **facts,
                "issued_by": issuer_facts(issuer),
                "remedies": remedies_text(setting.remedies, issuer),
            },
            created_by=actor if getattr(actor, "pk", None) else None,
            next_attempt_at=at,
            **numbering,
            **_case_link(case),
        )
        audit_record(
            actor=actor,
            action="letter.issue",
            object_type="letters.Letter",
            object_id=letter.pk,
            summary={"kind": kind, "number": letter.number, "case": letter.case_label},
        )
        if not draft and recipient is not None:
            message_for_letter(letter=letter)
        if not render_by_sweep:
            letter_pk = letter.pk
            transaction.on_commit(lambda: _render_after_commit(letter_pk))
    return letter


@dataclass(frozen=True)
class NewLetter:
    """One letter to issue in bulk (`letters_issue_many`)."""

    facts: dict
    record: object
    recipient: object = None


def letters_issue_many(*, kind: str, letters: list[NewLetter], actor, at: dt.datetime) -> list[int]:
    """Issue many letters of a department-issued `kind`, each on its record
    (the record's department issues it), as `letter_issue` does one, in a
    few statements whatever their number (the background's batch of
    credit-repair notices, letters.repair_info): facts checked first (nothing
    written if one is missing), the issuers and prefixes read at once, every
    series' numbers reserved in one statement, one INSERT, one audit event.
    The letters' ids, in order.

    Everything slow happens after commit, in the background: rendering and
    signing (one render task for the lot where a worker or broker runs, the
    letters sweep otherwise), then each recipient's email, queued by the
    render once the PDF exists (letters.outbox.letter_render).
    """
    for new in letters:
        missing = missing_facts(kind, new.facts)
        if missing:
            raise ValidationError(
                _("%(kind)s 缺少必填内容：%(missing)s")
                % {"kind": LetterKind(kind).label, "missing": "、".join(missing)}
            )
    if not letters:
        return []
    if ISSUER_RULES[kind] != DEPARTMENT:
        raise ValueError(f"letters_issue_many issues department letters, not {kind}")
    setting = LetterSetting.objects.get(kind=kind)
    year = timezone.localtime(at).year
    created_by = actor if getattr(actor, "pk", None) else None
    with transaction.atomic():
        issuers = department_issuers_with_prefix(
            {new.record.department_id: new.record.department for new in letters}.values(),
            series_for(kind),
        )
        frozen = {
            department_id: {
                "issued_by": issuer_facts(issuer),
                "remedies": remedies_text(setting.remedies, issuer),
            }
            for department_id, (issuer, _prefix) in issuers.items()
        }
        # Numbers in the order given, per series: gap-free, as one by one.
        counts = Counter(issuers[new.record.department_id][1] for new in letters)
        serials = {
            prefix: iter(taken)
            for prefix, taken in sequence_take_many(
                LetterSequence, year=year, counts=counts, column="prefix"
            ).items()
        }
        rows = []
        for new in letters:
            issuer, prefix = issuers[new.record.department_id]
            serial = next(serials[prefix])
            rows.append(
                Letter(
                    kind=kind,
                    issuer=issuer.name,
                    issuer_ref=issuer,
                    issued_at=at,
                    record=new.record,
                    subject_id=new.record.subject_id,
                    recipient=new.recipient,
                    facts={**new.facts, **frozen[new.record.department_id]},
                    created_by=created_by,
                    next_attempt_at=at,
                    year=year,
                    serial=serial,
                    number=letter_number(prefix=prefix, year=year, serial=serial),
                    verification_code=verification_code(),
                )
            )
        created = Letter.objects.bulk_create(rows)
        by_issuer: dict[str, list[Letter]] = {}
        for letter in created:
            by_issuer.setdefault(letter.issuer, []).append(letter)
        # One event for the lot, as the import writes one per batch.
        audit_record_many(
            actor=actor,
            entries=[
                AuditEntry(
                    "letter.issue_many",
                    "letters.Letter",
                    f"{created[0].pk}-{created[-1].pk}",
                    {
                        "kind": kind,
                        "count": len(created),
                        "issuers": {
                            name: {
                                "count": len(block),
                                "numbers": [block[0].number, block[-1].number],
                            }
                            for name, block in by_issuer.items()
                        },
                    },
                )
            ],
        )
        letter_ids = [letter.pk for letter in created]
        transaction.on_commit(lambda: task_enqueue_in_background("letters.render_many", letter_ids))
    return letter_ids


def _render_after_commit(letter_pk: int) -> None:
    # On the embedded worker when it runs: no request waits for WeasyPrint.
    task_enqueue("letters.render", letter_pk)


# Verification


@dataclass(frozen=True)
class Verification:
    """What the public verification page may say: no personal data."""

    letter: Letter | None
    file_intact: bool = False  # the stored bytes still have the recorded hash
    matches: bool | None = None  # the uploaded file (if any) is the letter
    # The stored file's PDF signature; None for a letter stored before
    # letters were signed (it has no signature to check).
    signature: SignatureCheck | None = None

    @property
    def found(self) -> bool:
        return self.letter is not None


def file_sha256(letter: Letter) -> str:
    digest = hashlib.sha256()
    with letter.file.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def letter_verify(*, code: str, upload: bytes | None = None) -> Verification:
    code = (code or "").strip().upper().replace("-", "").replace(" ", "")
    letter = (
        Letter.objects.filter(verification_code=code, status=RenderStatus.RENDERED).first()
        if code
        else None
    )
    if letter is None:
        return Verification(None)
    try:
        with letter.file.open("rb") as f:
            stored = f.read()
    # ValueError: no file at all (its PDF destroyed at the end of retention).
    except (OSError, ValueError):
        stored = None
    intact = stored is not None and hashlib.sha256(stored).hexdigest() == letter.sha256
    matches = None
    if upload is not None:
        matches = hashlib.sha256(upload).hexdigest() == letter.sha256
    return Verification(
        letter,
        file_intact=intact,
        matches=matches,
        signature=letter_signature_check(letter, stored),
    )


def letter_signature_check(letter: Letter, pdf: bytes | None) -> SignatureCheck | None:
    """The stored PDF's signature, checked against the certificate it was
    signed with and the time it was stored. None for a letter stored unsigned
    before signing existed (no signer recorded, no signature in the file)."""
    check = signing.pdf_signature_check(
        pdf or b"", signer_sha256=letter.signer_sha256, signed_at=letter.rendered_at
    )
    if not check.present and not letter.signer_sha256:
        return None
    return check


def letter_retry_render(*, letter: Letter, actor) -> RenderResult:
    """An officer's "render again now" for a letter not rendered yet: due at
    once, then one render attempt in this request (it claims the letter like
    any worker, so a render already running is left alone)."""
    with transaction.atomic():
        due = Letter.objects.filter(pk=letter.pk).exclude(status=RenderStatus.RENDERED)
        if not due.update(next_attempt_at=timezone.now()):
            raise ValidationError(_("这份文书已经生成，无需重新生成。"))
        audit_record(
            actor=actor,
            action="letter.retry_render",
            object_type="letters.Letter",
            object_id=letter.pk,
            summary={"number": letter.number, "attempts": letter.attempts},
        )
    return letter_render(letter_id=letter.pk)
