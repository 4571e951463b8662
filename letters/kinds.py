"""What each kind of letter must say: the facts its issuer supplies.

Facts are plain JSON, frozen when the letter is issued (the case services of
the next issues build them from the case). Every kind carries the common
fields of ../shared/domain.md section 9; `letter_issue` refuses a letter with
a required fact missing or empty, naming it, before anything is written.
`letter_issue` adds `remedies` (the kind's LetterSetting line with the
issuer's reconsideration body and court, printed only when non-empty) and
`issued_by` (the issuer's name, self-reference, contact, remedies bodies and
seal, letters.issuers.issuer_facts); the issuer's name, number, date and
verification code are also the letter's own fields.

Common facts (all kinds):
    addressee: {"name", "identifier", "kind", "legal_representative"}
                                                 `addressee_facts(subject)`;
                                                 identifier as stored, the
                                                 letter masks a resident ID
    record: {"decision_number", "department", "decision_date", "penalty"}
                                                 `record_facts(record)`
    received_on: "2026-11-20"                    the date the filing arrived
                                                 (all kinds but revocation
                                                 and commitment)
    case_number: "济信修申〔2026〕1号"            optional: the application
                                                 number (申请编号), on every
                                                 case letter
Kind facts (required unless marked optional):
    acceptance:        next_step (optional: what happens next; a default
                       sentence otherwise), basis (optional), time_limit
                       (optional; an objection's: {"days", "basis" (the
                       article), "due" (ISO datetime), "supplement_excluded",
                       "provisional"})
    refusal_to_accept: reasons [str], basis
    supplement:        items [{"name", "problem"}] (every item, one notice:
                       domain section 4), deadline (ISO datetime),
                       window_days (optional: the applicant's working
                       days), basis (optional)
    repair_decision:   decision, basis, effective_on
    repair_refusal:    reasons [str], basis
    objection_result:  outcome (correct|delete|maintain|unverifiable), reasons
                       [str], basis,
                       changes [{"field", "old", "new"}] (optional; for correct)
    revocation_notice: facts (what the department found), trigger {"source",
                       "penalty": record facts of the new penalty (a new
                       penalty only)}, repaired_on, statement_due (ISO
                       datetime), statement_days (optional), repair_number
                       (optional)
    revocation:        reasons [str], basis, repaired_on, trigger (as the
                       notice), hearing {"notice_number", "noticed_on",
                       "statement_due", "stated_on" (empty: no statement in
                       time), "answer"}, barred_until and bar_basis (optional:
                       only where the policy enables a bar), repair_number
                       (optional)
    commitment:        signature {"name", "signed_at", "draft_sha256"} once
                       signed (the draft prints an empty signature line
                       marked 待签署; draft_sha256, optional, is printed)
    repair_info:       eligibility {"eligibility" (eligible|not_yet|never|
                       not_needed), "eligible_from" (ISO date or null),
                       "publicity_ends_on", "published", "reason",
                       "legal_basis"} (records.publicity.answer on the day
                       of issue), prepare [str], apply_at (the platform's
                       address); letters/repair_info.py builds them
Optional for the notices on a filing: matter, what was filed (default
"信用修复申请"; "异议申请" for an objection). `basis` is the rule cited, as
it should read after 根据, e.g. "《信用修复管理办法》第十条".
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from letters.models import LetterKind

COMMON = ("addressee", "record")


@dataclass(frozen=True)
class KindSpec:
    template: str
    required: tuple[str, ...]
    lists: tuple[str, ...] = ()  # facts that must be non-empty lists


KINDS: dict[str, KindSpec] = {
    LetterKind.ACCEPTANCE: KindSpec("letters/acceptance.html", (*COMMON, "received_on")),
    LetterKind.REFUSAL_TO_ACCEPT: KindSpec(
        "letters/refusal_to_accept.html", (*COMMON, "received_on", "reasons", "basis"), ("reasons",)
    ),
    LetterKind.SUPPLEMENT: KindSpec(
        "letters/supplement.html", (*COMMON, "received_on", "items", "deadline"), ("items",)
    ),
    LetterKind.REPAIR_DECISION: KindSpec(
        "letters/repair_decision.html",
        (*COMMON, "received_on", "decision", "basis", "effective_on"),
    ),
    LetterKind.REPAIR_REFUSAL: KindSpec(
        "letters/repair_refusal.html", (*COMMON, "received_on", "reasons", "basis"), ("reasons",)
    ),
    LetterKind.OBJECTION_RESULT: KindSpec(
        "letters/objection_result.html",
        (*COMMON, "received_on", "outcome", "reasons", "basis"),
        ("reasons",),
    ),
    LetterKind.REVOCATION_NOTICE: KindSpec(
        "letters/revocation_notice.html",
        (*COMMON, "facts", "trigger", "repaired_on", "statement_due"),
    ),
    LetterKind.REVOCATION: KindSpec(
        "letters/revocation.html",
        (*COMMON, "reasons", "basis", "repaired_on", "trigger", "hearing"),
        ("reasons",),
    ),
    LetterKind.COMMITMENT: KindSpec("letters/commitment.html", COMMON),
    LetterKind.REPAIR_INFO: KindSpec(
        "letters/repair_info.html",
        (*COMMON, "eligibility", "prepare", "apply_at"),
        ("prepare",),
    ),
}

OUTCOMES = {
    "correct": _("更正"),
    "delete": _("删除"),
    "maintain": _("维持"),
    "unverifiable": _("无法核实"),
}


def missing_facts(kind: str, facts: dict) -> list[str]:
    """The required facts that are absent or empty, in the spec's order."""
    spec = KINDS[kind]
    missing = [name for name in spec.required if facts.get(name) in (None, "", [], {})]
    missing += [
        name for name in spec.lists if name not in missing and not isinstance(facts.get(name), list)
    ]
    return missing


def record_facts(record) -> dict:
    """The "record concerned" block, from a CreditRecord."""
    return {
        "decision_number": record.decision_number,
        "department": record.department.name,
        "decision_date": record.decision_date.isoformat(),
        "penalty": "、".join(str(label) for label in record.penalty_type_labels()),
    }


def addressee_facts(subject) -> dict:
    """The addressee block, from a Subject. The identifier is stored whole in
    the facts (the letter is the subject's own document); render masks a
    resident ID, domain section 8."""
    return {
        "name": subject.name,
        "identifier": subject.identifier,
        "kind": subject.kind,
        "legal_representative": subject.legal_representative,
    }
