"""What the log says: a refused request in one line, and the demo seeding's
chatter in a file so the accounts are the last lines on screen."""

import io
import logging

from django.core import mail
from django.core.management import call_command

from letters.channels import LocmemSmsBackend
from letters.models import Letter, LetterKind, RepairInfoDue
from letters.outbox import letters_sweep
from records.models import Subject
from repair_flow.celery import task_named
from repair_flow.logs import info_to_file
from repair_flow.scheduler import JOBS, run_job


def handlers_reached(name: str) -> list[logging.Handler]:
    """Every handler a record logged on `name` reaches (pytest's capture aside)."""
    handlers, logger = [], logging.getLogger(name)
    while logger is not None:
        handlers += [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
        logger = logger.parent if logger.propagate else None
    return handlers


def test_a_403_is_one_log_line_without_a_traceback(client_for, applicant, caplog, settings):
    settings.DEBUG = True  # where Django's own console handler would print it again
    caplog.set_level(logging.INFO)
    emitted = []
    for handler in handlers_reached("django.request"):
        handler.emit = lambda record, h=handler: emitted.append((h, record))
    response = client_for(applicant).get("/access-register/")
    assert response.status_code == 403
    lines = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage()) for r in lines] == [
        ("WARNING", "Forbidden (Permission denied): /access-register/")
    ]
    assert lines[0].exc_info is None and lines[0].exc_text is None
    assert "Traceback" not in caplog.text
    # Written once: by the root's console, not also by Django's.
    assert len(emitted) == 1


def test_a_server_error_keeps_its_traceback(caplog):
    caplog.set_level(logging.INFO)
    try:
        raise RuntimeError("broken")
    except RuntimeError:
        logging.getLogger("django.request").error(
            "Internal Server Error: /x/", exc_info=True, extra={"status_code": 500}
        )
    assert "Traceback" in caplog.text


def test_info_goes_to_the_file_and_warnings_still_to_the_console(tmp_path):
    console = io.StringIO()
    handler = logging.StreamHandler(console)
    root = logging.getLogger()
    root.addHandler(handler)
    log = logging.getLogger("weasyprint.progress")
    try:
        with info_to_file(tmp_path / "seed.log"):
            log.info("Step 1 - Fetching and parsing HTML")
            log.warning("a font is missing")
        log.info("after the block")
    finally:
        root.removeHandler(handler)
    assert console.getvalue().splitlines() == ["a font is missing", "after the block"]
    written = (tmp_path / "seed.log").read_text()
    assert "INFO weasyprint.progress Step 1" in written
    assert "WARNING weasyprint.progress a font is missing" in written


def test_seed_demo_ends_with_the_accounts_and_pointers_not_the_log(
    db, capsys, settings, tmp_path, letters_rendered_afresh
):
    """One seeding serves this and the 两书同送 checks below: it is the slow part."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "letters.channels.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VAR_DIR = tmp_path / "var"
    # Celery's first lookup rebuilds the logging: done now, so the console
    # below is still attached when the seeding logs.
    task_named("letters.render")
    console = io.StringIO()
    handler = logging.StreamHandler(console)
    logging.getLogger().addHandler(handler)
    try:
        call_command("seed_demo", "--if-empty", "--records", "60", "--subjects", "12")
        assert handler in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(handler)
    assert "weasyprint" not in console.getvalue()
    assert "celery.app.trace" not in console.getvalue()
    assert "weasyprint.progress" in (tmp_path / "var" / "seed_demo.log").read_text()
    out = capsys.readouterr().out.splitlines()
    accounts = out.index("Demo accounts (password for all people: jinan-demo-2026):")
    assert out[accounts - 2] == f"The seeding's log: {tmp_path / 'var' / 'seed_demo.log'}"
    assert out[accounts + 1].split()[0] == "qiye"
    assert out[-1].startswith("  A new penalty of geren's subject opened a breach review")

    # 两书同送 in the demo: two subjects with no account were sent today's
    # penalty with their email and phone; their notices are due, not sent
    # while seeding (it stays quiet), and `make run`'s job sends them.
    told = next(line for line in out if "credit-repair notice" in line)
    subjects = Subject.objects.exclude(contact_email="").order_by("pk")
    assert [s.contact_email for s in subjects] == [
        "subject1@demo.credit.example",
        "subject2@demo.credit.example",
    ]
    assert {s.kind for s in subjects} == {"enterprise", "person"}
    assert all(s.name in told for s in subjects)
    assert RepairInfoDue.objects.filter(record__subject__in=subjects).count() == 2
    assert not [m for m in mail.outbox if "subject1@demo.credit.example" in m.to]

    job = next(j for j in JOBS if j.name == "letters-repair-info-due")
    run_job(job)
    letters_sweep()
    for subject in subjects:
        letter = Letter.objects.get(kind=LetterKind.REPAIR_INFO, subject=subject)
        assert [m for m in mail.outbox if m.to == [subject.contact_email]]
        assert (subject.contact_phone, letter.verification_code) in [
            (to, body[-12:]) for to, body in LocmemSmsBackend.outbox
        ]
