"""The supervisors' board: every figure on a hand-built set of clocks, the
lists and CSV behind each figure, the API, and who may see them.

The set (now: Wednesday 2026-10-14 15:00 in Asia/Shanghai; period 1-14 October):

open    O1 preliminary  D1 officer   running  due 10-14 17:00  warn2 15:30    -> due today
        O2 preliminary  D1 officer   running  due 10-14 17:00  warn2 14:00    -> due today, at risk
        O3 dept review  D2 officer2  running  due 10-16 17:00  warned_level 2 -> at risk
        O4 dept review  D2 -         breached due 10-13 17:00                 -> breached
        O5 acceptance   D1 officer   running  due 10-14 12:00 (not swept) -> due today, breached
        O6 preliminary  D1 officer   paused   due 10-14 17:00                 -> open, waits for
                                                                         the applicant
        O7 preliminary  D2 officer   running  due 10-15 17:00                 -> open only
        Y2 supplement   D1 -         running  started 10-09                   -> open only
stopped S1 preliminary  D1 officer   met       10-09 15:00
        S2 preliminary  D1 officer   breached  10-12 07:00 (Sunday 23:00 UTC)
        S3 dept review  D2 officer2  met       10-13 11:00
        S4 acceptance   D1 officer   cancelled 10-13 12:00                    -> in no rate
        S5 preliminary  D2 officer   met       09-20 (before the period)
        S6 preliminary  D1 officer   breached  10-01 00:00 (the first instant of the period)
        S7 preliminary  D1 officer   met       09-30 23:59:59 (the last instant before it)
supplement clocks (one-time notification): case X one (10-05), case Y two (10-02, 10-09),
        case Z one before the period (09-10), case W two (09-20, 10-10 breached at stop).
"""

import csv
import datetime as dt
import io
import re

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from records.models import CreditRecord
from repair_flow.csv_cells import csv_cell, csv_row
from repair_flow.models import Role
from sla.board import NONE, BoardFilters, board_summary
from sla.clocks import clock_start, clock_stop, policy_for
from sla.models import ClockState, SlaClock, Stage
from tests.api_errors import field_errors
from tests.conftest import make_record, make_user

pytestmark = pytest.mark.django_db

NOW = dt.datetime.fromisoformat("2026-10-14T15:00:00+08:00")
PERIOD = {"from": "2026-10-01", "to": "2026-10-14"}


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value + ("" if "+" in value else "+08:00"))


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def officer2(db):
    return make_user("officer2", Role.OFFICER, first_name="周强")


class Cases:
    """`cases["O1"]`: a credit record to hang a clock on, one per name."""

    def __init__(self, department, subject):
        self.department, self.subject, self.records = department, subject, {}

    def __getitem__(self, name: str) -> CreditRecord:
        if name not in self.records:
            self.records[name] = make_record(
                department=self.department,
                subject=self.subject,
                decision_number=f"济市监罚〔2026〕{len(self.records) + 100}号",
            )
        return self.records[name]


@pytest.fixture
def cases(department, enterprise):
    return Cases(department, enterprise)


def add_clock(case, stage, *, department, assignee, state, started, due, **fields):
    """A clock row set down exactly, as the services and the sweep leave it."""
    started_at = at(started)
    return SlaClock.objects.create(
        case_type=ContentType.objects.get_for_model(case),
        case_id=case.pk,
        case_label=case.decision_number,
        department=department,
        assignee=assignee,
        stage=stage,
        policy=policy_for(stage, started_at.date()),
        state=state,
        started_at=started_at,
        due_at=at(due),
        **{k: at(v) if isinstance(v, str) else v for k, v in fields.items()},
    )


@pytest.fixture
def board_set(cases, department, other_department, officer, officer2):
    d1, d2 = department, other_department
    R, P, B, M, C = (
        ClockState.RUNNING,
        ClockState.PAUSED,
        ClockState.BREACHED,
        ClockState.MET,
        ClockState.CANCELLED,
    )
    prelim, review, accept, supp = (
        Stage.PRELIMINARY_REVIEW,
        Stage.DEPARTMENT_REVIEW,
        Stage.ACCEPTANCE,
        Stage.SUPPLEMENT,
    )
    c = {}
    c["O1"] = add_clock(cases["O1"], prelim, department=d1, assignee=officer, state=R,
                        started="2026-10-14T09:00", due="2026-10-14T17:00",
                        warn2_at="2026-10-14T15:30", warned_level=1)  # fmt: skip
    c["O2"] = add_clock(cases["O2"], prelim, department=d1, assignee=officer, state=R,
                        started="2026-10-14T09:00", due="2026-10-14T17:00",
                        warn2_at="2026-10-14T14:00", warned_level=1)  # fmt: skip
    c["O3"] = add_clock(cases["O3"], review, department=d2, assignee=officer2, state=R,
                        started="2026-10-09T10:00", due="2026-10-16T17:00",
                        warn2_at="2026-10-15T12:00", warned_level=2)  # fmt: skip
    c["O4"] = add_clock(cases["O4"], review, department=d2, assignee=None, state=B,
                        started="2026-10-06T10:00", due="2026-10-13T17:00",
                        breached_at="2026-10-13T17:00", warned_level=3)  # fmt: skip
    c["O5"] = add_clock(cases["O5"], accept, department=d1, assignee=officer, state=R,
                        started="2026-10-12T09:00", due="2026-10-14T12:00",
                        warn2_at="2026-10-14T10:00", warned_level=2)  # fmt: skip
    c["O6"] = add_clock(cases["O6"], prelim, department=d1, assignee=officer, state=P,
                        started="2026-10-14T09:00", due="2026-10-14T17:00",
                        paused_at="2026-10-14T10:00")  # fmt: skip
    c["O7"] = add_clock(cases["O7"], prelim, department=d2, assignee=officer, state=R,
                        started="2026-10-14T14:30", due="2026-10-15T17:00",
                        warn2_at="2026-10-15T14:00")  # fmt: skip
    c["S1"] = add_clock(cases["S1"], prelim, department=d1, assignee=officer, state=M,
                        started="2026-10-09T09:00", due="2026-10-09T17:00",
                        stopped_at="2026-10-09T15:00")  # fmt: skip
    c["S2"] = add_clock(cases["S2"], prelim, department=d1, assignee=officer, state=B,
                        started="2026-10-09T09:00", due="2026-10-09T17:00",
                        breached_at="2026-10-09T17:00", stopped_at="2026-10-12T07:00")  # fmt: skip
    c["S3"] = add_clock(cases["S3"], review, department=d2, assignee=officer2, state=M,
                        started="2026-10-08T09:00", due="2026-10-15T17:00",
                        stopped_at="2026-10-13T11:00")  # fmt: skip
    c["S4"] = add_clock(cases["S4"], accept, department=d1, assignee=officer, state=C,
                        started="2026-10-12T09:00", due="2026-10-14T17:00",
                        stopped_at="2026-10-13T12:00")  # fmt: skip
    c["S5"] = add_clock(cases["S5"], prelim, department=d2, assignee=officer, state=M,
                        started="2026-09-20T09:00", due="2026-09-21T17:00",
                        stopped_at="2026-09-20T10:00")  # fmt: skip
    c["S6"] = add_clock(cases["S6"], prelim, department=d1, assignee=officer, state=B,
                        started="2026-09-30T09:00", due="2026-09-30T17:00",
                        breached_at="2026-09-30T17:00", stopped_at="2026-10-01T00:00")  # fmt: skip
    c["S7"] = add_clock(cases["S7"], prelim, department=d1, assignee=officer, state=M,
                        started="2026-09-30T09:00", due="2026-09-30T17:00",
                        stopped_at="2026-09-30T23:59:59")  # fmt: skip
    c["X1"] = add_clock(cases["X"], supp, department=d1, assignee=None, state=M,
                        started="2026-10-05T10:00", due="2026-10-19T17:00",
                        stopped_at="2026-10-08T10:00")  # fmt: skip
    c["Y1"] = add_clock(cases["Y"], supp, department=d1, assignee=None, state=M,
                        started="2026-10-02T10:00", due="2026-10-16T17:00",
                        stopped_at="2026-10-06T10:00")  # fmt: skip
    c["Y2"] = add_clock(cases["Y"], supp, department=d1, assignee=None, state=R,
                        started="2026-10-09T10:00", due="2026-10-23T17:00",
                        warn2_at="2026-10-20T12:00")  # fmt: skip
    c["Z1"] = add_clock(cases["Z"], supp, department=d1, assignee=None, state=M,
                        started="2026-09-10T10:00", due="2026-09-24T17:00",
                        stopped_at="2026-09-15T10:00")  # fmt: skip
    c["W1"] = add_clock(cases["W"], supp, department=d2, assignee=None, state=M,
                        started="2026-09-20T10:00", due="2026-10-09T17:00",
                        stopped_at="2026-09-28T10:00")  # fmt: skip
    c["W2"] = add_clock(cases["W"], supp, department=d2, assignee=None, state=B,
                        started="2026-10-10T10:00", due="2026-10-12T17:00",
                        breached_at="2026-10-12T17:00", stopped_at="2026-10-13T10:00")  # fmt: skip
    return c


@pytest.fixture
def api(supervisor):
    client = APIClient()
    client.force_authenticate(supervisor)
    return client


@pytest.fixture
def summary(api):
    """`summary(**params)`: the API's figures at NOW for the period (and params)."""

    def get(**params):
        with time_machine.travel(NOW, tick=False):
            response = api.get("/api/v1/sla/summary/", {**PERIOD, **params})
        assert response.status_code == 200, response.content
        return response.json()

    return get


def rate(count, of):
    return {"count": count, "of": of, "rate": round(count / of, 4) if of else None}


# --- every figure ---------------------------------------------------------------------------


def test_the_summary_gives_every_figure_of_the_set(board_set, summary, officer, officer2):
    body = summary()
    assert body["as_of"] == "2026-10-14T15:00:00+08:00"
    assert body["filters"] == {
        "department": None,
        "stage": None,
        "from": "2026-10-01",
        "to": "2026-10-14",
    }
    assert body["open"] == {
        "total": 8,
        "by_stage": [
            {"stage": "preliminary_review", "label": "初审", "count": 4},
            {"stage": "supplement", "label": "申请人补正", "count": 1},
            {"stage": "acceptance", "label": "受理决定", "count": 1},
            {"stage": "department_review", "label": "认定单位审核", "count": 2},
        ],
        "by_department": [
            {"department": "SCJGJ", "name": "济南市市场监督管理局", "count": 5},
            {"department": "ZJJ", "name": "济南市住房和城乡建设局", "count": 3},
        ],
        "by_stage_department": [
            {"stage": "preliminary_review", "department": "SCJGJ", "count": 3},
            {"stage": "preliminary_review", "department": "ZJJ", "count": 1},
            {"stage": "supplement", "department": "SCJGJ", "count": 1},
            {"stage": "acceptance", "department": "SCJGJ", "count": 1},
            {"stage": "department_review", "department": "ZJJ", "count": 2},
        ],
    }
    assert body["due_today"] == 3
    assert body["at_risk"] == 2
    assert body["breached"] == {"total": 5, "open": 2, "stopped_in_period": 3}
    assert body["on_time"] == rate(4, 7)
    assert body["on_time"]["rate"] == 0.5714
    assert body["same_day_preliminary_review"] == rate(1, 3)
    assert body["one_time_notification"] == {**rate(1, 3), "repeat": 2}
    assert body["officers"] == [
        # O6 is paused while the case waits for the applicant: not the officer's work now.
        {"id": officer.pk, "username": "officer", "name": "刘洋", "open": 4, "at_risk": 1,
         "breached_open": 1, "on_time": rate(1, 3)},
        {"id": officer2.pk, "username": "officer2", "name": "周强", "open": 1, "at_risk": 1,
         "breached_open": 0, "on_time": rate(1, 1)},
        # The supplement clocks wait for the applicant: never "not assigned".
        {"id": None, "username": None, "name": "未分配", "open": 1, "at_risk": 0,
         "breached_open": 1, "on_time": rate(0, 0)},
    ]  # fmt: skip
    assert body["waiting_applicant"] == 2  # Y2 (the applicant's stage) and O6 (paused)
    assert body["paused_for_applicant"] == 1
    # S2 stopped on Monday 07:00 in Shanghai (Sunday in UTC): it counts in the week of 12 October.
    assert body["trend"] == [
        {"week_start": "2026-09-28", "week_end": "2026-10-04", "from": "2026-10-01",
         "to": "2026-10-04", **rate(0, 1)},
        {"week_start": "2026-10-05", "week_end": "2026-10-11", "from": "2026-10-05",
         "to": "2026-10-11", **rate(3, 3)},
        {"week_start": "2026-10-12", "week_end": "2026-10-18", "from": "2026-10-12",
         "to": "2026-10-14", **rate(1, 3)},
    ]  # fmt: skip


def test_the_department_filter_narrows_every_figure(board_set, summary):
    body = summary(department="SCJGJ")
    assert body["open"]["total"] == 5
    assert [row["department"] for row in body["open"]["by_department"]] == ["SCJGJ"]
    assert body["due_today"] == 3
    assert body["at_risk"] == 1
    assert body["breached"] == {"total": 3, "open": 1, "stopped_in_period": 2}
    assert body["on_time"] == rate(3, 5)
    assert body["same_day_preliminary_review"] == rate(1, 3)
    assert body["one_time_notification"] == {**rate(1, 2), "repeat": 1}


def test_the_stage_filter_narrows_every_figure(board_set, summary):
    body = summary(stage="preliminary_review")
    assert body["open"]["total"] == 4
    assert body["due_today"] == 2
    assert body["at_risk"] == 1
    assert body["breached"] == {"total": 2, "open": 0, "stopped_in_period": 2}
    assert body["on_time"] == rate(1, 3)
    assert body["same_day_preliminary_review"] == rate(1, 3)
    # No supplement clock passes a preliminary-review filter: no rate, not 0 %.
    assert body["one_time_notification"] == {**rate(0, 0), "repeat": 0}
    assert body["one_time_notification"]["rate"] is None


def test_the_period_moves_the_rates_but_not_the_open_figures(board_set, summary):
    body = summary(**{"from": "2026-10-05", "to": "2026-10-11"})
    assert body["open"]["total"] == 8
    assert body["due_today"] == 3
    assert body["at_risk"] == 2
    assert body["breached"] == {"total": 2, "open": 2, "stopped_in_period": 0}
    assert body["on_time"] == rate(3, 3)
    assert body["same_day_preliminary_review"] == rate(1, 1)
    # X (10-05), Y (its second request on 10-09) and W (its second on 10-10).
    assert body["one_time_notification"] == {**rate(1, 3), "repeat": 2}
    assert [w["week_start"] for w in body["trend"]] == ["2026-10-05"]


def test_the_first_instant_of_the_period_counts_and_the_instant_before_does_not(board_set, summary):
    one_day = summary(**{"from": "2026-10-01", "to": "2026-10-01"})
    assert one_day["on_time"] == rate(0, 1)  # S6, stopped at 00:00 on 1 October
    before = summary(**{"from": "2026-09-30", "to": "2026-09-30"})
    assert before["on_time"] == rate(1, 1)  # S7, stopped at 23:59:59 on 30 September


def test_the_one_time_rate_counts_exactly_one_against_two_requests(cases, department, summary):
    def request_supplement(case, day, stopped=None):
        add_clock(case, Stage.SUPPLEMENT, department=department, assignee=None,
                  state=ClockState.MET if stopped else ClockState.RUNNING,
                  started=f"{day}T10:00", due="2026-10-20T17:00",
                  stopped_at=stopped and f"{stopped}T09:00")  # fmt: skip

    request_supplement(cases["one"], "2026-10-05")
    request_supplement(cases["two"], "2026-10-02", stopped="2026-10-06")
    request_supplement(cases["two"], "2026-10-07")
    assert summary()["one_time_notification"] == {**rate(1, 2), "repeat": 1}


@pytest.mark.parametrize(
    ("now", "due_today"),
    [
        ("2026-10-14T23:59:59+08:00", {"A"}),
        # 00:00 in Shanghai is still 14 October in UTC: the day is Shanghai's.
        ("2026-10-15T00:00:00+08:00", {"B", "M"}),
        ("2026-10-15T07:59:59+08:00", {"B", "M"}),
    ],
)
def test_due_today_turns_over_at_midnight_in_shanghai(
    cases, department, supervisor, api, now, due_today
):
    clocks = {
        "A": "2026-10-14T17:00",
        "M": "2026-10-15T00:00",  # the first instant of 15 October
        "B": "2026-10-15T17:00",
    }
    for name, due in clocks.items():
        add_clock(cases[name], Stage.PRELIMINARY_REVIEW, department=department, assignee=None,
                  state=ClockState.RUNNING, started="2026-10-14T09:00", due=due)  # fmt: skip
    when = dt.datetime.fromisoformat(now)
    filters = BoardFilters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 14))
    with time_machine.travel(when, tick=False):
        assert board_summary(filters=filters)["due_today"] == len(due_today)
        response = api.get("/api/v1/sla/summary/", PERIOD)
        listed = _board_list(supervisor, metric="due_today")
    assert response.json()["due_today"] == len(due_today)
    assert {row.split(",")[0] for row in listed} == {cases[n].decision_number for n in due_today}


@pytest.mark.parametrize(
    ("now", "at_risk", "breached"),
    [
        ("2026-10-14T14:59:59", 0, 0),  # before the second warning
        ("2026-10-14T15:00:00", 1, 0),  # at it
        ("2026-10-14T17:00:00", 1, 0),  # at the deadline: still on time
        ("2026-10-14T17:00:01", 0, 1),  # just after: late, even before the sweep marks it
    ],
)
def test_at_risk_turns_into_breached_at_the_deadline(
    cases, department, api, now, at_risk, breached
):
    add_clock(cases["A"], Stage.PRELIMINARY_REVIEW, department=department, assignee=None,
              state=ClockState.RUNNING, started="2026-10-14T09:00", due="2026-10-14T17:00",
              warn2_at="2026-10-14T15:00")  # fmt: skip
    with time_machine.travel(at(now), tick=False):
        body = api.get("/api/v1/sla/summary/", PERIOD).json()
    assert (body["at_risk"], body["breached"]["open"]) == (at_risk, breached)


def test_a_swept_breach_stays_breached_and_never_at_risk(cases, department, summary):
    add_clock(cases["A"], Stage.PRELIMINARY_REVIEW, department=department, assignee=None,
              state=ClockState.BREACHED, started="2026-10-14T09:00", due="2026-10-14T12:00",
              warn2_at="2026-10-14T11:00", warned_level=3,
              breached_at="2026-10-14T12:00")  # fmt: skip
    body = summary()
    assert (body["at_risk"], body["breached"]["open"], body["due_today"]) == (0, 1, 1)


def test_clocks_from_the_services_show_on_the_board(record, officer, summary):
    clock_start(case=record, stage="preliminary_review", actor="test",
                at=at("2026-10-14T10:00"), assignee=officer)  # fmt: skip
    body = summary()
    assert (body["open"]["total"], body["due_today"]) == (1, 1)
    clock_stop(case=record, stage="preliminary_review", actor="test", at=at("2026-10-14T14:00"))
    body = summary()
    assert body["open"]["total"] == 0
    assert body["same_day_preliminary_review"] == rate(1, 1)
    assert body["officers"][0]["on_time"] == rate(1, 1)


def test_the_summary_runs_the_same_few_queries_for_more_clocks(board_set, cases, department):
    filters = BoardFilters(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 14))
    with CaptureQueriesContext(connection) as small:
        board_summary(filters=filters, now=NOW)
    for i in range(30):
        add_clock(cases[f"more{i}"], Stage.ACCEPTANCE, department=department, assignee=None,
                  state=ClockState.RUNNING, started="2026-10-13T09:00",
                  due="2026-10-15T17:00")  # fmt: skip
    with CaptureQueriesContext(connection) as large:
        board_summary(filters=filters, now=NOW)
    assert len(small) == len(large) <= 6


# --- the lists behind the figures -----------------------------------------------------------


def _board_list(user, **params):
    """CSV rows (without BOM and header) of the list behind a figure."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    response = client.get("/sla/board/list/", {**PERIOD, **params, "format": "csv"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    return text.lstrip("\ufeff").splitlines()[1:]


@pytest.mark.parametrize(
    ("metric", "params", "expected"),
    [
        ("open", {}, ["O1", "O2", "O3", "O4", "O5", "O6", "O7", "Y"]),
        ("due_today", {}, ["O1", "O2", "O5"]),
        ("at_risk", {}, ["O2", "O3"]),
        ("breached", {}, ["O4", "O5", "S2", "S6", "W"]),
        ("breached_open", {}, ["O4", "O5"]),
        ("breached_stopped", {}, ["S2", "S6", "W"]),
        ("rated", {}, ["S1", "S2", "S3", "S6", "X", "Y", "W"]),
        ("met", {}, ["S1", "S3", "X", "Y"]),
        ("same_day", {}, ["S1", "S2", "S6"]),
        ("same_day_met", {}, ["S1"]),
        ("open", {"department": "ZJJ"}, ["O3", "O4", "O7"]),
        ("open", {"stage": "department_review", "department": "ZJJ"}, ["O3", "O4"]),
        ("open", {"assignee": NONE}, ["O4"]),
        ("open", {"assignee": "applicant"}, ["Y", "O6"]),
        ("open", {"assignee": "officer"}, ["O1", "O2", "O5", "O7"]),
        ("rated", {"assignee": NONE}, []),
        ("at_risk", {"assignee": "officer2"}, ["O3"]),
        ("rated", {"from": "2026-10-12", "to": "2026-10-14"}, ["S2", "S3", "W"]),
    ],
)
def test_each_list_holds_the_clocks_behind_its_figure(
    request, client_for, supervisor, board_set, cases, metric, params, expected
):
    if params.get("assignee") in ("officer", "officer2"):
        params = {"assignee": request.getfixturevalue(params["assignee"]).pk}
    names = {record.decision_number: name for name, record in cases.records.items()}
    with time_machine.travel(NOW, tick=False):
        response = client_for(supervisor).get(
            "/sla/board/list/", {**PERIOD, "metric": metric, **params}
        )
    assert response.status_code == 200
    assert response.context["page"].paginator.count == len(expected)
    listed = [names[row["clock"].case_label] for row in response.context["rows"]]
    assert sorted(listed) == sorted(expected)


def test_the_one_time_list_shows_every_supplement_clock_of_the_cases(
    client_for, supervisor, board_set, cases
):
    with time_machine.travel(NOW, tick=False):
        response = client_for(supervisor).get("/sla/board/list/", {**PERIOD, "metric": "one_time"})
    labels = [row["clock"].case_label for row in response.context["rows"]]
    # X once; Y and W twice, also W's first request from before the period.
    assert sorted(labels) == sorted(
        [cases["X"].decision_number] + [cases["Y"].decision_number] * 2
        + [cases["W"].decision_number] * 2
    )  # fmt: skip


def test_every_figure_on_the_board_page_links_to_its_list(client_for, supervisor, board_set):
    with time_machine.travel(NOW, tick=False):
        response = client_for(supervisor).get("/sla/board/", PERIOD)
    assert response.status_code == 200
    html = response.content.decode()
    cards = {c["title"]: (c["value"], c["url"]) for c in response.context["cards"]}
    assert cards == {
        "未办结": (8, "/sla/board/list/?from=2026-10-01&to=2026-10-14&metric=open"),
        "今日到期": (3, "/sla/board/list/?from=2026-10-01&to=2026-10-14&metric=due_today"),
        "临近超时": (2, "/sla/board/list/?from=2026-10-01&to=2026-10-14&metric=at_risk"),
        "超时": (5, "/sla/board/list/?from=2026-10-01&to=2026-10-14&metric=breached"),
        "按时办结率": ("57.1%", "/sla/board/list/?from=2026-10-01&to=2026-10-14&metric=rated"),
        "当日初审率": ("33.3%", "/sla/board/list/?from=2026-10-01&to=2026-10-14&metric=same_day"),
        "一次性告知率": (
            "33.3%",
            "/sla/board/list/?from=2026-10-01&to=2026-10-14&metric=one_time",
        ),
    }
    for value, url in cards.values():
        assert f'href="{url.replace("&", "&amp;")}"' in html
        assert f">{value}</a>" in html
    # The trend chart: inline SVG, one bar per week with its percentage, no script.
    assert html.count('class="chart-bar') == 3
    assert ">0.0%</text>" in html and ">100.0%</text>" in html and ">33.3%</text>" in html
    # (The site's one script, the confirmation of irreversible steps, aside.)
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/js/confirm.js" defer>']
    # Officers and the department x stage table link to their lists too.
    assert "metric=open&amp;assignee=none" in html
    assert "department=ZJJ&amp;stage=department_review" in html


def test_the_board_keeps_its_filters_in_every_link(client_for, supervisor, board_set):
    with time_machine.travel(NOW, tick=False):
        response = client_for(supervisor).get(
            "/sla/board/", {**PERIOD, "department": "SCJGJ", "stage": "preliminary_review"}
        )
    open_card = response.context["cards"][0]
    assert open_card["value"] == 3
    assert open_card["url"] == (
        "/sla/board/list/?department=SCJGJ&stage=preliminary_review"
        "&from=2026-10-01&to=2026-10-14&metric=open"
    )


def test_the_board_defaults_to_the_last_30_days(client_for, supervisor):
    with time_machine.travel(NOW, tick=False):
        response = client_for(supervisor).get("/sla/board/")
    assert response.status_code == 200
    filters = response.context["filters"]
    assert (filters.start, filters.end) == (dt.date(2026, 9, 15), dt.date(2026, 10, 14))


def test_bad_filters_on_the_page_say_what_is_wrong(client_for, supervisor):
    response = client_for(supervisor).get(
        "/sla/board/", {"from": "2026-10-14", "to": "2026-10-01", "stage": "nope"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "结束日期 2026-10-01 早于开始日期 2026-10-14" in html
    assert "未知的环节“nope”" in html


def test_the_csv_has_a_bom_a_header_and_a_row_per_clock(client_for, supervisor, board_set, cases):
    with time_machine.travel(NOW, tick=False):
        response = client_for(supervisor).get(
            "/sla/board/list/", {**PERIOD, "metric": "due_today", "format": "csv"}
        )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="sla-due_today-2026-10-01-2026-10-14.csv"'
    )
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == [
        "案件", "环节", "认定单位", "承办人", "开始时间", "期限（北京时间）", "状态", "超时时长",
    ]  # fmt: skip
    o1, o2, o5 = (cases[n].decision_number for n in ("O1", "O2", "O5"))
    # Ordered by deadline: the late acceptance first.
    assert rows[1:] == [
        [o5, "受理决定", "济南市市场监督管理局", "刘洋", "2026-10-12 09:00", "2026-10-14 12:00",
         "已超时", "3 小时"],
        [o1, "初审", "济南市市场监督管理局", "刘洋", "2026-10-14 09:00", "2026-10-14 17:00",
         "计时中", ""],
        [o2, "初审", "济南市市场监督管理局", "刘洋", "2026-10-14 09:00", "2026-10-14 17:00",
         "计时中", ""],
    ]  # fmt: skip


def test_the_csv_of_stopped_clocks_says_how_they_ended(client_for, supervisor, board_set, cases):
    with time_machine.travel(NOW, tick=False):
        response = client_for(supervisor).get(
            "/sla/board/list/", {**PERIOD, "metric": "breached", "format": "csv"}
        )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    by_case = {row[0]: row for row in rows[1:]}
    s2 = by_case[cases["S2"].decision_number]
    assert (s2[6], s2[7]) == ("超时办结", "2 天 14 小时")  # 10-09 17:00 -> 10-12 07:00
    o4 = by_case[cases["O4"].decision_number]
    assert (o4[3], o4[6], o4[7]) == ("未分配", "已超时", "22 小时")  # 10-13 17:00 -> now


def test_a_formula_in_a_case_label_is_defused_in_the_csv(client_for, supervisor, record):
    add_clock(record, Stage.ACCEPTANCE, department=None, assignee=None,
              state=ClockState.RUNNING, started="2026-10-13T09:00",
              due="2026-10-15T17:00")  # fmt: skip
    SlaClock.objects.update(case_label="=HYPERLINK(1)")
    with time_machine.travel(NOW, tick=False):
        rows = _board_list(supervisor, metric="open", department=NONE)
    assert rows[0].startswith("'=HYPERLINK(1)")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_formula_in_a_department_or_assignee_name_is_defused_in_the_csv(
    client_for, supervisor, record, department, officer, start
):
    """Issue 17 finding 13: department names reached the CSV raw."""
    add_clock(record, Stage.ACCEPTANCE, department=department, assignee=officer,
              state=ClockState.RUNNING, started="2026-10-13T09:00",
              due="2026-10-15T17:00")  # fmt: skip
    department.name = start + "HYPERLINK(1)"
    department.save(update_fields=["name"])
    officer.first_name, officer.last_name = "", start + "cmd"
    officer.save(update_fields=["first_name", "last_name"])
    with time_machine.travel(NOW, tick=False):
        response = client_for(supervisor).get(
            "/sla/board/list/", {**PERIOD, "metric": "open", "format": "csv"}
        )
    raw = b"".join(response.streaming_content).decode("utf-8-sig")
    row = list(csv.reader(io.StringIO(raw, newline="")))[1]
    assert row[2] == "'" + start + "HYPERLINK(1)"
    # get_full_name() strips a leading tab or CR, leaving nothing to defuse.
    assert row[3] == ("'" + start + "cmd" if start.strip() else "cmd")


def test_csv_cells_only_touch_formula_starts():
    assert csv_row(["济南", "1-2", "a=b", "", None, 3]) == ["济南", "1-2", "a=b", "", "", "3"]
    assert csv_cell("-5") == "'-5"


def test_a_bad_metric_is_refused(client_for, supervisor):
    response = client_for(supervisor).get("/sla/board/list/", {"metric": "everything"})
    assert response.status_code == 400
    assert "未知的指标“everything”" in response.content.decode()


# --- the API --------------------------------------------------------------------------------


def test_the_api_names_each_bad_parameter(api_for, supervisor, department):
    response = api_for(supervisor).get(
        "/api/v1/sla/summary/",
        {"department": "NOPE", "stage": "review", "from": "2026-13-01", "to": "yesterday"},
    )
    assert response.status_code == 400
    errors = field_errors(response)
    assert set(errors) == {"department", "stage", "from", "to"}
    assert errors["department"] == ["未知的认定单位代码“NOPE”"]
    assert errors["stage"][0].startswith("未知的环节“review”")
    assert errors["from"][0] == "无法解析日期“2026-13-01”，应为 YYYY-MM-DD，例如 2026-10-01"


def test_the_api_refuses_a_reversed_or_overlong_period(api_for, supervisor):
    api = api_for(supervisor)
    reversed_ = api.get("/api/v1/sla/summary/", {"from": "2026-10-14", "to": "2026-10-01"})
    assert reversed_.status_code == 400
    assert field_errors(reversed_) == {"to": ["结束日期 2026-10-01 早于开始日期 2026-10-14"]}
    overlong = api.get("/api/v1/sla/summary/", {"from": "2025-01-01", "to": "2026-10-01"})
    assert field_errors(overlong) == {"to": ["统计期间不能超过 366 天"]}


def test_administrators_get_the_summary_too(api_for, administrator, board_set):
    with time_machine.travel(NOW, tick=False):
        response = api_for(administrator).get("/api/v1/sla/summary/", PERIOD)
    assert response.status_code == 200
    assert response.json()["open"]["total"] == 8


def test_the_api_schema_documents_the_summary(api_for, supervisor):
    response = api_for(supervisor).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    operation = response.json()["paths"]["/api/v1/sla/summary/"]["get"]
    assert operation["operationId"] == "sla_summary"
    assert {p["name"] for p in operation["parameters"]} == {"department", "stage", "from", "to"}
    assert {"200", "400"} <= set(operation["responses"])


# --- who may see it -------------------------------------------------------------------------

PAGES = ["/sla/board/", "/sla/board/list/?metric=open", "/sla/board/list/?format=csv"]


@pytest.mark.parametrize("persona", ["officer", "reviewer", "applicant"])
@pytest.mark.parametrize("url", PAGES)
def test_other_roles_are_refused_the_board(request, client_for, persona, url):
    user = request.getfixturevalue(persona)
    assert client_for(user).get(url).status_code == 403


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_administrators_see_the_board(client_for, administrator):
    assert client_for(administrator).get("/sla/board/").status_code == 200


@pytest.mark.parametrize("persona", ["officer", "reviewer", "applicant", "integration"])
def test_other_roles_are_refused_the_api(request, api_for, persona):
    user = request.getfixturevalue(persona)
    assert api_for(user).get("/api/v1/sla/summary/").status_code == 403


def test_anonymous_callers_get_401_from_the_api():
    assert APIClient().get("/api/v1/sla/summary/").status_code == 401


def test_the_csv_streams_in_chunks_with_the_same_queries_for_more_rows(
    monkeypatch, client_for, supervisor, cases, department, officer
):
    """Issue 18: the export is read from one cursor and formatted a chunk at a
    time; 40 rows ask what 1 row asks, and arrive in several chunks."""
    import sla.exports

    monkeypatch.setattr(sla.exports, "CSV_CHUNK_ROWS", 10)
    client = client_for(supervisor)

    def export():
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
            response = client.get("/sla/board/list/", {**PERIOD, "metric": "open", "format": "csv"})
            assert response.streaming
            chunks = [chunk for chunk in response.streaming_content if chunk]
        rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
        return len(queries), chunks, rows[1:]

    for i in range(40):
        add_clock(cases[f"bulk{i}"], Stage.ACCEPTANCE, department=department,
                  assignee=officer if i % 2 else None, state=ClockState.RUNNING,
                  started="2026-10-13T09:00", due="2026-10-15T17:00")  # fmt: skip
        if i == 0:
            export()  # warm
            one, _chunks, rows = export()
            assert len(rows) == 1
    forty, chunks, rows = export()
    assert len(rows) == 40 and one == forty
    assert len(chunks) >= 5  # the BOM, then 10 rows a chunk
    assert {row[3] for row in rows} == {"刘洋", "未分配"}
