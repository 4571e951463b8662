"""The outbox: a message is written with its event, sent after commit (a
letter's only once its PDF exists, attached), retried with backoff, never
sent twice; a send whose result is unknown is left to an officer, who resends
it as a new message. The SLA sweep writes its emails here too."""

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from anymail.exceptions import AnymailRecipientsRefused
from django.conf import settings as django_settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from letters.kinds import addressee_facts, record_facts
from letters.models import Letter, MessageStatus, OutboundMessage, RenderStatus
from letters.outbox import (
    MAX_ATTEMPTS,
    SEND_LEASE,
    letters_sweep,
    message_for_letter,
    message_queue,
    message_resend,
    message_send,
)
from letters.services import letter_issue
from letters.tasks import send_message as send_task
from letters.tasks import sweep as sweep_task
from repair_flow import scheduler
from repair_flow.audit import audit_record
from repair_flow.models import AuditEvent, Role
from sla.clocks import clock_start
from sla.models import Notification, SlaClock
from sla.notifications import NewNotification, notifications_create
from sla.sweep import clocks_sweep
from tests.conftest import make_record, make_user
from tests.letters.backends import FlakyBackend
from tests.repair_flow.test_english import compiled_catalogue  # noqa: F401 - English mail

TZ = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
SECOND = dt.timedelta(seconds=1)
MINUTE = dt.timedelta(minutes=1)
ANYMAIL_TEST_BACKEND = "anymail.backends.test.EmailBackend"
RESULT_UNKNOWN = "发送中断，结果未知"

pytestmark = pytest.mark.django_db

# The SLA clock of tests/sla/test_sweep.py: department review started Monday
# 2 Nov 10:00, first warning Thu 5 Nov 13:00, second Fri 6 Nov 15:00, due
# Mon 9 Nov 17:00.
STARTED = dt.datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
WARN1 = dt.datetime(2026, 11, 5, 13, 0, tzinfo=TZ)
DUE = dt.datetime(2026, 11, 9, 17, 0, tzinfo=TZ)


class WorkerKilled(BaseException):
    """The worker process dies while the ESP holds the message."""


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SITE_URL = "https://credit.jinan.example"


@pytest.fixture
def esp(settings):
    """The ESP: FlakyBackend, delivering to mail.outbox unless told to fail."""
    settings.EMAIL_BACKEND = "tests.letters.backends.FlakyBackend"
    FlakyBackend.reset()
    yield FlakyBackend
    FlakyBackend.reset()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a call in a transaction, then its after-commit work (render, send)."""

    def run(fn, /, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            return fn(*args, **kwargs)

    return run


def queue(key="test:1:email", to="liuyang@example.com", **extra) -> OutboundMessage:
    return message_queue(key=key, to=to, subject="测试", body="正文", **extra)


def acceptance(record, officer, recipient):
    return letter_issue(
        kind="acceptance",
        facts={
            "addressee": addressee_facts(record.subject),
            "record": record_facts(record),
            "received_on": "2026-11-20",
        },
        actor=officer,
        record=record,
        recipient=recipient,
        at=T0,
    )


def state(message: OutboundMessage) -> tuple:
    message.refresh_from_db()
    return message.status, message.attempts, message.next_attempt_at


# Letters


def test_a_letter_is_emailed_once_its_pdf_exists_with_the_pdf_attached(
    record, officer, applicant, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = ANYMAIL_TEST_BACKEND
    applicant.email = "zhangwei@example.com"
    applicant.save(update_fields=["email"])
    with time_machine.travel(T0, tick=False):
        with django_capture_on_commit_callbacks() as after_commit:
            letter = acceptance(record, officer, applicant)
        message = OutboundMessage.objects.get()
        assert (message.letter, message.user, message.to) == (letter, applicant, applicant.email)
        assert message.idempotency_key == f"letter:{letter.pk}:email"
        assert message.status == MessageStatus.QUEUED

        # Committed, not yet rendered: a sender that tries now sends nothing.
        assert message_send(message_id=message.pk).error == "waiting for the letter's PDF"
        assert state(message) == (MessageStatus.QUEUED, 0, T0 + MINUTE)
        assert mail.outbox == []

        # The after-commit work: render, then release the message.
        with django_capture_on_commit_callbacks(execute=True):
            for callback in after_commit:
                callback()
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["zhangwei@example.com"]
    assert email.subject == f"【{letter.issuer}】受理通知书 {letter.number}"
    assert letter.verification_code in email.body
    [(filename, content, mimetype)] = email.attachments
    assert (filename, mimetype) == (f"{letter.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    assert hashlib.sha256(content).hexdigest() == letter.sha256
    assert email.anymail_test_params["metadata"] == {
        "outbox_id": str(message.pk),
        "idempotency_key": message.idempotency_key,
    }
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 1, "")
    # anymail's test backend numbers messages from 0: the id "0" is kept, not dropped.
    assert message.esp_message_id == "0"

    assert message_send(message_id=message.pk).sent is False
    assert letters_sweep(now=T0 + dt.timedelta(days=1)).sent == 0
    assert len(mail.outbox) == 1


def test_a_recipient_without_an_email_address_gets_no_message(
    record, officer, applicant, committed, esp
):
    assert applicant.email == ""
    letter = committed(acceptance, record, officer, applicant)
    unaddressed = committed(acceptance, record, officer, None)
    for issued in (letter, unaddressed):
        issued.refresh_from_db()
        assert issued.status == RenderStatus.RENDERED
    assert not OutboundMessage.objects.exists()
    assert esp.calls == 0
    assert mail.outbox == []


def test_a_recipient_who_turned_email_off_gets_no_letter_email(
    record, officer, applicant, committed, esp
):
    applicant.email = "zhangwei@example.com"
    applicant.email_notifications = False
    applicant.save()
    letter = committed(acceptance, record, officer, applicant)
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED
    assert not OutboundMessage.objects.exists()
    assert mail.outbox == []


def test_the_same_key_twice_is_refused_and_rolls_the_event_back(
    record, officer, applicant, committed, esp
):
    applicant.email = "zhangwei@example.com"
    applicant.save(update_fields=["email"])
    letter = committed(acceptance, record, officer, applicant)
    with pytest.raises(IntegrityError), transaction.atomic():
        message_for_letter(letter=letter)
    committed(queue, key="case:1:notice")
    with pytest.raises(IntegrityError), transaction.atomic():
        audit_record(actor=officer, action="case.notice", object_type="case", object_id=1)
        queue(key="case:1:notice")
    assert not AuditEvent.objects.filter(action="case.notice").exists()
    assert sorted(OutboundMessage.objects.values_list("idempotency_key", "status")) == [
        ("case:1:notice", "sent"),
        (f"letter:{letter.pk}:email", "sent"),
    ]
    assert esp.calls == 2


# Failures, backoff, the lease


def test_an_esp_failure_is_retried_with_backoff_and_the_message_sent_once(committed, esp):
    esp.reset(errors=[ConnectionError("ESP down")] * 2)
    with time_machine.travel(T0, tick=False) as clock:
        message = committed(queue)
        assert state(message) == (MessageStatus.QUEUED, 1, T0 + MINUTE)
        assert message.last_error == "ConnectionError: ESP down"

        clock.move_to(T0 + MINUTE - SECOND)
        assert letters_sweep().sent == 0
        assert esp.calls == 1
        clock.move_to(T0 + MINUTE)
        assert str(letters_sweep()) == (
            "letters rendered 0, messages sent 0, still queued 1, marked unknown 0"
        )
        assert state(message) == (MessageStatus.QUEUED, 2, T0 + 3 * MINUTE)

        clock.move_to(T0 + 3 * MINUTE - SECOND)
        assert letters_sweep().sent == 0
        assert esp.calls == 2
        clock.move_to(T0 + 3 * MINUTE)
        assert letters_sweep().sent == 1
        message.refresh_from_db()
        assert (message.status, message.attempts, message.last_error) == ("sent", 3, "")
        assert message.sent_at == T0 + 3 * MINUTE

        clock.move_to(T0 + dt.timedelta(days=1))
        assert letters_sweep().sent == 0
    assert esp.calls == 3
    assert [m.subject for m in mail.outbox] == ["测试"]


def test_after_max_attempts_the_message_is_failed_and_never_sent_again(committed, esp):
    esp.reset(errors=[ConnectionError("ESP down")] * (MAX_ATTEMPTS + 5))
    waits = []
    with time_machine.travel(T0, tick=False) as clock:
        message = committed(queue)
        message.refresh_from_db()
        while message.status == MessageStatus.QUEUED:
            waits.append(message.next_attempt_at - timezone.now())
            clock.move_to(message.next_attempt_at - SECOND)
            letters_sweep()
            assert esp.calls == message.attempts
            clock.move_to(message.next_attempt_at)
            letters_sweep()
            message.refresh_from_db()
        # 1, 2, 4 ... minutes, at most an hour.
        assert [w.total_seconds() / 60 for w in waits] == [1, 2, 4, 8, 16, 32, 60]
        assert (message.status, message.attempts) == (MessageStatus.FAILED, MAX_ATTEMPTS)
        assert message.last_error == "ConnectionError: ESP down"
        clock.move_to(T0 + dt.timedelta(days=7))
        letters_sweep()
        assert message_send(message_id=message.pk).sent is False
    assert esp.calls == MAX_ATTEMPTS
    assert mail.outbox == []


def test_an_address_the_esp_refuses_fails_at_once(committed, esp):
    esp.reset(errors=[AnymailRecipientsRefused("inactive recipient")])
    with time_machine.travel(T0, tick=False) as clock:
        message = committed(queue)
        assert state(message)[:2] == (MessageStatus.FAILED, 1)
        clock.move_to(T0 + dt.timedelta(days=1))
        letters_sweep()
    assert esp.calls == 1


def test_an_esp_that_does_not_answer_leaves_the_result_unknown_and_is_not_retried(committed, esp):
    esp.reset(errors=[requests.exceptions.ReadTimeout("read timed out")])
    with time_machine.travel(T0, tick=False) as clock:
        message = committed(queue)
        assert state(message)[:2] == (MessageStatus.FAILED, 1)
        assert message.last_error.startswith(RESULT_UNKNOWN)
        clock.move_to(T0 + dt.timedelta(days=1))
        letters_sweep()
    assert esp.calls == 1
    assert mail.outbox == []


def test_a_send_abandoned_mid_call_is_marked_unknown_not_resent_and_an_officer_resends_it(
    committed, esp, officer, applicant, django_capture_on_commit_callbacks
):
    esp.reset(errors=[WorkerKilled()])
    user = make_user("wangfang", Role.APPLICANT, email="wangfang@example.com")
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks():  # the task is lost with the broker
            message = queue(to=user.email, user=user)
        with pytest.raises(WorkerKilled):
            message_send(message_id=message.pk)
        assert state(message)[:2] == (MessageStatus.SENDING, 1)

        clock.move_to(T0 + SEND_LEASE)
        assert letters_sweep().abandoned == 0
        assert message_send(message_id=message.pk).status == MessageStatus.SENDING
        clock.move_to(T0 + SEND_LEASE + SECOND)
        assert str(letters_sweep()) == (
            "letters rendered 0, messages sent 0, still queued 0, marked unknown 1"
        )
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED
        assert message.last_error.startswith(RESULT_UNKNOWN)
        clock.move_to(T0 + dt.timedelta(days=1))
        letters_sweep()
        assert esp.calls == 1
        assert mail.outbox == []

        # The officer checks with the recipient, who has a new address.
        user.email = "wangfang@jinan.example"
        user.save(update_fields=["email"])
        with pytest.raises(PermissionDenied):
            message_resend(message=message, actor=applicant)
        resent = committed(message_resend, message=message, actor=officer)
    assert resent.pk != message.pk
    assert resent.idempotency_key == "test:1:email:resend:1"
    resent.refresh_from_db()
    assert (resent.status, resent.attempts, resent.to) == ("sent", 1, "wangfang@jinan.example")
    assert [(m.to, m.subject) for m in mail.outbox] == [(["wangfang@jinan.example"], "测试")]
    event = AuditEvent.objects.get(action="message.resend")
    assert (event.actor_label, event.object_id) == ("officer", str(resent.pk))
    assert event.summary == {"resend_of": message.pk, "key": "test:1:email:resend:1"}
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED  # its history stays as it was

    # A second click is refused; so is resending a message that was sent.
    with pytest.raises(ValidationError, match="已经重发过"):
        message_resend(message=message, actor=officer)
    with pytest.raises(ValidationError, match="只有发送失败的消息"):
        message_resend(message=resent, actor=officer)
    assert OutboundMessage.objects.count() == 2
    assert esp.calls == 2


def test_a_resent_message_that_fails_again_is_resent_under_the_next_number(committed, esp, officer):
    esp.reset(errors=[AnymailRecipientsRefused("bounced before")] * 2)
    first = committed(queue)
    second = committed(message_resend, message=first, actor=officer)
    second.refresh_from_db()
    assert second.status == MessageStatus.FAILED
    third = committed(message_resend, message=second, actor=officer)
    assert third.idempotency_key == "test:1:email:resend:2"
    third.refresh_from_db()
    assert third.status == MessageStatus.SENT
    with pytest.raises(ValidationError, match="已经重发过"):
        message_resend(message=first, actor=officer)
    assert esp.calls == 3
    assert len(mail.outbox) == 1


def test_a_letters_failed_email_is_resent_with_its_pdf(record, officer, applicant, committed, esp):
    applicant.email = "typo@example"
    applicant.save(update_fields=["email"])
    esp.reset(errors=[AnymailRecipientsRefused("invalid address")])
    letter = committed(acceptance, record, officer, applicant)
    message = OutboundMessage.objects.get(letter=letter)
    assert message.status == MessageStatus.FAILED
    applicant.email = "zhangwei@example.com"
    applicant.save(update_fields=["email"])
    resent = committed(message_resend, message=message, actor=officer)
    resent.refresh_from_db()
    assert (resent.status, resent.letter_id) == (MessageStatus.SENT, letter.pk)
    [email] = mail.outbox
    assert email.to == ["zhangwei@example.com"]
    letter.refresh_from_db()
    assert hashlib.sha256(email.attachments[0][1]).hexdigest() == letter.sha256


def test_a_slow_send_that_outlives_its_lease_is_recorded_as_sent(committed, esp):
    """The sweep marks the row unknown while the ESP still holds it; when the
    ESP then accepts it, the row says so (and is not sent again)."""
    esp.reset(errors=[lambda: letters_sweep(now=T0 + SEND_LEASE + SECOND)])
    with time_machine.travel(T0, tick=False):
        message = committed(queue)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("sent", 1, "")
    assert esp.calls == 1
    assert len(mail.outbox) == 1


def test_a_broker_that_is_down_does_not_fail_the_event_and_the_sweep_sends_it(
    committed, esp, monkeypatch
):
    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(send_task, "delay", broker_down)
    # A broker is configured (tasks are not run eagerly here), and it is down.
    monkeypatch.setitem(send_task.app.conf, "task_always_eager", False)
    with time_machine.travel(T0, tick=False) as clock:
        message = committed(queue)  # the event commits; its caller sees no error
        assert state(message) == (MessageStatus.QUEUED, 0, T0)
        clock.move_to(T0 + MINUTE)
        assert letters_sweep().sent == 1
    assert esp.calls == 1


def test_a_claim_made_late_in_a_long_sweep_is_not_taken_for_a_lost_one(
    esp, django_capture_on_commit_callbacks
):
    """A sweep that started long ago claims with the time of the claim, so the
    next sweep does not find it older than the lease while it is sending."""
    abandoned = []
    esp.reset(errors=[lambda: abandoned.append(letters_sweep().abandoned)])
    with time_machine.travel(T0, tick=False) as clock:
        with django_capture_on_commit_callbacks():  # its task is lost
            message = queue()
        clock.move_to(T0 + SEND_LEASE + MINUTE)
        assert message_send(message_id=message.pk, now=T0).sent  # a sweep begun at T0
    assert abandoned == [0]
    message.refresh_from_db()
    assert (message.status, message.last_error) == (MessageStatus.SENT, "")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_call_the_esp_once_per_message(esp):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    count = 200
    OutboundMessage.objects.bulk_create(
        OutboundMessage(
            idempotency_key=f"race:{n}",
            to=f"user{n}@example.com",
            subject=f"消息 {n}",
            body="正文",
            next_attempt_at=T0,
        )
        for n in range(count)
    )
    one = OutboundMessage.objects.order_by("id").first()
    results, errors = [], []
    barrier = threading.Barrier(2)

    def sender():
        try:
            barrier.wait()
            # Both go for the same message first, then sweep the same rows in the same order.
            results.append(message_send(message_id=one.pk, now=T0 + MINUTE).sent)
            results.append(letters_sweep(now=T0 + MINUTE).sent)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(results) == count
    assert esp.calls == count
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        f"user{n}@example.com" for n in range(count)
    )
    assert OutboundMessage.objects.filter(status="sent", attempts=1).count() == count


# The sweep as the scheduler and Celery beat run it


def test_the_scheduler_and_celery_beat_run_the_letters_sweep_every_minute(
    esp, django_capture_on_commit_callbacks
):
    job = next(j for j in scheduler.JOBS if j.name == "letters-sweep")
    assert job.every_seconds == 60
    entry = django_settings.CELERY_BEAT_SCHEDULE["letters-sweep"]
    assert (entry["task"], entry["schedule"]) == ("letters.sweep", 60.0)
    with time_machine.travel(T0, tick=False):
        with django_capture_on_commit_callbacks():  # no task: only the sweep sends these
            first = queue(key="lost:1")
        assert (
            scheduler.run_job(job)
            == "letters rendered 0, messages sent 1, still queued 0, marked unknown 0"
        )
        with django_capture_on_commit_callbacks():
            second = queue(key="lost:2")
        assert sweep_task.apply().get() == (
            "letters rendered 0, messages sent 1, still queued 0, marked unknown 0"
        )
    assert [state(m)[0] for m in (first, second)] == ["sent", "sent"]
    assert esp.calls == 2


def test_the_sweep_renders_a_letter_whose_render_task_was_lost_and_then_emails_it(
    record, officer, applicant, esp, django_capture_on_commit_callbacks
):
    applicant.email = "zhangwei@example.com"
    applicant.save(update_fields=["email"])
    with django_capture_on_commit_callbacks():  # the render task is lost
        letter = acceptance(record, officer, applicant)
    with django_capture_on_commit_callbacks(execute=True):
        result = letters_sweep(now=T0 + MINUTE)
    assert (result.rendered, len(mail.outbox)) == (1, 1)
    letter.refresh_from_db()
    assert hashlib.sha256(mail.outbox[0].attachments[0][1]).hexdigest() == letter.sha256
    assert letters_sweep(now=T0 + dt.timedelta(hours=1)).sent == 0
    assert esp.calls == 1


def test_a_render_lost_with_its_worker_is_taken_over_within_a_minute(
    record, officer, applicant, esp, django_capture_on_commit_callbacks
):
    """Issue 17 finding 16: a crash mid-render left the letter unavailable for
    the ten-minute lease. The lease is LETTER_RENDER_LEASE_SECONDS (30): the
    sweep after it renders the letter."""
    with django_capture_on_commit_callbacks():  # the render task is lost
        letter = acceptance(record, officer, applicant)
    # A worker claimed the render at T0 and died before storing anything.
    Letter.objects.filter(pk=letter.pk).update(status=RenderStatus.RENDERING, claimed_at=T0)
    lease = dt.timedelta(seconds=30)
    for at, rendered in ((T0 + lease - SECOND, 0), (T0 + lease, 0), (T0 + lease + SECOND, 1)):
        with time_machine.travel(at, tick=False):
            assert letters_sweep().rendered == rendered, at
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED


def test_the_render_lease_is_a_setting(
    record, officer, applicant, esp, settings, django_capture_on_commit_callbacks
):
    settings.LETTER_RENDER_LEASE_SECONDS = 120
    with django_capture_on_commit_callbacks():
        letter = acceptance(record, officer, applicant)
    Letter.objects.filter(pk=letter.pk).update(status=RenderStatus.RENDERING, claimed_at=T0)
    with time_machine.travel(T0 + MINUTE, tick=False):
        assert letters_sweep().rendered == 0  # still within its worker's lease
    with time_machine.travel(T0 + 2 * MINUTE + SECOND, tick=False):
        assert letters_sweep().rendered == 1


# SLA notification emails


def sla_start(case, assignee, *, at=STARTED) -> SlaClock:
    return clock_start(case=case, stage="department_review", actor="test", at=at, assignee=assignee)


def test_an_sla_warning_emails_the_officer_once_in_chinese(record, officer, esp):
    officer.email = "liuyang@example.com"
    officer.save(update_fields=["email"])
    clock = sla_start(record, officer)
    with translation.override("en"):  # a worker's language does not matter
        clocks_sweep(now=WARN1)
    message = OutboundMessage.objects.get()
    assert message.idempotency_key == f"sla:{clock.pk}:warning:1:{officer.pk}"
    assert (message.to, message.user, message.letter) == ("liuyang@example.com", officer, None)
    assert (message.status, message.next_attempt_at) == (MessageStatus.QUEUED, WARN1)
    assert message.subject == "【时限预警】济市监罚〔2026〕1号 · 认定单位审核"
    assert message.body == (
        "您好：\n\n"
        "案件 济市监罚〔2026〕1号 的“认定单位审核”环节已用时 50%，"
        "期限为 2026-11-09 17:00（北京时间）。\n\n"
        f"查看详情：https://credit.jinan.example/sla/clocks/{clock.pk}/\n\n"
        "本邮件由系统自动发送，请勿直接回复。"
    )
    assert esp.calls == 0  # the SLA sweep sends nothing itself

    assert clocks_sweep(now=WARN1 + MINUTE).notified == 0
    assert OutboundMessage.objects.count() == 1

    with time_machine.travel(WARN1 + 30 * SECOND, tick=False):
        assert letters_sweep().sent == 1
    [email] = mail.outbox
    assert (email.to, email.subject) == (["liuyang@example.com"], message.subject)


def test_a_breach_emails_those_with_an_address_and_no_one_else(record, officer, supervisor, esp):
    officer.email = "liuyang@example.com"
    officer.save(update_fields=["email"])
    assert supervisor.email == ""
    clock = sla_start(record, officer)
    clocks_sweep(now=DUE + dt.timedelta(days=1))
    assert Notification.objects.filter(user=supervisor, kind="escalation").exists()
    assert sorted(OutboundMessage.objects.values_list("idempotency_key", flat=True)) == [
        f"sla:{clock.pk}:breach:0:{officer.pk}",
        f"sla:{clock.pk}:warning:1:{officer.pk}",
        f"sla:{clock.pk}:warning:2:{officer.pk}",
    ]
    breach = OutboundMessage.objects.get(idempotency_key__contains=":breach:")
    assert breach.subject == "【已超时】济市监罚〔2026〕1号 · 认定单位审核"
    assert "已超过期限 2026-11-09 17:00（北京时间），请尽快办理" in breach.body

    supervisor.email = "sunmin@example.com"
    supervisor.save(update_fields=["email"])
    other = make_record(department=record.department, subject=record.subject, decision_number="R2")
    sla_start(other, None)
    clocks_sweep(now=DUE + dt.timedelta(days=2))
    escalation = OutboundMessage.objects.get(user=supervisor)
    assert escalation.subject == "【超时升级】R2 · 认定单位审核"
    assert "已升级督办" in escalation.body


def test_an_sla_email_is_in_the_language_its_recipient_chose(record, officer, supervisor, esp):
    officer.email, officer.language = "liuyang@example.com", "en"
    officer.save(update_fields=["email", "language"])
    supervisor.email = "sunmin@example.com"
    supervisor.save(update_fields=["email"])
    clock = sla_start(record, officer)
    clocks_sweep(now=DUE + dt.timedelta(days=1))

    breach = OutboundMessage.objects.get(idempotency_key=f"sla:{clock.pk}:breach:0:{officer.pk}")
    assert breach.subject == "[Breached] 济市监罚〔2026〕1号 · Issuing-department review"
    assert "has passed its deadline 2026-11-09 17:00 (Beijing time)" in breach.body
    # The supervisor kept the default: Chinese.
    escalation = OutboundMessage.objects.get(user=supervisor)
    assert escalation.subject.startswith("【超时升级】")


def test_an_officer_who_turned_email_off_gets_the_notice_but_no_sla_email(record, officer, esp):
    officer.email = "liuyang@example.com"
    officer.email_notifications = False
    officer.save()
    sla_start(record, officer)
    clocks_sweep(now=DUE + dt.timedelta(days=1))
    assert Notification.objects.filter(user=officer, kind="breach").exists()
    assert not OutboundMessage.objects.filter(user=officer).exists()


def touched(queries: CaptureQueriesContext) -> list[str]:
    """The statements on users, clocks and messages: "SELECT repair_flow_user" ..."""
    found = []
    for query in queries.captured_queries:
        sql = query["sql"]
        head = sql.split(" WHERE ")[0]
        for table in ("repair_flow_user", "sla_slaclock", "letters_outboundmessage"):
            if f'"{table}"' in head:
                found.append(f"{sql.split()[0]} {table}")
    return found


def test_sla_emails_are_written_set_based(department, enterprise, officer, supervisor, reviewer):
    """One query for the batch's addresses, one for its clocks, one INSERT,
    however many notifications; no addresses, no more than the first."""
    clocks = [
        sla_start(
            make_record(department=department, subject=enterprise, decision_number=f"S{i}"), None
        )
        for i in range(20)
    ]
    batch = [
        NewNotification(user.pk, c.pk, "escalation", 0, None, c.due_at, None, DUE)
        for c in clocks
        for user in (officer, supervisor, reviewer)
    ]

    with CaptureQueriesContext(connection) as nobody:
        assert notifications_create(notifications=batch[:30]) == 30
    assert touched(nobody) == ["SELECT repair_flow_user"]

    officer.email, supervisor.email = "liuyang@example.com", "sunmin@example.com"
    officer.save(update_fields=["email"])
    supervisor.save(update_fields=["email"])
    with CaptureQueriesContext(connection) as some:
        assert notifications_create(notifications=batch[30:]) == 30
    assert touched(some) == [
        "SELECT repair_flow_user",
        "SELECT sla_slaclock",
        "INSERT letters_outboundmessage",
    ]
    assert OutboundMessage.objects.count() == 20
    assert set(OutboundMessage.objects.values_list("to", flat=True)) == {
        "liuyang@example.com",
        "sunmin@example.com",
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("row_locks", [True, False], ids=["skip-locked", "no-row-locks"])
def test_two_sla_sweepers_at_once_write_one_email_per_notification(
    record, officer, supervisor, monkeypatch, row_locks
):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    from tests.sla.test_sweep import run_two_sweepers

    officer.email, supervisor.email = "liuyang@example.com", "sunmin@example.com"
    officer.save(update_fields=["email"])
    supervisor.save(update_fields=["email"])
    count = 200
    results = run_two_sweepers(sla_start(record, officer), record, count, monkeypatch, row_locks)
    assert sum(r.notified for r in results) == count * 4
    assert Notification.objects.count() == OutboundMessage.objects.count() == count * 4
    expected = {
        f"sla:{n.clock_id}:{n.kind}:{n.level}:{n.user_id}" for n in Notification.objects.all()
    }
    assert set(OutboundMessage.objects.values_list("idempotency_key", flat=True)) == expected
    # The address is encrypted at rest: compared once read.
    sent = OutboundMessage.objects.filter(user=supervisor)
    assert [m.to for m in sent] == ["sunmin@example.com"] * count


# Settings


def test_an_esp_is_configured_from_the_environment():
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANYMAIL_", "EMAIL_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="repair_flow.settings",
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL_POSTMARK_SERVER_TOKEN="x",
        ANYMAIL_WEBHOOK_SECRET="a:b",
    )
    code = (
        "import django, json; django.setup(); from django.conf import settings;"
        " print(json.dumps([settings.EMAIL_BACKEND, settings.ANYMAIL]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    backend, anymail = json.loads(result.stdout.strip().splitlines()[-1])
    assert backend == "anymail.backends.postmark.EmailBackend"
    assert anymail == {"POSTMARK_SERVER_TOKEN": "x", "WEBHOOK_SECRET": "a:b"}
