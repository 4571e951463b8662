import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections

from records.models import CreditRecord, RecordStatus
from records.services import RecordStatusError, record_status_set, records_expire_due
from repair_flow.audit import verify_chain
from repair_flow.models import AuditEvent, User
from tests.conftest import make_record

D = dt.date


def test_records_expire_at_the_end_of_their_window(department, enterprise):
    # general, decided 2025-03-10 under Order 58: published until 2026-03-10
    record = make_record(department=department, subject=enterprise, decision_date=D(2025, 3, 10))
    assert record.publicity_ends_on == D(2026, 3, 10)
    assert records_expire_due(actor="test", today=D(2026, 3, 9)) == 0
    assert records_expire_due(actor="test", today=D(2026, 3, 10)) == 1
    record.refresh_from_db()
    assert record.status == RecordStatus.EXPIRED
    assert records_expire_due(actor="test", today=D(2026, 3, 11)) == 0
    event = AuditEvent.objects.get(action="records.expire")
    assert event.summary["ids"] == [record.pk]


def test_records_under_objection_do_not_expire_silently(department, enterprise):
    make_record(
        department=department,
        subject=enterprise,
        decision_date=D(2025, 3, 10),
        status=RecordStatus.UNDER_OBJECTION,
    )
    assert records_expire_due(actor="test", today=D(2026, 6, 1)) == 0


def test_status_changes_need_a_reason_and_an_allowed_transition(record):
    with pytest.raises(RecordStatusError, match="请说明变更原因"):
        record_status_set(actor="test", record=record, status=RecordStatus.DELETED, reason=" ")
    # Expiry comes from the publicity window (records_expire_due), not by hand.
    with pytest.raises(RecordStatusError, match="不能把记录状态从“公示中”改为“公示期满”"):
        record_status_set(actor="test", record=record, status=RecordStatus.EXPIRED, reason="x")
    record_status_set(
        actor="test", record=record, status=RecordStatus.DELETED, reason="处罚决定被撤销"
    )
    assert CreditRecord.objects.get(pk=record.pk).status == RecordStatus.DELETED
    event = AuditEvent.objects.get(action="records.status")
    assert event.summary == {
        "before": {"status": "published"},
        "after": {"status": "deleted"},
        "reason": "处罚决定被撤销",
    }


def test_a_stale_status_change_is_refused(record):
    stale = CreditRecord.objects.get(pk=record.pk)
    record_status_set(actor="test", record=record, status=RecordStatus.REPAIRED, reason="历史修复")
    with pytest.raises(RecordStatusError, match="已被他人修改"):
        record_status_set(actor="test", record=stale, status=RecordStatus.DELETED, reason="撤销")
    assert CreditRecord.objects.get(pk=record.pk).status == RecordStatus.REPAIRED


def test_seed_demo_builds_a_demo_through_the_services(db, capsys, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("seed_demo", "--if-empty", "--records", "200", "--subjects", "40")
    out = capsys.readouterr().out
    assert "Seeded 11 departments, 40 subjects, 200 records" in out
    for username in (
        "qiye",
        "daili",
        "geren",
        "officer",
        "reviewer",
        "supervisor",
        "admin",
        "scjg_system",
    ):
        assert username in out
    assert "API token" in out
    assert {u.role for u in User.objects.all()} == {
        "applicant",
        "officer",
        "reviewer",
        "supervisor",
        "administrator",
        "integration",
    }
    assert User.objects.get(username="qiye").check_password("jinan-demo-2026")
    assert verify_chain().broken_at is None
    assert AuditEvent.objects.filter(action="records.import").exists()
    # qiye's draft filing waits for its commitment to be read and signed before submission.
    from flows.models import BreachReview, MonitoringWindow, ObjectionCase, RepairCase
    from letters.models import Commitment, Letter, LetterKind
    from records.models import SyncEvent, SyncKind

    case = RepairCase.objects.get(status="draft")
    assert case.applicant.username == "qiye"
    commitment = Commitment.objects.get(status="draft")
    assert commitment.case_id == case.pk and commitment.draft.status == "rendered"
    assert f"/letters/commitments/{commitment.pk}/" in out
    assert case.subject.legal_representative == "张伟"
    # Every filed repair case carries the commitment signed at filing; daili's as agent.
    for filed in RepairCase.objects.exclude(status="draft"):
        signed = Commitment.objects.get(case_id=filed.pk)
        assert signed.status == "signed" and signed.signed_at <= filed.submitted_at
    by_agent = Commitment.objects.filter(signer_capacity="agent").select_related("signed")
    assert by_agent.exists()
    blocks = [c.signed.facts["signature"]["block"] for c in by_agent]
    assert all(block.startswith("受托人：李娜（代理 ") for block in blocks)
    assert any(block in out for block in blocks)
    # Two more on records of reviewer's department (JNSCJG), commitments signed:
    # qiye's waits in reviewer's queue, geren's was approved.
    queued = RepairCase.objects.get(status="accepted")
    approved = RepairCase.objects.get(status="approved")
    assert (queued.applicant.username, approved.applicant.username) == ("qiye", "geren")
    for filed in (queued, approved):
        assert filed.record.department.code == "JNSCJG"
        assert Commitment.objects.get(case_id=filed.pk).status == "signed"
    assert f"{queued.number} waits in reviewer's department review queue" in out
    assert f"{approved.number} was approved by reviewer" in out
    assert approved.reviewer.username == "reviewer"
    assert approved.record.status == RecordStatus.REPAIRED
    assert Letter.objects.filter(case_id=approved.pk, kind=LetterKind.REPAIR_DECISION).exists()
    # geren's is a natural person's repaired record (Shandong Art. 20): its
    # decision ends its use in sharing and never speaks of 公示.
    from letters.render import render_letter_html

    assert approved.subject.is_person
    assert "a natural person's record, no longer shared as a negative record" in out
    decision = Letter.objects.get(case_id=approved.pk, kind=LetterKind.REPAIR_DECISION)
    assert "不再作为失信信息共享和使用" in decision.facts["decision"]
    assert "公示" not in render_letter_html(decision)
    assert MonitoringWindow.objects.filter(case=approved).exists()
    # A new penalty of geren's subject opened a breach review for reviewer's
    # department, which sent the notice of intended revocation: it waits for
    # geren's statement (陈述申辩).
    review = BreachReview.objects.get(case=approved)
    assert (review.source, review.department.code, review.status) == (
        "new_penalty",
        "JNSCJG",
        "notified",
    )
    assert review.notice_letter.kind == LetterKind.REVOCATION_NOTICE
    assert review.representation_at is None
    assert f"/cases/breaches/{review.pk}/" in out and f"/cases/{approved.pk}/" in out
    assert SyncEvent.objects.filter(record=approved.record, kind=SyncKind.REPAIRED).exists()
    # daili's objection is accepted and being checked: the record is flagged.
    objection = ObjectionCase.objects.get(status="accepted")
    assert objection.applicant.username == "daili"
    assert objection.record.status == RecordStatus.UNDER_OBJECTION
    assert f"{objection.number} (an objection) is being checked" in out
    # Another could not be verified: its record stays, with the note on it.
    unverifiable = ObjectionCase.objects.get(status="unverifiable")
    assert unverifiable.record.status == RecordStatus.PUBLISHED
    assert unverifiable.record.objection_note.startswith(
        f"经异议核查无法核实（{unverifiable.number}，"
    )
    assert f"{unverifiable.number} (an objection) could not be verified" in out
    call_command("seed_demo", "--if-empty")
    assert "already present" in capsys.readouterr().out
    # The 200 generated, the new penalty of geren's subject, and today's
    # penalties of the two subjects told of repair at their own addresses.
    assert CreditRecord.objects.count() == 203


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_expire_each_record_once(department, enterprise):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL")
    for i in range(300):
        make_record(
            department=department,
            subject=enterprise,
            decision_number=f"E{i}",
            decision_date=D(2025, 1, 10),
        )
    counts = []

    def sweep():
        try:
            counts.append(records_expire_due(actor="test", today=D(2026, 6, 1)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts) == 300
    assert CreditRecord.objects.filter(status=RecordStatus.EXPIRED).count() == 300
    audited = [
        i for e in AuditEvent.objects.filter(action="records.expire") for i in e.summary["ids"]
    ]
    assert sorted(audited) == sorted(CreditRecord.objects.values_list("id", flat=True))
