"""Shandong Social Credit Regulation Art. 38: at its disclosure ceiling a
record is no basis for any bar. A repair revoked for a broken commitment bars
the subject; once the revoked repair's record reaches its ceiling, the bar no
longer refuses a filing (the day before, at and after)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from flows.models import BreachReview, CaseStatus
from flows.repair.services import repair_case_draft_save
from tests.conftest import make_record
from tests.flows.conftest import BASIS, at, import_rows, monitored_repair, penalty_row, revoke

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("moment", "refused"),
    [
        ("2026-11-30 23:59:59", True),
        ("2026-12-01 00:00:00", False),  # five years after the conduct ended
        ("2026-12-02 09:00:00", False),
    ],
)
def test_a_bar_ends_at_the_ceiling_of_the_revoked_repairs_record(
    now,
    applicant,
    enterprise,
    department,
    other_department,
    other_reviewer,
    bar_enabled,
    moment,
    refused,
):
    revoked = make_record(
        department=other_department,
        subject=enterprise,
        decision_number="济建罚〔2024〕1号",
        decision_date=dt.date(2024, 1, 10),
        severity="serious",
        penalty_types=("warning",),
        fine_amount=None,
        conduct_end_date=dt.date(2021, 12, 1),
    )
    monitored_repair(
        revoked,
        applicant=applicant,
        starts="2025-01-10 10:00",
        ends="2026-12-10 10:00",
        number="济信修申〔2025〕9号",
    )
    import_rows(
        penalty_row(enterprise, other_department, number="济建罚〔2026〕50号", day="2026-11-02")
    )
    review = revoke(
        reviewer=other_reviewer,
        review=BreachReview.objects.get(),
        reasons=["再次受到行政处罚"],
        basis=BASIS,
    )
    assert review.barred_until > dt.date(2026, 12, 2)
    later = make_record(
        department=department, subject=enterprise, decision_number="济市监罚〔2026〕60号"
    )
    now.move_to(at(moment))

    def file():
        return repair_case_draft_save(
            applicant=applicant, record=later, details="", capacity="legal_representative"
        )

    if refused:
        with pytest.raises(ValidationError, match="不得申请信用修复"):
            file()
    else:
        assert file().status == CaseStatus.DRAFT
