"""A penalty decision revoked or changed (Shandong Social Credit Regulation
Art. 40): the issuing department reports it (its reviewer's page, the API,
or an import by its own system), the record is deleted or corrected, the
3-working-day record-change clock runs from the date of revocation or change,
and other platforms get a sync event. Everyone else is refused."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from records.models import (
    DecisionChange,
    DepartmentMembership,
    RecordCorrection,
    RecordStatus,
    SyncEvent,
)
from repair_flow.models import Role
from sla.clocks import clocks_for
from sla.models import ClockState, SlaClock
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("Asia/Shanghai")
SECOND = dt.timedelta(seconds=1)
# Revoked Wed 30 Sep 2026: National Day (1-7 Oct) does not count, Sat 10 Oct
# is a make-up working day: 8, 9, 10 Oct -> due Sat 10 Oct 17:00.
REVOKED_ON = "2026-09-30"
DUE = dt.datetime(2026, 10, 10, 17, 0, tzinfo=TZ)
REVOKE = {"kind": "revoked", "changed_on": REVOKED_ON, "note": "济政复决〔2026〕12号"}


def change_url(record) -> str:
    return f"/api/v1/records/{record.pk}/decision-change/"


def system_of(department, username="dept_own_system"):
    user = make_user(username, Role.INTEGRATION)
    Token.objects.create(user=user)
    DepartmentMembership.objects.create(user=user, department=department)
    return user


@pytest.fixture
def at_due():
    with time_machine.travel(DUE, tick=False) as traveller:
        yield traveller


@pytest.mark.parametrize(
    ("offset", "state"),
    [(-SECOND, ClockState.MET), (dt.timedelta(0), ClockState.MET), (SECOND, ClockState.BREACHED)],
    ids=["just-before", "at", "just-after"],
)
def test_a_revocation_reported_around_its_deadline(
    api_for, record, reviewer, at_due, offset, state
):
    at_due.move_to(DUE + offset)
    response = api_for(reviewer).post(change_url(record), REVOKE, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [body["kind"], body["kind_label"], body["record_status"]] == [
        "revoked",
        "撤销",
        "deleted",
    ]
    assert body["clock"] == {
        "state": state,
        "due_at": "2026-10-10T17:00:00+08:00",
        "provisional": False,
    }
    clock = clocks_for(DecisionChange.objects.get()).get()
    assert (clock.stage, clock.department_id) == ("record_change", record.department_id)
    assert clock.started_at == dt.datetime(2026, 9, 30, tzinfo=TZ)
    record.refresh_from_db()
    assert record.status == RecordStatus.DELETED
    event = SyncEvent.objects.get(record=record)
    assert event.kind == "decision_revoked"
    assert event.payload["reference"]["changed_on"] == REVOKED_ON
    assert event.payload["record_status"] == "deleted"


def test_only_the_issuing_department_may_report(
    api_for, record, applicant, officer, supervisor, other_reviewer, integration,
    other_department, at_due,
):  # fmt: skip
    attempts = [
        (applicant, 403),
        (officer, 403),
        (supervisor, 403),
        (integration, 403),  # a system bound to no department
        (system_of(other_department, "zjj_system"), 403),
        (other_reviewer, 404),  # does not even see the record
    ]
    for user, code in attempts:
        response = api_for(user).post(change_url(record), REVOKE, format="json")
        assert response.status_code == code, (user.username, response.json())
    record.refresh_from_db()
    assert record.status == RecordStatus.PUBLISHED
    assert not DecisionChange.objects.exists() and not SyncEvent.objects.exists()
    assert not SlaClock.objects.exists()


def test_bad_input_is_refused_per_field_with_nothing_saved(api_for, record, reviewer, at_due):
    api = api_for(reviewer)
    cases = [
        ({**REVOKE, "changed_on": "2026-10-11"}, "changed_on", "撤销或变更日期不能晚于今天"),
        ({**REVOKE, "changed_on": "2026-01-14"}, "changed_on", "不能早于处罚决定日期"),
        ({"kind": "changed", "changed_on": REVOKED_ON}, "changes", "请填写变更后的内容"),
        ({**REVOKE, "kind": "annulled"}, "kind", ""),
    ]
    for body, field, message in cases:
        response = api.post(change_url(record), body, format="json")
        assert response.status_code == 400, body
        assert message in str(response.json()[field]), response.json()
    assert not DecisionChange.objects.exists()
    record.refresh_from_db()
    assert record.status == RecordStatus.PUBLISHED


def test_the_same_report_twice_is_one_change(api_for, record, reviewer, at_due):
    api = api_for(reviewer)
    assert api.post(change_url(record), REVOKE, format="json").status_code == 201
    assert api.post(change_url(record), REVOKE, format="json").status_code == 200
    assert DecisionChange.objects.count() == 1 and SyncEvent.objects.count() == 1


def test_the_reviewer_reports_a_changed_decision_on_the_record_page(
    client_for, record, reviewer, other_reviewer, applicant, officer, at_due
):
    path = f"/records/{record.pk}/"
    page = client_for(reviewer).get(path).content.decode()
    assert "登记处罚决定撤销或变更" in page
    for user in (applicant, officer):
        assert "登记处罚决定撤销或变更" not in client_for(user).get(path).content.decode()
        assert client_for(user).post(f"{path}decision-change/", REVOKE).status_code == 403
    assert client_for(other_reviewer).post(f"{path}decision-change/", REVOKE).status_code == 404
    # A change with nothing to change is refused, the form kept.
    response = client_for(reviewer).post(
        f"{path}decision-change/", {"kind": "changed", "changed_on": REVOKED_ON}
    )
    assert response.status_code == 400
    assert "处罚决定变更的，请填写变更后的内容。" in response.content.decode()

    response = client_for(reviewer).post(
        f"{path}decision-change/",
        {"kind": "changed", "changed_on": "2026-10-08", "note": "济政复决〔2026〕13号",
         "fine_amount": "2000"},
    )  # fmt: skip
    assert response.status_code == 302
    record.refresh_from_db()
    assert str(record.fine_amount) == "2000.00" and record.status == RecordStatus.PUBLISHED
    change = DecisionChange.objects.get()
    assert change.changes[0]["field"] == "fine_amount" and change.source == "page"
    assert RecordCorrection.objects.get(record=record).evidence == "济政复决〔2026〕13号"
    assert SyncEvent.objects.get(record=record).kind == "decision_changed"
    # Changed Thu 8 Oct: 9, 10 (make-up Saturday), 12 Oct -> due Mon 12 Oct 17:00.
    clock = clocks_for(change).get()
    assert clock.due_at == dt.datetime(2026, 10, 12, 17, 0, tzinfo=TZ)
    assert clock.state == ClockState.MET
    page = client_for(applicant).get(path).content.decode()
    assert "2026-10-08 变更 · 济政复决〔2026〕13号" in page


def row(record, **extra) -> dict:
    return {
        "decision_number": record.decision_number,
        "department_code": record.department.code,
        "subject_type": record.subject.kind,
        "subject_identifier": record.subject.identifier,
        "subject_name": record.subject.name,
        "decision_date": record.decision_date.isoformat(),
        "severity": record.severity,
        "penalty_types": record.penalty_types,
        "fine_amount": str(record.fine_amount),
        **extra,
    }


def test_the_departments_own_system_reports_through_the_import_api(
    api_for, record, department, integration, at_due
):
    revoked = row(record, decision_change="revoked", decision_change_date=REVOKED_ON)
    # An integration account bound to no department imports nothing.
    response = api_for(integration).post("/api/v1/records/", revoked, format="json")
    assert response.status_code == 400
    [error] = response.json()["results"][0]["errors"]
    assert (error["field"], error["code"]) == ("department_code", "no_department")
    assert "未绑定认定单位" in error["message"]
    # A date without the change, an unknown change, a change without its date.
    own = api_for(system_of(department))
    for extra, field, code in [
        ({"decision_change_date": REVOKED_ON}, "decision_change_date", "unexpected"),
        ({"decision_change": "annulled"}, "decision_change", "unknown"),
        ({"decision_change": "revoked"}, "decision_change_date", "required"),
    ]:
        response = own.post("/api/v1/records/", row(record, **extra), format="json")
        assert response.status_code == 400
        assert [(e["field"], e["code"]) for e in response.json()["results"][0]["errors"]] == [
            (field, code)
        ]
    response = own.post("/api/v1/records/", revoked, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["results"][0] == {
        "index": 0, "status": "updated", "id": record.pk, "errors": []
    }  # fmt: skip
    record.refresh_from_db()
    assert record.status == RecordStatus.DELETED
    assert DecisionChange.objects.get().source == "api"
    # A revocation of a decision never registered is refused.
    unknown = {**revoked, "decision_number": "济市监罚〔2026〕999号"}
    response = own.post("/api/v1/records/", unknown, format="json")
    assert response.json()["results"][0]["errors"][0]["code"] == "unknown_record"


def test_an_import_file_reports_it_only_under_the_departments_account(
    record, reviewer, tmp_path, at_due, capsys
):
    path = tmp_path / "changes.jsonl"
    line = {
        **row(record, penalty_types="fine"),
        "decision_change": "revoked",
        "decision_change_date": REVOKED_ON,
    }
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        call_command("import_records", str(path))
    assert "只有作出该处罚决定的认定单位" in capsys.readouterr().err
    record.refresh_from_db()
    assert record.status == RecordStatus.PUBLISHED
    call_command("import_records", str(path), "--actor", reviewer.username)
    record.refresh_from_db()
    assert record.status == RecordStatus.DELETED
    assert clocks_for(DecisionChange.objects.get()).get().state == ClockState.MET
