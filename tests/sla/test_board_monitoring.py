"""The 履约监管 figures of the supervisors' board, on the page and in the API,
from repairs approved and reviewed through the services.

The set (now: Friday 2027-11-05 10:00 in Asia/Shanghai; period 1 October - 5 November 2027):

A  record of D1 (enterprise)        approved 2026-11-18 15:00, ends 2027-11-18 -> open, closing
                                    this month; a D1 penalty reviewed 10-14, dismissed 10-15
B  record of D2 (other_enterprise)  approved 2026-12-10 10:00, ends 2027-12-10 -> open; a D2
                                    penalty reviewed 10-20, pending
C  record of D1 (a third subject)   approved 2026-11-19 10:00; a D1 penalty reviewed 10-12,
                                    confirmed 10-13 -> breached, repair revoked
"""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flows.models import BreachReview, CaseStatus, MonitoringWindow
from flows.monitoring.services import breach_dismiss
from records.identifiers import make_uscc
from records.models import BindingCapacity, Subject, SubjectBinding, SubjectKind
from repair_flow.models import Role
from sla.board import BoardFilters, board_monitoring
from tests.conftest import make_record, make_user
from tests.flows.conftest import (
    BASIS,
    approve_repair,
    at,
    draft_with_materials,
    import_rows,
    penalty_row,
    revoke,
)

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 11, 16, 10, 0, tzinfo=TZ)
NOW = "2027-11-05 10:00"
PERIOD = {"from": "2027-10-01", "to": "2027-11-05"}
ALL = {
    "open": 2,
    "closing_this_month": 1,
    "found": 3,
    "confirmed": 1,
    "dismissed": 1,
    "pending": 1,
    "revoked": 1,
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def approve(record, *, applicant, officer, reviewer, now, on: str):
    """A repair of `record` through the services, approved at `on` (Beijing)."""
    case = draft_with_materials(applicant, record)
    return approve_repair(case, officer=officer, reviewer=reviewer, now=now, on=on)


@pytest.fixture
def monitoring_set(
    now,
    applicant,
    other_applicant,
    officer,
    reviewer,
    other_reviewer,
    record,
    other_record,
    enterprise,
    other_enterprise,
    department,
    other_department,
):
    third = Subject.objects.create(
        kind=SubjectKind.ENTERPRISE,
        identifier=make_uscc(serial=1003),
        name="济南槐荫商贸有限公司",
        legal_representative="王强",
    )
    third_applicant = make_user("third_applicant", Role.APPLICANT, first_name="王强")
    SubjectBinding.objects.create(
        user=third_applicant, subject=third, capacity=BindingCapacity.LEGAL_REPRESENTATIVE
    )
    third_record = make_record(
        department=department, subject=third, decision_number="济市监罚〔2026〕5号"
    )
    # All three are filed and reviewed at T0; approved one after the other.
    a = approve(record, applicant=applicant, officer=officer, reviewer=reviewer, now=now,
                on="2026-11-18 15:00")  # fmt: skip
    c = approve(third_record, applicant=third_applicant, officer=officer, reviewer=reviewer,
                now=now, on="2026-11-19 10:00")  # fmt: skip
    b = approve(other_record, applicant=other_applicant, officer=officer,
                reviewer=other_reviewer, now=now, on="2026-12-10 10:00")  # fmt: skip

    now.move_to(at("2027-10-12 09:00"))
    import_rows(penalty_row(third, department, number="济市监罚〔2027〕31号", day="2027-10-11"))
    now.move_to(at("2027-10-13 10:00"))
    # Revoked after the hearing (the notice and the applicant's statement).
    revoke(
        reviewer=reviewer,
        review=BreachReview.objects.get(case=c),
        reasons=["在信用修复承诺履约监管期内再次受到行政处罚"],
        basis=BASIS,
    )
    now.move_to(at("2027-10-14 09:00"))
    import_rows(
        penalty_row(enterprise, department, number="济市监罚〔2027〕32号", day="2027-10-13")
    )
    now.move_to(at("2027-10-15 10:00"))
    breach_dismiss(
        reviewer=reviewer,
        review=BreachReview.objects.get(case=a),
        reasons=["违法行为发生在作出信用承诺之前"],
    )
    now.move_to(at("2027-10-20 09:00"))
    import_rows(
        penalty_row(
            other_enterprise, other_department, number="济建罚〔2027〕33号", day="2027-10-19"
        )
    )
    now.move_to(at(NOW))
    for case in (a, b, c):
        case.refresh_from_db()
    assert [case.status for case in (a, b, c)] == [
        CaseStatus.APPROVED,
        CaseStatus.APPROVED,
        CaseStatus.REVOKED,
    ]
    assert sorted(MonitoringWindow.objects.values_list("status", flat=True)) == [
        "breached",
        "open",
        "open",
    ]
    return {"A": a, "B": b, "C": c}


FIGURE = re.compile(
    r'data-monitoring="(\w+)">\s*<div class="board-card-title">[^<]*</div>\s*'
    r'<span class="board-figure">(\d+)</span>'
)


def board_page(client_for, user, **params) -> dict:
    response = client_for(user).get("/sla/board/", {**PERIOD, **params})
    assert response.status_code == 200
    html = response.content.decode()
    assert "履约监管" in html
    return {key: int(value) for key, value in FIGURE.findall(html)}


def api_figures(api_for, user, **params) -> dict:
    response = api_for(user).get("/api/v1/sla/summary/", {**PERIOD, **params})
    assert response.status_code == 200, response.content
    return response.json()["monitoring"]


def test_the_board_and_the_api_show_every_monitoring_figure(
    client_for, api_for, supervisor, monitoring_set
):
    assert board_page(client_for, supervisor) == ALL
    assert api_figures(api_for, supervisor) == ALL


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "SCJGJ",
            {"open": 1, "closing_this_month": 1, "found": 2, "confirmed": 1, "dismissed": 1,
             "pending": 0, "revoked": 1},
        ),
        (
            "ZJJ",
            {"open": 1, "closing_this_month": 0, "found": 1, "confirmed": 0, "dismissed": 0,
             "pending": 1, "revoked": 0},
        ),
        # Every window and review has a department: none without one.
        ("none", dict.fromkeys(ALL, 0)),
    ],
)  # fmt: skip
def test_the_department_filter_narrows_the_figures(
    client_for, api_for, supervisor, monitoring_set, code, expected
):
    assert board_page(client_for, supervisor, department=code) == expected
    assert api_figures(api_for, supervisor, department=code) == expected


def test_the_period_moves_the_counts_but_not_the_snapshot(
    client_for, api_for, supervisor, monitoring_set
):
    # 14 October onwards: the confirmation (13 October) and its review (12th) fall outside.
    period = {"from": "2027-10-14", "to": "2027-11-05"}
    expected = {**ALL, "found": 2, "confirmed": 0, "revoked": 0}
    assert board_page(client_for, supervisor, **period) == expected
    assert api_figures(api_for, supervisor, **period) == expected
    # The stage filter does not apply: these are not clocks.
    assert api_figures(api_for, supervisor, stage="preliminary_review") == ALL


def test_closing_this_month_turns_over_at_midnight_in_shanghai(api_for, supervisor, monitoring_set):
    with time_machine.travel(at("2027-10-31 23:59:59"), tick=False):
        assert api_figures(api_for, supervisor)["closing_this_month"] == 0
    with time_machine.travel(at("2027-11-01 00:00"), tick=False):
        assert api_figures(api_for, supervisor)["closing_this_month"] == 1


def test_the_monitoring_figures_run_the_same_few_queries_for_more_rows(now, department):
    filters = BoardFilters(start=dt.date(2027, 10, 1), end=dt.date(2027, 11, 5))
    with CaptureQueriesContext(connection) as empty:
        assert board_monitoring(filters=filters, now=at(NOW)) == dict.fromkeys(ALL, 0)
    filtered = BoardFilters(start=filters.start, end=filters.end, department=department)
    with CaptureQueriesContext(connection) as by_department:
        board_monitoring(filters=filtered, now=at(NOW))
    assert len(empty) == len(by_department) == 2


def test_the_monitoring_figures_query_count_does_not_grow_with_the_set(supervisor, monitoring_set):
    filters = BoardFilters(start=dt.date(2027, 10, 1), end=dt.date(2027, 11, 5))
    with CaptureQueriesContext(connection) as queries:
        assert board_monitoring(filters=filters, now=at(NOW)) == ALL
    assert len(queries) == 2


@pytest.mark.parametrize("persona", ["officer", "reviewer", "applicant"])
def test_other_roles_are_refused_the_figures(request, client_for, api_for, persona):
    user = request.getfixturevalue(persona)
    assert client_for(user).get("/sla/board/", PERIOD).status_code == 403
    response = api_for(user).get("/api/v1/sla/summary/", PERIOD)
    assert response.status_code == 403 and "monitoring" not in response.json()
