"""Who is told of what: the one table of event notices.

`NOTIFY` declares, per event, who is told (a rule on the case), the
sentence they read, and the channels. `notify` is called by the services
inside their transaction and does its work after commit: an in-app notice
on the 通知 page (sla.models.Notification, unique per event key and user, so
a repeated event notifies once), and for a person who keeps email/SMS on,
an email (with the letter's link; the letter's own email carries the PDF,
letters.outbox.message_for_letter) and an SMS to their phone, both outbox
rows written with the notice. A notice stores the event's message id and
parameters; its sentence is written in the reader's language when read
(sla.notices).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from flows.holders import assignees_for, department_reviewers
from letters.models import Channel, Letter, LetterKind
from letters.outbox import message_queue
from sla.models import ClockState, Notification, NotificationKind, SlaClock, Stage
from sla.notices import notice_params, notice_text

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
    """Who: a function of the event's facts to the users told. What they
    read is the event's message in sla.notices (its id is the event's value),
    written in each reader's language when read."""

    recipients: Callable[[dict], list]
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
    Event.FILED: Rule(_applicant),
    Event.SUPPLEMENT: Rule(_applicant),
    Event.ACCEPTED: Rule(_applicant),
    Event.REFUSED: Rule(_applicant),
    Event.DECISION: Rule(_applicant),
    Event.OBJECTION_RESULT: Rule(_applicant),
    Event.REVOCATION_NOTICE: Rule(_applicant),
    Event.REVOCATION: Rule(_applicant),
    Event.DEADLINE: Rule(_applicant),
    # Staff are told in the app and by email, not texted, and open the work page.
    Event.TASK_ASSIGNED: Rule(_assignee, channels=(APP, EMAIL), link=work_link),
    Event.TASK_QUEUED: Rule(_task_holders, channels=(APP, EMAIL), link=work_link),
    Event.BREACH_REVIEW: Rule(_breach_deciders, channels=(APP, EMAIL), link=breach_list_link),
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
    params = notice_params(case_label=case.label, letter=letter, deadline=deadline)
    event_key = f"{event}:{key}"[:120]
    letter_id = letter.pk if letter is not None else None
    transaction.on_commit(
        lambda: deliver(
            event_key,
            users=users,
            message=str(event),
            params=params,
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


def deliver(
    event_key: str, *, users, message: str, params: dict, link: str, channels, letter_id=None
) -> int:
    """Write the notices and, with each one new, in the same transaction, its
    email and SMS as outbox rows (sent after commit by the letters sender
    and sweep, retried with backoff, never twice: letters.outbox). Returns
    the number of notices written (0 for a repeated event)."""
    written = 0
    base = settings.SITE_URL.rstrip("/")
    # An SMS about a letter is listed with the letter's messages, where
    # officers see a failure and resend it, as they do the letter's email.
    letter = Letter.objects.only("pk", "status").get(pk=letter_id) if letter_id else None
    for user in users:
        with transaction.atomic():
            _notice, created = Notification.objects.get_or_create(
                user=user,
                event_key=event_key,
                defaults={
                    "kind": NotificationKind.EVENT,
                    "message": message,
                    "params": params,
                    "link": link,
                },
            )
            if not created:
                continue
            written += 1
            if not user.email_notifications:
                continue
            # Mail and texts in the language the person chose on their
            # profile page (the 通知 page follows the reader's switcher).
            with translation.override(user.language or LANGUAGE):
                text = notice_text(message, params) or ""
                # A letter's recipient gets the letter's own email (PDF attached).
                if EMAIL in channels and user.email and letter_id is None:
                    _queue_once(
                        key=f"notify:{event_key}:{user.pk}",
                        to=user.email,
                        subject=_("【信用修复平台】%(text)s") % {"text": text[:60]},
                        body=_(
                            "您好：\n\n%(text)s\n\n查看详情：%(link)s\n\n"
                            "本邮件由系统自动发送，请勿直接回复。"
                        )
                        % {"text": text, "link": base + link},
                        user=user,
                    )
                if SMS in channels and user.phone:
                    _queue_once(
                        key=f"sms:{event_key}:{user.pk}",
                        to=user.phone,
                        subject=text[:60],
                        body=_("%(text)s 详情：%(link)s") % {"text": text, "link": base + link},
                        user=user,
                        letter=letter,
                        channel=Channel.SMS,
                    )
    return written


def _queue_once(*, key: str, **fields) -> None:
    try:
        with transaction.atomic():
            message_queue(key=key[:120], **fields)
    except IntegrityError:
        pass  # written before (the notice was deleted and the event repeated)


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
