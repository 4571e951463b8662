"""An objection's check against its legal time limit (Shandong Social Credit
Regulation Art. 39: 3 working days in the platform's own scope, 7 when the
issuing department verifies; Art. 40: 3 working days after a revoked
decision), across National Day and its make-up working day, with the breach
escalated to supervisors just after the deadline and not before."""

import datetime as dt

import pytest

from flows.cases.materials import case_material_add
from flows.cases.review import preliminary_review_claim
from flows.models import MaterialKind
from flows.objections.services import objection_accept, objection_draft_save, objection_submit
from sla.clocks import clocks_for
from sla.models import ClockState, Notification, NotificationKind
from sla.sweep import clocks_sweep
from tests.flows.conftest import at, local, upload

pytestmark = pytest.mark.django_db


def accepted_at(now, applicant, record, officer, when: str, scope: str, grounds=("error",)):
    now.move_to(at(when))
    case = objection_draft_save(
        applicant=applicant,
        record=record,
        grounds=list(grounds),
        statement="记录有误",
        capacity="legal_representative",
    )
    case_material_add(case=case, user=applicant, kind=MaterialKind.EVIDENCE, upload=upload())
    objection_submit(applicant=applicant, case=case, confirmed=True)
    preliminary_review_claim(officer=officer, case=case)
    return objection_accept(officer=officer, case=case, scope=scope)


@pytest.mark.parametrize(
    ("accepted", "scope", "grounds", "stage", "due"),
    [
        # The day of acceptance does not count; National Day (1-7 Oct) is skipped.
        ("2026-09-28 10:00", "platform", ("error",), "objection_own", "2026-10-08 17:00"),
        # Seven working days: 29, 30 Sep, 8, 9, 10 (make-up Saturday), 12, 13 Oct.
        ("2026-09-28 10:00", "department", ("error",), "objection_other", "2026-10-13 17:00"),
        # A revoked decision: 3 working days whoever checks (Art. 40).
        (
            "2026-09-28 10:00",
            "department",
            ("decision_revoked",),
            "record_change",
            "2026-10-08 17:00",
        ),
        # Accepted on a Friday: the weekend does not count.
        ("2026-11-20 15:00", "platform", ("error",), "objection_own", "2026-11-25 17:00"),
    ],
)
def test_the_check_is_due_on_the_official_calendar(
    now, applicant, record, officer, reviewer, accepted, scope, grounds, stage, due
):
    case = accepted_at(now, applicant, record, officer, accepted, scope, grounds)
    clock = clocks_for(case).get(stage=stage, stopped_at=None)
    assert local(clock.due_at) == due


def test_a_missed_check_is_escalated_just_after_its_deadline(
    now, applicant, record, officer, supervisor
):
    case = accepted_at(now, applicant, record, officer, "2026-11-16 10:00", "platform")
    clock = clocks_for(case).get(stage="objection_own")
    assert local(clock.due_at) == "2026-11-19 17:00"
    clocks_sweep(now=clock.due_at - dt.timedelta(seconds=1))
    clock.refresh_from_db()
    assert clock.state == ClockState.RUNNING
    assert not Notification.objects.filter(kind=NotificationKind.ESCALATION).exists()
    # The SLA sweep counts the deadline's own instant as reached (sla/sweep.py,
    # `due_at <= now`, as its own tests pin down); a second later it certainly is.
    clocks_sweep(now=clock.due_at)
    clock.refresh_from_db()
    assert clock.state == ClockState.BREACHED
    clocks_sweep(now=clock.due_at + dt.timedelta(seconds=1))
    escalation = Notification.objects.get(kind=NotificationKind.ESCALATION, user=supervisor)
    assert case.number in escalation.headline
