"""The staff's breach review pages (履约核查) over HTTP: the list scoped per
persona with its filters, a review's page, the notice of intended revocation,
confirm and dismiss by the reviewer of the department that made the repair
decision (every other persona refused with nothing changed, the new penalty's
department included), the
officer's report of false materials from the work page, and the monitoring
panel on the work page."""

import re

import pytest

from flows.models import BreachReview, BreachStatus, CaseEvent, CaseStatus, MonitoringWindow
from letters.models import Letter, LetterKind, OutboundMessage
from records.models import CreditRecord, RecordStatus, SyncEvent
from tests.flows.conftest import (
    ANSWER,
    BASIS,
    at,
    hear,
    import_rows,
    penalty_row,
    revoke,
    upload,
)

pytestmark = pytest.mark.django_db

LIST = "/cases/breaches/"
OTHER_NUMBER = "济药罚〔2027〕5号"


def detail(review, action: str = "") -> str:
    return f"/cases/breaches/{review.pk}/" + (f"{action}/" if action else "")


def work(case, action: str = "") -> str:
    return f"/cases/{case.pk}/work/" + (f"{action}/" if action else "")


def text(response) -> str:
    return response.content.decode()


def rows(response) -> list[int]:
    """The review ids of the list's rows, in the order shown."""
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'<tr data-review="(\d+)"', text(response))]


def ticked(response) -> set[str]:
    return set(
        re.findall(r'<input type="checkbox" name="([^"]+)" value="1" checked>', text(response))
    )


def state(review):
    """What a refused decision must leave as it was."""
    review.refresh_from_db()
    case = review.case
    case.refresh_from_db()
    return (
        review.status,
        review.reasons,
        case.status,
        MonitoringWindow.objects.get(case=case).status,
        Letter.objects.count(),
        CaseEvent.objects.count(),
        SyncEvent.objects.count(),
        OutboundMessage.objects.filter(idempotency_key__startswith="breach_review:").count(),
    )


@pytest.fixture
def review(approved, now, enterprise, department):
    """A new penalty of the repaired enterprise from the issuing department,
    imported on Tuesday 2 March 2027: a review for that department."""
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, department))
    return BreachReview.objects.get()


@pytest.fixture
def two_reviews(approved, now, enterprise, department, sister_department):
    """Two reviews of the same repair, both for the department that decided
    it: a new penalty of its own, and one of another department of the same
    sector (informed of the review)."""
    now.move_to(at("2027-03-02 09:00"))
    import_rows(
        penalty_row(enterprise, department),
        penalty_row(enterprise, sister_department, number=OTHER_NUMBER),
    )
    return (
        BreachReview.objects.get(record__department=department),
        BreachReview.objects.get(record__department=sister_department),
    )


# The list -------------------------------------------------------------------------


class TestList:
    def test_each_persona_sees_the_reviews_it_may_decide_or_oversee(
        self,
        client_for,
        two_reviews,
        reviewer,
        sister_reviewer,
        other_reviewer,
        officer,
        supervisor,
        administrator,
    ):
        mine, theirs = two_reviews
        assert sorted(rows(client_for(reviewer).get(LIST))) == sorted([mine.pk, theirs.pk])
        # The new penalty's department is informed of its review, and of no other.
        assert rows(client_for(sister_reviewer).get(LIST)) == [theirs.pk]
        assert rows(client_for(other_reviewer).get(LIST)) == []
        for user in (officer, supervisor, administrator):
            assert sorted(rows(client_for(user).get(LIST))) == sorted([mine.pk, theirs.pk])

    def test_applicants_are_refused_and_anonymous_sent_to_log_in(
        self, client, client_for, review, applicant
    ):
        response = client.get(LIST)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=/cases/breaches/")
        assert client_for(applicant).get(LIST).status_code == 403

    def test_row_shows_the_case_the_new_penalty_and_the_deadline(
        self, client_for, review, officer, approved
    ):
        body = text(client_for(officer).get(LIST))
        assert approved.number in body
        assert "济市监罚〔2027〕3号" in body and "2027-03-01" in body
        assert "济南泉城食品有限公司" in body
        # 10 working days from Tuesday 2 March 2027.
        assert re.findall(r'class="due-at">([^<]+)<', body) == ["2027-03-16 17:00"]

    def test_open_reviews_come_first_and_the_filters_narrow(
        self, client_for, two_reviews, officer, reviewer
    ):
        mine, theirs = two_reviews
        # The department dismisses one review: it moves after the open one.
        response = client_for(reviewer).post(
            detail(theirs, "dismiss"), {"reason_not_same_subject": "1"}
        )
        assert response.status_code == 302
        c = client_for(officer)
        assert rows(c.get(LIST)) == [mine.pk, theirs.pk]
        assert rows(c.get(LIST, {"status": "dismissed"})) == [theirs.pk]
        assert rows(c.get(LIST, {"status": "open"})) == [mine.pk]
        assert rows(c.get(LIST, {"q": OTHER_NUMBER})) == [theirs.pk]
        assert rows(c.get(LIST, {"q": mine.case.number})) == [mine.pk, theirs.pk]
        # Numbers by their beginning, as the task queue's search.
        assert rows(c.get(LIST, {"q": OTHER_NUMBER[:-2]})) == [theirs.pk]
        assert rows(c.get(LIST, {"q": OTHER_NUMBER[1:]})) == []
        assert rows(c.get(LIST, {"source": "false_materials"})) == []
        assert rows(c.get(LIST, {"source": "new_penalty", "q": "无此文号"})) == []


# A review's page ------------------------------------------------------------------


class TestDetail:
    def test_the_departments_reviewer_sees_the_facts_and_both_forms(
        self, client_for, review, reviewer, approved
    ):
        response = client_for(reviewer).get(detail(review))
        assert response.status_code == 200
        body = text(response)
        assert f'href="/cases/{approved.pk}/work/"' in body
        assert f'href="/records/{review.record_id}/"' in body
        assert "2026-11-18 15:00 — 2027-11-18 15:00" in body
        assert 'class="card clock-panel"' in body
        # Before the hearing: the notice and the dismissal, no revocation.
        assert f'action="{detail(review, "notice")}"' in body
        assert f'action="{detail(review, "dismiss")}"' in body
        assert f'action="{detail(review, "confirm")}"' not in body
        assert {"reason_before_commitment"} <= set(re.findall(r'name="(reason_\w+)"', body))

    @pytest.mark.parametrize("persona", ["officer", "supervisor", "administrator"])
    def test_others_who_may_see_it_get_no_forms(self, request, client_for, review, persona):
        response = client_for(request.getfixturevalue(persona)).get(detail(review))
        assert response.status_code == 200
        assert "济市监罚〔2027〕3号" in text(response)
        assert "/confirm/" not in text(response) and "/dismiss/" not in text(response)
        assert "/notice/" not in text(response)

    def test_it_is_not_found_for_another_departments_reviewer(
        self, client_for, review, other_reviewer, applicant
    ):
        assert client_for(other_reviewer).get(detail(review)).status_code == 404
        assert client_for(applicant).get(detail(review)).status_code == 403

    def test_a_reviewer_of_the_new_penalty_only_gets_no_link_to_a_repair_it_may_not_see(
        self, client_for, two_reviews, sister_reviewer, approved
    ):
        _mine, theirs = two_reviews
        body = text(client_for(sister_reviewer).get(detail(theirs)))
        assert approved.number in body and f"/cases/{approved.pk}/work/" not in body
        assert 'class="informed"' in body and "济南市药品监督管理局" in body
        # Informed, not deciding: no forms.
        assert "/notice/" not in body and "/dismiss/" not in body
        assert client_for(sister_reviewer).get(work(approved)).status_code == 404


# Deciding -------------------------------------------------------------------------


class TestDecide:
    def test_the_departments_reviewer_confirms_and_the_repair_is_revoked(
        self,
        client_for,
        review,
        reviewer,
        approved,
        record,
        now,
        django_capture_on_commit_callbacks,
    ):
        # Its publicity runs on: published again for the rest of its period.
        CreditRecord.objects.filter(pk=record.pk).update(publicity_ends_on="2027-06-30")
        now.move_to(at("2027-03-03 10:00"))
        c = client_for(reviewer)
        with django_capture_on_commit_callbacks(execute=True):
            hear(review, reviewer=reviewer)
        # After the statement the page offers the revocation, with the answer to it.
        assert 'name="answer"' in text(c.get(detail(review)))
        with django_capture_on_commit_callbacks(execute=True):
            response = c.post(
                detail(review, "confirm"),
                {
                    "reason_new_penalty": "1",
                    "reason_other": "拒不整改",
                    "basis": "《信用修复管理办法》第十五条",
                    "answer": ANSWER,
                },
            )
        assert response.status_code == 302 and response["Location"] == detail(review)
        review.refresh_from_db()
        approved.refresh_from_db()
        assert review.status == BreachStatus.CONFIRMED
        assert review.reasons == [
            "在信用修复承诺履约监管期内再次因同类失信行为受到行政处罚",
            "拒不整改",
        ]
        assert review.basis == "《信用修复管理办法》第十五条" and review.decided_by == reviewer
        assert approved.status == CaseStatus.REVOKED
        assert CreditRecord.objects.get(pk=record.pk).status == RecordStatus.PUBLISHED
        letter = Letter.objects.get(kind=LetterKind.REVOCATION)
        assert review.letter == letter

        page = c.get(response["Location"])
        body = text(page)
        assert "已认定违反信用承诺" in body
        assert f'href="/letters/{letter.pk}/"' in body
        # No bar unless the policy enables one with its basis.
        assert review.barred_until is None and "barred-until" not in body
        assert ANSWER in body
        assert "/confirm/" not in body and "/dismiss/" not in body

    @pytest.mark.parametrize(
        ("persona", "code"),
        [
            ("officer", 403),
            ("supervisor", 403),
            # The department that issued the new penalty: informed, it may read, not decide.
            ("sister_reviewer", 403),
            ("other_reviewer", 404),
            ("applicant", 403),
        ],
    )
    def test_any_other_persona_is_refused_with_nothing_changed(
        self, request, client_for, two_reviews, persona, code
    ):
        _mine, review = two_reviews
        before = state(review)
        c = client_for(request.getfixturevalue(persona))
        for action in ("notice", "confirm", "dismiss"):
            response = c.post(
                detail(review, action),
                {
                    "reason_new_penalty": "1",
                    "reason_before_commitment": "1",
                    "basis": "依据",
                    "facts": "再次受到处罚",
                },
            )
            assert response.status_code == code, action
            if code == 403 and persona != "applicant":
                assert "履约核查由作出信用修复决定的济南市市场监督管理局的审核人员办理" in text(
                    response
                ), action
        assert state(review) == before
        assert before[0] == BreachStatus.OPEN and before[2] == CaseStatus.APPROVED

    def test_anonymous_is_sent_to_log_in(self, client, review):
        before = state(review)
        response = client.post(detail(review, "confirm"), {"reason_new_penalty": "1"})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        assert state(review) == before

    def test_the_reviewer_dismisses_with_reasons_and_the_applicant_is_told(
        self, client_for, review, reviewer, approved
    ):
        response = client_for(reviewer).post(
            detail(review, "dismiss"),
            {"reason_before_commitment": "1", "reason_other": "处罚决定针对 2026 年的行为"},
        )
        assert response.status_code == 302 and response["Location"] == detail(review)
        review.refresh_from_db()
        approved.refresh_from_db()
        assert review.status == BreachStatus.DISMISSED
        assert review.reasons == ["违法行为发生在作出信用承诺之前", "处罚决定针对 2026 年的行为"]
        assert approved.status == CaseStatus.APPROVED
        assert MonitoringWindow.objects.get(case=approved).status == "open"
        mail = OutboundMessage.objects.get(idempotency_key=f"breach_review:{review.pk}:dismissed")
        assert mail.to == "zhangwei@example.com"
        assert not Letter.objects.filter(kind=LetterKind.REVOCATION).exists()

    def test_no_reasons_or_no_basis_is_refused_with_the_message_and_nothing_saved(
        self, client_for, review, reviewer
    ):
        hear(review, reviewer=reviewer)
        before = state(review)
        c = client_for(reviewer)
        response = c.post(detail(review, "dismiss"), {"reason_other": "  ", "basis": "x"})
        assert response.status_code == 400
        assert "请填写理由" in text(response)
        response = c.post(
            detail(review, "confirm"), {"reason_new_penalty": "1", "basis": " ", "answer": "答复"}
        )
        assert response.status_code == 400
        assert "请填写撤销依据" in text(response)
        # The reasons ticked come back ticked, and the forms are still there.
        assert ticked(response) == {"reason_new_penalty"}
        assert f'action="{detail(review, "confirm")}"' in text(response)
        assert state(review) == before

    def test_a_second_decision_is_a_conflict(self, client_for, review, reviewer, approved):
        c = client_for(reviewer)
        assert c.post(detail(review, "dismiss"), {"reason_record_error": "1"}).status_code == 302
        before = state(review)
        response = c.post(
            detail(review, "confirm"), {"reason_new_penalty": "1", "basis": "《办法》第十五条"}
        )
        assert response.status_code == 409
        assert "该履约核查已办结（不予认定），不能再次决定" in text(response)
        assert state(review) == before and before[2] == CaseStatus.APPROVED

    def test_decisions_are_post_only(self, client_for, review, reviewer):
        assert client_for(reviewer).get(detail(review, "confirm")).status_code == 405
        review.refresh_from_db()
        assert review.status == BreachStatus.OPEN


# The officer's report of false materials ---------------------------------------------


class TestReportFalse:
    def test_an_officer_reports_with_evidence_and_the_department_reviews_it(
        self, client_for, approved, officer, reviewer, now
    ):
        now.move_to(at("2027-01-05 10:00"))
        response = client_for(officer).post(
            work(approved, "report-false"),
            {"statement": "缴款凭证系伪造", "evidence": upload("核查报告.pdf")},
        )
        review = BreachReview.objects.get()
        assert response.status_code == 302 and response["Location"] == detail(review)
        assert (review.source, review.found_via, review.reported_by) == (
            "false_materials",
            "report",
            officer,
        )
        assert review.statement == "缴款凭证系伪造"
        assert review.evidence.kind == "false_material_evidence"

        # The department's reviewer reads the statement and opens the evidence.
        c = client_for(reviewer)
        body = text(c.get(detail(review)))
        assert "缴款凭证系伪造" in body
        link = f"/cases/{approved.pk}/materials/{review.evidence.pk}/"
        assert f'href="{link}"' in body
        download = c.get(link)
        assert download.status_code == 200
        assert b"".join(download.streaming_content).startswith(b"%PDF")
        assert client_for(officer).get(link).status_code == 200

    def test_a_report_without_evidence_is_refused_with_the_message(
        self, client_for, approved, officer
    ):
        response = client_for(officer).post(
            work(approved, "report-false"), {"statement": "缴款凭证系伪造"}
        )
        assert response.status_code == 400
        body = text(response)
        assert "请上传证明材料不实的证据" in body
        # The work page again, with the statement kept in its form.
        assert ">缴款凭证系伪造</textarea>" in body
        assert not BreachReview.objects.exists()

    def test_a_second_report_while_one_is_open_is_a_conflict(
        self, client_for, approved, supervisor
    ):
        c = client_for(supervisor)
        first = c.post(
            work(approved, "report-false"),
            {"statement": "缴款凭证系伪造", "evidence": upload("核查.pdf")},
        )
        assert first.status_code == 302
        response = c.post(
            work(approved, "report-false"),
            {"statement": "又一份", "evidence": upload("核查2.pdf")},
        )
        assert response.status_code == 409
        assert "已有正在核查的材料不实报告" in text(response)
        assert BreachReview.objects.count() == 1

    @pytest.mark.parametrize("persona", ["applicant", "reviewer"])
    def test_applicants_and_reviewers_may_not_report(self, request, client_for, approved, persona):
        response = client_for(request.getfixturevalue(persona)).post(
            work(approved, "report-false"),
            {"statement": "缴款凭证系伪造", "evidence": upload("核查.pdf")},
        )
        assert response.status_code == 403
        assert not BreachReview.objects.exists()
        approved.refresh_from_db()
        assert not approved.materials.filter(kind="false_material_evidence").exists()


# The work page, the queue and the menu ----------------------------------------------


class TestWorkPage:
    def test_the_work_page_shows_the_monitoring_and_its_reviews(
        self, client_for, review, officer, reviewer, approved
    ):
        for user in (officer, reviewer):
            body = text(client_for(user).get(work(approved)))
            assert 'class="card monitoring"' in body
            assert "2026-11-18 15:00 — 2027-11-18 15:00" in body and "监管中" in body
            assert f'href="{detail(review)}"' in body

    @pytest.mark.parametrize(
        ("persona", "shown"),
        [
            ("officer", True),
            ("supervisor", True),
            ("reviewer", False),
            ("administrator", False),
        ],
    )
    def test_only_officers_and_supervisors_get_the_report_form(
        self, request, client_for, approved, persona, shown
    ):
        body = text(client_for(request.getfixturevalue(persona)).get(work(approved)))
        assert 'class="card monitoring"' in body
        assert (f'action="{work(approved, "report-false")}"' in body) is shown

    def test_a_revoked_case_shows_its_monitoring_but_no_report_form(
        self, client_for, review, reviewer, officer, approved
    ):
        revoke(reviewer=reviewer, review=review, reasons=["再次受到行政处罚"], basis=BASIS)
        approved.refresh_from_db()
        assert approved.status == CaseStatus.REVOKED
        body = text(client_for(officer).get(work(approved)))
        assert "违反承诺" in body and f'href="{detail(review)}"' in body
        assert "report-false" not in body

    def test_a_case_before_approval_has_no_monitoring_panel(self, client_for, drive, officer):
        case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
        body = text(client_for(officer).get(work(case)))
        assert 'class="card monitoring"' not in body and "report-false" not in body

    def test_the_queue_links_the_reviews_with_the_open_count(
        self, client_for, two_reviews, officer, reviewer, sister_reviewer
    ):
        def count(user):
            body = text(client_for(user).get("/cases/tasks/"))
            assert f'href="{LIST}"' in body
            found = re.search(r'class="nav-count open-breaches">(\d+)<', body)
            return int(found.group(1)) if found else 0

        assert count(officer) == 2
        assert count(reviewer) == 2
        assert count(sister_reviewer) == 1
        client_for(reviewer).post(
            detail(two_reviews[1], "dismiss"), {"reason_not_same_subject": "1"}
        )
        assert count(reviewer) == 1 and count(sister_reviewer) == 0

    def test_the_menu_links_reviews_for_staff_and_monitoring_for_applicants(
        self, client_for, officer, reviewer, applicant
    ):
        for user in (officer, reviewer):
            assert f'<a href="{LIST}">履约核查</a>' in text(client_for(user).get("/cases/tasks/"))
        body = text(client_for(applicant).get("/cases/"))
        assert '<a href="/cases/monitoring/">履约监管</a>' in body
        assert LIST not in body


def test_breach_reviews_have_a_human_number_not_a_row_id(client_for, reviewer, two_reviews):
    first, second = sorted(BreachReview.objects.all(), key=lambda r: r.pk)
    number = first.case.number
    assert (first.label, second.label) == (f"{number} 第1次履约核查", f"{number} 第2次履约核查")
    page = text(client_for(reviewer).get(detail(second)))
    assert f'<h1 class="review-label">{number} 第2次履约核查</h1>' in page
    listed = text(client_for(reviewer).get("/cases/breaches/"))
    assert "第1次</a>" in listed and "第2次</a>" in listed
