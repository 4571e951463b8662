"""Repeat limits on credit repair (shared domain reference section 3).

A local example, UNCONFIRMED as national law, so the numbers are data
(records.RepeatLimitPolicy, versioned by effective date). Refused, while:

- less than `min_interval_days` have passed since the subject's last repair;
- the subject was already repaired `max_repairs` times within
  `max_repairs_window_years`;
- the same kind of conduct was already repaired within
  `same_conduct_window_years`.

A repair is an approved RepairCase of the subject (still monitored, completed
or since revoked), dated by the Beijing date of its decision (`decided_at`).
A revoked repair also bars the subject for the years its policy sets,
checked first. A penalty record does not name the kind of
conduct, so "the same kind" is approximated as: the same issuing department
and at least one penalty type in common.

A case is judged by the policies in force when it was filed (`decided_before`,
its submission): a repair decided after that, a sister case approved while
this one waits, never refuses it at acceptance or approval. A repair of a
record past its disclosure ceiling (Shandong Social Credit Regulation Art. 38:
five years from the end of the conduct) no longer counts for any limit or bar.

`repeat_limit_reason` is pure (facts in, message out); `records_repeat_limits`,
the one place the record pages, the filing page and the services ask, loads
the bars, the policy and the recent repairs of all the records' subjects in
three queries.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from flows.cases.common import local_date
from flows.models import REPAIRED_STATUSES, BreachReview, BreachStatus, RepairCase
from records.models import CreditRecord, PenaltyType, RepeatLimitPolicy
from records.publicity import Eligibility, add_months, disclosure_ends_on, load_rule_sets


def add_years(day: dt.date, years: int) -> dt.date:
    """Same day N years later (or earlier); 29 February becomes the 28th."""
    return add_months(day, 12 * years)


@dataclass(frozen=True)
class PriorRepair:
    """One earlier repair of the subject."""

    number: str
    on: dt.date
    department_id: int
    penalty_types: frozenset[str]
    # The repaired record's disclosure ceiling (Shandong Social Credit
    # Regulation Art. 38): from that day the repair counts for no limit.
    counts_until: dt.date | None = None

    def ends(self, until: dt.date) -> dt.date:
        """The last day + 1 this repair counts for a limit that would run to `until`."""
        return min(until, self.counts_until) if self.counts_until else until


def _span(days: int) -> str:
    if days % 365 == 0:
        return _("%(n)d年") % {"n": days // 365}
    return _("%(n)d日") % {"n": days}


def _cite(repairs: Iterable[PriorRepair]) -> str:
    return "；".join(f"{r.number}，{r.on.isoformat()}" for r in repairs)


def repeat_limit_reason(
    *,
    policy: RepeatLimitPolicy,
    prior: Iterable[PriorRepair],
    department_id: int,
    penalty_types: Iterable[str],
    on: dt.date,
) -> str | None:
    """Which repeat limit bars an application on `on`, and from which day it
    no longer does; None when none does. When several apply, the one that
    lasts longest is named: its date is the day the subject may apply again."""
    repairs = sorted(
        (r for r in prior if r.on <= on and (r.counts_until is None or on < r.counts_until)),
        key=lambda r: (r.on, r.number),
    )
    found: list[tuple[dt.date, str]] = []

    if repairs and policy.min_interval_days:
        last = repairs[-1]
        until = last.ends(last.on + dt.timedelta(days=policy.min_interval_days))
        if on < until:
            found.append(
                (
                    until,
                    _("距该主体上次信用修复（%(repair)s）不满%(span)s，%(until)s 起方可再次申请。")
                    % {
                        "repair": _cite([last]),
                        "span": _span(policy.min_interval_days),
                        "until": until.isoformat(),
                    },
                )
            )

    years = policy.max_repairs_window_years
    if years:
        counted = [r for r in repairs if on < r.ends(add_years(r.on, years))]
        if len(counted) >= policy.max_repairs:
            # Enough of them must leave the window to drop below the limit.
            ends = sorted(r.ends(add_years(r.on, years)) for r in counted)
            until = ends[len(counted) - policy.max_repairs]
            found.append(
                (
                    until,
                    _(
                        "该主体%(years)d年内已信用修复%(count)d次（%(repairs)s），"
                        "达到%(max)d次上限，%(until)s 起方可再次申请。"
                    )
                    % {
                        "years": years,
                        "count": len(counted),
                        "repairs": _cite(counted),
                        "max": policy.max_repairs,
                        "until": until.isoformat(),
                    },
                )
            )

    years = policy.same_conduct_window_years
    types = frozenset(penalty_types)
    if years:
        same = [
            r
            for r in repairs
            if r.department_id == department_id
            and r.penalty_types & types
            and on < r.ends(add_years(r.on, years))
        ]
        if same:
            # The one that counts longest: its end is the day the subject may apply.
            last = max(same, key=lambda r: (r.ends(add_years(r.on, years)), r.on))
            until = last.ends(add_years(last.on, years))
            labels = dict(PenaltyType.choices)
            kinds = "、".join(
                str(labels.get(code, code)) for code in sorted(last.penalty_types & types)
            )
            found.append(
                (
                    until,
                    _(
                        "该主体同类失信行为（同一认定单位作出的“%(kinds)s”处罚）"
                        "已于%(years)d年内信用修复（%(repair)s），%(until)s 起方可再次申请。"
                    )
                    % {
                        "kinds": kinds,
                        "years": years,
                        "repair": _cite([last]),
                        "until": until.isoformat(),
                    },
                )
            )

    if not found:
        return None
    # max() keeps the first of equal dates: the order above.
    reason = max(found, key=lambda item: item[0])[1]
    # Every refusal cites the limit's legal basis.
    return _("%(reason)s（依据：%(basis)s）") % {"reason": reason, "basis": policy.legal_basis}


def policy_on(day: dt.date) -> RepeatLimitPolicy | None:
    """The version of the repeat limits in force on `day`."""
    return (
        RepeatLimitPolicy.objects.filter(effective_from__lte=day)
        .order_by("-effective_from")
        .first()
    )


def _start_of(day: dt.date) -> dt.datetime:
    """Midnight in Beijing (the current time zone) at the start of `day`."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _past_ceiling(rule_sets, *, conduct_ended_on: dt.date, on: dt.date) -> bool:
    """Shandong Social Credit Regulation Art. 38: from the ceiling on, a record
    is no basis for any limit or bar."""
    return on >= disclosure_ends_on(rule_sets, conduct_ended_on=conduct_ended_on, on=on)


def _prior_rows(
    subject_ids: Iterable[int],
    *,
    policy: RepeatLimitPolicy,
    on: dt.date,
    decided_before: dt.datetime | None = None,
):
    """The subjects' approved cases decided within the policy's longest window
    (by the subject's foreign-key index), as (subject id, facts...) rows."""
    earliest = min(
        on - dt.timedelta(days=policy.min_interval_days),
        add_years(on, -max(policy.max_repairs_window_years, policy.same_conduct_window_years)),
    )
    cases = RepairCase.objects.filter(
        subject_id__in=list(subject_ids),
        status__in=REPAIRED_STATUSES,
        decided_at__gte=_start_of(earliest),
        decided_at__lt=_start_of(on + dt.timedelta(days=1)),
    )
    if decided_before is not None:
        cases = cases.filter(decided_at__lt=decided_before)
    return cases.values_list(
        "subject_id",
        "number",
        "decided_at",
        "record__department_id",
        "record__penalty_types",
        "record__conduct_end_date",
        "record__decision_date",
    )


def _limit_reason(*, record: CreditRecord, policy: RepeatLimitPolicy, rows, on: dt.date, rule_sets):
    """The limit `record` meets given its subject's prior repairs (`rows`), or None."""
    if not rows:
        return None
    prior = [
        PriorRepair(
            number,
            timezone.localtime(decided_at).date(),
            department_id,
            frozenset(types),
            disclosure_ends_on(rule_sets, conduct_ended_on=conduct_end or decided_on, on=on),
        )
        for _subject, number, decided_at, department_id, types, conduct_end, decided_on in rows
    ]
    return repeat_limit_reason(
        policy=policy,
        prior=prior,
        department_id=record.department_id,
        penalty_types=record.penalty_types,
        on=on,
    )


def subjects_with_limit_history(subject_ids: Iterable[int]) -> set[int]:
    """The subjects that may meet a repeat limit or a bar: those with a
    repaired case or a confirmed breach review, ever. For any other subject
    no limit applies, so a list of records asks `records_repeat_limits` only
    for these."""
    ids = set(subject_ids)
    repaired = RepairCase.objects.filter(subject_id__in=ids, status__in=REPAIRED_STATUSES)
    barred = BreachReview.objects.filter(subject_id__in=ids, status=BreachStatus.CONFIRMED)
    return set(repaired.values_list("subject_id", flat=True)) | set(
        barred.values_list("subject_id", flat=True)
    )


def _bar_reviews(subject_ids: Iterable[int], *, on: dt.date, decided_before=None):
    reviews = (
        BreachReview.objects.filter(
            subject_id__in=list(subject_ids), status=BreachStatus.CONFIRMED, barred_until__gte=on
        )
        .select_related("letter", "case__record")
        .order_by("-barred_until", "-id")
    )
    if decided_before is not None:
        reviews = reviews.filter(decided_at__lt=decided_before)
    return reviews


def _bar_reason(reviews, *, on: dt.date, rule_sets) -> str | None:
    """The bar the first of `reviews` (one subject's, longest first) sets, unless
    its record is past the ceiling."""
    review = None
    for candidate in reviews:
        if not _past_ceiling(
            rule_sets, conduct_ended_on=candidate.case.record.conduct_ended_on, on=on
        ):
            review = candidate
            break
    if review is None:
        return None
    # The bar's last day is the last day refused: "至……（含当日）", not "……前".
    return _(
        "该主体的信用修复决定已于 %(day)s 撤销（%(letter)s），至 %(until)s（含当日）"
        "不得申请信用修复"
    ) % {
        "day": local_date(review.decided_at).isoformat(),
        "letter": review.letter.number if review.letter_id else "",
        "until": review.barred_until.isoformat(),
    }


def records_repeat_limits(
    *, records: Iterable[CreditRecord], answers: dict, filed_at: dt.datetime | None = None
) -> dict[int, str | None]:
    """The repeat limit or bar that refuses filing for each record its
    publicity rules allow to be repaired, now or later (`answers`: their
    records.publicity answers, by id), as of the answer's date; None
    otherwise. A filed case (`filed_at`, its submission) is judged by the
    limits and bars in force when it was filed, counting only what was
    decided before. A constant number of queries whatever the number of
    records (issue 18: a list page asked two per record): the bars, the
    policy and the prior repairs of all their subjects at once, per date."""
    by_day: dict[dt.date, list[CreditRecord]] = {}
    for record in records:
        answer = answers[record.pk]
        if answer.eligibility in (Eligibility.ELIGIBLE, Eligibility.NOT_YET):
            on = answer.as_of if filed_at is None else local_date(filed_at)
            by_day.setdefault(on, []).append(record)
    limits: dict[int, str | None] = {}
    rule_sets = load_rule_sets() if by_day else None
    for on, group in by_day.items():
        subject_ids = {record.subject_id for record in group}
        bars: dict[int, list] = {}
        for review in _bar_reviews(subject_ids, on=on, decided_before=filed_at):
            bars.setdefault(review.subject_id, []).append(review)
        policy = policy_on(on)
        priors: dict[int, list] = {}
        if policy is not None and policy.enabled:
            for row in _prior_rows(subject_ids, policy=policy, on=on, decided_before=filed_at):
                priors.setdefault(row[0], []).append(row)
        for record in group:
            limits[record.pk] = _bar_reason(
                bars.get(record.subject_id, []), on=on, rule_sets=rule_sets
            ) or (
                _limit_reason(
                    record=record,
                    policy=policy,
                    rows=priors.get(record.subject_id, []),
                    on=on,
                    rule_sets=rule_sets,
                )
                if policy is not None and policy.enabled
                else None
            )
    return limits
