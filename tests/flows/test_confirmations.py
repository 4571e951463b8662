"""Irreversible steps ask first: the forms of accept, refuse (不予受理),
approve, reject, delete a record and revoke a repair carry a Chinese question
naming the case and what follows, asked by the browser's own confirm dialog
(keyboard and screen readers work); the browser journeys accept it. The page's
static confirm.js asks: the Content-Security-Policy refuses inline handlers."""

import html
import re

import pytest

from flows.cases.review import preliminary_review_claim
from flows.models import BreachReview, CaseStatus
from tests.flows.conftest import at, hear, import_rows, penalty_row
from tests.flows.test_objection_portal import submitted as objection_submitted
from tests.flows.test_objection_work import verifying

pytestmark = pytest.mark.django_db


def questions(response) -> dict[str, str]:
    """Each form's action -> the question it asks before it is sent."""
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r'<script src="/static/js/confirm\.js" defer>', page)
    found = {}
    for attrs in re.findall(r"<form ([^>]*)>", page):
        question = re.search(r'data-confirm="([^"]*)"', attrs)
        if question:
            assert "onsubmit" not in attrs
            action = re.search(r'action="([^"]*)"', attrs).group(1)
            found[action] = html.unescape(question.group(1))
    return found


def test_the_officer_is_asked_before_accepting_or_refusing_a_repair(drive, client_for, officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    asked = questions(client_for(officer).get(f"/cases/{case.pk}/work/"))
    assert asked == {
        f"/cases/{case.pk}/work/accept/": f"确认受理 {case.number}？受理后将发出受理通知书，"
        "案件转认定单位审核，不能撤回。",
        f"/cases/{case.pk}/work/refuse/": f"确认对 {case.number} 作出不予受理决定？"
        "将发出不予受理通知书，案件办结，不能撤回。",
    }


def test_the_reviewer_is_asked_before_approving_or_rejecting(drive, client_for, reviewer):
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    asked = questions(client_for(reviewer).get(f"/cases/{case.pk}/work/"))
    assert asked == {
        f"/cases/{case.pk}/work/approve/": f"确认准予修复 {case.number}？"
        "将发出信用修复决定书，不能撤回。",
        f"/cases/{case.pk}/work/reject/": f"确认对 {case.number} 作出不予修复决定？"
        "将发出不予修复决定书，不能撤回。",
    }


def test_the_objection_accept_and_delete_ask_first(client_for, applicant, record, officer):
    case = objection_submitted(applicant, record)
    preliminary_review_claim(officer=officer, case=case)
    asked = questions(client_for(officer).get(f"/cases/objections/{case.pk}/work/"))
    assert asked[f"/cases/objections/{case.pk}/work/accept/"].startswith(
        f"确认受理异议 {case.number}？受理后将发出受理通知书，该记录标注“异议处理中”"
    )
    assert f"/cases/objections/{case.pk}/work/refuse/" in asked


def test_deleting_the_record_asks_first_and_names_it(client_for, applicant, record, officer):
    case = verifying(applicant, record, officer, officer, "platform")
    asked = questions(client_for(officer).get(f"/cases/objections/{case.pk}/work/"))
    # Correcting, maintaining and "cannot be verified" keep the record: no question.
    assert asked == {
        f"/cases/objections/{case.pk}/work/delete/": f"确认删除 {case.number} 所涉记录 "
        f"{record.decision_number}？将发出异议处理结果告知书，不能撤回。"
    }


def test_revoking_a_repair_asks_first(approved, now, enterprise, department, reviewer, client_for):
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, department))
    review = hear(BreachReview.objects.get(), reviewer=reviewer)
    asked = questions(client_for(reviewer).get(f"/cases/breaches/{review.pk}/"))
    assert asked == {
        f"/cases/breaches/{review.pk}/confirm/": f"确认认定违反承诺并撤销 {review.case.number} "
        "的信用修复？将发出撤销信用修复决定书，该记录重新披露，不能撤回。"
    }


def test_a_step_that_can_be_taken_back_does_not_ask(drive, client_for, officer):
    case = drive(CaseStatus.SUBMITTED)
    assert questions(client_for(officer).get(f"/cases/{case.pk}/work/")) == {}
