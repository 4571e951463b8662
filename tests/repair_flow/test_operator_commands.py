"""The commands an operator runs on a new installation: create_staff (the
first administrator and the staff), createsuperuser, and seed_demo on a
staging database."""

import io
import sys

import pytest
from django.core.management import CommandError, call_command

from records.models import CreditRecord
from repair_flow.management.commands import create_staff
from repair_flow.models import AuditEvent, Role, User

GOOD_PASSWORD = "quiet-river-lantern-42"


def run(*args, stdin: str | None = None, tty: bool = False, monkeypatch=None, prompts=()):
    """Run create_staff as an operator would: stdin piped, or a terminal
    answering the password prompts in order."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    else:
        fake = io.StringIO("")
        fake.isatty = lambda: tty
        monkeypatch.setattr(sys, "stdin", fake)
    answers = iter(prompts)
    monkeypatch.setattr(create_staff.getpass, "getpass", lambda prompt="": next(answers))
    out = io.StringIO()
    call_command("create_staff", *args, stdout=out)
    return out.getvalue()


def log_in(client, username, password) -> bool:
    """Through the login page, as the person would."""
    response = client.post("/accounts/login/", {"username": username, "password": password})
    return response.status_code == 302


def test_the_first_administrator_from_a_terminal_prompt(db, monkeypatch, client):
    out = run(
        "chief",
        "--role",
        "administrator",
        "--full-name",
        "王主任",
        tty=True,
        prompts=[GOOD_PASSWORD, GOOD_PASSWORD],
        monkeypatch=monkeypatch,
    )
    user = User.objects.get(username="chief")
    assert (user.role, user.is_staff, user.is_superuser) == (Role.ADMINISTRATOR, True, True)
    assert user.check_password(GOOD_PASSWORD)
    assert "chief" in out
    # The account works where an administrator works: the staff queue and the admin.
    assert log_in(client, "chief", GOOD_PASSWORD)
    assert client.get("/cases/tasks/").status_code == 200
    assert client.get("/admin/").status_code == 200
    event = AuditEvent.objects.get(action="account.create", object_id=str(user.pk))
    assert event.summary["after"]["role"] == "administrator"
    assert event.actor_label.startswith("manage.py create_staff (")


def test_a_reviewer_with_a_department_from_a_script(department, monkeypatch, client):
    run(
        "li.reviewer",
        "--role",
        "reviewer",
        "--department",
        department.code,
        "--password-stdin",
        stdin=GOOD_PASSWORD + "\n",
        monkeypatch=monkeypatch,
    )
    user = User.objects.get(username="li.reviewer")
    assert user.role == Role.REVIEWER
    assert user.department_membership.department == department
    assert not user.is_staff and not user.is_superuser
    assert log_in(client, "li.reviewer", GOOD_PASSWORD)
    assert client.get("/cases/tasks/").status_code == 200
    assert client.get("/admin/").status_code == 302  # the admin is for administrators only


def test_an_officer_without_a_password(db, monkeypatch):
    out = run("zhao", "--role", "officer", "--no-password", monkeypatch=monkeypatch)
    user = User.objects.get(username="zhao")
    assert user.role == Role.OFFICER
    assert not user.has_usable_password()
    assert "未设置密码" in out


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["x", "--role", "applicant", "--no-password"], None, "invalid choice"),
        (["x", "--role", "reviewer", "--no-password"], None, "--department"),
        (["x", "--role", "reviewer", "--department", "NOPE", "--no-password"], None, "NOPE"),
        (["x", "--role", "officer", "--department", "D1", "--no-password"], None, "--department"),
        (["x", "--role", "officer", "--password-stdin"], "", "标准输入中没有密码"),
        (["x", "--role", "officer", "--password-stdin"], "123\n", "密码不符合要求"),
        (["x", "--role", "officer"], None, "--password-stdin"),  # no terminal, no password
        (["  ", "--role", "officer", "--no-password"], None, "用户名不能为空"),
    ],
)
def test_bad_input_is_refused_with_nothing_saved(db, monkeypatch, args, stdin, message):
    before = AuditEvent.objects.count()
    with pytest.raises(CommandError, match=message):
        run(*args, stdin=stdin, monkeypatch=monkeypatch)
    assert not User.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_taken_username_is_refused(officer, monkeypatch):
    with pytest.raises(CommandError, match="用户名已存在"):
        run(officer.username, "--role", "supervisor", "--no-password", monkeypatch=monkeypatch)
    officer.refresh_from_db()
    assert officer.role == Role.OFFICER


def test_mismatched_prompts_are_refused(db, monkeypatch):
    with pytest.raises(CommandError, match="两次输入的密码不一致"):
        run(
            "chief",
            "--role",
            "administrator",
            tty=True,
            prompts=[GOOD_PASSWORD, GOOD_PASSWORD + "x"],
            monkeypatch=monkeypatch,
        )
    assert not User.objects.exists()


def test_createsuperuser_makes_an_administrator(db, client):
    call_command(
        "createsuperuser",
        "--username",
        "root",
        "--email",
        "root@example.gov.cn",
        "--noinput",
        stdout=io.StringIO(),
    )
    user = User.objects.get(username="root")
    assert (user.role, user.is_staff, user.is_superuser) == (Role.ADMINISTRATOR, True, True)
    user.set_password(GOOD_PASSWORD)
    user.save(update_fields=["password"])
    client.force_login(user)
    assert client.get("/cases/tasks/").status_code == 200


def test_seed_demo_refuses_production_without_the_flag(db, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="--allow-production"):
        call_command("seed_demo", "--records", "20", "--subjects", "5", stdout=io.StringIO())
    assert not User.objects.exists()
    assert not CreditRecord.objects.exists()


def test_seed_demo_seeds_a_staging_database_with_the_flag(db, settings, tmp_path):
    settings.PRODUCTION = True
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VAR_DIR = tmp_path / "var"
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "seed_demo",
        "--allow-production",
        "--records",
        "60",
        "--subjects",
        "12",
        stdout=out,
        stderr=err,
    )
    assert User.objects.filter(username="officer", role=Role.OFFICER).exists()
    assert CreditRecord.objects.exists()
    assert "never let real people use this database" in err.getvalue()
