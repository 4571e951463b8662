"""GET /api/v1/deadlines/ and the /deadlines/ page, open to everyone."""

import pytest
from rest_framework.test import APIClient

from tests.api_errors import field_errors
from tests.sla.test_deadlines import NATIONAL_DAY_3

pytestmark = pytest.mark.django_db

URL = "/api/v1/deadlines/"


@pytest.fixture
def anonymous():
    return APIClient()


def test_anyone_gets_a_working_days_deadline(anonymous):
    response = anonymous.get(
        URL, {"received": "2026-09-30T10:00:00+08:00", "rule": "working_days", "n": "3"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "due_at": "2026-10-10T17:00:00+08:00",
        "provisional": False,
        "explanation": NATIONAL_DAY_3,
    }


@pytest.mark.parametrize(
    ("received", "due"),
    [
        ("2026-09-30T15:59:59+08:00", "2026-09-30T17:00:00+08:00"),
        ("2026-09-30T16:00:00+08:00", "2026-09-30T17:00:00+08:00"),
        ("2026-09-30T16:00:01+08:00", "2026-10-08T17:00:00+08:00"),
        ("2026-09-30T08:00:01Z", "2026-10-08T17:00:00+08:00"),
        ("2026-10-07T11:30:00-05:00", "2026-10-08T17:00:00+08:00"),
        ("2026-02-13T17:00:00+08:00", "2026-02-14T17:00:00+08:00"),
    ],
)
def test_anyone_gets_a_same_day_deadline(anonymous, received, due):
    response = anonymous.get(URL, {"received": received, "rule": "same_day"})
    assert response.status_code == 200
    body = response.json()
    assert body["due_at"] == due
    assert body["provisional"] is False
    assert body["explanation"][-1].startswith("期限届满：")


def test_an_unencoded_plus_in_the_offset_is_understood(anonymous):
    # "+" in a raw query string decodes to a space.
    response = anonymous.get(URL + "?received=2026-09-30T16:00:01+08:00&rule=same_day")
    assert response.status_code == 200
    assert response.json()["due_at"] == "2026-10-08T17:00:00+08:00"


def test_a_deadline_reaching_an_unloaded_year_is_provisional(anonymous):
    response = anonymous.get(
        URL, {"received": "2026-12-30T10:00:00+08:00", "rule": "working_days", "n": "3"}
    )
    body = response.json()
    assert body["provisional"] is True
    # 31 Dec, then 元旦 (off by law) and the weekend: 4 and 5 January.
    assert body["due_at"] == "2027-01-05T17:00:00+08:00"
    assert (
        "2027年的工作日历尚未载入：法定节假日已计入，调休安排尚未公布，期限为暂定"
        in body["explanation"]
    )


def test_after_loading_the_year_the_answer_is_final(anonymous, calendar_2027):
    response = anonymous.get(
        URL, {"received": "2026-12-30T10:00:00+08:00", "rule": "working_days", "n": "3"}
    )
    assert response.json()["provisional"] is False
    assert response.json()["due_at"] == "2027-01-06T17:00:00+08:00"


def test_same_day_ignores_n(anonymous):
    response = anonymous.get(
        URL, {"received": "2026-09-30T10:00:00+08:00", "rule": "same_day", "n": "abc"}
    )
    assert response.status_code == 200


def test_signed_in_users_and_stale_credentials_get_the_same_answer(api_for, officer):
    params = {"received": "2026-09-30T10:00:00+08:00", "rule": "working_days", "n": "1"}
    assert api_for(officer).get(URL, params).json()["due_at"] == "2026-10-08T17:00:00+08:00"
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert stale.get(URL, params).status_code == 200


W = {"rule": "working_days", "n": "3"}
R = {"received": "2026-09-30T10:00:00+08:00"}


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({**W}, {"received": "缺少收件时间 received（ISO 8601，带时区偏移）"}),
        ({**W, "received": ""}, {"received": "缺少收件时间 received（ISO 8601，带时区偏移）"}),
        (
            {**W, "received": "2026-09-30T10:00:00"},
            {"received": "收件时间“2026-09-30T10:00:00”缺少时区偏移，请写明例如 +08:00 或 Z"},
        ),
        (
            {**W, "received": "2026-09-30"},
            {"received": "收件时间“2026-09-30”缺少时区偏移，请写明例如 +08:00 或 Z"},
        ),
        (
            {**W, "received": "yesterday"},
            {
                "received": "无法解析收件时间“yesterday”，"
                "应为 ISO 8601 格式，例如 2026-09-30T15:30:00+08:00"
            },
        ),
        (
            {**W, "received": "2026-02-30T10:00:00+08:00"},
            {
                "received": "无法解析收件时间“2026-02-30T10:00:00+08:00”，"
                "应为 ISO 8601 格式，例如 2026-09-30T15:30:00+08:00"
            },
        ),
        (
            {**W, "received": "9999-12-31T10:00:00+08:00"},
            {"received": "收件时间须在 1900 年至 2100 年之间"},
        ),
        ({**R}, {"rule": "缺少计算规则 rule，应为 same_day 或 working_days"}),
        (
            {**R, "rule": "calendar_days"},
            {"rule": "未知的计算规则“calendar_days”，应为 same_day 或 working_days"},
        ),
        ({**R, "rule": "working_days"}, {"n": "按工作日计算时须提供天数 n（1 至 365）"}),
        ({**R, "rule": "working_days", "n": "abc"}, {"n": "天数 n 须为整数，收到“abc”"}),
        ({**R, "rule": "working_days", "n": "1.5"}, {"n": "天数 n 须为整数，收到“1.5”"}),
        ({**R, "rule": "working_days", "n": "0"}, {"n": "天数 n 须在 1 至 365 之间，收到 0"}),
        ({**R, "rule": "working_days", "n": "-3"}, {"n": "天数 n 须在 1 至 365 之间，收到 -3"}),
        ({**R, "rule": "working_days", "n": "366"}, {"n": "天数 n 须在 1 至 365 之间，收到 366"}),
        (
            {"received": "2026-09-30T10:00", "rule": "working_days", "n": "x"},
            {
                "received": "收件时间“2026-09-30T10:00”缺少时区偏移，请写明例如 +08:00 或 Z",
                "n": "天数 n 须为整数，收到“x”",
            },
        ),
        (
            {},
            {
                "received": "缺少收件时间 received（ISO 8601，带时区偏移）",
                "rule": "缺少计算规则 rule，应为 same_day 或 working_days",
            },
        ),
    ],
)
def test_bad_parameters_get_a_message_each(anonymous, params, errors):
    response = anonymous.get(URL, params)
    assert response.status_code == 400
    assert field_errors(response) == {name: [message] for name, message in errors.items()}


def test_the_boundaries_of_n_are_accepted(anonymous):
    for n in ("1", "365"):
        response = anonymous.get(URL, {**R, "rule": "working_days", "n": n})
        assert response.status_code == 200, response.json()
    answer = anonymous.get(URL, {**R, "rule": "working_days", "n": "365"}).json()
    # 2027 and 2028 by weekends and statutory holidays: eleven of those fall on a
    # weekday (2027: 1 Jan, 5 and 8 Feb, 5 Apr, 9 Jun, 15 Sep, 1 Oct; 2028: 25-28 Jan),
    # so eleven working days after 29 Feb 2028, which weekends alone would give.
    assert answer["due_at"] == "2028-03-15T17:00:00+08:00"
    assert answer["provisional"] is True


def test_the_endpoint_is_documented_as_public(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/deadlines/"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"received", "rule", "n"}
    # 429: anonymous callers are throttled per address too (issue 17, finding 2).
    assert set(operation["responses"]) == {"200", "400", "429"}
    assert not operation.get("security")


# The page.

PAGE = "/deadlines/"


def test_the_page_shows_an_empty_form_to_anyone(client):
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "办理期限计算" in html
    assert 'type="datetime-local"' in html
    assert 'name="n"' in html
    assert "已载入官方工作日历的年度：2004-2026" in html
    assert 'name="viewport"' in html


def test_the_page_computes_a_deadline_and_explains_it(client):
    # The date-time input has no offset: the page reads it as Beijing time.
    response = client.get(PAGE, {"received": "2026-09-30T10:00", "rule": "working_days", "n": "3"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "2026-10-10 17:00" in html
    assert '<li class="skip">2026-10-01 周四 国庆节（法定节假日），不计</li>' in html
    assert '<li class="makeup">2026-10-10 周六 调休上班，计第3个工作日</li>' in html
    assert '<li class="due">期限届满：2026-10-10 周六 17:00</li>' in html
    assert "暂定结果" not in html
    assert 'value="2026-09-30T10:00:00"' in html


def test_the_page_warns_when_the_result_is_provisional(client):
    response = client.get(PAGE, {"received": "2026-12-31T16:30", "rule": "same_day", "n": ""})
    html = response.content.decode()
    assert "2027-01-04 17:00" in html  # after the cut-off; 元旦 is off by law
    assert "暂定结果：期限跨入尚未载入工作日历的年度（2027年）" in html
    assert '<li class="warning">2027年的工作日历尚未载入' in html


def test_the_page_reads_an_offset_when_one_is_given(client):
    response = client.get(PAGE, {"received": "2026-09-30T08:00:01Z", "rule": "same_day"})
    html = response.content.decode()
    assert "2026-10-08 17:00" in html
    assert 'value="2026-09-30T16:00:01"' in html


def test_the_page_shows_what_is_wrong(client):
    response = client.get(PAGE, {"received": "2026-09-30T10:00", "rule": "working_days", "n": "0"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "天数 n 须在 1 至 365 之间，收到 0" in html
    assert "计算过程" not in html
    response = client.get(PAGE, {"received": "not a date", "rule": "same_day"})
    assert "无法解析收件时间" in response.content.decode()


def test_signed_in_staff_use_the_same_page(client_for, officer):
    response = client_for(officer).get(
        PAGE, {"received": "2026-09-30T16:00:00", "rule": "same_day"}
    )
    assert "期限届满：2026-09-30 周三 17:00" in response.content.decode()
