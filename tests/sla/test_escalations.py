"""The supervisors' escalation queue: its order, resolving with a note (once),
reassigning the clock, and who may do it."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection, connections
from django.test import Client

from repair_flow.models import AuditEvent, Role
from sla.clocks import clock_start, clock_stop
from sla.escalations import EscalationError, escalation_reassign, escalation_resolve
from sla.models import ClockState, Escalation, SlaClock
from tests.conftest import make_record, make_user

pytestmark = pytest.mark.django_db

NOW = dt.datetime.fromisoformat("2026-10-14T20:00:00+08:00")


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value + "+08:00")


@pytest.fixture
def officer2(db):
    return make_user("officer2", Role.OFFICER, first_name="周强")


def escalate(record, *, started: str, escalated: str, assignee=None) -> Escalation:
    """A preliminary review that ran late and that the sweep escalated."""
    clock = clock_start(
        case=record, stage="preliminary_review", actor="test", at=at(started), assignee=assignee
    )
    SlaClock.objects.filter(pk=clock.pk).update(
        state=ClockState.BREACHED, breached_at=clock.due_at, warned_level=3, next_check_at=None
    )
    return Escalation.objects.create(clock=clock, created_at=at(escalated))


@pytest.fixture
def records(department, enterprise):
    return [
        make_record(
            department=department, subject=enterprise, decision_number=f"济市监罚〔2026〕{n}号"
        )
        for n in (201, 202, 203)
    ]


@pytest.fixture
def queue(records, officer):
    older = escalate(
        records[0], started="2026-10-12T10:00", escalated="2026-10-12T17:01", assignee=officer
    )
    newer = escalate(
        records[1], started="2026-10-13T10:00", escalated="2026-10-13T17:01", assignee=officer
    )
    done = escalate(records[2], started="2026-10-09T10:00", escalated="2026-10-09T17:01")
    Escalation.objects.filter(pk=done.pk).update(resolved_at=at("2026-10-10T09:00"), note="已办结")
    return older, newer, done


def get_queue(client):
    with time_machine.travel(NOW, tick=False):
        response = client.get("/sla/escalations/")
    assert response.status_code == 200
    return response


def test_open_escalations_come_first_oldest_first(client_for, supervisor, queue):
    older, newer, done = queue
    response = get_queue(client_for(supervisor))
    assert [row["e"].pk for row in response.context["rows"]] == [older.pk, newer.pk, done.pk]
    assert response.context["open_count"] == 2
    html = response.content.decode()
    assert html.index("济市监罚〔2026〕201号") < html.index("济市监罚〔2026〕202号")
    assert html.index("济市监罚〔2026〕202号") < html.index("济市监罚〔2026〕203号")


def test_the_queue_says_how_late_each_clock_is(client_for, supervisor, queue):
    response = get_queue(client_for(supervisor))
    lates = [row["late"] for row in response.context["rows"]]
    # Due at 17:00 on 12 and 13 October; now 20:00 on 14 October.
    assert lates[:2] == ["2 天 3 小时", "1 天 3 小时"]
    html = response.content.decode()
    assert "超时 2 天 3 小时" in html
    assert f'href="/sla/clocks/{queue[0].clock_id}/"' in html
    assert "刘洋" in html  # the assignee


def test_a_supervisor_resolves_an_escalation_with_a_note(client_for, supervisor, queue):
    older = queue[0]
    client = client_for(supervisor)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            f"/sla/escalations/{older.pk}/resolve/", {"note": "已督促承办人今日办结"}, follow=True
        )
    assert response.redirect_chain == [("/sla/escalations/", 302)]
    assert "已处理：济市监罚〔2026〕201号" in response.content.decode()
    older.refresh_from_db()
    assert (older.resolved_by, older.resolved_at, older.note) == (
        supervisor,
        NOW,
        "已督促承办人今日办结",
    )
    event = AuditEvent.objects.get(action="sla.escalation_resolve")
    assert event.actor == supervisor
    assert event.object_id == str(older.pk)
    assert event.summary["note"] == "已督促承办人今日办结"
    # Now resolved, it moves behind the open one, before the one resolved earlier.
    rows = get_queue(client).context["rows"]
    assert [row["e"].pk for row in rows] == [queue[1].pk, queue[0].pk, queue[2].pk]


def test_a_second_resolve_says_it_is_already_resolved(client_for, supervisor, administrator, queue):
    older = queue[0]
    with time_machine.travel(NOW, tick=False):
        client_for(supervisor).post(f"/sla/escalations/{older.pk}/resolve/", {"note": "第一次"})
    other = Client()
    other.force_login(administrator)
    response = other.post(f"/sla/escalations/{older.pk}/resolve/", {"note": "第二次"}, follow=True)
    assert "该升级事项已由 孙敏 于 2026-10-14 20:00 处理，无需重复处理" in (
        response.content.decode()
    )
    older.refresh_from_db()
    assert (older.resolved_by, older.note) == (supervisor, "第一次")
    assert AuditEvent.objects.filter(action="sla.escalation_resolve").count() == 1


def test_two_supervisors_holding_the_same_row_resolve_it_once(supervisor, administrator, queue):
    first = Escalation.objects.get(pk=queue[0].pk)
    second = Escalation.objects.get(pk=queue[0].pk)  # loaded before either resolves
    escalation_resolve(escalation=first, actor=supervisor, note="我来处理")
    with pytest.raises(EscalationError, match="已由 孙敏 于"):
        escalation_resolve(escalation=second, actor=administrator, note="我也来")
    assert Escalation.objects.get(pk=queue[0].pk).note == "我来处理"


def test_a_resolve_without_a_note_is_refused(client_for, supervisor, queue):
    response = client_for(supervisor).post(
        f"/sla/escalations/{queue[0].pk}/resolve/", {"note": "  "}, follow=True
    )
    assert "请填写处理说明" in response.content.decode()
    queue[0].refresh_from_db()
    assert queue[0].resolved_at is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_resolves_leave_one_winner(supervisor, administrator, records, officer):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    escalation = escalate(
        records[0], started="2026-10-12T10:00", escalated="2026-10-12T17:01", assignee=officer
    )
    barrier = threading.Barrier(4)
    outcomes = []

    def resolve(actor, note):
        try:
            mine = Escalation.objects.select_related("clock").get(pk=escalation.pk)
            barrier.wait()
            escalation_resolve(escalation=mine, actor=actor, note=note)
            outcomes.append(("ok", note))
        except EscalationError:
            outcomes.append(("refused", note))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=resolve, args=(actor, f"{actor.username}-{i}"))
        for i, actor in enumerate([supervisor, administrator, supervisor, administrator])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [note for outcome, note in outcomes if outcome == "ok"]
    assert len(winners) == 1
    assert len(outcomes) == 4
    escalation.refresh_from_db()
    assert escalation.note == winners[0]
    assert AuditEvent.objects.filter(action="sla.escalation_resolve").count() == 1


# --- reassigning ----------------------------------------------------------------------------


def test_a_supervisor_reassigns_the_clock_to_another_officer(
    client_for, supervisor, officer, officer2, queue
):
    older = queue[0]
    response = client_for(supervisor).post(
        f"/sla/escalations/{older.pk}/reassign/", {"assignee": officer2.pk}, follow=True
    )
    assert "已将 济市监罚〔2026〕201号 改派给 周强" in response.content.decode()
    clock = SlaClock.objects.get(pk=older.clock_id)
    assert clock.assignee == officer2
    event = AuditEvent.objects.filter(action="sla.assign").latest("seq")
    assert event.actor == supervisor
    assert (event.summary["before"], event.summary["after"]) == (officer.pk, officer2.pk)


def test_the_queue_offers_only_active_officers(client_for, supervisor, officer, officer2, queue):
    make_user("retired", Role.OFFICER, is_active=False)
    make_user("someone_reviewing", Role.REVIEWER)
    officers = list(get_queue(client_for(supervisor)).context["officers"])
    assert officers == [officer, officer2]


@pytest.mark.parametrize("whom", ["retired", "reviewer", "nobody", ""])
def test_a_clock_goes_only_to_an_active_officer(client_for, supervisor, reviewer, queue, whom):
    users = {
        "retired": make_user("retired", Role.OFFICER, is_active=False).pk,
        "reviewer": reviewer.pk,
        "nobody": 999_999,
        "": "",
    }
    older = queue[0]
    before = SlaClock.objects.get(pk=older.clock_id).assignee_id
    response = client_for(supervisor).post(
        f"/sla/escalations/{older.pk}/reassign/", {"assignee": users[whom]}, follow=True
    )
    assert "请选择在岗的平台工作人员" in response.content.decode()
    assert SlaClock.objects.get(pk=older.clock_id).assignee_id == before


def test_a_stopped_clock_is_not_reassigned(supervisor, officer2, queue, records):
    clock_stop(case=records[0], stage="preliminary_review", actor="test")
    escalation = Escalation.objects.select_related("clock").get(pk=queue[0].pk)
    with pytest.raises(EscalationError, match="该环节已办结"):
        escalation_reassign(escalation=escalation, assignee=officer2, actor=supervisor)


# --- who may do it --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["officer", "reviewer", "applicant"])
def test_other_roles_are_refused_the_queue_and_its_actions(
    request, client_for, persona, queue, officer2
):
    client = client_for(request.getfixturevalue(persona))
    older = queue[0]
    assert client.get("/sla/escalations/").status_code == 403
    resolve = client.post(f"/sla/escalations/{older.pk}/resolve/", {"note": "越权"})
    assert resolve.status_code == 403
    reassign = client.post(f"/sla/escalations/{older.pk}/reassign/", {"assignee": officer2.pk})
    assert reassign.status_code == 403
    older.refresh_from_db()
    assert older.resolved_at is None
    assert SlaClock.objects.get(pk=older.clock_id).assignee_id != officer2.pk


def test_anonymous_visitors_are_sent_to_log_in(client, queue):
    for response in (
        client.get("/sla/escalations/"),
        client.post(f"/sla/escalations/{queue[0].pk}/resolve/", {"note": "x"}),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    queue[0].refresh_from_db()
    assert queue[0].resolved_at is None


def test_administrators_may_resolve(client_for, administrator, queue):
    client_for(administrator).post(f"/sla/escalations/{queue[0].pk}/resolve/", {"note": "已处理"})
    queue[0].refresh_from_db()
    assert queue[0].resolved_by == administrator


def test_resolving_takes_a_post(client_for, supervisor, queue):
    response = client_for(supervisor).get(f"/sla/escalations/{queue[0].pk}/resolve/")
    assert response.status_code == 405
