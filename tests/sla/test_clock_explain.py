"""Every deadline explains itself: GET /api/v1/sla/clocks/{id}/explain and the
page /sla/clocks/<id>/ with its panel, and who may see them."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from sla.clocks import clock_explain, clock_pause, clock_resume, clock_start, clock_stop
from sla.models import ClockState, SlaClock, Stage

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
REVIEW = Stage.DEPARTMENT_REVIEW


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).replace(tzinfo=SHANGHAI)


def api_url(clock) -> str:
    return f"/api/v1/sla/clocks/{clock.pk}/explain/"


@pytest.fixture
def clock(record, officer):
    """The hand-checked clock: 5 working days from Mon 28 Sep 2026 10:00, paused
    29 Sep 14:00 to 9 Oct 10:00 across National Day."""
    clock_start(case=record, stage=REVIEW, actor=officer, at=at("2026-09-28 10:00"),
                department=record.department)  # fmt: skip
    clock_pause(case=record, stage=REVIEW, reason="等待申请人补正材料", actor=officer,
                at=at("2026-09-29 14:00"))  # fmt: skip
    return clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-10-09 10:00"))


def texts(data) -> list[str]:
    return [line["text"] for line in data["lines"]]


# The API ------------------------------------------------------------------------------


def test_the_api_explains_a_paused_deadline_day_by_day(api_for, officer, clock, record):
    response = api_for(officer).get(api_url(clock))
    assert response.status_code == 200
    data = response.json()
    assert data["clock"] == {
        "id": clock.pk,
        "case": {"type": "records.creditrecord", "id": record.pk, "label": "济市监罚〔2026〕1号"},
        "stage": "department_review",
        "stage_label": "认定单位审核",
        "state": "running",
        "state_label": "计时中",
        "department": "SCJGJ",
        "started_at": "2026-09-28T10:00:00+08:00",
        "due_at": "2026-10-14T13:00:00+08:00",
        "warn_at": ["2026-10-10T17:00:00+08:00", "2026-10-13T11:00:00+08:00"],
        "stopped_at": None,
        "breached_at": None,
        "provisional": False,
        "remaining_seconds": None,
        "policy": {
            "rule": "working_days",
            "n": 5,
            "description": "5 个工作日",
            "legal_basis": "产品默认值：认定单位 5 个工作日内完成审核",
            "unconfirmed": False,
            "thresholds": [50, 75],
        },
    }
    assert texts(data) == [
        "开始计时：2026-09-28 周一 10:00；规则：5 个工作日"
        "（产品默认值：认定单位 5 个工作日内完成审核）",
        "收件日 2026-09-28 不计入期限",
        "2026-09-29 周二 工作日，计第1个工作日",
        "2026-09-30 周三 工作日，计第2个工作日",
        "2026-10-01 周四 国庆节（法定节假日），不计",
        "2026-10-02 周五 国庆节（法定节假日），不计",
        "2026-10-03 周六 周末，不计",
        "2026-10-04 周日 周末，不计",
        "2026-10-05 周一 国庆节（法定节假日），不计",
        "2026-10-06 周二 国庆节（法定节假日），不计",
        "2026-10-07 周三 国庆节（法定节假日），不计",
        "2026-10-08 周四 工作日，计第3个工作日",
        "2026-10-09 周五 工作日，计第4个工作日",
        "2026-10-10 周六 调休上班，计第5个工作日",
        "未计暂停时的期限：2026-10-10 周六 17:00",
        "暂停：2026-09-29 周二 14:00 至 2026-10-09 周五 10:00（等待申请人补正材料），"
        "其间计时 20.0 小时，期限顺延至 2026-10-14 周三 13:00",
        "2026-10-11 周日 周末，不计",
        "2026-10-12 周一 工作日，顺延计入",
        "2026-10-13 周二 工作日，顺延计入",
        "2026-10-14 周三 工作日，顺延计入",
        "预警时点：50% 2026-10-10 周六 17:00；75% 2026-10-13 周二 11:00",
        "期限：2026-10-14 周三 13:00",
    ]
    tones = {line["text"][:10]: line["tone"] for line in data["lines"]}
    assert tones["2026-10-01"] == "skip"  # National Day
    assert tones["2026-10-03"] == "skip"  # a weekend
    assert tones["2026-10-08"] == "count"
    assert tones["2026-10-10"] == "makeup"
    assert tones["2026-10-12"] == "count"  # pushed into by the pause
    assert tones["暂停：2026-09"] == "skip"
    assert data["lines"][-1]["tone"] == "due"
    assert data["pauses"] == [
        {
            "started_at": "2026-09-29T14:00:00+08:00",
            "ended_at": "2026-10-09T10:00:00+08:00",
            "reason": "等待申请人补正材料",
            "paused_seconds": 72000,
        }
    ]
    assert data["changes"] == []


def test_a_paused_clock_says_how_much_time_is_left(api_for, officer, record):
    clock_start(case=record, stage=REVIEW, actor=officer, at=at("2026-09-28 10:00"))
    clock = clock_pause(
        case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at("2026-09-29 14:00")
    )
    data = api_for(officer).get(api_url(clock)).json()
    assert data["clock"]["state"] == "paused"
    assert data["clock"]["remaining_seconds"] == 35 * 3600
    assert data["pauses"][0]["ended_at"] is None
    assert "自 2026-09-29 周二 14:00 起暂停（等待补正），剩余计时 35.0 小时，恢复后顺延" in texts(
        data
    )
    assert texts(data)[-1] == "暂停中；暂停前的期限：2026-10-10 周六 17:00"


def test_the_same_day_rule_explains_the_cut_off(api_for, officer, record):
    clock = clock_start(
        case=record, stage=Stage.PRELIMINARY_REVIEW, actor=officer, at=at("2026-09-30 16:01")
    )
    data = api_for(officer).get(api_url(clock)).json()
    assert data["clock"]["due_at"] == "2026-10-08T17:00:00+08:00"
    assert data["clock"]["policy"]["rule"] == "same_day"
    assert data["clock"]["policy"]["n"] is None
    lines = texts(data)
    assert "收件时间 2026-09-30 16:01:00 周三，晚于截止时点 16:00，顺延至下一个工作日" in lines
    assert "2026-10-08 周四 工作日，计第1个工作日" in lines
    assert lines[-1] == "期限：2026-10-08 周四 17:00"


def test_an_unconfirmed_policy_is_flagged(api_for, officer, record):
    clock = clock_start(
        case=record, stage=Stage.ACCEPTANCE, actor=officer, at=at("2026-09-28 10:00")
    )
    data = api_for(officer).get(api_url(clock)).json()
    assert data["clock"]["policy"]["unconfirmed"] is True
    assert "该时限为合理默认值，法律依据尚未核实" in texts(data)


@pytest.mark.parametrize(
    ("stopped", "line"),
    [
        ("2026-10-14 13:00", "按时办结：2026-10-14 周三 13:00（期限 2026-10-14 周三 13:00）"),
        ("2026-10-14 13:01", "超时办结：2026-10-14 周三 13:01（期限 2026-10-14 周三 13:00）"),
    ],
)
def test_a_stopped_clock_states_its_result(api_for, officer, record, clock, stopped, line):
    clock_stop(case=record, stage=REVIEW, actor=officer, at=at(stopped))
    data = api_for(officer).get(api_url(clock)).json()
    assert texts(data)[-1] == line
    assert data["clock"]["stopped_at"] == at(stopped).isoformat()


def test_a_breached_open_clock_says_so(api_for, officer, record):
    clock = clock_start(case=record, stage=REVIEW, actor=officer, at=at("2026-09-28 10:00"))
    SlaClock.objects.filter(pk=clock.pk).update(state=ClockState.BREACHED, breached_at=clock.due_at)
    clock_pause(
        case=record, stage=REVIEW, reason="等待补正", actor=officer, at=at("2026-10-12 10:00")
    )
    clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-10-13 10:00"))
    data = api_for(officer).get(api_url(clock)).json()
    lines = texts(data)
    assert (
        "暂停：2026-10-12 周一 10:00 至 2026-10-13 周二 10:00（等待补正），"
        "暂停时已过期限，期限不顺延" in lines
    )
    assert lines[-1] == "已超过期限 2026-10-10 周六 17:00，尚未办结"
    assert data["clock"]["breached_at"] == "2026-10-10T17:00:00+08:00"


def test_a_provisional_deadline_says_which_year_is_not_loaded(api_for, officer, record):
    clock = clock_start(
        case=record, stage=Stage.SUPPLEMENT, actor=officer, at=at("2026-12-22 10:00")
    )
    data = api_for(officer).get(api_url(clock)).json()
    assert data["clock"]["provisional"] is True
    assert data["clock"]["due_at"] == "2027-01-06T17:00:00+08:00"
    lines = texts(data)
    assert "2027年的工作日历尚未载入：法定节假日已计入，调休安排尚未公布，期限为暂定" in lines
    assert "2027-01-01 周五 元旦（法定节假日），不计" in lines
    assert "2027-01-04 周一 工作日，计第8个工作日" in lines
    assert lines[-1] == "期限：2027-01-06 周三 17:00（暂定）"


def test_times_are_shown_in_beijing_time_whatever_was_given(api_for, officer, record):
    started = dt.datetime(2026, 9, 28, 2, tzinfo=dt.UTC)  # 10:00 in Jinan
    clock = clock_start(case=record, stage=REVIEW, actor=officer, at=started)
    data = api_for(officer).get(api_url(clock)).json()
    assert data["clock"]["started_at"] == "2026-09-28T10:00:00+08:00"
    assert texts(data)[0].startswith("开始计时：2026-09-28 周一 10:00；")


def test_a_pause_before_the_period_starts_moves_nothing(record, officer):
    clock_start(case=record, stage=REVIEW, actor=officer, at=at("2026-09-28 10:00"))
    clock_pause(case=record, stage=REVIEW, reason="补正", actor=officer, at=at("2026-09-28 14:00"))
    clock = clock_resume(case=record, stage=REVIEW, actor=officer, at=at("2026-09-28 16:00"))
    lines = [line.text for line in clock_explain(clock).lines]
    assert (
        "暂停：2026-09-28 周一 14:00 至 2026-09-28 周一 16:00（补正），其间没有工作时间，期限不变"
        in lines
    )
    assert "期限届满：2026-10-10 周六 17:00" in lines  # the base deadline stands
    assert lines[-1] == "期限：2026-10-10 周六 17:00"


# Who may see a clock --------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["officer", "supervisor", "administrator", "reviewer"])
def test_staff_and_the_departments_reviewer_may_read_a_clock(request, api_for, clock, persona):
    user = request.getfixturevalue(persona)
    assert api_for(user).get(api_url(clock)).status_code == 200


def test_a_reviewer_of_another_department_gets_404(api_for, other_reviewer, clock):
    response = api_for(other_reviewer).get(api_url(clock))
    assert response.status_code == 404


def test_a_reviewer_without_a_department_gets_404(api_for, clock):
    from tests.conftest import make_user

    loose = make_user("loose_reviewer", "reviewer")
    assert api_for(loose).get(api_url(clock)).status_code == 404


@pytest.mark.parametrize("persona", ["applicant", "integration"])
def test_applicants_and_integration_accounts_are_refused(request, api_for, clock, persona):
    user = request.getfixturevalue(persona)
    assert api_for(user).get(api_url(clock)).status_code == 403


def test_an_integration_token_is_refused(integration, clock):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {integration.auth_token.key}")
    assert api.get(api_url(clock)).status_code == 403


def test_anonymous_callers_get_401(clock):
    response = APIClient().get(api_url(clock))
    assert response.status_code == 401


def test_an_unknown_clock_is_404(api_for, officer):
    assert api_for(officer).get("/api/v1/sla/clocks/999999/explain/").status_code == 404


def test_the_endpoint_is_documented(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/sla/clocks/{id}/explain/:" in schema
    assert "sla_clock_explain" in schema
    assert "ClockExplanation" in schema


# The page ---------------------------------------------------------------------------------


def test_the_page_shows_the_panel(client_for, officer, clock):
    url = reverse("sla_clock_detail", args=[clock.pk])
    assert url == f"/sla/clocks/{clock.pk}/"
    response = client_for(officer).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="card clock-panel"' in html
    assert "认定单位审核 · 办理时限" in html
    assert "2026-10-14 13:00" in html  # the deadline, Beijing time
    assert "2026-09-28 10:00" in html  # the start
    assert '<li class="skip">2026-10-01 周四 国庆节（法定节假日），不计</li>' in html
    assert '<li class="makeup">2026-10-10 周六 调休上班，计第5个工作日</li>' in html
    assert "其间计时 20.0 小时，期限顺延至 2026-10-14 周三 13:00" in html
    assert "预警时点：50% 2026-10-10 周六 17:00；75% 2026-10-13 周二 11:00" in html
    assert "等待申请人补正材料" in html and "20.0 小时" in html  # the pause table
    assert "产品默认值：认定单位 5 个工作日内完成审核" in html


def test_the_page_flags_a_provisional_deadline(client_for, officer, record):
    clock = clock_start(
        case=record, stage=Stage.SUPPLEMENT, actor=officer, at=at("2026-12-22 10:00")
    )
    html = client_for(officer).get(reverse("sla_clock_detail", args=[clock.pk])).content.decode()
    assert "暂定期限：期限跨入尚未载入官方工作日历的年度" in html
    assert '<span class="badge wait">暂定</span>' in html


@pytest.mark.parametrize("persona", ["supervisor", "administrator", "reviewer"])
def test_the_page_for_those_who_may_see_it(request, client_for, clock, persona):
    user = request.getfixturevalue(persona)
    response = client_for(user).get(reverse("sla_clock_detail", args=[clock.pk]))
    assert response.status_code == 200


def test_the_page_is_404_for_a_reviewer_of_another_department(client_for, other_reviewer, clock):
    response = client_for(other_reviewer).get(reverse("sla_clock_detail", args=[clock.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("persona", ["applicant", "integration"])
def test_the_page_refuses_applicants_and_integration_accounts(request, client_for, clock, persona):
    user = request.getfixturevalue(persona)
    response = client_for(user).get(reverse("sla_clock_detail", args=[clock.pk]))
    assert response.status_code == 403


def test_the_page_sends_anonymous_visitors_to_log_in(client, clock):
    url = reverse("sla_clock_detail", args=[clock.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"
