"""Publicity and repair eligibility (shared domain reference section 2).

`answer()` is pure: it takes a record's facts, the rule sets (loaded once by
`load_rule_sets`) and a date, and says whether the record is still published
and whether, or from when, it can be repaired, naming the rule set and reason.

- A record decided under one rule set and judged under another gets the answer
  more favourable to the applicant (从旧兼从轻, the general principle of
  administrative law; no transitional rule was found), and says which and why.
- Shandong Social Credit Regulation Art. 38: no record is disclosed more than
  N years (the rule set's figure, 5) after the conduct ended.
- Art. 20: a natural person's record is shared, never published; its answer
  says so in its own words (records.disclosure).
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
    SubjectKind,
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
    # Shandong Social Credit Regulation Art. 38: at most five years from the
    # end of the conduct, whatever the periods say.
    disclosure_max_years: int = 5
    disclosure_max_basis: str = ""

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
                rs.disclosure_max_years,
                rs.disclosure_max_basis,
            )
        )
    return rule_sets


def rule_set_on(rule_sets: list[RuleSet], day: dt.date) -> RuleSet:
    for rs in rule_sets:
        if rs.in_force_on(day):
            return rs
    raise NoRuleSetError(_("%(day)s 没有施行中的公示规则") % {"day": day})


def disclosure_ends_on(rule_sets: list[RuleSet], *, conduct_ended_on: dt.date, on: dt.date):
    """The first day a record is no longer disclosed at all (Shandong Social
    Credit Regulation Art. 38: at most N years from the end of the conduct),
    by the rule set in force on `on`."""
    years = rule_set_on(rule_sets, on).disclosure_max_years
    return add_months(conduct_ended_on, 12 * years)


def publicity_window(
    rule_sets: list[RuleSet],
    *,
    decision_date: dt.date,
    severity: str,
    conduct_end_date: dt.date | None = None,
):
    """The window a record is published for, by the rules in force on its decision date,
    ending at the latest at the disclosure ceiling (Art. 38) counted from the end
    of the conduct (the decision date when not given).
    Returns (starts_on, ends_on); an empty window means not published."""
    rs = rule_set_on(rule_sets, decision_date)
    period = rs.periods[severity]
    if not period.published:
        return decision_date, decision_date
    ceiling = add_months(conduct_end_date or decision_date, 12 * rs.disclosure_max_years)
    return decision_date, max(
        decision_date, min(add_months(decision_date, period.max_months), ceiling)
    )


@dataclass(frozen=True)
class RecordFacts:
    decision_date: dt.date
    severity: str
    penalty_types: tuple[str, ...]
    sector: str
    status: str
    publicity_ends_on: dt.date
    person: bool = False
    conduct_ended_on: dt.date | None = None

    @classmethod
    def of(cls, record) -> "RecordFacts":
        return cls(
            record.decision_date,
            record.severity,
            tuple(record.penalty_types),
            record.department.sector,
            record.status,
            record.publicity_ends_on,
            record.subject.kind == SubjectKind.PERSON,
            record.conduct_ended_on,
        )


class Eligibility:
    ELIGIBLE = "eligible"
    NOT_YET = "not_yet"
    NEVER = "never"
    NOT_NEEDED = "not_needed"


@dataclass(frozen=True)
class Answer:
    as_of: dt.date
    # Publicly disclosed (公示): never for a natural person (Shandong Art. 20).
    published: bool
    publicity_ends_on: dt.date
    eligibility: str
    eligible_from: dt.date | None
    rule_set: str
    rule_set_name: str
    reason: str
    legal_basis: str
    # In use as a negative record: published, or for a natural person shared
    # between authorities. False from the disclosure ceiling on (Art. 38).
    shared: bool = False
    disclosure_ends_on: dt.date | None = None
    # Why this rule set and not another (从旧兼从轻), when two could apply.
    rule_set_choice: str = ""

    def as_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "published": self.published,
            "shared": self.shared,
            "publicity_ends_on": self.publicity_ends_on.isoformat(),
            "disclosure_ends_on": (
                self.disclosure_ends_on.isoformat() if self.disclosure_ends_on else None
            ),
            "eligibility": self.eligibility,
            "eligible_from": self.eligible_from.isoformat() if self.eligible_from else None,
            "rule_set": self.rule_set,
            "rule_set_name": self.rule_set_name,
            "rule_set_choice": self.rule_set_choice,
            "reason": self.reason,
            "legal_basis": self.legal_basis,
        }


@dataclass(frozen=True)
class _Judgement:
    """What one rule set says of a record that is still disclosed."""

    rule_set: RuleSet
    eligibility: str
    reason: str
    eligible_from: dt.date | None
    legal_basis: str

    def favour(self) -> tuple:
        """Smaller is more favourable to the applicant: repairable now, then
        from an earlier day, then only at the end of the period."""
        rank = {Eligibility.ELIGIBLE: 0, Eligibility.NOT_YET: 1}.get(self.eligibility, 2)
        return (rank, self.eligible_from or dt.date.max)


def _judge(facts: RecordFacts, rs: RuleSet, as_of: dt.date, ends: dt.date) -> _Judgement:
    """Whether, or from when, `rs` lets a disclosed record be repaired early."""
    person = facts.person
    for exclusion in rs.exclusions:
        if exclusion.penalty_type in facts.penalty_types and (
            not exclusion.sectors or facts.sector in exclusion.sectors
        ):
            label = PenaltyType(exclusion.penalty_type).label
            values = {
                "type": label,
                "reason": exclusion.reason,
                "day": ends,
                "basis": exclusion.legal_basis,
            }
            reason = (
                _(
                    "“%(type)s”类处罚不可提前修复：%(reason)s 作为失信信息共享和使用至 %(day)s "
                    "届满。（依据：%(basis)s）"
                )
                if person
                else _(
                    "“%(type)s”类处罚不可提前修复：%(reason)s 公示至 %(day)s 届满。"
                    "（依据：%(basis)s）"
                )
            ) % values
            return _Judgement(rs, Eligibility.NEVER, reason, None, exclusion.legal_basis)
    period = rs.periods[facts.severity]
    eligible_from = add_months(facts.decision_date, period.min_months)
    severity = Severity(facts.severity).label
    values = {"severity": severity, "months": period.min_months, "day": eligible_from}
    if as_of < eligible_from:
        if person:
            reason = ngettext(
                "%(severity)s失信行为最短披露期为 %(months)d 个月，自 %(day)s 起可申请信用修复。",
                "%(severity)s失信行为最短披露期为 %(months)d 个月，自 %(day)s 起可申请信用修复。",
                period.min_months,
            )
        else:
            reason = ngettext(
                "%(severity)s失信行为最短公示期为 %(months)d 个月，自 %(day)s 起可申请信用修复。",
                "%(severity)s失信行为最短公示期为 %(months)d 个月，自 %(day)s 起可申请信用修复。",
                period.min_months,
            )
        return _Judgement(rs, Eligibility.NOT_YET, reason % values, eligible_from, rs.legal_basis)
    if period.min_months == 0:
        if person:
            reason = _(
                "%(severity)s失信行为无最短披露期，履行全部义务并作出信用承诺后即可申请信用修复。"
            )
        else:
            reason = _(
                "%(severity)s失信行为无最短公示期，履行全部义务并作出信用承诺后即可申请信用修复。"
            )
        return _Judgement(rs, Eligibility.ELIGIBLE, reason % values, eligible_from, rs.legal_basis)
    if person:
        reason = ngettext(
            "已满最短披露期（%(severity)s，%(months)d 个月），可申请信用修复；"
            "还需已履行全部义务并作出信用承诺。",
            "已满最短披露期（%(severity)s，%(months)d 个月），可申请信用修复；"
            "还需已履行全部义务并作出信用承诺。",
            period.min_months,
        )
    else:
        reason = ngettext(
            "已满最短公示期（%(severity)s，%(months)d 个月），可申请信用修复；"
            "还需已履行全部义务并作出信用承诺。",
            "已满最短公示期（%(severity)s，%(months)d 个月），可申请信用修复；"
            "还需已履行全部义务并作出信用承诺。",
            period.min_months,
        )
    return _Judgement(rs, Eligibility.ELIGIBLE, reason % values, eligible_from, rs.legal_basis)


def answer(facts: RecordFacts, rule_sets: list[RuleSet], as_of: dt.date) -> Answer:
    """Eligibility is judged by the rule set in force on `as_of` (the application
    date) or, when another was in force on the decision date, by the one more
    favourable to the applicant (从旧兼从轻), and the answer says which and why.
    The publicity window is fixed by the rules of the decision date."""
    rs = rule_set_on(rule_sets, as_of)
    ends = facts.publicity_ends_on
    ceiling = add_months(
        facts.conduct_ended_on or facts.decision_date, 12 * rs.disclosure_max_years
    )
    shared = (
        facts.status in (RecordStatus.PUBLISHED, RecordStatus.UNDER_OBJECTION)
        and as_of < ends
        and as_of < ceiling
    )
    # Shandong Social Credit Regulation Art. 20: never publicly disclosed.
    published = shared and not facts.person

    def result(eligibility, reason, eligible_from=None, basis=rs.legal_basis, used=rs, why=""):
        return Answer(
            as_of,
            published,
            ends,
            eligibility,
            eligible_from,
            used.code,
            used.name,
            reason,
            basis,
            shared,
            ceiling,
            why,
        )

    if facts.status == RecordStatus.DELETED:
        return result(Eligibility.NOT_NEEDED, _("该记录已删除，无需修复。"))
    if as_of >= ceiling:
        return result(
            Eligibility.NOT_NEEDED,
            _(
                "失信信息披露期限（自失信行为终止之日 %(end)s 起最长%(years)d年）已于 %(day)s "
                "届满，该记录不再公开或共享，也不再作为任何限制或惩戒的依据，无需修复。"
            )
            % {
                "end": facts.conduct_ended_on or facts.decision_date,
                "years": rs.disclosure_max_years,
                "day": ceiling,
            },
            basis=rs.disclosure_max_basis or rs.legal_basis,
        )
    if facts.status == RecordStatus.REPAIRED:
        return result(Eligibility.NOT_NEEDED, _("该记录已完成信用修复。"))
    if ends <= facts.decision_date:
        return result(
            Eligibility.NOT_NEEDED,
            _("按处罚决定日施行的规则，该类处罚信息不作为失信信息共享，无需修复。")
            if facts.person
            else _("按处罚决定日施行的规则，该类处罚信息不予公示，无需修复。"),
        )
    if as_of >= ends or facts.status == RecordStatus.EXPIRED:
        return result(
            Eligibility.NOT_NEEDED,
            (
                _("披露期已于 %(day)s 届满，不再作为失信信息共享和使用，无需修复。")
                if facts.person
                else _("公示期已于 %(day)s 届满，自动停止公示，无需修复。")
            )
            % {"day": ends},
        )
    judged = _judge(facts, rs, as_of, ends)
    why = ""
    try:
        then = rule_set_on(rule_sets, facts.decision_date)
    except NoRuleSetError:
        then = rs
    if then.code != rs.code and facts.severity in then.periods:
        old = _judge(facts, then, as_of, ends)
        chosen = old if old.favour() < judged.favour() else judged
        if old.favour() == judged.favour():
            why = _(
                "处罚决定日（%(decided)s）施行%(old)s，申请日（%(today)s）施行%(new)s；"
                "两者结果相同，适用%(chosen)s。"
            )
        else:
            why = _(
                "处罚决定日（%(decided)s）施行%(old)s，申请日（%(today)s）施行%(new)s；"
                "依从旧兼从轻原则，适用对申请人更有利的%(chosen)s。"
            )
        why = why % {
            "decided": facts.decision_date,
            "old": then.name,
            "today": as_of,
            "new": rs.name,
            "chosen": chosen.rule_set.name,
        }
        judged = chosen
    if facts.status == RecordStatus.UNDER_OBJECTION and judged.eligibility != Eligibility.NEVER:
        return result(
            Eligibility.NOT_YET,
            _("该记录异议处理中，异议处理完毕后方可申请修复。"),
            used=judged.rule_set,
            basis=judged.legal_basis,
            why=why,
        )
    return result(
        judged.eligibility,
        judged.reason,
        judged.eligible_from,
        basis=judged.legal_basis,
        used=judged.rule_set,
        why=why,
    )
