"""May this applicant file for this record now, and if not, why and from when."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from flows.cases.common import binding_of, local_date
from flows.cases.limits import record_repeat_limit
from flows.models import (
    CLOSED_STATUSES,
    CaseStatus,
    ObjectionCase,
    RepairCase,
)
from records.models import CreditRecord, SubjectBinding
from records.publicity import Eligibility, RecordFacts, answer, load_rule_sets


def eligibility_problem(record: CreditRecord, at: dt.datetime) -> str | None:
    """Why the record cannot be repaired on that day, or None when it can:
    the publicity rules, then the repeat limits (flows/limits.py)."""
    result = answer(RecordFacts.of(record), load_rule_sets(), local_date(at))
    limit = record_repeat_limit(record=record, answer=result)
    if result.eligibility == Eligibility.ELIGIBLE:
        if limit is None:
            return None
        return _("该记录目前不能申请信用修复：%(reason)s") % {"reason": limit}
    message = _("该记录目前不能申请信用修复：%(reason)s") % {"reason": result.reason}
    if result.eligibility == Eligibility.NOT_YET and result.eligible_from:
        message += _("（可申请日期：%(day)s）") % {"day": result.eligible_from.isoformat()}
    if limit is not None:
        message += _("另：%(limit)s") % {"limit": limit}
    return message


def other_open_case(record: CreditRecord, case: RepairCase | None = None) -> RepairCase | None:
    cases = RepairCase.objects.filter(record=record).exclude(status__in=CLOSED_STATUSES)
    if case is not None:
        cases = cases.exclude(pk=case.pk)
    return cases.first()


def filing_check(*, applicant, record: CreditRecord, at: dt.datetime, case=None) -> SubjectBinding:
    """The checks at drafting and again at submission; returns the binding."""
    binding = binding_of(applicant, record.subject)
    if binding is None:
        raise ValidationError(
            _("您的账号没有绑定信用主体“%(subject)s”，不能为其申请信用修复。")
            % {"subject": record.subject.name},
            code="not_bound",
        )
    problem = eligibility_problem(record, at)
    if problem:
        raise ValidationError(problem, code="not_eligible")
    objection = (
        ObjectionCase.objects.filter(record=record)
        .exclude(status__in=(*CLOSED_STATUSES, CaseStatus.DRAFT))
        .first()
    )
    if objection is not None:
        raise ValidationError(
            _("该记录有正在处理的异议（%(case)s），异议办结后方可申请信用修复。")
            % {"case": objection.number},
            code="objection_open",
        )
    other = other_open_case(record, case)
    if other is not None:
        raise ValidationError(
            _("该记录已有正在办理的信用修复申请（%(case)s），不能重复申请。")
            % {"case": other.number or _("草稿")},
            code="open_case",
        )
    return binding
