"""The supervisors' escalation queue: read it, resolve an escalation, reassign its clock.

escalations_for_queue()                                  # open first, oldest first
escalation_resolve(escalation=..., actor=..., note=...)
escalation_reassign(escalation=..., assignee=..., actor=...)
officers_active()                                        # whom a clock may go to
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from repair_flow.audit import audit_record
from repair_flow.models import Role, display_name
from sla.clocks import SlaError, clock_assign
from sla.models import Escalation

NOTE_MAX_LENGTH = 2000


class EscalationError(ValueError):
    pass


def escalations_for_queue() -> QuerySet[Escalation]:
    # Open ones first, oldest first; then resolved ones, most recently resolved first.
    return Escalation.objects.select_related(
        "clock", "clock__assignee", "clock__department", "resolved_by"
    ).order_by(F("resolved_at").desc(nulls_first=True), "created_at", "pk")


def officers_active() -> QuerySet:
    return get_user_model().objects.filter(role=Role.OFFICER, is_active=True).order_by("username")


def _who(user) -> str:
    if user is None:
        return _("系统")
    return display_name(user)


@transaction.atomic
def escalation_resolve(*, escalation: Escalation, actor, note: str) -> Escalation:
    """Close an escalation with the supervisor's note.

    The conditional UPDATE claims the row: of two supervisors resolving at
    once, exactly one updates it; the other is told who already did.
    """
    note = (note or "").strip()
    if not note:
        raise EscalationError(_("请填写处理说明"))
    if len(note) > NOTE_MAX_LENGTH:
        raise EscalationError(_("处理说明不能超过 %(n)s 字") % {"n": NOTE_MAX_LENGTH})
    now = timezone.now()
    claimed = Escalation.objects.filter(pk=escalation.pk, resolved_at__isnull=True).update(
        resolved_at=now, resolved_by=actor, note=note
    )
    if not claimed:
        done = Escalation.objects.select_related("resolved_by").get(pk=escalation.pk)
        raise EscalationError(
            _("该升级事项已由 %(who)s 于 %(at)s 处理，无需重复处理")
            % {
                "who": _who(done.resolved_by),
                "at": timezone.localtime(done.resolved_at).strftime("%Y-%m-%d %H:%M"),
            }
        )
    escalation.resolved_at, escalation.resolved_by, escalation.note = now, actor, note
    clock = escalation.clock
    audit_record(
        actor=actor,
        action="sla.escalation_resolve",
        object_type="sla.Escalation",
        object_id=escalation.pk,
        summary={"clock": clock.pk, "case": clock.case_label, "stage": clock.stage, "note": note},
    )
    return escalation


@transaction.atomic
def escalation_reassign(*, escalation: Escalation, assignee, actor) -> Escalation:
    """Give the escalated clock to another active officer (sla.clocks.clock_assign audits it)."""
    if not officers_active().filter(pk=getattr(assignee, "pk", None)).exists():
        raise EscalationError(_("只能改派给在岗的平台工作人员"))
    clock = escalation.clock
    if clock.stopped_at is not None:
        raise EscalationError(_("该环节已办结，无需改派"))
    if clock.assignee_id == assignee.pk:
        raise EscalationError(_("该环节已由 %(who)s 承办") % {"who": _who(assignee)})
    try:
        case = clock.case_type.get_object_for_this_type(pk=clock.case_id)
    except ObjectDoesNotExist as exc:
        raise EscalationError(_("案件“%(case)s”已不存在") % {"case": clock.case_label}) from exc
    try:
        escalation.clock = clock_assign(
            case=case, stage=clock.stage, assignee=assignee, actor=actor
        )
    except SlaError as exc:
        raise EscalationError(str(exc)) from exc
    return escalation
