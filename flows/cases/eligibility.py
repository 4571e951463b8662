"""May a record be filed for repair now, and if not, why and from when.

One answer for every place that shows or checks it: the record list and
page, the subject page, the filing pages, the API and the services at
drafting, submission, acceptance and approval. It joins the registry's
publicity answer (records/publicity.py: rule set, period, repairability),
the repeat limits and re-application bar (flows/cases/limits.py), and the
cases already open on the record (a repair case; a filed objection).
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.cases.common import binding_of, local_date
from flows.cases.limits import records_repeat_limits, subjects_with_limit_history
from flows.models import CLOSED_STATUSES, CaseStatus, ObjectionCase, RepairCase
from records.models import CreditRecord, SubjectBinding
from records.publicity import Answer, Eligibility, RecordFacts, answer, load_rule_sets

# What the answer says, beside the registry's own values (eligible, not_yet,
# never, not_needed): repairable by its period, but something else stands in
# the way now (a limit, an open case, an open objection).
BLOCKED = "blocked"


@dataclass(frozen=True)
class FilingAnswer:
    record_id: int
    publicity: Answer
    limit: str | None = None
    open_case: RepairCase | None = None
    open_objection: ObjectionCase | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def eligibility(self) -> str:
        if self.publicity.eligibility == Eligibility.ELIGIBLE and self.reasons:
            return BLOCKED
        return self.publicity.eligibility

    @property
    def may_file(self) -> bool:
        return self.eligibility == Eligibility.ELIGIBLE

    @property
    def fileable_later(self) -> bool:
        """Repairable by its period, now or from a later day (not a record
        that needs no repair or may not be repaired early)."""
        return self.publicity.eligibility in (Eligibility.ELIGIBLE, Eligibility.NOT_YET)

    @property
    def eligible_from(self) -> dt.date | None:
        return self.publicity.eligible_from

    # The registry's facts, as the pages show them.
    @property
    def as_of(self) -> dt.date:
        return self.publicity.as_of

    @property
    def published(self) -> bool:
        return self.publicity.published

    @property
    def shared(self) -> bool:
        """In use as a negative record (for a natural person: shared, never published)."""
        return self.publicity.shared

    @property
    def disclosure_ends_on(self) -> dt.date | None:
        return self.publicity.disclosure_ends_on

    @property
    def rule_set_name(self) -> str:
        return self.publicity.rule_set_name

    @property
    def rule_set_choice(self) -> str:
        """Which rule set applied and why, when the decision date's and today's
        differ (从旧兼从轻); '' otherwise."""
        return self.publicity.rule_set_choice

    @property
    def legal_basis(self) -> str:
        return self.publicity.legal_basis

    @property
    def reason(self) -> str:
        return self.publicity.reason

    @property
    def why_not(self) -> str:
        """Why the record cannot be filed now, in one line ('' when it can)."""
        if self.may_file:
            return ""
        lines = []
        if self.publicity.eligibility != Eligibility.ELIGIBLE:
            line = self.publicity.reason
            if self.eligible_from:
                line += _("（可申请日期：%(day)s）") % {"day": self.eligible_from.isoformat()}
            lines.append(line)
        return "；".join([*lines, *self.reasons])

    def as_dict(self) -> dict:
        return {
            **self.publicity.as_dict(),
            "eligibility": self.eligibility,
            "may_file": self.may_file,
            "blocked_by": list(self.reasons),
        }


def _open_cases(record_ids: list[int], exclude_case=None) -> dict[int, RepairCase]:
    cases = RepairCase.objects.filter(record_id__in=record_ids).exclude(status__in=CLOSED_STATUSES)
    if exclude_case is not None:
        cases = cases.exclude(pk=exclude_case.pk)
    return {case.record_id: case for case in cases.order_by("-id")}


def _open_objections(record_ids: list[int]) -> dict[int, ObjectionCase]:
    objections = ObjectionCase.objects.filter(record_id__in=record_ids).exclude(
        status__in=(*CLOSED_STATUSES, CaseStatus.DRAFT)
    )
    return {case.record_id: case for case in objections.order_by("-id")}


def _objection_reason(objection: ObjectionCase) -> str:
    return _("该记录有正在处理的异议（%(case)s），异议办结后方可申请信用修复。") % {
        "case": objection.number
    }


def _open_case_reason(case: RepairCase) -> str:
    return _("该记录已有正在办理的信用修复申请（%(case)s），不能重复申请。") % {
        "case": case.number or _("草稿")
    }


def filing_answers(
    records: Iterable[CreditRecord],
    *,
    on: dt.date | None = None,
    exclude_case=None,
    filed_at: dt.datetime | None = None,
) -> dict[int, FilingAnswer]:
    """The answer for each record (by id), in a constant number of queries
    whatever their number (the limits and bars of all their subjects at
    once). With
    `filed_at` (a filed case's submission) the limits and bars are those in
    force when it was filed (flows.cases.limits.records_repeat_limits)."""
    records = list(records)
    on = on or timezone.localdate()
    ids = [record.pk for record in records]
    rule_sets = load_rule_sets()
    open_cases = _open_cases(ids, exclude_case)
    objections = _open_objections(ids)
    # Only subjects with a past repair or a bar can meet a limit (no N+1).
    history = subjects_with_limit_history(record.subject_id for record in records)
    publicities = {record.pk: answer(RecordFacts.of(record), rule_sets, on) for record in records}
    limits = records_repeat_limits(
        records=[record for record in records if record.subject_id in history],
        answers=publicities,
        filed_at=filed_at,
    )
    answers = {}
    for record in records:
        publicity = publicities[record.pk]
        limit = limits.get(record.pk)
        open_case = open_cases.get(record.pk)
        objection = objections.get(record.pk)
        reasons = []
        if limit:
            reasons.append(limit)
        if objection is not None:
            reasons.append(_objection_reason(objection))
        if open_case is not None:
            reasons.append(_open_case_reason(open_case))
        answers[record.pk] = FilingAnswer(
            record_id=record.pk,
            publicity=publicity,
            limit=limit,
            open_case=open_case,
            open_objection=objection,
            reasons=reasons,
        )
    return answers


def filing_answer(
    record: CreditRecord,
    *,
    on: dt.date | None = None,
    exclude_case=None,
    filed_at: dt.datetime | None = None,
) -> FilingAnswer:
    return filing_answers([record], on=on, exclude_case=exclude_case, filed_at=filed_at)[record.pk]


def _period_or_limit(result: FilingAnswer) -> str | None:
    """What the rules say against repair (the period, a limit), or None."""
    publicity, limit = result.publicity, result.limit
    if publicity.eligibility == Eligibility.ELIGIBLE:
        if limit is None:
            return None
        return _("该记录目前不能申请信用修复：%(reason)s") % {"reason": limit}
    message = _("该记录目前不能申请信用修复：%(reason)s") % {"reason": publicity.reason}
    if publicity.eligibility == Eligibility.NOT_YET and publicity.eligible_from:
        message += _("（可申请日期：%(day)s）") % {"day": publicity.eligible_from.isoformat()}
    if limit is not None:
        message += _("另：%(limit)s") % {"limit": limit}
    return message


def eligibility_problem(
    record: CreditRecord, at: dt.datetime, *, filed_at: dt.datetime | None = None
) -> str | None:
    """Why the rules do not let the record be repaired on that day (its
    period, a limit), or None when they do: asked again at acceptance and
    approval, where the case itself is the open one. The record's period is
    judged on that day (it may have changed); the repeat limits and bars by
    those in force when the case was filed (`filed_at`), so approving one
    case never refuses another already filed (domain section 3)."""
    return _period_or_limit(filing_answer(record, on=local_date(at), filed_at=filed_at))


def filing_check(*, applicant, record: CreditRecord, at: dt.datetime, case=None) -> SubjectBinding:
    """The checks at drafting and again at submission (`case`: the draft
    being saved or submitted); returns the binding."""
    binding = binding_of(applicant, record.subject)
    if binding is None:
        raise ValidationError(
            _("您的账号没有绑定信用主体“%(subject)s”，不能为其申请信用修复。")
            % {"subject": record.subject.name},
            code="not_bound",
        )
    result = filing_answer(record, on=local_date(at), exclude_case=case)
    problem = _period_or_limit(result)
    if problem:
        raise ValidationError(problem, code="not_eligible")
    if result.open_objection is not None:
        raise ValidationError(_objection_reason(result.open_objection), code="objection_open")
    if result.open_case is not None:
        raise ValidationError(_open_case_reason(result.open_case), code="open_case")
    return binding
