"""A case's deadlines on the official calendar (shared domain reference
sections 5 and 6): the 16:00 cut-off, weekends, the National Day holiday and
the make-up working days of 2026 (work on Sun 20 Sep and Sat 10 Oct)."""

import datetime as dt

import pytest

from flows.cases.review import cases_lapse_due, preliminary_review_claim, supplement_request
from flows.models import CaseStatus, MaterialKind
from flows.repair.services import repair_case_submit
from sla.clocks import clocks_for
from tests.flows.conftest import at, draft_with_materials, local

pytestmark = pytest.mark.django_db


def submitted_at(now, applicant, record, when: str):
    now.move_to(at(when))
    case = draft_with_materials(applicant, record)
    return repair_case_submit(applicant=applicant, case=case)


def due(case, stage: str) -> str:
    return local(clocks_for(case).get(stage=stage, stopped_at=None).due_at)


@pytest.mark.parametrize(
    ("received", "review_due"),
    [
        # Monday: by the 16:00 cut-off the same day, after it the next working day.
        ("2026-11-16 15:59:59", "2026-11-16 17:00"),
        ("2026-11-16 16:00:00", "2026-11-16 17:00"),
        ("2026-11-16 16:00:01", "2026-11-17 17:00"),
        # Friday after the cut-off, and a Saturday: Monday.
        ("2026-11-20 16:30:00", "2026-11-23 17:00"),
        ("2026-11-21 10:00:00", "2026-11-23 17:00"),
        # The eve of National Day after the cut-off: the first day back, 8 October.
        ("2026-09-30 16:30:00", "2026-10-08 17:00"),
        # During the holiday, on a weekday: still 8 October.
        ("2026-10-05 10:00:00", "2026-10-08 17:00"),
        # Friday 9 October after the cut-off: Saturday 10 October is a make-up working day.
        ("2026-10-09 16:30:00", "2026-10-10 17:00"),
        # Saturday 19 September: Sunday 20 September is a make-up working day.
        ("2026-09-19 10:00:00", "2026-09-20 17:00"),
        # Received on the make-up Sunday itself before the cut-off: that day.
        ("2026-09-20 11:00:00", "2026-09-20 17:00"),
    ],
)
def test_the_preliminary_review_is_due_on_the_official_calendar(
    now, applicant, record, received, review_due
):
    case = submitted_at(now, applicant, record, received)
    assert due(case, "preliminary_review") == review_due


def test_the_supplement_window_counts_ten_working_days_across_national_day(
    now, applicant, record, officer
):
    case = submitted_at(now, applicant, record, "2026-09-28 10:00:00")
    preliminary_review_claim(officer=officer, case=case)
    request = supplement_request(
        officer=officer,
        case=case,
        items=[{"material": MaterialKind.PERFORMANCE_PROOF, "problem": "缴款凭证不清晰"}],
    )
    # The day of the notice does not count: 29, 30 Sep, 8, 9, 10 (make-up), 12-16 Oct.
    assert local(request.deadline) == "2026-10-16 17:00"
    assert due(case, "supplement") == "2026-10-16 17:00"
    # The deadline is met up to and including its instant; the case lapses after it.
    deadline = request.deadline
    assert cases_lapse_due(now=deadline - dt.timedelta(seconds=1)) == 0
    assert cases_lapse_due(now=deadline) == 0
    case.refresh_from_db()
    assert case.status == CaseStatus.AWAITING_SUPPLEMENT
    now.move_to(deadline + dt.timedelta(seconds=1))
    assert cases_lapse_due(now=deadline + dt.timedelta(seconds=1)) == 1
    case.refresh_from_db()
    assert case.status == CaseStatus.LAPSED


def test_the_acceptance_decision_is_due_two_working_days_after_complete_materials(
    now, applicant, record
):
    # Received Friday 9 October: Saturday 10 (make-up) and Monday 12 count.
    case = submitted_at(now, applicant, record, "2026-10-09 11:00:00")
    assert due(case, "acceptance") == "2026-10-12 17:00"
