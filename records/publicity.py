"""Publicity and repair eligibility (shared domain reference section 2).

`answer()` is pure: it takes a record's facts, the rule sets (loaded once by
`load_rule_sets`) and a date, and says whether the record is still published
and whether, or from when, it can be repaired, naming the rule set and reason.
"""

import calendar
import datetime as dt
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from records.models import (
    PenaltyType,
    PublicityRuleSet,
    RecordStatus,
    Severity,
)


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day N months later; the 31st becomes the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Period:
    published: bool
    min_months: int
    max_months: int
    unconfirmed: bool


@dataclass(frozen=True)
class Exclusion:
    penalty_type: str
    sectors: frozenset[str]
    reason: str
    legal_basis: str


@dataclass(frozen=True)
class RuleSet:
    code: str
    name: str
    legal_basis: str
    effective_from: dt.date
    effective_to: dt.date | None
    periods: dict[str, Period]
    exclusions: tuple[Exclusion, ...] = field(default=())

    def in_force_on(self, day: dt.date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


class NoRuleSetError(LookupError):
    pass


def load_rule_sets() -> list[RuleSet]:
    rule_sets = []
    for rs in PublicityRuleSet.objects.prefetch_related("periods", "non_repairable"):
        periods = {
            p.severity: Period(p.published, p.min_months, p.max_months, p.unconfirmed)
            for p in rs.periods.all()
        }
        exclusions = tuple(
            Exclusion(r.penalty_type, frozenset(r.sectors or ()), r.reason, r.legal_basis)
            for r in rs.non_repairable.all()
        )
        rule_sets.append(
            RuleSet(
                rs.code,
                rs.name,
                rs.legal_basis,
                rs.effective_from,
                rs.effective_to,
                periods,
                exclusions,
            )
        )
    return rule_sets


def rule_set_on(rule_sets: list[RuleSet], day: dt.date) -> RuleSet:
    for rs in rule_sets:
        if rs.in_force_on(day):
            return rs
    raise NoRuleSetError(_("%(day)s 没有施行中的公示规则") % {"day": day})


def publicity_window(rule_sets: list[RuleSet], *, decision_date: dt.date, severity: str):
    """The window a record is published for, by the rules in force on its decision date.
    Returns (starts_on, ends_on); an empty window means not published."""
    rs = rule_set_on(rule_sets, decision_date)
    period = rs.periods[severity]
    if not period.published:
        return decision_date, decision_date
    return decision_date, add_months(decision_date, period.max_months)


@dataclass(frozen=True)
class RecordFacts:
    decision_date: dt.date
    severity: str
    penalty_types: tuple[str, ...]
    sector: str
    status: str
    publicity_ends_on: dt.date

    @classmethod
    def of(cls, record) -> "RecordFacts":
        return cls(
            record.decision_date,
            record.severity,
            tuple(record.penalty_types),
            record.department.sector,
            record.status,
            record.publicity_ends_on,
        )


class Eligibility:
    ELIGIBLE = "eligible"
    NOT_YET = "not_yet"
    NEVER = "never"
    NOT_NEEDED = "not_needed"


@dataclass(frozen=True)
class Answer:
    as_of: dt.date
    published: bool
    publicity_ends_on: dt.date
    eligibility: str
    eligible_from: dt.date | None
    rule_set: str
    rule_set_name: str
    reason: str
    legal_basis: str

    def as_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "published": self.published,
            "publicity_ends_on": self.publicity_ends_on.isoformat(),
            "eligibility": self.eligibility,
            "eligible_from": self.eligible_from.isoformat() if self.eligible_from else None,
            "rule_set": self.rule_set,
            "rule_set_name": self.rule_set_name,
            "reason": self.reason,
            "legal_basis": self.legal_basis,
        }


def answer(facts: RecordFacts, rule_sets: list[RuleSet], as_of: dt.date) -> Answer:
    """Eligibility is judged by the rule set in force on `as_of` (the application
    date); the publicity window by the one in force on the decision date."""
    rs = rule_set_on(rule_sets, as_of)
    ends = facts.publicity_ends_on
    published = (
        facts.status in (RecordStatus.PUBLISHED, RecordStatus.UNDER_OBJECTION) and as_of < ends
    )

    def result(eligibility, reason, eligible_from=None, basis=rs.legal_basis):
        return Answer(
            as_of, published, ends, eligibility, eligible_from, rs.code, rs.name, reason, basis
        )

    if facts.status == RecordStatus.DELETED:
        return result(Eligibility.NOT_NEEDED, _("该记录已删除，无需修复。"))
    if facts.status == RecordStatus.REPAIRED:
        return result(Eligibility.NOT_NEEDED, _("该记录已完成信用修复。"))
    if ends <= facts.decision_date:
        return result(
            Eligibility.NOT_NEEDED, _("按处罚决定日施行的规则，该类处罚信息不予公示，无需修复。")
        )
    if as_of >= ends or facts.status == RecordStatus.EXPIRED:
        return result(
            Eligibility.NOT_NEEDED,
            _("公示期已于 %(day)s 届满，自动停止公示，无需修复。") % {"day": ends},
        )
    for exclusion in rs.exclusions:
        if exclusion.penalty_type in facts.penalty_types and (
            not exclusion.sectors or facts.sector in exclusion.sectors
        ):
            label = PenaltyType(exclusion.penalty_type).label
            return result(
                Eligibility.NEVER,
                _("“%(type)s”类处罚不可提前修复：%(reason)s 公示至 %(day)s 届满。")
                % {"type": label, "reason": exclusion.reason, "day": ends},
                basis=exclusion.legal_basis,
            )
    if facts.status == RecordStatus.UNDER_OBJECTION:
        return result(Eligibility.NOT_YET, _("该记录异议处理中，异议处理完毕后方可申请修复。"))
    period = rs.periods[facts.severity]
    eligible_from = add_months(facts.decision_date, period.min_months)
    severity = Severity(facts.severity).label
    if as_of < eligible_from:
        return result(
            Eligibility.NOT_YET,
            ngettext(
                "%(severity)s失信行为最短公示期为 %(months)d 个月，自 %(day)s 起可申请信用修复。",
                "%(severity)s失信行为最短公示期为 %(months)d 个月，自 %(day)s 起可申请信用修复。",
                period.min_months,
            )
            % {"severity": severity, "months": period.min_months, "day": eligible_from},
            eligible_from,
        )
    if period.min_months == 0:
        return result(
            Eligibility.ELIGIBLE,
            _("%(severity)s失信行为无最短公示期，履行全部义务并作出信用承诺后即可申请信用修复。")
            % {"severity": severity},
            eligible_from,
        )
    return result(
        Eligibility.ELIGIBLE,
        ngettext(
            "已满最短公示期（%(severity)s，%(months)d 个月），可申请信用修复；"
            "还需已履行全部义务并作出信用承诺。",
            "已满最短公示期（%(severity)s，%(months)d 个月），可申请信用修复；"
            "还需已履行全部义务并作出信用承诺。",
            period.min_months,
        )
        % {"severity": severity, "months": period.min_months},
        eligible_from,
    )
