"""The ESP webhook (issue 17, findings 9 and 11): without a configured secret
it refuses every event, in every mode (DEBUG and the embedded default too);
an ESP that is not configured has no webhook (404, never a 500)."""

import base64
import json

import pytest

from letters.models import DeliveryEvent, MessageStatus
from tests.letters.test_webhooks import delivery, sent

pytestmark = pytest.mark.django_db


def post(client, url="/anymail/postmark/tracking/", auth=None):
    headers = {}
    if auth:
        token = base64.b64encode(":".join(auth).encode()).decode()
        headers["HTTP_AUTHORIZATION"] = f"Basic {token}"
    return client.post(url, data=json.dumps(delivery()), content_type="application/json", **headers)


@pytest.mark.parametrize("debug", [True, False])
def test_a_forged_event_is_refused_when_no_secret_is_configured(client, settings, debug):
    settings.DEBUG = debug
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token"}
    message = sent()

    response = post(client)

    assert response.status_code == 403
    assert response.json()["code"] == "webhook_secret_missing"
    assert "ANYMAIL_WEBHOOK_SECRET" in response.json()["detail"]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert not DeliveryEvent.objects.exists()


def test_with_the_secret_the_event_is_taken(client, settings):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "t", "WEBHOOK_SECRET": "jinan:hook"}
    message = sent()
    assert post(client).status_code == 400  # no credentials: anymail refuses
    assert post(client, auth=("jinan", "hook")).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


@pytest.mark.parametrize(
    "url",
    [
        "/anymail/mailgun/tracking/",
        "/anymail/sendgrid/tracking/",
        "/anymail/amazon_ses/tracking/",
        "/anymail/nosuchesp/tracking/",
        "/anymail/postmark/inbound/",
    ],
)
def test_an_unconfigured_esp_path_is_a_404(client, settings, url):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "t", "WEBHOOK_SECRET": "jinan:hook"}
    assert post(client, url, auth=("jinan", "hook")).status_code == 404


def test_the_embedded_default_has_no_webhook_at_all(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    settings.ANYMAIL = {}
    assert post(client).status_code == 404
