"""Every SLA clock page leads back to its case, for the staff who may open it."""

import pytest
from django.urls import reverse

from flows.models import CaseStatus
from sla.clocks import clocks_for
from tests.flows.test_objection_portal import submitted


@pytest.fixture
def submitted_clock(drive):
    case = drive(CaseStatus.SUBMITTED)
    return case, clocks_for(case).get(stage="preliminary_review")


@pytest.fixture
def objection_clock(applicant, record):
    case = submitted(applicant, record)
    return case, clocks_for(case).get(stage="preliminary_review")


@pytest.mark.parametrize("persona", ["officer", "supervisor", "administrator"])
def test_the_clock_page_links_to_the_case_work_page(request, client_for, submitted_clock, persona):
    case, clock = submitted_clock
    page = client_for(request.getfixturevalue(persona)).get(f"/sla/clocks/{clock.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    work = reverse("flows:work", args=[case.pk])
    assert f'<a class="case-link" href="{work}">← 返回案件 {case.label}</a>' in html
    assert client_for(request.getfixturevalue(persona)).get(work).status_code in (200, 302)


def test_an_objection_clock_links_to_the_objection_work_page(client_for, officer, objection_clock):
    case, clock = objection_clock
    html = client_for(officer).get(f"/sla/clocks/{clock.pk}/").content.decode()
    assert f'href="{reverse("flows:objection_work", args=[case.pk])}"' in html


def test_the_applicant_is_refused_the_clock_page(client_for, applicant, submitted_clock):
    _case, clock = submitted_clock
    assert client_for(applicant).get(f"/sla/clocks/{clock.pk}/").status_code == 403


def test_a_reviewer_of_another_department_gets_404(client_for, other_reviewer, submitted_clock):
    _case, clock = submitted_clock
    assert client_for(other_reviewer).get(f"/sla/clocks/{clock.pk}/").status_code == 404
