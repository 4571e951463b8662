import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections

from repair_flow.audit import GENESIS_HASH, audit_record, set_request_id, verify_chain
from repair_flow.models import AppendOnlyError, AuditEvent


def run_verify(capsys):
    try:
        call_command("verify_audit")
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def tamper(sql, params=()):
    """Change the trail behind the application's back, as a database
    administrator would: on PostgreSQL the append-only trigger is dropped
    first (inside the test's transaction, so it comes back afterwards)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "DROP TRIGGER IF EXISTS repair_flow_auditevent_append_only "
                "ON repair_flow_auditevent"
            )
        cursor.execute(sql, params)


def write_events(actor, n=5):
    return [
        audit_record(
            actor=actor,
            action="records.update",
            object_type="records.CreditRecord",
            object_id=i,
            summary={"before": {"facts": "旧"}, "after": {"facts": f"新{i}"}},
        )
        for i in range(1, n + 1)
    ]


def test_it_chains_each_event_to_the_previous_one(officer):
    token = set_request_id("req-123")
    events = write_events(officer, 3)
    assert events[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert [e.seq for e in events] == [1, 2, 3]
    stored = AuditEvent.objects.get(seq=2)
    assert stored.actor == officer and stored.actor_label == "officer"
    assert stored.request_id == "req-123"
    assert stored.summary == {"before": {"facts": "旧"}, "after": {"facts": "新2"}}
    token.var.reset(token)


def test_verify_audit_reports_the_count_when_intact(officer, capsys):
    write_events(officer, 5)
    code, out, _ = run_verify(capsys)
    assert code == 0
    assert "5 events verified" in out


def test_verify_audit_on_an_empty_trail(db, capsys):
    code, out, _ = run_verify(capsys)
    assert code == 0 and "0 events verified" in out


def test_verify_audit_finds_an_altered_row(officer, capsys):
    write_events(officer, 5)
    # Tamper behind the application's back, as an intruder with SQL access would.
    tamper("UPDATE repair_flow_auditevent SET action = %s WHERE seq = 3", ["records.delete"])
    code, _, err = run_verify(capsys)
    assert code == 1
    assert "broken at event #3" in err and "altered" in err


def test_verify_audit_finds_a_removed_row(officer, capsys):
    write_events(officer, 5)
    tamper("DELETE FROM repair_flow_auditevent WHERE seq = 2")
    code, _, err = run_verify(capsys)
    assert code == 1
    assert "broken at event #2" in err and "missing" in err


def test_verify_audit_finds_the_newest_rows_removed(officer, capsys):
    write_events(officer, 5)
    tamper("DELETE FROM repair_flow_auditevent WHERE seq >= 4")
    code, _, err = run_verify(capsys)
    assert code == 1
    assert "broken at event #4" in err and "removed" in err


def test_verify_audit_finds_a_rehashed_row(officer, capsys):
    """Rewriting a row and its own hash still breaks the link from the next row."""
    write_events(officer, 4)
    tamper("UPDATE repair_flow_auditevent SET hash = %s WHERE seq = 2", ["f" * 64])
    report = verify_chain()
    assert (report.broken_at, report.verified) == (2, 1)
    code, _, _ = run_verify(capsys)
    assert code == 1


def test_the_application_cannot_update_or_delete_events(officer):
    event = write_events(officer, 1)[0]
    event.action = "something.else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(seq=1).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(seq=1).action == "records.update"


def test_every_response_carries_a_request_id(client, db):
    response = client.get("/deadlines/")
    assert len(response["X-Request-ID"]) == 32
    # A proxy's id is kept beside the server's, never instead of it
    # (tests/repair_flow/test_request_id.py).
    response = client.get("/deadlines/", HTTP_X_REQUEST_ID="from-proxy-1")
    assert len(response["X-Request-ID"]) == 32
    assert response["X-Client-Request-ID"] == "from-proxy-1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_form_one_unbroken_chain(officer):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    errors = []

    def writer(n):
        try:
            for i in range(n):
                audit_record(
                    actor=None,
                    action="test.concurrent",
                    object_type="test",
                    object_id=f"{threading.get_ident()}-{i}",
                )
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = verify_chain()
    assert report.broken_at is None
    assert report.verified == 100
