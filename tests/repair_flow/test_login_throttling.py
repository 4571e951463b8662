"""Logins and the API throttled (issue 17, finding 2): N wrong passwords lock
the user name and the address out, even with the right password next; an
administrator unlocks; the API answers a hammering caller 429 in its one
error shape."""

import io

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

LOGIN = "/accounts/login/"
LIMIT = 3


@pytest.fixture(autouse=True)
def lockout_after_three(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = LIMIT


def attempt(client, username, password, *, address="10.0.0.1", language=None):
    if language:
        client.cookies["django_language"] = language
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_right_password_after_n_wrong_ones_is_refused(client, applicant):
    codes = [attempt(client, "applicant", "wrong-password").status_code for _ in range(LIMIT)]
    # The Nth failure is the one that locks.
    assert codes == [200] * (LIMIT - 1) + [429]
    response = attempt(client, "applicant", PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    text = response.content.decode()
    assert "登录已暂停" in text and "系统管理员" in text


def test_fewer_wrong_passwords_than_the_limit_still_let_the_user_in(client, applicant):
    for _ in range(LIMIT - 1):
        attempt(client, "applicant", "wrong-password")
    assert attempt(client, "applicant", PASSWORD).status_code == 302
    assert logged_in(client)


def test_the_user_name_is_locked_from_any_address(client, applicant):
    for n in range(LIMIT):
        attempt(client, "applicant", "wrong-password", address=f"10.0.1.{n}")
    assert attempt(Client(), "applicant", PASSWORD, address="10.9.9.9").status_code == 429


def test_one_address_trying_many_names_is_locked_out(client, applicant, officer):
    for n in range(LIMIT):
        attempt(client, f"guess{n}", "wrong-password", address="10.0.0.7")
    # Another account's right password from that address: refused too.
    assert attempt(Client(), "officer", PASSWORD, address="10.0.0.7").status_code == 429
    # The same account from elsewhere is not locked.
    assert attempt(Client(), "officer", PASSWORD, address="10.0.0.8").status_code == 302


def test_the_lockout_page_is_in_english_for_an_english_user(client, applicant):
    for _ in range(LIMIT):
        attempt(client, "applicant", "wrong-password")
    response = attempt(client, "applicant", PASSWORD, language="en")
    assert response.status_code == 429
    assert "Sign-in suspended" in response.content.decode()


def test_an_administrator_unlocks_with_the_command(client, applicant):
    for _ in range(LIMIT):
        attempt(client, "applicant", "wrong-password")
    assert attempt(client, "applicant", PASSWORD).status_code == 429

    call_command("axes_reset_username", "applicant", stdout=io.StringIO())

    assert attempt(client, "applicant", PASSWORD).status_code == 302
    assert logged_in(client)


def test_an_administrator_unlocks_in_the_admin(client, client_for, applicant, administrator):
    for _ in range(LIMIT):
        attempt(client, "applicant", "wrong-password")
    assert attempt(client, "applicant", PASSWORD).status_code == 429
    attempt_row = AccessAttempt.objects.get(username="applicant")

    admin = Client()
    admin.force_login(administrator)
    # The attempts name accounts and addresses: a purpose is stated first.
    admin.post("/access-purpose/", {"purpose": "data_maintenance", "next": "/admin/"})
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "applicant" in listing.content.decode()
    response = admin.post(f"/admin/axes/accessattempt/{attempt_row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302

    assert attempt(client, "applicant", PASSWORD).status_code == 302


def test_an_applicant_cannot_reach_the_unlock_page(applicant, client_for):
    response = client_for(applicant).get("/admin/axes/accessattempt/")
    assert response.status_code == 302  # to the admin's login: not staff


# The API's throttles


@pytest.fixture
def low_rates(settings):
    settings.API_THROTTLE_RATES = {
        "anon": "3/minute",
        "user": "5/minute",
        "integration": "8/minute",
    }


def hammer(api, path, times):
    return [api.get(path).status_code for _ in range(times)]


def test_a_person_hammering_the_api_gets_429_in_the_error_shape(low_rates, api_for, officer):
    api = api_for(officer)
    codes = hammer(api, "/api/v1/records/", 5)
    assert codes == [200] * 5
    response = api.get("/api/v1/records/")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled"
    assert "请求过于频繁" in body["detail"]
    assert int(response["Retry-After"]) == body["retry_after"] > 0


def test_each_person_has_their_own_count(low_rates, api_for, officer, supervisor):
    hammer(api_for(officer), "/api/v1/records/", 6)
    assert api_for(supervisor).get("/api/v1/records/").status_code == 200


def test_a_system_token_has_the_integration_rate(low_rates, integration):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {integration.auth_token.key}")
    assert hammer(api, "/api/v1/records/", 8) == [200] * 8
    assert api.get("/api/v1/records/").status_code == 429


def test_anonymous_callers_are_throttled_by_address(low_rates, client, db):
    # The public deadline calculator (no parameters: a 400 until throttled).
    url = "/api/v1/deadlines/"
    codes = [client.get(url, REMOTE_ADDR="10.1.1.1").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    assert client.get(url, REMOTE_ADDR="10.1.1.1").json()["code"] == "throttled"
    assert client.get(url, REMOTE_ADDR="10.1.1.2").status_code == 400


def test_behind_the_proxy_the_address_is_the_one_the_proxy_saw(settings, applicant, officer):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.254"
    for n in range(LIMIT):
        # The client writes its own X-Forwarded-For; the proxy appends the real one.
        Client().post(
            LOGIN,
            {"username": f"guess{n}", "password": "wrong-password"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9",
        )
    locked = Client().post(
        LOGIN,
        {"username": "officer", "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    assert locked.status_code == 429
    # Another client behind the same proxy is not locked out with it.
    other = Client().post(
        LOGIN,
        {"username": "officer", "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="203.0.113.10",
    )
    assert other.status_code == 302
