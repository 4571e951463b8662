"""Delivery tracking: the ESP's webhook (Postmark here, through anymail) moves
a sent message to delivered or bounced, once per event, never backwards;
a request without the shared secret changes nothing."""

import base64
import datetime as dt
import json

import pytest
from django.db import transaction

from letters.models import DeliveryEvent, MessageStatus, OutboundMessage
from letters.outbox import message_queue

URL = "/anymail/postmark/tracking/"
SECRET = ("jinan", "s3cret-hook")
POSTMARK_ID = "883953f4-6105-42a2-a16a-77a8eac79483"
DELIVERED_AT = dt.datetime(2026, 11, 20, 2, 1, 7, tzinfo=dt.UTC)
BOUNCED_AT = dt.datetime(2026, 11, 20, 2, 1, 9, 907025, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def postmark(settings):
    """Postmark as the ESP (anymail's test backend stands in for its API)."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.EMAIL_WEBHOOK_ESP = "postmark"
    settings.ANYMAIL = {
        "POSTMARK_SERVER_TOKEN": "server-token",
        "WEBHOOK_SECRET": ":".join(SECRET),
    }


def sent(esp_message_id=POSTMARK_ID) -> OutboundMessage:
    return OutboundMessage.objects.create(
        idempotency_key=f"test:{esp_message_id}",
        to="zhangwei@example.com",
        subject="受理通知书",
        body="正文",
        status=MessageStatus.SENT,
        attempts=1,
        esp_message_id=esp_message_id,
    )


def delivery(message_id=POSTMARK_ID) -> dict:
    """A Postmark Delivery webhook as Postmark posts it (it has no event ID)."""
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": message_id,
        "Recipient": "zhangwei@example.com",
        "Tag": "",
        "DeliveredAt": "2026-11-20T02:01:07Z",
        "Details": "smtp;250 2.0.0 OK",
        "Metadata": {"outbox_id": "1", "idempotency_key": "letter:1:email"},
    }


def bounce(message_id=POSTMARK_ID) -> dict:
    return {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "",
        "MessageID": message_id,
        "Metadata": {"outbox_id": "1", "idempotency_key": "letter:1:email"},
        "ServerID": 23,
        "MessageStream": "outbound",
        "Description": (
            "The server was unable to deliver your message (ex: unknown user, mailbox not found)."
        ),
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "zhangwei@example.com",
        "From": "noreply@credit.jinan.example",
        "BouncedAt": "2026-11-20T02:01:09.9070259Z",
        "DumpAvailable": False,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "受理通知书",
        "Content": "",
    }


def post(client, payload: dict, auth=SECRET):
    headers = {}
    if auth is not None:
        token = base64.b64encode(":".join(auth).encode()).decode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {token}"
    return client.post(URL, data=json.dumps(payload), content_type="application/json", **headers)


def events(message):
    return list(message.events.order_by("id").values_list("event_type", "event_id", "occurred_at"))


def test_a_delivery_marks_the_message_sent_through_the_outbox_delivered_once(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = message_queue(
            key="letter:1:email", to="zhangwei@example.com", subject="受理通知书", body="正文"
        )
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    esp_id = message.esp_message_id
    assert esp_id == "0"  # the test backend's id; Postmark's would be a UUID

    assert post(client, delivery(esp_id)).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert events(message) == [("delivered", "", DELIVERED_AT)]

    # Webhooks come at least once: the same event again is recorded once.
    assert post(client, delivery(esp_id)).status_code == 200
    assert events(message) == [("delivered", "", DELIVERED_AT)]


def test_a_bounce_marks_it_bounced_and_a_later_delivery_does_not_undo_it(client):
    message = sent()
    assert post(client, bounce()).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED
    event = message.events.get()
    assert (event.event_type, event.event_id, event.occurred_at) == (
        "bounced",
        "4323372036854775807",
        BOUNCED_AT,
    )
    assert event.description.startswith("The server was unable to deliver")

    assert post(client, bounce()).status_code == 200
    assert post(client, delivery()).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED
    assert events(message) == [
        ("bounced", "4323372036854775807", BOUNCED_AT),
        ("delivered", "", DELIVERED_AT),
    ]


@pytest.mark.parametrize(
    "auth",
    [None, (SECRET[0], "wrong-password"), ("someone", SECRET[1])],
    ids=["no-auth", "wrong-password", "wrong-user"],
)
def test_a_forged_request_is_refused_and_changes_nothing(client, auth):
    message = sent()
    # anymail raises AnymailWebhookValidationFailure, a SuspiciousOperation: 400.
    assert post(client, bounce(), auth=auth).status_code == 400
    assert post(client, delivery(), auth=auth).status_code == 400
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert not DeliveryEvent.objects.exists()


def test_the_secret_is_read_when_the_request_arrives(client, settings):
    message = sent()
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "jinan:rotated"}
    assert post(client, delivery()).status_code == 400
    assert post(client, delivery(), auth=("jinan", "rotated")).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_an_event_for_an_unknown_message_is_ignored(client):
    message = sent()
    assert post(client, delivery("00000000-0000-0000-0000-000000000000")).status_code == 200
    assert post(client, bounce("")).status_code == 200
    assert not DeliveryEvent.objects.exists()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
