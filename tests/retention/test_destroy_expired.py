"""Issue 17, finding 14: retention periods are data (admin-editable, audited),
and the destroy_expired job destroys what is due at its boundary, removes
files, writes a register without personal data, keeps the audit chain
verifiable, lists without destroying in a dry run, and does nothing twice."""

import datetime as dt
from io import StringIO

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from flows.cases.review import preliminary_review_claim, preliminary_review_refuse
from flows.models import CaseMaterial
from flows.monitoring.services import breach_dismiss, false_materials_report
from flows.repair.services import repair_case_submit
from letters.models import Letter
from repair_flow.access import access_register
from repair_flow.celery import task_named
from repair_flow.models import AccessChannel, AccessLogEntry, AccessPurpose, AuditEvent
from retention.models import DestructionEntry, DestructionRun, RetentionRule
from tests.flows.conftest import TZ, at, draft_with_materials, upload

# The case is refused at T0 (Monday 16 November 2026, Jinan); with every
# period set to 1 year, all of it is due on 16 November 2027.
DAY_BEFORE = dt.datetime(2027, 11, 15, 23, 59, tzinfo=TZ)
ON_THE_DAY = dt.datetime(2027, 11, 16, 0, 1, tzinfo=TZ)
DAY_AFTER = dt.datetime(2027, 11, 17, 9, 0, tzinfo=TZ)


@pytest.fixture
def one_year(db):
    RetentionRule.objects.update(period_years=1)


@pytest.fixture
def refused(applicant, record, officer, committed, one_year):
    """A repair case refused at T0: its materials, its refusal letter (rendered),
    an access register row and its audit events are all from T0."""
    case = draft_with_materials(applicant, record)
    case = repair_case_submit(applicant=applicant, case=case)
    case = preliminary_review_claim(officer=officer, case=case)
    case = committed(
        preliminary_review_refuse,
        officer=officer,
        case=case,
        reasons=["不符合条件"],
        basis="第十一条",
    )
    access_register(
        user=officer,
        subject=record.subject,
        what="信用记录",
        purpose=AccessPurpose.REPAIR_CASE,
        channel=AccessChannel.PAGE,
    )
    letter = Letter.objects.get(pk=case.decision_letter_id)
    assert letter.file and default_storage.exists(letter.file.name)
    return case


def run(*args) -> str:
    """The command, and its after-commit work (the file removal), as a commit would."""
    out = StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("destroy_expired", *args, stdout=out)
    return out.getvalue()


def letters_of(case):
    return Letter.objects.filter(case_type=ContentType.objects.get_for_model(case), case_id=case.pk)


def files_of(case) -> list[str]:
    materials = [m.file.name for m in case.materials.all()]
    return [*materials, *(letter.file.name for letter in letters_of(case) if letter.file)]


def test_the_defaults_cite_their_sources_and_mark_what_is_unconfirmed(db):
    rules = {rule.kind: rule for rule in RetentionRule.objects.all()}
    assert set(rules) == {
        "record", "case_file", "material", "letter", "repair_notice", "access_register",
        "audit_payload", "subject",
    }  # fmt: skip
    assert "第三十八条" in rules["record"].legal_source and not rules["record"].unconfirmed
    assert rules["record"].counted_from == "disclosure_end"
    assert rules["access_register"].period_years == 3
    assert "第五十五条" in rules["access_register"].legal_source
    assert all(rules[k].unconfirmed for k in rules if k != "record")


def test_an_administrator_edits_a_rule_audited_and_a_wrong_start_is_refused(
    administrator, officer, client_for
):
    rule = RetentionRule.objects.get(kind="material")
    url = f"/admin/retention/retentionrule/{rule.pk}/change/"
    form = {
        "period_years": 7,
        "counted_from": "case_closed",
        "legal_source": rule.legal_source,
        "unconfirmed": "on",
    }
    # Staff who are not administrators do not reach the admin.
    assert client_for(officer).post(url, form).status_code == 302
    rule.refresh_from_db()
    assert rule.period_years == 5

    admin = client_for(administrator)
    refused = admin.post(url, {**form, "counted_from": "entry_time"})
    assert refused.status_code == 200
    assert "只能从案件办结日起算" in refused.content.decode()
    rule.refresh_from_db()
    assert rule.period_years == 5 and rule.counted_from == "case_closed"

    assert admin.post(url, form).status_code == 302
    rule.refresh_from_db()
    assert rule.period_years == 7
    event = AuditEvent.objects.get(action="retention.rule_change")
    assert event.summary["before"]["period_years"] == "5"
    assert event.summary["after"]["period_years"] == "7"
    # Rules are neither added nor removed in the admin.
    assert admin.get("/admin/retention/retentionrule/add/").status_code == 403


def test_nothing_is_due_the_day_before(refused, now):
    now.move_to(DAY_BEFORE)
    assert run("--dry-run").endswith("0 items would be destroyed\n")
    assert "0 items destroyed" in run()
    assert refused.materials.count() == 1
    assert all(default_storage.exists(name) for name in files_of(refused))
    assert AccessLogEntry.objects.count() == 1
    assert not DestructionEntry.objects.exists()


def test_a_dry_run_lists_what_is_due_and_destroys_nothing(refused, now):
    now.move_to(ON_THE_DAY)
    material = refused.materials.get()
    out = run("--dry-run")
    assert f"would deleted: flows.CaseMaterial #{material.pk} (rule: material, files: 1)" in out
    assert f"would anonymised: letters.Letter #{refused.decision_letter_id}" in out
    assert "would deleted: repair_flow.AccessLogEntry #" in out
    assert "would anonymised: repair_flow.AuditEvent #" in out
    # Ids only: no name, identifier or file name of the applicant.
    assert "张伟" not in out and material.original_name not in out
    assert refused.materials.count() == 1
    assert all(default_storage.exists(name) for name in files_of(refused))
    assert AccessLogEntry.objects.count() == 1
    assert not AuditEvent.objects.filter(summary__isnull=True).exists()
    assert not DestructionRun.objects.exists()


@pytest.mark.parametrize("when", [ON_THE_DAY, DAY_AFTER], ids=["on the day", "the day after"])
def test_what_is_due_is_destroyed_files_removed_and_registered(refused, now, when, capsys):
    names = files_of(refused)
    letter_id, material_id = refused.decision_letter_id, refused.materials.get().pk
    letters = letters_of(refused).count()
    rendered = letters_of(refused).filter(status="rendered").count()
    audited = set(AuditEvent.objects.values_list("id", flat=True))
    now.move_to(when)
    out = run()

    assert not CaseMaterial.objects.filter(pk=material_id).exists()
    assert not any(default_storage.exists(name) for name in names)
    letter = Letter.objects.get(pk=letter_id)
    assert not letter.file and letter.facts == {}
    assert letter.number and letter.sha256  # the series and the verification stay
    assert not AccessLogEntry.objects.exists()
    assert not AuditEvent.objects.filter(id__in=audited, summary__isnull=False).exists()
    assert not any(letter.file or letter.facts for letter in letters_of(refused))
    # The material, the access register row, the case file.
    assert f"{len(audited) + letters + 3} items destroyed" in out

    run_row = DestructionRun.objects.get()
    register = set(
        DestructionEntry.objects.values_list("run", "rule__kind", "object_type", "object_id")
    )
    assert (run_row.pk, "material", "flows.CaseMaterial", str(material_id)) in register
    assert (run_row.pk, "letter", "letters.Letter", str(letter_id)) in register
    assert {(run_row.pk, "audit_payload", "repair_flow.AuditEvent", str(i)) for i in audited} <= (
        register
    )
    assert run_row.counts["destroyed"] == {
        "case_file": 1,
        "material": 1,
        "letter": letters,
        "access_register": 1,
        "audit_payload": len(audited),
    }
    assert timezone.localtime(DestructionEntry.objects.first().at).date() == when.date()
    # The register names no person.
    assert "张伟" not in str(list(DestructionEntry.objects.values()))

    # The chain still verifies: payloads destroyed, digests and links kept.
    call_command("verify_audit")
    assert "verified" in capsys.readouterr().out
    # The letters' check skips the PDFs retention destroyed, and says so.
    call_command("verify_letters")
    assert f"; {rendered} destroyed under their retention rule" in capsys.readouterr().out
    # A second run finds nothing more (the job's own audit event is new).
    assert "0 items destroyed" in run()
    assert DestructionEntry.objects.count() == len(register)


def test_a_destroyed_letter_still_verifies_as_issued(refused, now, client):
    now.move_to(ON_THE_DAY)
    run()
    letter = Letter.objects.get(pk=refused.decision_letter_id)
    page = client.get(f"/verify/{letter.verification_code}/")
    assert page.status_code == 200
    assert letter.number in page.content.decode()


def test_the_periodic_job_runs_the_same_destruction(refused, now):
    now.move_to(ON_THE_DAY)
    # As the embedded scheduler and Celery beat run it (repair_flow/jobs.py).
    result = task_named("retention.destroy_expired")()
    assert "destruction run #" in result
    assert DestructionRun.objects.get().trigger == "scheduler"
    assert not CaseMaterial.objects.filter(case=refused).exists()


def test_a_monitored_repair_ends_with_its_window_and_breach_evidence_stays(
    approved, now, officer, reviewer, one_year
):
    """A granted repair has no closing time of its own: it ends when its
    monitoring completes. Evidence held by a breach review is kept with it."""
    now.move_to(at("2027-01-05 10:00"))
    review = false_materials_report(
        officer=officer, case=approved, statement="缴款凭证系伪造", evidence=upload("核查.pdf")
    )
    breach_dismiss(reviewer=reviewer, review=review, reasons=["经核查材料属实"])
    now.move_to(at("2027-11-18 15:00"))  # the window's end (approved 2026-11-18 15:00)
    call_command("monitor_commitments", stdout=StringIO())
    approved.refresh_from_db()
    assert approved.status == "completed"
    filed = approved.materials.exclude(pk=review.evidence_id).get()

    now.move_to(at("2028-11-17 23:59"))
    assert f"flows.CaseMaterial #{filed.pk}" not in run("--dry-run")
    now.move_to(at("2028-11-18 00:01"))
    out = run()
    assert "material 1" in out
    assert not CaseMaterial.objects.filter(pk=filed.pk).exists()
    assert CaseMaterial.objects.filter(pk=review.evidence_id).exists()


def test_a_backlog_goes_over_several_runs_in_bounded_shares(refused, now, settings, capsys):
    settings.RETENTION_MAX_PER_RUN = 1
    audited = AuditEvent.objects.count()
    now.move_to(ON_THE_DAY)
    out = run()
    assert f"due, left for the next runs: audit_payload: {audited - 1}" in out
    assert "audit_payload 1," in out and "material 1" in out
    assert AuditEvent.objects.filter(summary__isnull=True).count() == 1
    runs = 1
    while "0 items destroyed" not in out:
        out = run()
        runs += 1
    assert runs == audited + 1  # one payload a run, then a run that finds nothing
    assert "left for the next runs" not in out
    # The job's own events are from today: not due.
    assert AuditEvent.objects.filter(summary__isnull=True).count() == audited
    call_command("verify_audit")
    assert "verified" in capsys.readouterr().out
