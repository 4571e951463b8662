"""The optimistic lock on a case's state (flows.models.ConcurrentTransitions):
a save from a request that read the case before another changed its state
fails instead of overwriting that change."""

import pytest
from django.db import transaction
from django_fsm import ConcurrentTransition

from flows.models import CaseStatus, RepairCase, fsm_state_fields

pytestmark = pytest.mark.django_db


def test_a_stale_copy_cannot_save_over_a_changed_state(drive, officer):
    case = drive(CaseStatus.SUBMITTED)
    stale = RepairCase.objects.get(pk=case.pk)
    fresh = RepairCase.objects.get(pk=case.pk)
    fresh.claim_preliminary_review(officer=officer)
    fresh.save()
    stale.claim_preliminary_review(officer=officer)
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        stale.save()
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW


def test_a_copy_read_after_the_change_saves(drive, officer):
    case = drive(CaseStatus.SUBMITTED)
    case.claim_preliminary_review(officer=officer)
    case.save()
    again = RepairCase.objects.get(pk=case.pk)
    again.release_preliminary_review()
    again.save()
    again.refresh_from_db()
    assert again.status == CaseStatus.SUBMITTED


def test_the_state_fields_are_the_status_alone():
    assert [field.name for field in fsm_state_fields(RepairCase)] == ["status"]
