"""The outbox: every message is a row written with the event that causes it,
sent after commit through Django's email API (django-anymail in production)
or, for an SMS, the SMS backend (letters.channels), retried with backoff,
never sent twice.

- Written in the caller's transaction (`message_for_letter`, `message_queue`,
  `messages_queue_many`): the event and its message commit or roll back
  together; the idempotency key makes a second write of the same message
  fail instead of repeating it.
- Sent after commit (`message_send`), which first claims the row with a
  conditional UPDATE (queued -> sending): two senders never both send it.
  Rows written in bulk (the SLA sweep's) get no task of their own: the
  letters sweep sends every due row within a minute.
- A failure returns the row to queued with the next attempt backed off
  (1, 2, 4 ... minutes, at most an hour), and after MAX_ATTEMPTS marks it
  failed; an error that retrying cannot cure (the ESP refused the address)
  marks it failed at once. When the result is unknown (the ESP did not answer
  a request it may have acted on, or a row is found still "sending" after
  SEND_LEASE because its worker died mid-call) the ESP may have accepted it:
  it is marked failed for an officer to check, never sent again by itself.
  The officer's `message_resend` writes a new row for it.
- A message with a letter waits until the letter is rendered, and carries
  the PDF.
- Delivery status comes back from the ESP's tracking webhook (anymail's
  `tracking` signal -> `message_track`).

A letter's PDF is made the same way after commit (`letter_render`, the
`letters.render` task): claimed with a conditional UPDATE, retried with the
same backoff, and once stored it releases the messages waiting for it. The
sweep (`letters_sweep`) does both kinds of due work.
"""

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from letters import render, signing
from letters.channels import SmsRejected, sms_backend
from letters.links import verify_url
from letters.models import (
    Channel,
    DeliveryEvent,
    Letter,
    LetterKind,
    MessageStatus,
    OutboundMessage,
    RenderStatus,
)
from repair_flow.audit import audit_record
from repair_flow.background import task_enqueue
from repair_flow.models import Role
from repair_flow.roles import has_role

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Retry a failed send or render after 1, 2, 4 ... minutes, at most an hour apart.
BACKOFF_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600
SEND_LEASE = dt.timedelta(minutes=10)
# Waiting for a letter's PDF is not an attempt.
WAIT_FOR_LETTER = dt.timedelta(minutes=1)
MESSAGE_LANGUAGE = "zh-hans"
RESEND_ROLES = (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR)
RESEND_MARK = ":resend:"


def _result_unknown() -> str:
    with translation.override(MESSAGE_LANGUAGE):
        return _("发送中断，结果未知：服务商可能已收到，为免重复不再自动重发，请核实后人工处理。")


def _dispatch(message_id: int) -> None:
    task_enqueue("letters.send", message_id)


def _send_after_commit(message_id: int) -> None:
    # robust: the event is committed by now; a broker that is down must not
    # turn it into an error for the caller. The sweep sends the row anyway.
    transaction.on_commit(lambda: _dispatch(message_id), robust=True)


def message_queue(
    *,
    key: str,
    to: str,
    subject: str,
    body: str,
    user=None,
    letter: Letter | None = None,
    channel: str = Channel.EMAIL,
) -> OutboundMessage:
    """Write one message in the caller's transaction; it is sent after commit.

    Raises IntegrityError if a message with this key exists (the caller's
    event is then being repeated, and its transaction should fail).
    """
    message = OutboundMessage.objects.create(
        channel=channel,
        idempotency_key=key,
        user=user,
        to=to,
        subject=subject[:200],
        body=body,
        letter=letter,
        next_attempt_at=timezone.now(),
    )
    # A letter's message waits for its PDF: messages_release_for_letter sends
    # it once the letter is rendered (a resend of one already rendered goes now).
    if letter is None or letter.status == RenderStatus.RENDERED:
        _send_after_commit(message.pk)
    return message


class NewMessage(NamedTuple):
    """One message to write in bulk (`messages_queue_many`)."""

    key: str
    to: str
    subject: str
    body: str
    user_id: int | None
    at: dt.datetime


def messages_queue_many(*, messages: Sequence[NewMessage]) -> int:
    """Write messages in the caller's transaction, in one INSERT per 500, for
    the letters sweep to send (within a minute). No task per message: the
    writer (the SLA sweep) stays as fast as it was.

    A key that exists already is skipped, never written twice (the writer's
    own claims make that case not arise). Every column is given a value, so
    SQLite's INSERT OR IGNORE can only skip a duplicate key, never hide a
    missing value.
    """
    if not messages:
        return 0
    OutboundMessage.objects.bulk_create(
        [
            OutboundMessage(
                channel=Channel.EMAIL,
                idempotency_key=m.key,
                user_id=m.user_id,
                to=m.to,
                subject=m.subject[:200],
                body=m.body,
                status=MessageStatus.QUEUED,
                attempts=0,
                next_attempt_at=m.at,
                created_at=m.at,
            )
            for m in messages
        ],
        batch_size=500,
        ignore_conflicts=True,
    )
    return len(messages)


def message_language(user) -> str:
    """The language of a message to `user`: the one they chose on their
    profile page; Chinese for a subject told at its own address."""
    return getattr(user, "language", "") or MESSAGE_LANGUAGE


def _letter_message(letter: Letter, *, reach_subject: bool = False) -> dict | None:
    """The email telling the recipient their letter is issued, as fields.
    With `reach_subject`, a letter without a recipient goes to its subject's
    own contact email (两书同送 to a subject with no account)."""
    user = letter.recipient
    if user is not None:
        if not user.email or not getattr(user, "email_notifications", True):
            return None
        to = user.email
    elif reach_subject and letter.subject is not None and letter.subject.contact_email:
        to = letter.subject.contact_email
    else:
        return None
    with translation.override(message_language(user)):
        kind = letter.get_kind_display()
        subject = _("【%(issuer)s】%(kind)s %(number)s") % {
            "issuer": letter.issuer,
            "kind": kind,
            "number": letter.number,
        }
        body = _(
            "您好：\n\n%(case)s的《%(kind)s》（文号 %(number)s）已出具，PDF 文件见附件，"
            "也可以登录平台在“我的文书”中查看和下载。\n\n"
            "文书真伪可在 %(verify)s 核验（核验码 %(code)s）。\n\n"
            "本邮件由系统自动发送，请勿直接回复。\n%(issuer)s"
        ) % {
            "case": letter.case_label or (letter.subject.name if letter.subject else ""),
            "kind": kind,
            "number": letter.number,
            "verify": verify_url(letter),
            "code": letter.verification_code,
            "issuer": letter.issuer,
        }
    return {
        "key": f"letter:{letter.pk}:email",
        "to": to,
        "subject": subject,
        "body": body,
        "user": user,
        "letter": letter,
    }


def message_for_letter(*, letter: Letter) -> OutboundMessage | None:
    """The email telling the recipient their letter is issued, PDF attached.
    None when the recipient has no email address or has turned email off in
    their profile (the portal still shows it)."""
    fields = _letter_message(letter)
    return message_queue(**fields) if fields else None


def _letter_sms(letter: Letter) -> dict | None:
    """The text telling the recipient (or, with none, the subject at its own
    number) that the letter is issued, with the link to its verification page."""
    user = letter.recipient
    if user is not None:
        if not user.phone or not getattr(user, "email_notifications", True):
            return None
        to = user.phone
    elif letter.subject is not None and letter.subject.contact_phone:
        to = letter.subject.contact_phone
    else:
        return None
    with translation.override(message_language(user)):
        kind = letter.get_kind_display()
        body = _(
            "【%(issuer)s】%(name)s：您的《%(kind)s》（文号 %(number)s）已出具，请查看：%(link)s"
        ) % {
            "issuer": letter.issuer,
            "name": letter.subject.name if letter.subject else "",
            "kind": kind,
            "number": letter.number,
            "link": verify_url(letter),
        }
    return {
        "key": f"letter:{letter.pk}:sms",
        "to": to,
        "subject": f"{kind} {letter.number}",
        "body": body,
        "user": user,
    }


def messages_for_bulk_letter(*, letter: Letter) -> int:
    """At render, the messages of a letter issued in bulk (an import's
    credit-repair notices, whose issuing transaction writes none): an email
    with the PDF and a text with the link, to the recipient or, for a letter
    without one, to the subject's own contact (两书同送). The keys
    (letter:<pk>:email|sms) keep each to one. Returns the number written."""
    written = 0
    for channel, fields in (
        (Channel.EMAIL, _letter_message(letter, reach_subject=True)),
        (Channel.SMS, _letter_sms(letter)),
    ):
        if fields is not None:
            fields = {**fields, "letter": letter}
            message_queue(channel=channel, **fields)
            written += 1
    return written


def messages_release_for_letter(*, letter_id: int) -> int:
    """After a letter's PDF is stored: send its waiting messages now."""
    ids = list(
        OutboundMessage.objects.filter(
            letter_id=letter_id, status=MessageStatus.QUEUED
        ).values_list("pk", flat=True)
    )
    if ids:
        OutboundMessage.objects.filter(pk__in=ids, status=MessageStatus.QUEUED).update(
            next_attempt_at=timezone.now()
        )
    for pk in ids:
        _send_after_commit(pk)
    return len(ids)


def message_resend(*, message: OutboundMessage, actor) -> OutboundMessage:
    """An officer's "send again" for a failed message, after checking it.

    A new row (key: the first row's key + ":resend:N"), so the failed row
    keeps its history and the idempotency keys still name one send each. It
    goes to the user's current address (the officer may have corrected it).
    Only the latest row of a message can be resent, once: a second click
    is refused, not sent twice.
    """
    if not has_role(actor, *RESEND_ROLES):
        raise PermissionDenied(_("只有平台工作人员可以重发消息。"))
    base = message.idempotency_key.split(RESEND_MARK)[0]
    with transaction.atomic():
        # Two officers resending at once queue here; the second sees the first's row.
        old = (
            OutboundMessage.objects.select_for_update(of=("self",))
            .select_related("user", "letter")
            .get(pk=message.pk)
        )
        if old.status != MessageStatus.FAILED:
            raise ValidationError(_("只有发送失败的消息可以重发。"))
        resends = OutboundMessage.objects.filter(idempotency_key__startswith=base + RESEND_MARK)
        if resends.filter(pk__gt=old.pk).exists():
            raise ValidationError(_("这条消息已经重发过，请查看最新的一条。"))
        key = f"{base}{RESEND_MARK}{resends.count() + 1}"
        current = (
            (old.user.phone if old.channel == Channel.SMS else old.user.email) if old.user else ""
        )
        to = current or old.to
        try:
            with transaction.atomic():
                new = message_queue(
                    key=key,
                    to=to,
                    subject=old.subject,
                    body=old.body,
                    user=old.user,
                    letter=old.letter,
                    channel=old.channel,
                )
        except IntegrityError:
            raise ValidationError(_("这条消息已经重发过，请查看最新的一条。")) from None
        audit_record(
            actor=actor,
            action="message.resend",
            object_type="letters.OutboundMessage",
            object_id=new.pk,
            summary={"resend_of": old.pk, "key": key},
        )
    return new


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(
        seconds=min(BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    )


def _email(message: OutboundMessage) -> EmailMessage:
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
    )
    # anymail passes metadata to the ESP and returns it in tracking events;
    # plain Django backends ignore the attribute.
    email.metadata = {"outbox_id": str(message.pk), "idempotency_key": message.idempotency_key}
    if message.letter_id:
        letter = message.letter
        with letter.file.open("rb") as f:
            email.attach(f"{letter.number}.pdf", f.read(), "application/pdf")
    return email


def _deliver(message: OutboundMessage) -> str:
    """Hand the message to its channel's provider; the provider's id for it."""
    if message.channel == Channel.SMS:
        provider_id = sms_backend().send(phone=message.to, text=message.body)
        return "" if provider_id is None else str(provider_id)[:200]
    email = _email(message)
    email.send(fail_silently=False)
    return _esp_message_id(email)


def _esp_message_id(email: EmailMessage) -> str:
    status = getattr(email, "anymail_status", None)
    esp_id = getattr(status, "message_id", None)
    if esp_id is None:  # not `or ""`: an ESP id may be falsy (anymail's test backend counts from 0)
        return ""
    if isinstance(esp_id, set):  # one id per recipient; a message here has one recipient
        esp_id = ",".join(sorted(str(i) for i in esp_id))
    return str(esp_id)[:200]


def _outcome_unknown(exc: Exception) -> bool:
    """The request reached the ESP and no answer came: it may have sent it."""
    import requests

    return isinstance(exc, requests.exceptions.ReadTimeout)


@dataclass(frozen=True)
class SendResult:
    message_id: int
    status: str
    error: str = ""
    sent: bool = False  # this call sent it (not another sender, not earlier)


def message_send(*, message_id: int, now: dt.datetime | None = None) -> SendResult:
    """Send one message if it is due and nobody else is sending it."""
    now = now or timezone.now()
    queued = OutboundMessage.objects.filter(pk=message_id, status=MessageStatus.QUEUED)
    # EXISTS, not a join: an UPDATE through a join becomes "WHERE id IN
    # (SELECT ...)", and PostgreSQL would not re-check the status of a row
    # another sender changed meanwhile; the claim must stay one plain UPDATE.
    rendered = Exists(Letter.objects.filter(pk=OuterRef("letter_id"), status=RenderStatus.RENDERED))
    waiting = queued.filter(letter__isnull=False).exclude(rendered)
    if waiting.update(next_attempt_at=now + WAIT_FOR_LETTER):
        return SendResult(message_id, MessageStatus.QUEUED, "waiting for the letter's PDF")
    # The wall clock, not `now`: a sweep's `now` is when it started, and a
    # claim must not look older than it is to the next sweep's lease check.
    claimed_at = max(now, timezone.now())
    claimed = queued.filter(Q(letter__isnull=True) | rendered, next_attempt_at__lte=now).update(
        status=MessageStatus.SENDING, claimed_at=claimed_at, attempts=F("attempts") + 1
    )
    if not claimed:
        status = (
            OutboundMessage.objects.filter(pk=message_id).values_list("status", flat=True).first()
        )
        return SendResult(message_id, status or "missing")
    message = OutboundMessage.objects.select_related("letter").get(pk=message_id)
    mine = OutboundMessage.objects.filter(pk=message_id, attempts=message.attempts)
    try:
        provider_id = _deliver(message)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning("outbox %s: send failed (attempt %s): %s", message_id, message.attempts, error)
        if _outcome_unknown(exc):
            status, error = MessageStatus.FAILED, f"{_result_unknown()}\n{error}"
        elif isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress | SmsRejected):
            status = MessageStatus.FAILED  # the same address would be refused again
        elif message.attempts >= MAX_ATTEMPTS:
            status = MessageStatus.FAILED
        else:
            status = MessageStatus.QUEUED
        # Only from "sending": if the lease ran out meanwhile the row is failed
        # and may have been resent; queueing it again could send it twice.
        mine.filter(status=MessageStatus.SENDING).update(
            status=status,
            next_attempt_at=max(now, timezone.now()) + _backoff(message.attempts),
            last_error=error,
            claimed_at=None,
        )
        return SendResult(message_id, status, error)
    # From "failed" too: a slow send whose lease ran out was marked "result
    # unknown"; now the result is known, and the ESP id links its webhooks.
    mine.filter(status__in=[MessageStatus.SENDING, MessageStatus.FAILED]).update(
        status=MessageStatus.SENT,
        sent_at=timezone.now(),
        esp_message_id=provider_id,
        last_error="",
        claimed_at=None,
    )
    return SendResult(message_id, MessageStatus.SENT, sent=True)


# Rendering letters


@dataclass(frozen=True)
class RenderResult:
    letter_id: int
    rendered: bool
    error: str = ""


def render_lease() -> dt.timedelta:
    """How long a claimed render may run before the sweep takes it over: a
    render claimed this long ago without finishing was lost with its worker
    (settings.LETTER_RENDER_LEASE_SECONDS). Short, so that a crash delays the
    letter by about a minute (the lease plus the next sweep), not ten. A
    render that outlives it only does the work twice: the bytes stored first
    are kept, the other worker finds the letter rendered and stores nothing."""
    return dt.timedelta(seconds=settings.LETTER_RENDER_LEASE_SECONDS)


def letter_render(*, letter_id: int, now: dt.datetime | None = None) -> RenderResult:
    """Render one letter if it still needs it. Safe to call twice at once.

    The claim (pending or failed -> rendering) is a conditional UPDATE; the
    loser does nothing. A failure records the error and when to try again.
    The bytes stored first are the letter for ever (never re-rendered); once
    they are stored, the messages waiting for the letter are sent.
    """
    now = now or timezone.now()
    claimable = Q(status__in=[RenderStatus.PENDING, RenderStatus.FAILED]) | Q(
        status=RenderStatus.RENDERING, claimed_at__lt=now - render_lease()
    )
    claimed = (
        Letter.objects.filter(claimable, pk=letter_id)
        .exclude(status=RenderStatus.RENDERED)
        .update(status=RenderStatus.RENDERING, claimed_at=now)
    )
    if not claimed:
        return RenderResult(letter_id, rendered=False)
    letter = Letter.objects.select_related("record__department", "subject").get(pk=letter_id)
    try:
        pdf, pages = render.render_letter_pdf(letter)
        # Signed before it is stored, or not stored at all: a letter without
        # its issuer's key waits (the error says which key), never goes unsigned.
        signed = signing.pdf_sign(pdf, letter=letter)
    except Exception as exc:
        log.exception("letter %s: render failed", letter_id)
        attempts = letter.attempts + 1
        Letter.objects.filter(pk=letter_id, status=RenderStatus.RENDERING).update(
            status=RenderStatus.FAILED,
            attempts=attempts,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=now + _backoff(attempts),
            claimed_at=None,
        )
        return RenderResult(letter_id, rendered=False, error=str(exc))
    pdf = signed.pdf
    digest = hashlib.sha256(pdf).hexdigest()
    name = f"{letter.kind}-{letter.pk}-{digest[:12]}.pdf"
    with transaction.atomic():
        letter = Letter.objects.select_for_update().get(pk=letter_id)
        if letter.status == RenderStatus.RENDERED:  # another worker's lease ran out and it won
            return RenderResult(letter_id, rendered=False)
        if letter.number and not letter.messages.exists():
            # A letter issued in bulk (an import's notices) has its messages
            # queued here, once its PDF exists, not in the issuing
            # transaction; the keys (letter:<pk>:email|sms) keep each to one.
            if letter.kind == LetterKind.REPAIR_INFO:
                messages_for_bulk_letter(letter=letter)
            elif letter.recipient_id:
                message_for_letter(letter=letter)
        letter.file.save(name, ContentFile(pdf), save=False)
        letter.sha256 = digest
        letter.signer_sha256 = signed.certificate_sha256
        letter.size = len(pdf)
        letter.pages = pages
        letter.status = RenderStatus.RENDERED
        letter.rendered_at = timezone.now()
        letter.attempts += 1
        letter.last_error = ""
        letter.claimed_at = None
        letter.next_attempt_at = None
        letter.save(
            update_fields=[
                "file", "sha256", "signer_sha256", "size", "pages", "status", "rendered_at",
                "attempts", "last_error", "claimed_at", "next_attempt_at",
            ]
        )  # fmt: skip
        transaction.on_commit(lambda: messages_release_for_letter(letter_id=letter_id))
    return RenderResult(letter_id, rendered=True)


def letters_render_due(*, now: dt.datetime | None = None, limit: int = 100) -> int:
    """Render letters still pending or failed whose time has come (the
    sweep's part; the after-commit task does the first attempt)."""
    now = now or timezone.now()
    due = (
        Letter.objects.exclude(status=RenderStatus.RENDERED)
        .filter(next_attempt_at__lte=now)
        .filter(
            Q(status__in=[RenderStatus.PENDING, RenderStatus.FAILED])
            | Q(claimed_at__lt=now - render_lease())
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(letter_render(letter_id=pk, now=now).rendered for pk in list(due))


# The sweep


@dataclass
class OutboxSweep:
    rendered: int = 0
    sent: int = 0
    retried: int = 0
    abandoned: int = 0

    def __str__(self) -> str:
        return (
            f"letters rendered {self.rendered}, messages sent {self.sent}, "
            f"still queued {self.retried}, marked unknown {self.abandoned}"
        )


def letters_sweep(*, actor="scheduler", now: dt.datetime | None = None, limit: int = 200):
    """Periodic: render due letters, give up on lost sends, send due messages."""
    now = now or timezone.now()
    result = OutboxSweep()
    result.rendered = letters_render_due(now=now, limit=limit)
    result.abandoned = OutboundMessage.objects.filter(
        status=MessageStatus.SENDING, claimed_at__lt=now - SEND_LEASE
    ).update(status=MessageStatus.FAILED, last_error=_result_unknown())
    due = list(
        OutboundMessage.objects.filter(status=MessageStatus.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        outcome = message_send(message_id=pk, now=now)
        if outcome.sent:
            result.sent += 1
        elif outcome.status == MessageStatus.QUEUED:
            result.retried += 1
    return result


# Delivery tracking (anymail's normalised events)

_STATUS_FOR_EVENT = {
    "delivered": MessageStatus.DELIVERED,
    "bounced": MessageStatus.BOUNCED,
    "rejected": MessageStatus.BOUNCED,
    "failed": MessageStatus.FAILED,
}
# A later event never takes a message back to an earlier state.
_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.BOUNCED: 4,
    MessageStatus.FAILED: 4,
}


def message_track(*, esp_message_id: str, event_type: str, event_id: str = "", at=None,
                  description: str = "") -> OutboundMessage | None:  # fmt: skip
    """Record one tracking event; move the message's status forward.

    ESPs deliver webhooks at least once. A repeated event is recorded once:
    by its ESP event id where it has one (the unique constraint), else by its
    type and time (Postmark's Delivery events carry no id), checked while the
    message row is locked, so two deliveries of one event cannot both pass.
    """
    if not esp_message_id:
        return None
    event_type = event_type[:30]
    event_id = (event_id or "")[:200]
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update()
            .filter(esp_message_id=esp_message_id)
            .first()
        )
        if message is None:
            log.info("outbox: tracking event %s for unknown message %s", event_type, esp_message_id)
            return None
        if (
            not event_id
            and message.events.filter(event_id="", event_type=event_type, occurred_at=at).exists()
        ):
            return message
        try:
            with transaction.atomic():
                DeliveryEvent.objects.create(
                    message=message,
                    event_type=event_type,
                    event_id=event_id,
                    occurred_at=at,
                    description=(description or "")[:2000],
                )
        except IntegrityError:
            return message  # the ESP repeated an event we have
        new = _STATUS_FOR_EVENT.get(event_type)
        if new and _RANK[new] > _RANK[MessageStatus(message.status)]:
            message.status = new
            message.save(update_fields=["status", "updated_at"])
    return message
