"""No 500 from bad input (issue 17, finding 9): list parameters out of range,
a deeply nested JSON body and an unconfigured ESP's webhook each get a clear
4xx, the API's in its one error shape."""

import pytest
from django.urls import URLResolver, get_resolver
from rest_framework.parsers import JSONParser

from repair_flow.parsers import DepthLimitedJSONParser
from tests.api_errors import field_errors

pytestmark = pytest.mark.django_db

HUGE = "9" * 25  # beyond every database's integer


@pytest.mark.parametrize("name", ["limit", "offset"])
def test_an_api_list_refuses_an_overflowing_limit_or_offset(api_for, integration, name):
    response = api_for(integration).get("/api/v1/records/", {name: HUGE})
    assert response.status_code == 400
    assert name in field_errors(response)


def test_an_api_list_refuses_a_negative_offset(api_for, integration):
    response = api_for(integration).get("/api/v1/records/", {"offset": "-1"})
    assert response.status_code == 400
    assert "offset" in field_errors(response)


def test_the_board_list_refuses_an_overflowing_assignee(client_for, supervisor):
    response = client_for(supervisor).get("/sla/board/list/", {"assignee": HUGE})
    assert response.status_code == 400
    assert "承办人应为用户编号" in response.content.decode()


def test_the_board_list_takes_an_assignee_id_in_range(client_for, supervisor, officer):
    response = client_for(supervisor).get("/sla/board/list/", {"assignee": str(officer.pk)})
    assert response.status_code == 200


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_deeply_nested_json_body_is_a_400(api_for, integration):
    body = '{"records": ' + nested(100_000) + "}"
    response = api_for(integration).post("/api/v1/records/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "too_deep"
    assert "嵌套过深" in response.json()["detail"]


def test_json_just_deeper_than_the_setting_is_refused_and_at_it_accepted(
    api_for, integration, settings
):
    settings.API_JSON_MAX_DEPTH = 5
    api = api_for(integration)
    # {"records": [[[[ ]]]]}: the object is level 1, its list 2, ...
    too_deep = '{"records": ' + nested(5) + "}"
    response = api.post("/api/v1/records/", too_deep, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "too_deep"
    at_limit = '{"records": ' + nested(4) + "}"
    response = api.post("/api/v1/records/", at_limit, content_type="application/json")
    # Parsed: the serializer refuses the content, not the depth.
    assert response.status_code == 400
    assert response.json()["code"] != "too_deep"


@pytest.mark.parametrize("esp", ["mailgun", "sendgrid", "amazon_ses", "mandrill", "postal"])
def test_an_unconfigured_esps_webhook_is_a_404(client, settings, esp):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    path = f"/anymail/{esp}/tracking/" if esp != "mandrill" else "/anymail/mandrill/"
    response = client.post(path, "{}", content_type="application/json")
    assert response.status_code == 404


def test_no_esp_webhook_exists_without_an_anymail_backend(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ANYMAIL = {}
    response = client.post("/anymail/postmark/tracking/", "{}", content_type="application/json")
    assert response.status_code == 404


def test_the_configured_esps_webhook_answers(client, settings):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "t", "WEBHOOK_SECRET": "a:b"}
    response = client.post("/anymail/postmark/tracking/", "{}", content_type="application/json")
    # Reached anymail's view, which wants the shared secret.
    assert response.status_code in (400, 401, 403)


def test_every_api_view_parses_json_with_the_depth_limit():
    """A view that names its parsers must not bring the unlimited JSONParser back."""

    def views(resolver):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                yield from views(pattern)
            else:
                yield pattern.callback

    plain = []
    for callback in views(get_resolver()):
        cls = getattr(callback, "cls", None)
        for parser in getattr(cls, "parser_classes", ()):
            if issubclass(parser, JSONParser) and not issubclass(parser, DepthLimitedJSONParser):
                plain.append(cls.__name__)
    assert plain == []
