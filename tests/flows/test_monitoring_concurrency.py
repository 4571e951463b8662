"""Post-repair monitoring under concurrency (PostgreSQL): two sweeps at once,
the import's event path against the sweep on the same penalty, a dismissal
against the sweep at a window's end, two reviewers deciding one review.

Each review is opened once (the unique (window, record) pair and INSERT ...
ON CONFLICT DO NOTHING), each window completed once (UPDATE ... WHERE status
= 'open' RETURNING, re-checked on the locked row), each email queued once.
"""

import datetime as dt
from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from flows.models import (
    BreachReview,
    BreachStatus,
    CaseEvent,
    CaseStatus,
    MonitoringWindow,
    RepairCase,
)
from flows.monitoring.services import breach_confirm, breach_dismiss, monitoring_sweep
from letters.models import Letter, LetterKind, OutboundMessage
from repair_flow.audit import verify_chain
from tests.conftest import make_record, make_user
from tests.flows.conftest import ANSWER, BASIS, hear, import_rows, monitored_repair, penalty_row

# pytestmark: PostgreSQL only, each test in real transactions, as every race test.
from tests.flows.test_concurrency import (
    ORDERS,
    failed,
    pytestmark,  # noqa: F401
    race,
)


def monitored(*, department, subject, applicant, n: int, ends: str, serial: int = 0):
    """`n` approved repairs of `subject` (one record each), watched from
    2026-01-10 until `ends`."""
    return [
        monitored_repair(
            make_record(
                department=department,
                subject=subject,
                decision_number=f"济市监罚〔2025〕{serial + i + 100}号",
                decision_date=dt.date(2025, 3, 1),
            ),
            applicant=applicant,
            starts="2026-01-10 10:00",
            ends=ends,
            number=f"济信修申〔2026〕{serial + i + 100}号",
        )
        for i in range(n)
    ]


@pytest.fixture
def mailed(applicant):
    applicant.email = "zhangwei@example.com"
    applicant.save()
    return applicant


def completions() -> Counter:
    return Counter(CaseEvent.objects.filter(action="complete").values_list("case_id", flat=True))


def test_two_sweeps_open_each_review_and_complete_each_window_once(
    now, mailed, department, enterprise, person
):
    ended = monitored(
        department=department, subject=enterprise, applicant=mailed, n=6, ends="2026-11-15 10:00"
    )
    running = monitored(
        department=department,
        subject=person,
        applicant=mailed,
        n=3,
        ends="2027-01-10 10:00",
        serial=50,
    )
    # Penalties written past the import (no event path): only the sweep sees them.
    make_record(
        department=department,
        subject=person,
        decision_number="济市监罚〔2026〕900号",
        decision_date=dt.date(2026, 10, 1),
    )
    outcomes = race(lambda: monitoring_sweep(), lambda: monitoring_sweep())
    assert not any(failed(o) for o in outcomes), outcomes
    assert sum(o.breaches_found for o in outcomes) == 3
    assert sum(o.windows_completed for o in outcomes) == 6
    # One review per (window, penalty): the person's three windows.
    assert sorted(BreachReview.objects.values_list("case_id", flat=True)) == sorted(
        c.pk for c in running
    )
    assert completions() == Counter({c.pk: 1 for c in ended})
    assert set(
        RepairCase.objects.filter(pk__in=[c.pk for c in ended]).values_list("status", flat=True)
    ) == {CaseStatus.COMPLETED}
    keys = Counter(OutboundMessage.objects.values_list("idempotency_key", flat=True))
    assert keys == Counter({f"monitoring:{c.pk}:completed": 1 for c in ended})
    assert verify_chain().broken_at is None


@pytest.mark.parametrize("first", ORDERS)
def test_the_import_and_the_sweep_see_one_penalty_once(first, now, mailed, department, enterprise):
    monitored(
        department=department, subject=enterprise, applicant=mailed, n=2, ends="2027-01-10 10:00"
    )
    row = penalty_row(enterprise, department, number="济市监罚〔2026〕901号", day="2026-10-01")
    # Written by another path first, then changed by the department's re-import.
    make_record(
        department=department,
        subject=enterprise,
        decision_number=row["decision_number"],
        decision_date=dt.date(2026, 9, 30),
    )
    imported, swept = race(lambda: import_rows(row), lambda: monitoring_sweep(), first=first)
    assert not failed(imported) and not failed(swept), (imported, swept)
    assert imported.updated == 1
    reviews = list(BreachReview.objects.values_list("window_id", "record__decision_number"))
    assert len(reviews) == 2 and len(set(reviews)) == 2
    assert CaseEvent.objects.filter(action="breach_review_opened").count() == 2
    assert verify_chain().broken_at is None


@pytest.mark.parametrize("first", ORDERS)
def test_a_dismissal_and_the_sweep_complete_an_ended_window_once(
    first, now, mailed, department, enterprise, reviewer
):
    (case,) = monitored(
        department=department, subject=enterprise, applicant=mailed, n=1, ends="2026-11-15 10:00"
    )
    make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2026〕902号",
        decision_date=dt.date(2026, 11, 1),
    )
    monitoring_sweep()
    review = BreachReview.objects.get()
    assert MonitoringWindow.objects.get().status == "open"  # waiting for the review

    dismissed, swept = race(
        lambda: breach_dismiss(
            reviewer=reviewer, review=review, reasons=["违法行为发生在作出信用承诺之前"]
        ),
        lambda: monitoring_sweep(),
        first=first,
    )
    assert not failed(dismissed) and not failed(swept), (dismissed, swept)
    # Whoever came second found the window done (or, sweeping before the
    # dismissal committed, left it for the dismissal).
    assert MonitoringWindow.objects.get().status == "completed"
    assert completions() == Counter({case.pk: 1})
    keys = Counter(OutboundMessage.objects.values_list("idempotency_key", flat=True))
    assert keys[f"monitoring:{case.pk}:completed"] == 1
    assert keys[f"breach_review:{review.pk}:dismissed"] == 1


@pytest.mark.parametrize("first", ORDERS)
def test_two_reviewers_decide_one_review(first, now, mailed, department, enterprise, reviewer):
    from records.models import DepartmentMembership

    colleague = make_user("reviewer2", "reviewer", first_name="吴军")
    DepartmentMembership.objects.create(user=colleague, department=department)
    (case,) = monitored(
        department=department, subject=enterprise, applicant=mailed, n=1, ends="2027-01-10 10:00"
    )
    make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2026〕903号",
        decision_date=dt.date(2026, 11, 1),
    )
    monitoring_sweep()
    # Heard (the notice and the statement): either may now decide.
    review = hear(BreachReview.objects.get(), reviewer=reviewer)
    confirmed, dismissed = race(
        lambda: breach_confirm(
            reviewer=reviewer,
            review=review,
            reasons=["再次受到行政处罚"],
            basis=BASIS,
            answer=ANSWER,
        ),
        lambda: breach_dismiss(reviewer=colleague, review=review, reasons=["新增处罚信息有误"]),
        first=first,
    )
    outcomes = [confirmed, dismissed]
    assert sum(failed(o) for o in outcomes) == 1, outcomes
    loser = next(o for o in outcomes if failed(o))
    assert isinstance(loser, ValidationError) and loser.code == "wrong_status"
    review.refresh_from_db()
    case.refresh_from_db()
    if failed(dismissed):
        assert review.status == BreachStatus.CONFIRMED and case.status == CaseStatus.REVOKED
        assert Letter.objects.filter(kind=LetterKind.REVOCATION).count() == 1
    else:
        assert review.status == BreachStatus.DISMISSED and case.status == CaseStatus.APPROVED
        assert not Letter.objects.filter(kind=LetterKind.REVOCATION).exists()
    assert verify_chain().broken_at is None
