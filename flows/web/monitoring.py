"""The applicant's commitments under monitoring (履约监管): per repair, until
when the commitment is watched, how many days are left, and how it ended.

An open breach review shows only as a neutral line (a 履约核查 is under way
and which department does it): what it is about is the department's business
until it sends a notice of intended revocation. From then the case page
shows the hearing (the notice, the new penalty, the statement period) with
the form to state one's case (陈述申辩, flows/web/hearing.py); the decision
reaches the applicant as a letter or a message (flows/monitoring/services.py).
New penalties not of the kind the commitment covered are listed for
information.
"""

from collections import defaultdict
from dataclasses import dataclass, field, replace

from django.shortcuts import render
from django.utils import timezone

from flows.models import (
    PENDING_BREACH_STATUSES,
    BreachReview,
    CaseStatus,
    MonitoringStatus,
    MonitoringWindow,
    RepairCase,
)
from flows.monitoring.services import (
    hearings_for_applicant,
    statement_clock,
    statement_may_be_made,
    window_other_penalties,
    windows_for_applicant,
)
from repair_flow.models import Role
from repair_flow.roles import role_required

applicant_required = role_required(Role.APPLICANT)

# The repair case's statuses that have a monitoring window behind them.
MONITORED_STATUSES = (CaseStatus.APPROVED, CaseStatus.COMPLETED, CaseStatus.REVOKED)


@dataclass(frozen=True)
class MonitoringRow:
    window: MonitoringWindow
    is_open: bool
    # Days from today (Beijing) to the end day; 0 on the end day and after
    # it. None once the window closed.
    days_left: int | None
    # Past its end and still open: a review pending holds it (flows/monitoring/services.py).
    overdue: bool = False
    # The departments carrying out an open 履约核查 on this window.
    reviews: list[str] = field(default_factory=list)
    # On the case page: the hearings the applicant is called to, and the new
    # penalties shown for information only.
    hearings: list["Hearing"] = field(default_factory=list)
    other_penalties: list = field(default_factory=list)


@dataclass(frozen=True)
class Hearing:
    review: BreachReview
    statement_due: object  # the period's end (an aware datetime), or None
    may_state: bool


def _open_reviews(window_ids: list[int]) -> dict[int, list[str]]:
    """The departments of the open reviews of these windows, in one query."""
    departments: dict[int, list[str]] = defaultdict(list)
    if not window_ids:
        return departments
    rows = (
        BreachReview.objects.filter(window_id__in=window_ids, status__in=PENDING_BREACH_STATUSES)
        .order_by("opened_at", "id")
        .values_list("window_id", "department__name")
    )
    for window_id, name in rows:
        if name not in departments[window_id]:
            departments[window_id].append(name)
    return departments


def _order(row: MonitoringRow) -> tuple:
    # Open windows first, the nearest end first; then the closed ones, the latest first.
    if row.is_open:
        return (0, row.window.ends_at.timestamp(), row.window.pk)
    return (1, -row.window.ends_at.timestamp(), -row.window.pk)


def monitoring_rows(windows) -> list[MonitoringRow]:
    now = timezone.now()
    today = timezone.localdate(now)
    windows = list(windows)
    reviews = _open_reviews([w.pk for w in windows])
    rows = []
    for window in windows:
        is_open = window.status == MonitoringStatus.OPEN
        rows.append(
            MonitoringRow(
                window=window,
                is_open=is_open,
                days_left=max(0, (window.ends_on - today).days) if is_open else None,
                overdue=is_open and window.ends_at <= now,
                reviews=reviews.get(window.pk, []) if is_open else [],
            )
        )
    return sorted(rows, key=_order)


def _windows(user):
    return windows_for_applicant(user).select_related("case", "commitment__signed")


def case_monitoring(user, case) -> MonitoringRow | None:
    """The 履约监管 panel of the applicant's case page: a repair case that was
    approved (monitored, completed or revoked)."""
    if not isinstance(case, RepairCase) or case.status not in MONITORED_STATUSES:
        return None
    rows = monitoring_rows(_windows(user).filter(case=case))
    if not rows:
        return None
    now = timezone.now()
    hearings = _hearings(user, [rows[0].window.pk], now=now).get(rows[0].window.pk, [])
    others = list(window_other_penalties(rows[0].window))
    return replace(rows[0], hearings=hearings, other_penalties=others)


def _hearings(user, window_ids: list[int], *, now) -> dict[int, list[Hearing]]:
    """Per window, the reviews in which `user` was sent a notice of intended revocation."""
    hearings: dict[int, list[Hearing]] = defaultdict(list)
    reviews = hearings_for_applicant(user).filter(window_id__in=window_ids).order_by("id")
    for review in reviews:
        clock = statement_clock(review)
        hearings[review.window_id].append(
            Hearing(
                review=review,
                statement_due=clock.due_at if clock else None,
                may_state=statement_may_be_made(review, at=now),
            )
        )
    return hearings


@applicant_required
def monitoring_list(request):
    rows = monitoring_rows(_windows(request.user))
    hearings = _hearings(request.user, [row.window.pk for row in rows], now=timezone.now())
    rows = [replace(row, hearings=hearings.get(row.window.pk, [])) for row in rows]
    return render(request, "flows/monitoring_list.html", {"rows": rows})
