"""The applicant's 履约监管 page and the monitoring panel of the case page,
through HTTP: until when, days left, how it ended (completed, breached), a
neutral line while a review is open, and who may see it."""

import pytest
from django.urls import reverse

from flows.models import BreachReview, CaseStatus, MonitoringWindow
from flows.monitoring.services import breach_dismiss, monitoring_sweep
from flows.repair.services import department_review_approve
from flows.web.applicant import NEXT_STEP
from records.models import BindingCapacity, SubjectBinding
from tests.flows.conftest import (
    BASIS,
    FILING,
    approve_repair,
    at,
    draft_with_materials,
    import_rows,
    penalty_row,
    revoke,
)

pytestmark = pytest.mark.django_db

URL = "/cases/monitoring/"


def row(html: str, window: MonitoringWindow) -> str:
    """The table row of one window on the 履约监管 page."""
    start = html.index(f'data-window="{window.pk}"')
    return html[start : html.index("</tr>", start)]


def page(client, user) -> str:
    # Logged in again at each look: a move of a year outlives the session.
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    return response.content.decode()


def case_page(client, user, case) -> str:
    client.force_login(user)
    response = client.get(reverse("flows:detail", args=[case.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_url_is_the_named_route():
    assert reverse("flows:monitoring") == URL


def test_the_applicant_sees_the_window_until_when_and_days_left(
    client_for, applicant, approved, now
):
    window = approved.monitoring
    assert window.commitment is not None
    client = client_for(applicant)
    tr = row(page(client, applicant), window)
    assert f'href="{reverse("flows:detail", args=[approved.pk])}"' in tr
    assert approved.number in tr
    assert "济市监罚〔2026〕1号" in tr and "济南市市场监督管理局" in tr
    assert f'href="{reverse("letters:commitment", args=[window.commitment_id])}"' in tr
    assert '<span class="starts-on">2026-11-18</span>' in tr
    assert '<span class="ends-on">2027-11-18</span>' in tr
    assert "365 天" in tr and "监管中" in tr
    assert "履约核查" not in tr

    # Days left count Beijing days to the end day; on it, the window ends at 15:00.
    now.move_to(at("2027-11-17 23:59"))
    assert "1 天" in row(page(client, applicant), window)
    now.move_to(at("2027-11-18 00:00"))
    tr = row(page(client, applicant), window)
    assert "今日届满" in tr and "监管中" in tr

    # The case page has the same panel.
    html = case_page(client, applicant, approved)
    assert 'data-monitoring="open"' in html
    assert '<span class="ends-on">2027-11-18</span>' in html and "今日届满" in html
    assert str(NEXT_STEP[CaseStatus.APPROVED]) in html


def test_after_the_sweep_at_the_end_it_shows_completed(client_for, applicant, approved, now):
    client = client_for(applicant)
    now.move_to(at("2027-11-18 14:59:59"))
    monitoring_sweep()
    assert "监管中" in row(page(client, applicant), approved.monitoring)

    now.move_to(at("2027-11-18 15:00"))
    assert monitoring_sweep().windows_completed == 1
    tr = row(page(client, applicant), approved.monitoring)
    assert 'data-status="completed"' in tr and "监管期满" in tr
    assert "天" not in tr and '<span class="ends-on">2027-11-18</span>' in tr

    html = case_page(client, applicant, approved)
    assert 'data-monitoring="completed"' in html
    assert str(NEXT_STEP[CaseStatus.COMPLETED]) in html
    assert "监管期已于 2027-11-18 届满" in html


def test_an_open_review_shows_only_that_a_review_is_under_way(
    client_for, applicant, approved, now, enterprise, sister_department, reviewer
):
    client = client_for(applicant)
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, sister_department, number="济药罚〔2027〕5号"))
    tr = row(page(client, applicant), approved.monitoring)
    # The department that decided the repair reviews it.
    assert "济南市市场监督管理局正在开展履约核查" in tr and "监管中" in tr
    # Nothing of what the review is about: not the new penalty, not its date.
    assert "济药罚〔2027〕5号" not in tr and "2027-03-01" not in tr
    html = case_page(client, applicant, approved)
    assert "济南市市场监督管理局正在开展履约核查" in html

    now.move_to(at("2027-03-03 10:00"))
    breach_dismiss(
        reviewer=reviewer,
        review=BreachReview.objects.get(),
        reasons=["新增处罚信息与该信用主体无关"],
    )
    tr = row(page(client, applicant), approved.monitoring)
    assert "履约核查" not in tr and "监管中" in tr


def test_a_confirmed_breach_shows_breached_and_the_revoked_message(
    client_for, applicant, approved, now, enterprise, department, reviewer, committed
):
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, department))
    now.move_to(at("2027-03-03 10:00"))
    committed(
        revoke,
        reviewer=reviewer,
        review=BreachReview.objects.get(),
        reasons=["在信用修复承诺履约监管期内再次受到行政处罚"],
        basis=BASIS,
    )
    client = client_for(applicant)
    tr = row(page(client, applicant), approved.monitoring)
    assert 'data-status="breached"' in tr and "违反承诺" in tr
    assert "履约核查" not in tr and "天" not in tr

    html = case_page(client, applicant, approved)
    assert 'data-monitoring="breached"' in html
    assert str(NEXT_STEP[CaseStatus.REVOKED]) in html
    assert "2027-03-03 认定违反信用修复承诺" in html
    # The revocation letter is among the case's letters.
    assert "撤销信用修复决定书" in html[html.index('class="case-letters"') :]


def test_open_windows_come_first_by_end(
    client_for, applicant, officer, reviewer, other_reviewer, drive, other_record, now
):
    first = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    # The applicant acts for a second enterprise too (one repair a year per subject).
    SubjectBinding.objects.create(
        user=applicant, subject=other_record.subject, capacity=BindingCapacity.LEGAL_REPRESENTATIVE
    )
    second = approve_repair(
        draft_with_materials(applicant, other_record),
        officer=officer,
        reviewer=other_reviewer,
        now=now,
        on="2026-11-17 10:00",
    )
    now.move_to(at("2026-11-18 15:00"))
    first = department_review_approve(reviewer=reviewer, case=first, basis=BASIS)
    client = client_for(applicant)

    def order():
        html = page(client, applicant)
        return sorted(
            (first.monitoring, second.monitoring), key=lambda w: html.index(f'data-window="{w.pk}"')
        )

    # Both open: the nearest end first.
    assert order() == [second.monitoring, first.monitoring]
    # The second completes: the open one goes first, whatever its end.
    now.move_to(at("2027-11-17 10:00"))
    assert monitoring_sweep().windows_completed == 1
    assert order() == [first.monitoring, second.monitoring]
    assert "监管期满" in row(page(client, applicant), second.monitoring)


def test_another_applicant_sees_nothing_of_it(client_for, other_applicant, approved):
    client = client_for(other_applicant)
    html = page(client, other_applicant)
    assert "data-window=" not in html and approved.number not in html
    assert "暂无履约监管中的信用修复。" in html
    assert client.get(reverse("flows:detail", args=[approved.pk])).status_code == 404


@pytest.mark.parametrize("persona", ["officer", "reviewer", "supervisor"])
def test_staff_are_refused_the_applicant_page(request, client_for, persona, approved):
    user = request.getfixturevalue(persona)
    assert client_for(user).get(URL).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_officers_evidence_of_false_materials_is_kept_from_the_applicant(
    client, applicant, officer, approved, now
):
    from flows.monitoring.services import false_materials_report
    from tests.flows.conftest import upload

    now.move_to(at("2027-01-05 10:00"))
    review = false_materials_report(
        officer=officer,
        case=approved,
        statement="缴款凭证系伪造",
        evidence=upload("银行核实函.pdf"),
    )
    download = reverse("flows:material", args=[approved.pk, review.evidence.pk])
    # The applicant: not on the case page, not in the API, no download.
    assert "银行核实函.pdf" not in case_page(client, applicant, approved)
    detail = client.get(f"/api/v1/repair-cases/{approved.pk}/")
    assert detail.status_code == 200
    assert "false_material_evidence" not in [m["kind"] for m in detail.json()["materials"]]
    assert len(detail.json()["materials"]) == len(FILING)  # the filing's own
    assert client.get(download).status_code == 404
    # The officer downloads it (an enterprise's file: no purpose needed).
    client.force_login(officer)
    response = client.get(download)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    staff = client.get(f"/api/v1/repair-cases/{approved.pk}/")
    assert "false_material_evidence" in [m["kind"] for m in staff.json()["materials"]]
