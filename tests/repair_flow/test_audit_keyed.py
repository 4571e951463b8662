"""Issue 17, finding 4: the audit chain is keyed (an HMAC with a key outside
the database) and anchored daily outside the database; on PostgreSQL a
trigger refuses UPDATE and DELETE of audit rows."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import DatabaseError, connection, transaction

from letters.models import OutboundMessage
from repair_flow.audit import audit_record
from repair_flow.audit_seal import chain_link, payload_digest
from repair_flow.celery import task_named
from repair_flow.encryption import new_key_text
from repair_flow.models import AuditChainHead, AuditEvent
from tests.repair_flow.test_audit import run_verify, tamper, write_events


@pytest.fixture
def anchor_dir(settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = tmp_path / "anchors"
    settings.AUDIT_ANCHOR_EMAIL = ""
    return settings.AUDIT_ANCHOR_DIR


def run_anchor_job() -> str:
    # The job as the scheduler and Celery beat run it (repair_flow/jobs.py).
    return task_named("repair_flow.anchor_audit")()


def legacy_hash(row: dict) -> str:
    """The unkeyed SHA-256 link the chain used before it was keyed: what an
    intruder can compute without any key."""
    payload = json.dumps(
        [
            row["seq"], row["at"].isoformat(), row["actor_id"], row["actor_label"],
            row["action"], row["object_type"], str(row["object_id"]), row["summary"],
            row["request_id"], row["prev_hash"],
        ],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )  # fmt: skip
    return hashlib.sha256(payload.encode()).hexdigest()


def keyed_hash(key: bytes):
    def link(row: dict) -> str:
        return chain_link(
            key,
            [
                row["seq"], row["at"].isoformat(), row["actor_id"], row["actor_label"],
                row["action"], row["object_type"], str(row["object_id"]),
                row["payload_digest"], row["request_id"], row["prev_hash"],
            ],
        )  # fmt: skip

    return link


def reseal(link, *, from_seq: int) -> None:
    """Recompute every link from `from_seq` on and the head, as an intruder
    with SQL access re-seals the chain after editing it."""
    rows = list(AuditEvent.objects.order_by("seq").values())
    prev = rows[from_seq - 2]["hash"] if from_seq > 1 else "0" * 64
    for row in rows[from_seq - 1 :]:
        row["payload_digest"] = payload_digest(row["summary"])
        row["prev_hash"] = prev
        prev = link(row)
        tamper(
            "UPDATE repair_flow_auditevent SET payload_digest = %s, prev_hash = %s, hash = %s "
            "WHERE seq = %s",
            [row["payload_digest"], row["prev_hash"], prev, row["seq"]],
        )
    AuditChainHead.objects.filter(id=1).update(last_seq=rows[-1]["seq"], last_hash=prev)


def test_an_edited_row_resealed_without_the_key_fails_verification(officer, capsys):
    write_events(officer, 5)
    tamper("UPDATE repair_flow_auditevent SET action = %s WHERE seq = 3", ["records.delete"])
    # Re-sealed as the unkeyed chain was computed: that passed verify_audit before.
    reseal(legacy_hash, from_seq=3)
    code, _, err = run_verify(capsys)
    assert code == 1
    assert "broken at event #3" in err and "altered" in err
    # And with a key of the intruder's own choosing.
    reseal(keyed_hash(b"guessed-key"), from_seq=3)
    code, _, err = run_verify(capsys)
    assert code == 1 and "broken at event #3" in err


def test_an_edited_payload_fails_verification_even_with_its_link_untouched(officer, capsys):
    write_events(officer, 3)
    tamper(
        "UPDATE repair_flow_auditevent SET summary = %s WHERE seq = 2",
        [json.dumps({"before": {"facts": "旧"}, "after": {"facts": "改"}})],
    )
    code, _, err = run_verify(capsys)
    assert code == 1
    assert "#2's payload was altered" in err


def test_a_destroyed_payload_keeps_the_chain_verifiable(officer, capsys):
    """Retention destroys payloads and keeps hashes (issue 17): the link
    covers the payload's digest, which stays."""
    write_events(officer, 3)
    with connection.cursor() as cursor:
        # Allowed by the PostgreSQL trigger too: summary to NULL, nothing else.
        cursor.execute("UPDATE repair_flow_auditevent SET summary = NULL WHERE seq = 2")
    assert AuditEvent.objects.get(seq=2).summary is None
    code, out, _ = run_verify(capsys)
    assert code == 0, out
    assert "3 events verified" in out


def test_verify_audit_needs_the_key(officer, capsys, settings):
    write_events(officer, 2)
    settings.AUDIT_CHAIN_KEY = b""
    code, _, err = run_verify(capsys)
    assert code == 2
    assert "AUDIT_CHAIN_KEY" in err
    settings.AUDIT_CHAIN_KEY = b"another-key"
    code, _, err = run_verify(capsys)
    assert code == 1 and "broken at event #1" in err


def test_an_event_cannot_be_written_without_the_key(officer, settings):
    settings.AUDIT_CHAIN_KEY = b""
    with pytest.raises(RuntimeError, match="AUDIT_CHAIN_KEY"), transaction.atomic():
        audit_record(actor=officer, action="x.y", object_type="test")
    assert not AuditEvent.objects.exists()


def test_the_system_check_refuses_to_start_without_the_keys(settings):
    settings.AUDIT_CHAIN_KEY = b""
    with pytest.raises(SystemCheckError, match=r"repair_flow\.E001"):
        call_command("check")
    settings.AUDIT_CHAIN_KEY = b"k1"
    settings.AUDIT_ANCHOR_KEY = b""
    with pytest.raises(SystemCheckError, match=r"repair_flow\.E002"):
        call_command("check")
    settings.AUDIT_ANCHOR_KEY = b"k1"
    with pytest.raises(SystemCheckError, match=r"repair_flow\.E003"):
        call_command("check")


def manage_check(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "DJANGO_ENV"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env={
            **clean,
            "DJANGO_ENV": "production",
            "SECRET_KEY": "x" * 50,
            "ALLOWED_HOSTS": "credit.example",
            "VAR_DIR": str(tmp_path),
            # This test is about the audit keys: the field keys are given.
            "FIELD_ENCRYPTION_KEYS": new_key_text(),
            "FIELD_BLIND_INDEX_KEYS": new_key_text(),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_starts_only_with_both_keys_from_the_environment_or_a_file(tmp_path):
    """Two fresh interpreters (about 3 s each): the check runs as a server's start does."""
    refused = manage_check(tmp_path)
    assert refused.returncode != 0
    assert "repair_flow.E001" in refused.stderr and "repair_flow.E002" in refused.stderr
    key_file = tmp_path / "chain.key"
    key_file.write_text("chain-key-from-a-file\n")
    started = manage_check(
        tmp_path, AUDIT_CHAIN_KEY_FILE=str(key_file), AUDIT_ANCHOR_KEY="anchor-key"
    )
    assert started.returncode == 0, started.stderr
    # Production never generates a key of its own.
    assert not list(tmp_path.glob("dev-audit-*"))


def test_the_daily_anchor_is_written_once_a_day_and_signed(officer, anchor_dir, capsys):
    write_events(officer, 3)
    with time_machine.travel("2026-12-03 09:00 +08:00", tick=False):
        assert "anchored #3" in run_anchor_job()
        write_events(officer, 2)
        assert "already written" in run_anchor_job()
    anchor = json.loads((anchor_dir / "anchor-2026-12-03.json").read_text())
    assert anchor["seq"] == 3
    assert anchor["hash"] == AuditEvent.objects.get(seq=3).hash
    assert len(anchor["signature"]) == 64
    with time_machine.travel("2026-12-04 00:30 +08:00", tick=False):
        assert "anchored #5" in run_anchor_job()
    code, out, _ = run_verify(capsys)
    assert code == 0
    assert "5 events verified, 2 anchors matched" in out


def test_deleting_the_newest_rows_is_caught_by_the_anchor(officer, anchor_dir, capsys):
    write_events(officer, 5)
    run_anchor_job()
    write_events(officer, 2)
    # Delete #4..#7 and rewind the head: the chain alone now looks intact.
    tamper("DELETE FROM repair_flow_auditevent WHERE seq >= 4")
    AuditChainHead.objects.filter(id=1).update(
        last_seq=3, last_hash=AuditEvent.objects.get(seq=3).hash
    )
    code, _, err = run_verify(capsys)
    assert code == 1
    assert "event #5, anchored on" in err and "missing" in err


def test_a_chain_resealed_with_the_stolen_key_is_caught_by_the_anchor(
    officer, anchor_dir, capsys, settings
):
    write_events(officer, 4)
    run_anchor_job()
    tamper("UPDATE repair_flow_auditevent SET action = %s WHERE seq = 2", ["records.delete"])
    reseal(keyed_hash(settings.AUDIT_CHAIN_KEY), from_seq=2)
    code, _, err = run_verify(capsys)
    assert code == 1
    assert "event #4 differs from its anchor" in err


def test_an_altered_anchor_file_is_reported(officer, anchor_dir, capsys):
    write_events(officer, 4)
    run_anchor_job()
    (path,) = anchor_dir.glob("anchor-*.json")
    anchor = json.loads(path.read_text())
    anchor["seq"] = 2
    anchor["hash"] = AuditEvent.objects.get(seq=2).hash
    path.write_text(json.dumps(anchor))
    code, _, err = run_verify(capsys)
    assert code == 1
    assert "bad signature" in err


def test_no_anchor_vouches_for_a_broken_chain(officer, anchor_dir):
    write_events(officer, 3)
    tamper("UPDATE repair_flow_auditevent SET action = %s WHERE seq = 2", ["x"])
    assert "not anchored: chain broken at #2" in run_anchor_job()
    assert not list(anchor_dir.glob("anchor-*.json"))


def test_the_anchor_is_mailed_to_the_auditor_when_configured(
    officer, anchor_dir, settings, django_capture_on_commit_callbacks
):
    settings.AUDIT_ANCHOR_EMAIL = "auditor@audit.example"
    write_events(officer, 2)
    with (
        time_machine.travel("2026-12-03 09:00 +08:00", tick=False),
        django_capture_on_commit_callbacks(execute=False),
    ):
        run_anchor_job()
        run_anchor_job()
    (message,) = [m for m in OutboundMessage.objects.all() if m.to == "auditor@audit.example"]
    assert "2026-12-03" in message.subject
    anchor = json.loads((anchor_dir / "anchor-2026-12-03.json").read_text())
    assert anchor["hash"] in message.body and anchor["signature"] in message.body


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_of_audit_rows(officer):
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger is installed on PostgreSQL only")
    write_events(officer, 2)
    for sql in (
        "UPDATE repair_flow_auditevent SET action = 'x' WHERE seq = 1",
        "UPDATE repair_flow_auditevent SET summary = NULL, action = 'x' WHERE seq = 1",
        "DELETE FROM repair_flow_auditevent WHERE seq = 2",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEvent.objects.count() == 2
    assert AuditEvent.objects.get(seq=1).action == "records.update"
