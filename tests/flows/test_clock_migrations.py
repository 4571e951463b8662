"""The data migrations of the clocks slice, run on rows as the old code left
them: an acceptance clock "met" by a supplement notice is cancelled, and an
open objection check that started at acceptance is moved to start at receipt
(Shandong Social Credit Regulation Art. 39), with its supplement round paused
and the move recorded as a deadline change."""

import importlib

import pytest
from django.apps import apps

from flows.cases.review import supplement_request
from flows.models import CaseStatus, ObjectionCase
from sla.clocks import clocks_for
from sla.models import ClockState, DeadlineChange, SlaPause
from tests.flows.conftest import at, local
from tests.flows.test_applicant_time import ITEMS, objection_accepted

pytestmark = pytest.mark.django_db

not_met = importlib.import_module("flows.migrations.0006_clocks_acceptance_not_met")
from_receipt = importlib.import_module("flows.migrations.0008_clocks_open_checks_from_receipt")


def test_an_acceptance_clock_met_by_a_supplement_notice_is_cancelled(drive, officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    request = supplement_request(officer=officer, case=case, items=ITEMS)
    # As the old code left it: stopped, and "met", at the notice.
    clocks_for(case).filter(stage="acceptance").update(
        state=ClockState.MET, stopped_at=request.requested_at, paused_at=None
    )
    untouched = clocks_for(case).get(stage="preliminary_review")
    assert untouched.state == ClockState.MET
    not_met.cancel_unmet(apps, None)
    assert clocks_for(case).get(stage="acceptance").state == ClockState.CANCELLED
    assert clocks_for(case).get(stage="preliminary_review").state == ClockState.MET


def test_an_open_check_started_at_acceptance_now_runs_from_receipt(apis, posted, record, now):
    case_id = objection_accepted(apis, posted, record, now, "platform")
    clock = clocks_for(ObjectionCase.objects.get(pk=case_id)).get(stage="objection_own")
    # As the old code left it: from acceptance (Fri 9 Oct 10:00), no pauses:
    # 10 (make-up Saturday), 12, 13 Oct -> Tue 13 Oct 17:00.
    SlaPause.objects.filter(clock=clock).delete()
    type(clock).objects.filter(pk=clock.pk).update(
        started_at=at("2026-10-09 10:00"), due_at=at("2026-10-13 17:00")
    )
    from_receipt.from_receipt(apps, None)
    clock.refresh_from_db()
    assert local(clock.started_at) == "2026-09-29 10:00"
    assert local(clock.due_at) == "2026-10-10 17:00"
    assert clock.next_check_at is not None and clock.state == ClockState.RUNNING
    [pause] = clock.pauses.all()
    assert (local(pause.started_at), local(pause.ended_at), pause.paused_seconds) == (
        "2026-09-29 11:00",
        "2026-10-08 09:00",
        8 * 3600,
    )
    change = DeadlineChange.objects.get(clock=clock)
    assert local(change.old_due_at) == "2026-10-13 17:00"
    assert "第三十九条" in change.reason
    # Run again: nothing moves twice.
    from_receipt.from_receipt(apps, None)
    assert DeadlineChange.objects.filter(clock=clock).count() == 1
    assert clock.pauses.count() == 1
