import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from repair_flow.celery import app as celery_app
from repair_flow.env import (
    env_bool,
    env_int,
    env_origins,
    env_time,
    env_url,
    parse_database_url,
)

ROOT = Path(__file__).resolve().parents[2]


def start_django(**env):
    """Import the settings in a fresh interpreter, as a server would."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DJANGO_ENV", "ALLOWED_HOSTS", "DEBUG"}
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "repair_flow.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = start_django(DJANGO_ENV="production", ALLOWED_HOSTS="credit.example")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = start_django(DJANGO_ENV="production", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_production_starts_with_both():
    result = start_django(DJANGO_ENV="production", SECRET_KEY="x" * 50, ALLOWED_HOSTS="a.example")
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_production_refuses_an_esp_without_a_webhook_secret():
    base = {"DJANGO_ENV": "production", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "a.example"}
    esp = {"EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend"}
    result = start_django(**base, **esp, ANYMAIL_POSTMARK_SERVER_TOKEN="t")
    assert result.returncode != 0
    assert "ANYMAIL_WEBHOOK_SECRET must be set" in result.stderr
    result = start_django(
        **base, **esp, ANYMAIL_POSTMARK_SERVER_TOKEN="t", ANYMAIL_WEBHOOK_SECRET="a:b"
    )
    assert result.returncode == 0, result.stderr


def test_a_bad_boolean_fails_loudly():
    result = start_django(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_an_unknown_environment_fails_loudly():
    result = start_django(DJANGO_ENV="staging")
    assert result.returncode != 0
    assert "DJANGO_ENV='staging' must be one of development, production" in result.stderr


def test_typed_helpers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", "12x")
    monkeypatch.setenv("X_TIME", "25:00")
    assert env_bool("X_BOOL", False) is True
    assert env_bool("X_UNSET", True) is True
    with pytest.raises(ImproperlyConfigured, match="X_INT='12x' is not an integer"):
        env_int("X_INT", 1)
    with pytest.raises(ImproperlyConfigured, match="not a time of day"):
        env_time("X_TIME", "17:00")


def test_database_urls():
    pg = parse_database_url("postgres://alice:s%40cret@db.local:5433/credit?sslmode=require")
    assert pg["ENGINE"] == "django.db.backends.postgresql"
    assert (pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "credit",
        "alice",
        "s@cret",
        "db.local",
        "5433",
    )
    assert pg["OPTIONS"] == {"sslmode": "require"}
    assert parse_database_url("sqlite:////srv/x.sqlite3")["NAME"] == "/srv/x.sqlite3"
    with pytest.raises(ImproperlyConfigured, match="scheme 'mysql' is not supported"):
        parse_database_url("mysql://root@localhost/db")
    with pytest.raises(ImproperlyConfigured, match="needs a database name"):
        parse_database_url("postgres://localhost")


def test_the_openapi_schema_validates_without_warnings():
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            os.devnull,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "value",
    [
        "credit.example.gov.cn",
        "ftp://credit.example",
        "https://",
        "https://a b.example",
        "https://credit.example/?x=1",
        "https://user:pw@credit.example",
        "https://credit.example:0",
    ],
)
def test_a_bad_site_url_is_refused(monkeypatch, value):
    monkeypatch.setenv("SITE_URL", value)
    with pytest.raises(ImproperlyConfigured, match=r"SITE_URL=.* is not a URL like https://host"):
        env_url("SITE_URL", "http://127.0.0.1:8000")


def test_good_site_urls_and_origins_are_kept(monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://xyxf.jinan.gov.cn/credit")
    assert env_url("SITE_URL", "") == "https://xyxf.jinan.gov.cn/credit"
    monkeypatch.setenv("ORIGINS", "https://xyxf.jinan.gov.cn, https://*.jinan.gov.cn:8443")
    assert env_origins("ORIGINS") == ["https://xyxf.jinan.gov.cn", "https://*.jinan.gov.cn:8443"]


@pytest.mark.parametrize("value", ["xyxf.jinan.gov.cn", "https://xyxf.jinan.gov.cn/path"])
def test_a_bad_trusted_origin_is_refused(monkeypatch, value):
    monkeypatch.setenv("ORIGINS", f"https://ok.example,{value}")
    with pytest.raises(ImproperlyConfigured, match="is not an origin like https://host"):
        env_origins("ORIGINS")


def test_a_bad_site_url_stops_the_start():
    result = start_django(SITE_URL="credit.example.gov.cn")
    assert result.returncode != 0
    assert "SITE_URL='credit.example.gov.cn' is not a URL" in result.stderr


def test_beat_keeps_its_schedule_under_var_not_in_the_checkout(settings):
    # What `celery -A repair_flow beat` opens when no -s is given.
    schedule = Path(celery_app.conf.beat_schedule_filename)
    assert schedule == Path(settings.VAR_DIR) / "celerybeat-schedule"
    assert schedule.parent != ROOT


def test_parallel_query_is_off_unless_asked_for():
    """DATABASE_PARALLEL_WORKERS (0 by default) reaches PostgreSQL as a
    connection option; an `options` of the URL's own follows it."""
    code = (
        "import django; django.setup(); from django.conf import settings;"
        " print(settings.DATABASES['default']['OPTIONS']['options'])"
    )
    url = "postgres://u@127.0.0.1/x?options=-c%20statement_timeout%3D5000"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "repair_flow.settings", "DATABASE_URL": url}
    env.pop("DATABASE_PARALLEL_WORKERS", None)
    run = [sys.executable, "-c", code]
    default = subprocess.run(run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert default.stdout.strip() == (
        "-c max_parallel_workers_per_gather=0 -c statement_timeout=5000"
    ), default.stderr
    bad = subprocess.run(
        run,
        cwd=ROOT,
        env={**env, "DATABASE_PARALLEL_WORKERS": "-1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0
    assert "DATABASE_PARALLEL_WORKERS=-1 must be at least 0" in bad.stderr


@pytest.mark.django_db
def test_the_app_connection_plans_without_parallel_workers():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"


def test_processes_starting_together_on_a_fresh_checkout_agree_on_its_dev_keys(tmp_path):
    """xdist's workers, or two test runs, start at once on a clone with an
    empty var/: each key is made once, and every process reads it whole."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DJANGO_ENV"} and not k.startswith(("AUDIT_", "FIELD_"))
    }
    show = (
        "from repair_flow import settings as s; "
        "print(s.SECRET_KEY, s.AUDIT_CHAIN_KEY, s.AUDIT_ANCHOR_KEY, "
        "s.FIELD_ENCRYPTION_KEYS, s.FIELD_BLIND_INDEX_KEYS)"
    )
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", show],
            cwd=ROOT,
            env={**clean, "VAR_DIR": str(tmp_path)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    seen = [start.communicate(timeout=60) for start in starts]
    assert [err for _out, err in seen if err] == []
    assert len({out for out, _err in seen}) == 1
    secret_key = seen[0][0].split()[0]
    assert len(secret_key) > 50
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o077 == 0
