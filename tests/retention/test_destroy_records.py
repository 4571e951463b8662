"""Issue 17, finding 14, completed: a record is destroyed when its disclosure
ends (Shandong Social Credit Regulation Art. 38) and is no longer found by
any search, page or API; its credit-repair notice (no case) goes with it;
case files are anonymised after their own period; a subject with nothing
left and no account goes too; files are removed even after a crash between
the commit and the removal."""

import datetime as dt
import io
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import TestCase

from flows.cases.withdrawal import case_withdraw
from flows.models import CaseEvent, RepairCase
from letters.models import Letter, LetterKind, OutboundMessage
from letters.outbox import letters_render_due
from letters.repair_info import repair_info_issue_due
from records.identifiers import make_resident_id, make_uscc
from records.models import CreditRecord, RecordStatus, Subject, destroyed_decision_number
from repair_flow.models import AuditEvent
from retention.models import DestructionEntry, PendingFileDeletion, RetentionRule
from tests.flows.conftest import TZ

HEADER = (
    "decision_number,department_code,subject_type,subject_identifier,subject_name,"
    "decision_date,fine_amount,severity,penalty_types,facts,subject_email"
)
UNBOUND = make_uscc(serial=5002)
PERSON_ID = make_resident_id(birth=dt.date(1990, 3, 7), serial=456)
NUMBER = "济市监罚〔2026〕102号"
ROW = (
    f"{NUMBER},SCJGJ,enterprise,{UNBOUND},济南乙餐饮有限公司,2026-05-10,300,general,fine,"
    "超范围经营。,yi@example.com"
)
PERSON_ROW = (
    f"济市监罚〔2026〕103号,SCJGJ,person,{PERSON_ID},李娜,2026-05-10,200,general,fine,"
    "无证经营。,lina@example.com"
)
IMPORTED_AT = dt.datetime(2026, 6, 1, 10, 0, tzinfo=TZ)


def run(*args, execute=True) -> str:
    """The command; `execute=False` is a crash right after its commit: the
    after-commit work (the file removal) never runs."""
    out = io.StringIO()
    with TestCase.captureOnCommitCallbacks(execute=execute):
        call_command("destroy_expired", *args, stdout=out)
    return out.getvalue()


def import_rows(tmp_path, *rows, committed):
    path = tmp_path / "records.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    committed(call_command, "import_records", str(path), stdout=io.StringIO())


@pytest.fixture
def imported(department, now, tmp_path, committed):
    """An unbound enterprise's record imported with its credit-repair notice
    (sent to its email, rendered)."""
    now.move_to(IMPORTED_AT)
    import_rows(tmp_path, ROW, committed=committed)
    # The background's part of 两书同送 (issue the notice), then its render
    # queue, as they run after the import.
    assert len(committed(repair_info_issue_due)) == 1
    assert committed(letters_render_due) == 1
    record = CreditRecord.objects.get(decision_number=NUMBER)
    notice = Letter.objects.get(kind=LetterKind.REPAIR_INFO, record=record)
    assert notice.case_type is None and notice.file and default_storage.exists(notice.file.name)
    return record


def last_shown(record) -> dt.datetime:
    return dt.datetime.combine(record.publicity_ends_on, dt.time(23, 59), tzinfo=TZ)


def day_after(record, days=1) -> dt.datetime:
    day = record.publicity_ends_on + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(0, 1), tzinfo=TZ)


def test_nothing_goes_on_the_last_day_shown(imported, now):
    now.move_to(last_shown(imported))
    assert run("--dry-run").endswith("0 items would be destroyed\n")
    assert "0 items destroyed" in run()
    record = CreditRecord.objects.get(pk=imported.pk)
    assert record.subject.identifier == UNBOUND and record.facts
    notice = Letter.objects.get(record=record)
    assert notice.file and notice.facts


def test_the_dry_run_lists_the_record_its_notice_and_its_subject(imported, now):
    now.move_to(day_after(imported))
    notice = Letter.objects.get(record=imported)
    out = run("--dry-run")
    assert f"would anonymised: records.CreditRecord #{imported.pk} (rule: record" in out
    assert f"would anonymised: letters.Letter #{notice.pk} (rule: repair_notice, files: 1)" in out
    assert f"records.Subject #{imported.subject_id} (rule: subject" in out
    assert UNBOUND not in out and NUMBER not in out
    assert CreditRecord.objects.filter(pk=imported.pk).exists()


@pytest.mark.parametrize("days", [1, 2], ids=["on the day", "the day after"])
def test_a_record_is_destroyed_when_its_disclosure_ends_and_found_nowhere(
    imported, now, days, client_for, officer, capsys
):
    notice = Letter.objects.get(record=imported)
    pdf, subject_id = notice.file.name, imported.subject_id
    # The address is encrypted at rest: read, not matched.
    assert "yi@example.com" in [m.to for m in OutboundMessage.objects.filter(letter=notice)]
    now.move_to(day_after(imported, days))
    out = run()
    assert "3 items destroyed" in out and "record 1, repair_notice 1, subject 1" in out

    # No longer queryable (Art. 38): the default manager skips the tombstone.
    assert not CreditRecord.objects.filter(pk=imported.pk).exists()
    tomb = CreditRecord.all_objects.get(pk=imported.pk)
    assert tomb.status == RecordStatus.DESTROYED and tomb.subject is None
    assert tomb.facts == "" and tomb.fine_amount is None and tomb.penalty_types == []
    assert tomb.decision_number == destroyed_decision_number(tomb.department_id, NUMBER)
    # The subject had nothing else and no account: deleted.
    assert not Subject.objects.filter(pk=subject_id).exists()
    # The notice: PDF and facts gone, number and code kept.
    notice.refresh_from_db()
    assert not notice.file and notice.facts == {} and notice.subject is None
    assert notice.number and notice.verification_code
    assert not default_storage.exists(pdf)
    assert not PendingFileDeletion.objects.exists()
    # The email that carried it: address and text gone.
    assert not OutboundMessage.objects.filter(letter=notice).exclude(to="", body="").exists()

    c = client_for(officer)  # signed in after the run
    search = c.post("/records/search/", {"q": UNBOUND, "purpose": "supervision"})
    page = c.get(search["Location"]).content.decode()
    assert "没有符合条件的记录" in page and NUMBER not in page
    assert c.get(f"/records/{imported.pk}/").status_code == 404
    assert NUMBER not in c.get("/records/").content.decode()
    verify = c.get(f"/verify/{notice.verification_code}/")
    assert verify.status_code == 200
    body = verify.content.decode()
    assert notice.number in body and NUMBER not in body and "乙餐饮" not in body

    register = set(DestructionEntry.objects.values_list("rule__kind", "object_type", "action"))
    assert register == {
        ("record", "records.CreditRecord", "anonymised"),
        ("repair_notice", "letters.Letter", "anonymised"),
        ("subject", "records.Subject", "deleted"),
    }
    assert "乙餐饮" not in str(list(DestructionEntry.objects.values()))
    call_command("verify_audit")
    assert "verified" in capsys.readouterr().out
    assert "0 items destroyed" in run()
    assert DestructionEntry.objects.count() == 3


def test_a_re_import_of_a_destroyed_decision_is_refused(imported, now, tmp_path, committed):
    now.move_to(day_after(imported))
    run()
    path = tmp_path / "again.csv"
    path.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit):
        committed(call_command, "import_records", str(path), stdout=out, stderr=err)
    assert "已于公示期届满后销毁" in out.getvalue() + err.getvalue()
    assert CreditRecord.all_objects.count() == 1
    assert not Subject.objects.identified_by(UNBOUND).exists()


def test_a_subject_the_register_points_at_is_anonymised_not_deleted(
    department, now, tmp_path, committed, client_for, officer
):
    now.move_to(IMPORTED_AT)
    import_rows(tmp_path, PERSON_ROW, committed=committed)
    record = CreditRecord.objects.get(subject__in=Subject.objects.identified_by(PERSON_ID))
    c = client_for(officer)
    c.get(c.post("/records/search/", {"q": PERSON_ID, "purpose": "supervision"})["Location"])
    person = record.subject
    now.move_to(day_after(record))
    out = run()
    assert "subject 1" in out
    person.refresh_from_db()
    # The access register row (kept its own 3 years) still points at it.
    assert person.name == "" and person.identifier == f"DESTROYED-{person.pk}"
    assert person.contact_email == "" and person.contact_phone == ""
    # Its blind index went with the identifier: the old ID finds nothing.
    assert not Subject.objects.identified_by(PERSON_ID).exists()
    assert Subject.objects.identified_by(f"DESTROYED-{person.pk}").get() == person
    entry = DestructionEntry.objects.get(object_type="records.Subject")
    assert entry.action == "anonymised" and entry.object_id == str(person.pk)
    c = client_for(officer)  # a new session, a year and a half later
    found = c.post("/records/search/", {"q": PERSON_ID, "purpose": "supervision"})
    assert "没有符合条件的记录" in c.get(found["Location"]).content.decode()


def test_a_bound_subject_stays_and_a_record_with_a_running_case_waits(
    drive, record, now, applicant
):
    case = drive("submitted")
    now.move_to(day_after(record))
    out = run("--dry-run")
    assert "due but held by a running case or monitoring: record: 1" in out
    assert f"records.CreditRecord #{record.pk}" not in out
    run()
    assert CreditRecord.objects.filter(pk=record.pk).exists()
    assert RepairCase.objects.get(pk=case.pk).details


@pytest.mark.parametrize("late", [0, 1], ids=["on the day", "the day after"])
def test_a_case_file_is_anonymised_after_its_period_the_bound_subject_stays(
    drive, record, now, applicant, late
):
    RetentionRule.objects.filter(kind="case_file").update(period_years=1)
    case = case_withdraw(applicant=applicant, case=drive("submitted"), reason="已自行整改")
    closed = case.closed_at.astimezone(TZ).date()
    due = dt.datetime.combine(closed.replace(year=closed.year + 1), dt.time(0, 1), tzinfo=TZ)
    now.move_to(due - dt.timedelta(minutes=2))
    assert f"flows.RepairCase #{case.pk}" not in run("--dry-run")
    now.move_to(due + dt.timedelta(days=late))
    run()
    case.refresh_from_db()
    assert case.details == "" and case.decision_reasons == []
    assert case.number  # the number series and the board keep it
    assert not CaseEvent.objects.filter(case=case).exclude(comment="").exists()
    assert DestructionEntry.objects.filter(
        object_type="flows.RepairCase", object_id=str(case.pk), rule__kind="case_file"
    ).exists()
    # The record is a year past its disclosure too; its subject has an account.
    assert not CreditRecord.objects.filter(pk=record.pk).exists()
    assert Subject.objects.get(pk=record.subject_id).name
    assert "0 items destroyed" in run()


def test_files_left_by_a_crash_after_the_commit_are_removed_by_the_next_run(imported, now):
    notice = Letter.objects.get(record=imported)
    pdf = notice.file.name
    now.move_to(day_after(imported))
    run(execute=False)  # committed, then the process died before removing files
    notice.refresh_from_db()
    assert not notice.file and default_storage.exists(pdf)
    pending = PendingFileDeletion.objects.get()
    assert (pending.field, pending.name) == ("letters.Letter.file", pdf)
    assert "files left by earlier runs, to remove: 1" in run("--dry-run")

    # A storage error keeps the row for the run after.
    with mock.patch.object(default_storage.__class__, "delete", side_effect=OSError("disk busy")):
        out = run()
    assert "0 items destroyed" in out and default_storage.exists(pdf)
    assert PendingFileDeletion.objects.get().attempts >= 1

    out = run()
    assert "files left by earlier runs, removed: 1" in out
    assert not default_storage.exists(pdf) and not PendingFileDeletion.objects.exists()
    assert "files left" not in run()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the audit trigger is PostgreSQL's")
def test_on_postgresql_the_audit_trigger_still_holds_after_a_destruction(imported, now, capsys):
    RetentionRule.objects.filter(kind="audit_payload").update(period_years=0)
    now.move_to(day_after(imported))
    run()
    assert not AuditEvent.objects.filter(at__lt=day_after(imported), summary__isnull=False).exists()
    event = AuditEvent.objects.order_by("seq").first()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE repair_flow_auditevent SET action = 'x' WHERE id = %s", [event.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM repair_flow_auditevent WHERE id = %s", [event.pk])
    call_command("verify_audit")
    assert "verified" in capsys.readouterr().out


def test_the_subject_rule_only_takes_no_period_and_pending_files_are_shown_to_admins(
    administrator, officer, client_for
):
    rule = RetentionRule.objects.get(kind="subject")
    url = f"/admin/retention/retentionrule/{rule.pk}/change/"
    form = {
        "period_years": 1,
        "counted_from": "nothing_left",
        "legal_source": rule.legal_source,
        "unconfirmed": "on",
    }
    admin = client_for(administrator)
    refused = admin.post(url, form)
    assert refused.status_code == 200
    assert "保存期限只能为0" in refused.content.decode()
    rule.refresh_from_db()
    assert rule.period_years == 0

    pending = "/admin/retention/pendingfiledeletion/"
    assert admin.get(pending).status_code == 200
    assert client_for(officer).get(pending).status_code == 302  # to the admin's login
