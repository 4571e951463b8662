"""Who is told of what: the one table of event notices.

`NOTIFY` declares, per event, who is told (a rule on the case), the
sentence they read, and the channels. `notify` is called by the services
inside their transaction and does its work after commit: an in-app notice
on the 通知 page (sla.models.Notification, unique per event key and user, so
a repeated event notifies once), and for a person who keeps email/SMS on,
an email (with the letter's link; the letter's own email carries the PDF,
letters.outbox.message_for_letter) and an SMS to their phone.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.cases.guards import assignees_for, department_reviewers
from letters.channels import sms_backend
from letters.models import LetterKind
from letters.outbox import message_queue
from sla.models import ClockState, Notification, NotificationKind, SlaClock, Stage

log = logging.getLogger(__name__)

LANGUAGE = "zh-hans"


class Event(StrEnum):
    FILED = "filed"
    SUPPLEMENT = "supplement"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    DECISION = "decision"
    OBJECTION_RESULT = "objection_result"
    REVOCATION_NOTICE = "revocation_notice"
    REVOCATION = "revocation"
    DEADLINE = "deadline"
    TASK_ASSIGNED = "task_assigned"
    TASK_QUEUED = "task_queued"
    BREACH_REVIEW = "breach_review"


EMAIL, SMS, APP = "email", "sms", "app"


@dataclass(frozen=True)
class Rule:
    """Who: a function of the event's facts to the users told."""

    recipients: Callable[[dict], list]
    text: str  # with %(case)s, %(letter)s, %(deadline)s
    channels: tuple[str, ...] = (APP, EMAIL, SMS)
    # The page the notice opens when no letter is attached (default: case_link).
    link: Callable | None = None


def _applicant(facts: dict) -> list:
    case = facts.get("case")
    return [case.applicant] if case is not None and case.applicant_id else []


def _assignee(facts: dict) -> list:
    return [facts["assignee"]] if facts.get("assignee") is not None else []


def _task_holders(facts: dict) -> list:
    """Everyone who may take the new task from its queue: the platform's
    officers, or the issuing department's reviewers in post (谁认定、谁修复);
    the same people a supervisor may assign it to."""
    return assignees_for(facts["case"], facts["task"])


def _breach_deciders(facts: dict) -> list:
    """The reviewers in post of the department that made the repair decision
    (it decides the breach review: guards.may_decide_breach)."""
    return list(department_reviewers(facts["department_id"]).order_by("username"))


def breach_list_link(case) -> str:
    return reverse("flows:breach_list")


def work_link(case) -> str:
    """Staff open a case at its work page (the applicant's page is theirs alone)."""
    name = "flows:objection_work" if case.kind == "objection" else "flows:work"
    return reverse(name, args=[case.pk])


NOTIFY: dict[Event, Rule] = {
    Event.FILED: Rule(_applicant, gettext_lazy("已收到您的申请 %(case)s，平台将尽快审查。")),
    Event.SUPPLEMENT: Rule(
        _applicant,
        gettext_lazy("申请 %(case)s 需要补正材料，请在 %(deadline)s 前提交（%(letter)s）。"),
    ),
    Event.ACCEPTED: Rule(_applicant, gettext_lazy("申请 %(case)s 已受理（%(letter)s）。")),
    Event.REFUSED: Rule(_applicant, gettext_lazy("申请 %(case)s 不予受理（%(letter)s）。")),
    Event.DECISION: Rule(_applicant, gettext_lazy("申请 %(case)s 已作出决定（%(letter)s）。")),
    Event.OBJECTION_RESULT: Rule(_applicant, gettext_lazy("异议 %(case)s 已办结（%(letter)s）。")),
    Event.REVOCATION_NOTICE: Rule(
        _applicant,
        gettext_lazy("%(case)s 拟撤销信用修复，您可在 %(deadline)s 前陈述申辩（%(letter)s）。"),
    ),
    Event.REVOCATION: Rule(_applicant, gettext_lazy("%(case)s 的信用修复已撤销（%(letter)s）。")),
    Event.DEADLINE: Rule(
        _applicant, gettext_lazy("申请 %(case)s 的办理期限 %(deadline)s 即将届满，请及时办理。")
    ),
    Event.TASK_ASSIGNED: Rule(
        _assignee,
        gettext_lazy("案件 %(case)s 已指派给您办理。"),
        channels=(APP, EMAIL),
        link=work_link,
    ),
    Event.TASK_QUEUED: Rule(
        _task_holders,
        gettext_lazy("新的待办：案件 %(case)s 已进入您的待办队列，请及时领取办理。"),
        channels=(APP, EMAIL),
        link=work_link,
    ),
    Event.BREACH_REVIEW: Rule(
        _breach_deciders,
        gettext_lazy("新的履约核查：已修复的案件 %(case)s 在监管期内出现新情况，请及时核查。"),
        channels=(APP, EMAIL),
        link=breach_list_link,
    ),
}

# The event a letter on a case tells its recipient of.
LETTER_EVENTS = {
    LetterKind.SUPPLEMENT: Event.SUPPLEMENT,
    LetterKind.ACCEPTANCE: Event.ACCEPTED,
    LetterKind.REFUSAL_TO_ACCEPT: Event.REFUSED,
    LetterKind.REPAIR_DECISION: Event.DECISION,
    LetterKind.REPAIR_REFUSAL: Event.DECISION,
    LetterKind.OBJECTION_RESULT: Event.OBJECTION_RESULT,
    LetterKind.REVOCATION_NOTICE: Event.REVOCATION_NOTICE,
    LetterKind.REVOCATION: Event.REVOCATION,
}


def case_link(case) -> str:
    name = "flows:objection_detail" if case.kind == "objection" else "flows:detail"
    return reverse(name, args=[case.pk])


def notify(event: Event, *, case, key: str, letter=None, deadline=None, **facts) -> None:
    """Tell the people NOTIFY names of `event`, after the caller commits.

    `key` names this occurrence (e.g. the case and the task); the same key
    notifies nobody twice."""
    rule = NOTIFY[event]
    users = [u for u in rule.recipients({"case": case, **facts}) if u is not None]
    if not users:
        return
    if letter is not None:
        link = reverse("letters:detail", args=[letter.pk])
    else:
        link = (rule.link or case_link)(case)
    with translation.override(LANGUAGE):
        text = str(rule.text) % {
            "case": case.label,
            "letter": f"{letter.get_kind_display()} {letter.number}" if letter else "",
            "deadline": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M") if deadline else "",
        }
    event_key = f"{event}:{key}"[:120]
    letter_id = letter.pk if letter is not None else None
    transaction.on_commit(
        lambda: deliver(
            event_key,
            users=users,
            text=text,
            link=link,
            channels=rule.channels,
            letter_id=letter_id,
        )
    )


def notify_letter(letter, *, case, deadline=None) -> None:
    """The notice of a letter issued on a case (its kind says the event)."""
    event = LETTER_EVENTS.get(letter.kind)
    if event is not None:
        notify(event, case=case, key=f"letter:{letter.pk}", letter=letter, deadline=deadline)


def deliver(event_key: str, *, users, text: str, link: str, channels, letter_id=None) -> int:
    """Write the notices; for each one new, send its email and SMS. Returns
    the number of notices written (0 for a repeated event)."""
    written = 0
    base = settings.SITE_URL.rstrip("/")
    for user in users:
        with transaction.atomic():
            _notice, created = Notification.objects.get_or_create(
                user=user,
                event_key=event_key,
                defaults={"kind": NotificationKind.EVENT, "title": text[:200], "link": link},
            )
            if not created:
                continue
            written += 1
            if not user.email_notifications:
                continue
            # A letter's recipient gets the letter's own email (PDF attached).
            if EMAIL in channels and user.email and letter_id is None:
                try:
                    with transaction.atomic(), translation.override(LANGUAGE):
                        message_queue(
                            key=f"notify:{event_key}:{user.pk}"[:120],
                            to=user.email,
                            subject=_("【信用修复平台】%(text)s") % {"text": text[:60]},
                            body=_(
                                "您好：\n\n%(text)s\n\n查看详情：%(link)s\n\n"
                                "本邮件由系统自动发送，请勿直接回复。"
                            )
                            % {"text": text, "link": base + link},
                            user=user,
                        )
                except IntegrityError:
                    pass  # sent before
        if SMS in channels and user.phone and user.email_notifications:
            try:
                sms_backend().send(phone=user.phone, text=text)
            except Exception:
                log.exception("notify %s: SMS to user %s failed", event_key, user.pk)
    return written


def task_queued_notify(*, case, task) -> None:
    """A human task was created (viewflow's onCreate on each task node of
    flows/flows.py, so every way work reaches a queue is covered: a filing, a
    resubmission, an acceptance routed to a department): the people who may
    take it are told, once per task."""
    notify(
        Event.TASK_QUEUED,
        case=case,
        key=f"task:{task.pk}",
        task=task.flow_task.name,
    )


# The applicant's own deadlines: a reminder before each one ends.

APPLICANT_STAGES = (Stage.SUPPLEMENT, Stage.STATEMENT)
REMIND_AHEAD = dt.timedelta(days=2)


def applicant_deadlines_notify(*, now: dt.datetime | None = None) -> int:
    """Periodic: tell applicants of their deadlines (supplement, statement)
    ending within REMIND_AHEAD. Once per clock and deadline: a deadline
    that moves is reminded of again. Returns the number of clocks reminded."""
    now = now or timezone.now()
    clocks = SlaClock.objects.filter(
        stage__in=APPLICANT_STAGES,
        state=ClockState.RUNNING,
        stopped_at=None,
        due_at__gt=now,
        due_at__lte=now + REMIND_AHEAD,
    ).select_related("case_type")
    count = 0
    for clock in clocks:
        owner = clock.case_type.get_object_for_this_type(pk=clock.case_id)
        # A statement clock runs on the breach review; its case is the repair.
        case = owner if hasattr(owner, "applicant") else getattr(owner, "case", None)
        if case is None:
            continue
        notify(
            Event.DEADLINE,
            case=case,
            key=f"clock:{clock.pk}:{clock.due_at.isoformat()}",
            deadline=clock.due_at,
        )
        count += 1
    return count
