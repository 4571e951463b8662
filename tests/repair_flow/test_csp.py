"""A strict Content-Security-Policy (issue 17, finding 12): every page of the
site, for every role, carries it, and no page holds what it would refuse
(inline scripts, event handlers, styles), so enforcing it breaks nothing.
The browser journeys (tests/e2e) fail on any violation a real page reports."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver

from tests.csp import assert_strict, directives, inline_code

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def _paths(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            yield from _paths(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def pages_without_parameters() -> list[str]:
    """Every path of the site that takes no parameter, the API aside (JSON,
    tested below), the admin through its own test."""
    paths = set()
    for route in _paths(get_resolver().url_patterns):
        if re.search(r"[<(\[\\?*+]", route) or route.startswith(("api/", "admin/")):
            continue
        paths.add("/" + route)
    return sorted(paths)


def check_page(response, path):
    assert_strict(response)
    if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
        found = inline_code(response.content.decode())
        assert not found, (path, found)


def test_the_walk_covers_the_site():
    paths = pages_without_parameters()
    for expected in ("/", "/accounts/login/", "/cases/", "/cases/tasks/", "/access-register/"):
        assert expected in paths
    assert len(paths) > 20, paths


@pytest.mark.parametrize(
    "persona", ["applicant", "officer", "reviewer", "supervisor", "administrator", None]
)
def test_every_page_carries_the_strict_policy_and_nothing_it_refuses(client, request, persona):
    if persona:
        client.force_login(request.getfixturevalue(persona))
    for path in pages_without_parameters():
        check_page(client.get(path), path)


def test_every_admin_page_carries_the_policy_and_no_inline_code(client_for, administrator):
    """Each registered model's list and add page, as the administrator. Pages
    of personal data ask for a purpose first (a redirect); the browser walk
    (tests/e2e/test_csp_walk.py) states one and opens them."""
    client = client_for(administrator)
    shown = 0
    paths = ["/admin/", "/admin/password_change/"]
    for model in apps.get_models():
        if not admin.site.is_registered(model):
            continue
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        paths += [base, base + "add/"]
    for path in paths:
        response = client.get(path)
        check_page(response, path)
        shown += response.status_code == 200
    assert shown > 30, shown


def test_a_users_change_page_in_the_admin(client_for, administrator, officer):
    path = f"/admin/repair_flow/user/{officer.pk}/change/"
    client = client_for(administrator)
    # Account pages show personal data: a purpose is stated first.
    client.post("/access-purpose/", {"purpose": "data_maintenance", "next": "/admin/"})
    response = client.get(path)
    assert response.status_code == 200
    check_page(response, path)


def test_error_pages_carry_the_policy(client_for, applicant):
    client = client_for(applicant)
    missing = client.get("/cases/999999/")
    assert missing.status_code == 404
    check_page(missing, "404")
    refused = client.get("/access-register/")
    assert refused.status_code == 403
    check_page(refused, "403")


def test_api_answers_carry_the_policy(api_for, integration):
    assert_strict(api_for(integration).get("/api/v1/records/"))


def test_templates_hold_no_inline_script_handler_or_style():
    """Every template of ours, the pages a walk needs a case or a letter for
    included: the policy would refuse these, so none may hold one."""
    templates = [
        path
        for app in ("repair_flow", "records", "sla", "flows", "letters", "retention")
        for path in (ROOT / app).glob("templates/**/*.html")
    ]
    assert len(templates) > 50
    found = {}
    for path in templates:
        text = path.read_text()
        # Letters are rendered to PDF, never served as pages: their styles are theirs.
        if "letters/templates/letters/" in str(path) and "/pages/" not in str(path):
            continue
        # Template tags inside attribute values confuse no HTML parser; strip
        # comments so a mention of onclick in one is not taken for a handler.
        text = re.sub(r"{#.*?#}|{% comment %}.*?{% endcomment %}", "", text, flags=re.S)
        if problems := inline_code(text):
            found[str(path.relative_to(ROOT))] = problems
    assert not found, found


# A fresh interpreter loading Django (~3 s): settings are read once at start.
@pytest.mark.parametrize(
    ("value", "header", "absent"),
    [
        (None, "Content-Security-Policy", "Content-Security-Policy-Report-Only"),
        ("false", "Content-Security-Policy", "Content-Security-Policy-Report-Only"),
        ("true", "Content-Security-Policy-Report-Only", "Content-Security-Policy"),
    ],
)
def test_report_only_switch_for_a_rollout(value, header, absent):
    env = {k: v for k, v in os.environ.items() if k not in {"CSP_REPORT_ONLY", "CSP_REPORT_URI"}}
    if value is not None:
        env["CSP_REPORT_ONLY"] = value
        env["CSP_REPORT_URI"] = "https://csp-reports.example/r"
    # The system checks first: django-csp's csp.E001 refuses its 3.x settings.
    script = (
        "import django, json; django.setup();"
        "from django.core.management import call_command; call_command('check');"
        "from django.test import Client;"
        "r = Client().get('/accounts/login/');"
        "print(json.dumps(dict(r.headers)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "repair_flow.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    headers = json.loads(result.stdout.strip().splitlines()[-1])
    assert absent not in headers
    policy = directives(headers[header])
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    if value is not None:
        assert policy["report-uri"] == ["https://csp-reports.example/r"]


def test_a_bad_report_only_value_is_refused():
    env = {
        **os.environ,
        "CSP_REPORT_ONLY": "perhaps",
        "DJANGO_SETTINGS_MODULE": "repair_flow.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "CSP_REPORT_ONLY='perhaps' is not a boolean" in result.stderr


def test_the_browsable_api_runs_only_its_script_files(client_for, administrator):
    """DRF's HTML view of the API (a developer's tool) keeps the strict
    policy: its scripts are files; what the policy drops there is styling
    only, a few layout style="" attributes and the <style> of its code
    highlighting (settings.py says why that is kept)."""
    response = client_for(administrator).get("/api/v1/records/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert_strict(response)
    found = inline_code(response.content.decode())
    assert found and all(" style=" in line or "<style>" in line for line in found), found
