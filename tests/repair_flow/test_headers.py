"""Response headers (issue 17, finding 12): personal pages never cached,
browser features switched off, and production's HTTPS settings pass
`check --deploy`."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "persona"),
    [
        ("/access-register/", "administrator"),
        ("/admin/", "administrator"),
        ("/cases/", "applicant"),
        ("/records/", "officer"),
        ("/accounts/login/", "applicant"),
    ],
)
def test_personal_pages_are_never_cached(client_for, request, path, persona):
    response = client_for(request.getfixturevalue(persona)).get(path)
    assert response.status_code in (200, 302)
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_every_page_switches_off_browser_features_it_does_not_use(client):
    response = client.get("/accounts/login/")
    policy = response["Permissions-Policy"]
    assert "camera=()" in policy and "geolocation=()" in policy


def test_an_api_answer_with_personal_data_is_never_cached(api_for, integration):
    response = api_for(integration).get("/api/v1/records/")
    assert "no-store" in response["Cache-Control"]


def run_check_deploy(**env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_ENV"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# A fresh interpreter loading Django (~5 s): production settings are read once at start.
def test_check_deploy_finds_no_security_warning_in_production():
    result = run_check_deploy(
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="credit.jinan.example",
    )
    output = result.stdout + result.stderr
    # W004 (HSTS), W008 (SSL redirect) and every other Django security check;
    # letters.W001/W002 (no signing certificates configured here) are ours.
    assert "security." not in output, output


def test_development_does_not_redirect_to_https(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response
