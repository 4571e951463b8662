"""The case pages under the Content-Security-Policy (issue 17, finding 12):
the pages the site-wide walk (tests/repair_flow/test_csp.py) cannot reach
without a case, each persona's, carry the strict policy and nothing it would
refuse; viewflow's flow chart has its own narrower policy."""

import re

import pytest

from flows.models import CaseStatus
from tests.csp import assert_strict, directives, inline_code
from tests.flows.test_breach_pages import review  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def check(response):
    assert response.status_code == 200
    assert_strict(response)
    found = inline_code(response.content.decode())
    assert not found, found


def test_the_applicants_case_pages(client_for, drive, applicant):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    client = client_for(applicant)
    for path in (f"/cases/{case.pk}/", "/cases/"):
        check(client.get(path))


def test_the_officers_work_page(client_for, drive, officer):
    check(client_for(officer).get(f"/cases/{drive(CaseStatus.IN_PRELIMINARY_REVIEW).pk}/work/"))


def test_the_reviewers_work_page(client_for, drive, reviewer):
    check(client_for(reviewer).get(f"/cases/{drive(CaseStatus.IN_DEPARTMENT_REVIEW).pk}/work/"))


def test_the_letter_pages(client_for, approved, reviewer):
    client = client_for(reviewer)
    listing = client.get("/letters/")
    check(listing)
    links = set(re.findall(r'href="(/letters/[0-9]+/)"', listing.content.decode()))
    assert links
    for link in links:
        check(client.get(link))


def test_a_breach_review_page(client_for, reviewer, review):  # noqa: F811
    check(client_for(reviewer).get(f"/cases/breaches/{review.pk}/"))


def test_the_flow_chart_may_style_itself_and_nothing_more(client_for, drive, officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    response = client_for(officer).get(f"/cases/{case.pk}/work/flow.svg")
    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy["style-src"] == ["'unsafe-inline'"]
    for name in ("default-src", "script-src", "img-src", "connect-src", "object-src"):
        assert policy[name] == ["'none'"], name
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
