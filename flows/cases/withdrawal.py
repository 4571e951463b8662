"""The applicant withdraws a case before its decision."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from flows import engine
from flows.cases.common import (
    case_commitment,
    case_locked,
    clean_text,
    clocks_stop_all,
    record_status_change,
    require_applicant,
    require_status,
    transition_fire,
)
from flows.models import (
    WITHDRAWABLE,
    CaseStatus,
    ObjectionCase,
    RepairCase,
)
from letters.commitments import commitment_void
from records.models import CreditRecord, RecordStatus


def _commitment_void_draft(case: RepairCase, *, actor) -> int | None:
    """A withdrawn case leaves no unsigned commitment behind."""
    commitment = case_commitment(case)
    if commitment is None:
        return None
    reason = f"case {case.label} withdrawn"
    return (
        commitment.pk
        if commitment_void(commitment=commitment, actor=actor, reason=reason)
        else None
    )


@transaction.atomic
def case_withdraw(*, applicant, case, reason: str):
    """The applicant withdraws a repair case or an objection before its decision."""
    at = timezone.now()
    case = case_locked(case)
    require_applicant(case, applicant)
    require_status(case, *WITHDRAWABLE)
    reason = clean_text(reason, _("撤回理由"))
    # Nothing of the case is owed any more: its open clocks are cancelled, not met.
    clocks_stop_all(case, actor=applicant, at=at, cancel=True)
    voided = None
    if isinstance(case, ObjectionCase):
        objection_release_record(case, actor=applicant)
    else:
        voided = _commitment_void_draft(case, actor=applicant)
    transition_fire(
        case,
        "withdraw",
        actor=applicant,
        at=at,
        comment=reason,
        params={"at": at},
        summary={"voided_commitment": voided},
    )
    engine.process_cancel(case)
    return case


def objection_release_record(case: ObjectionCase, *, actor) -> None:
    """A withdrawn objection gives the record its status back."""
    if case.status in (CaseStatus.ACCEPTED, CaseStatus.IN_VERIFICATION):
        record = CreditRecord.objects.get(pk=case.record_id)
        if record.status == RecordStatus.UNDER_OBJECTION:
            record_status_change(
                record,
                case.record_status_before or RecordStatus.PUBLISHED,
                actor=actor,
                reason=_("异议申请 %(case)s 已撤回") % {"case": case.label},
            )
