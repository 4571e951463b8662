"""/healthz, the proxy's probe: database, broker (when configured) and
storage; 200 or 503, JSON, no login, nothing about anyone."""

import pytest
from django.db import OperationalError, connection

# A port nothing listens on: the broker is down.
DEAD_BROKER = "redis://127.0.0.1:9/0"


@pytest.fixture
def media(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_all_well_without_a_broker_is_200_for_anyone(
    client, media, settings, django_assert_num_queries
):
    settings.CELERY_BROKER_URL = None
    with django_assert_num_queries(1):  # one SELECT 1, no table read
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "off", "storage": "ok"},
    }
    assert "sessionid" not in response.cookies
    # The probe's file is gone again: nothing accumulates in the shared storage.
    assert list(media.iterdir()) == []


def test_a_reachable_broker_is_ok(client, media, settings):
    settings.CELERY_BROKER_URL = "memory://"
    assert client.get("/healthz").json()["checks"]["broker"] == "ok"


def test_a_dead_broker_is_503(client, media, settings):
    settings.CELERY_BROKER_URL = DEAD_BROKER
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "fail",
        "checks": {"database": "ok", "broker": "fail", "storage": "ok"},
    }


def test_storage_that_cannot_be_written_is_503(db, client, settings, tmp_path):
    # A file where the media folder should be (works even as root, where a
    # read-only folder would not stop a write).
    blocker = tmp_path / "media"
    blocker.write_text("not a folder")
    settings.MEDIA_ROOT = blocker
    settings.CELERY_BROKER_URL = None
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "off", "storage": "fail"}


def test_a_database_that_does_not_answer_is_503_with_no_detail(
    client, media, settings, monkeypatch, caplog
):
    settings.CELERY_BROKER_URL = None

    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server: secret-host:5432")

    # Undone before the test's teardown, which needs the database again.
    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", refuse)
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "fail"
    assert b"secret-host" not in response.content
    assert "secret-host" in caplog.text  # the reason is in the log, for the operator


def test_the_probe_is_not_redirected_to_https(client, media, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.CELERY_BROKER_URL = None
    assert client.get("/healthz").status_code == 200
    assert client.get("/deadlines/").status_code == 301


def test_it_answers_get_only_in_json_for_a_signed_in_person_too(client, media, officer, settings):
    settings.CELERY_BROKER_URL = None
    client.force_login(officer)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert set(response.json()) == {"status", "checks"}
    assert client.post("/healthz").status_code == 405
