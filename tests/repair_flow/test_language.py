from django.conf import settings


def test_pages_are_chinese_whatever_the_browser_prefers(client, db):
    response = client.get("/deadlines/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "zh-hans"
    assert "办理期限计算" in response.content.decode()


def test_the_language_switcher_choice_wins(client, db):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/deadlines/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert client.get("/deadlines/")["Content-Language"] == "en"


def test_an_unknown_language_cookie_falls_back_to_chinese(client, db):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "xx"
    assert client.get("/deadlines/")["Content-Language"] == "zh-hans"


def test_the_api_honours_accept_language(client, db):
    url = "/api/v1/deadlines/?received=2026-09-30T15:00:00%2B08:00&rule=same_day"
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert english["Content-Language"] == "en"
    assert "Accept-Language" in english["Vary"]
    assert client.get(url)["Content-Language"] == "zh-hans"
