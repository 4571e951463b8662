"""Where people land after logging in and at /: their own work."""

import pytest

from tests.conftest import PASSWORD


def log_in(client, username: str, **extra):
    return client.post("/accounts/login/", {"username": username, "password": PASSWORD, **extra})


@pytest.mark.parametrize(
    ("persona", "landing"),
    [
        ("applicant", "/cases/"),
        ("officer", "/cases/tasks/"),
        ("reviewer", "/cases/tasks/"),
        ("supervisor", "/sla/board/"),
        ("administrator", "/cases/tasks/"),
    ],
)
def test_each_role_lands_on_its_own_work_after_login_and_at_home(client, request, persona, landing):
    user = request.getfixturevalue(persona)
    response = log_in(client, user.username)
    assert response.status_code == 302
    assert client.get(response["Location"]).url == landing
    assert client.get("/").url == landing
    assert client.get(landing).status_code == 200


def test_an_integration_account_lands_on_the_records(client, integration):
    client.force_login(integration)
    assert client.get("/").url == "/records/"


def test_a_next_page_asked_for_wins_over_the_landing(client, officer, record):
    response = log_in(client, "officer", next=f"/records/{record.pk}/")
    assert response.url == f"/records/{record.pk}/"


def test_an_anonymous_visitor_is_sent_to_login(client):
    assert client.get("/").url == "/accounts/login/"
    assert client.get("/?public=1").url == "/deadlines/"
