"""The breach review lists at volume (issue 18): the staff's list reads the
pending reviews in the order of their open clock's stored, indexed deadline
(joined, no subquery per row), earliest first, then the decided ones newest
first, each with its deadline shown; the API's list newest first with each
row's deadline; both in as many queries for 50 rows as for 1 or 2. A review
has at most one open breach_review clock (what the join relies on). The
plans are measured by tests/bench/bench_lists.py."""

import itertools
import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from flows.models import BreachReview, BreachStatus
from flows.monitoring.services import (
    breach_dismiss,
    breach_notice_issue,
    breach_statement_submit,
    reviews_by_deadline,
    reviews_for_user,
)
from records.models import Department, Sector
from repair_flow.models import AccessPurpose
from repair_flow.paging import EstimatedCountPaginator, QuerysetChain
from sla.clocks import SlaError, clock_start, clocks_for
from sla.models import SlaClock, Stage
from tests.flows.conftest import NOTICE_FACTS, STATEMENT, at, import_rows, penalty_row

pytestmark = pytest.mark.django_db

LIST = "/cases/breaches/"
API = "/api/v1/breach-reviews/"
PURPOSE = {"purpose": AccessPurpose.REPAIR_CASE}
DISMISS = {"reason_not_same_subject": "1"}


def rows(response) -> list[int]:
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'<tr data-review="(\d+)"', response.content.decode())]


def due_shown(response) -> list[str]:
    return re.findall(r'class="due-at">([^<]+)<', response.content.decode())


def opened(enterprise, department, number: str) -> BreachReview:
    import_rows(penalty_row(enterprise, department, number=number, day="2027-02-26"))
    return BreachReview.objects.get(record__decision_number=number)


def test_pending_reviews_by_deadline_before_the_decided_ones_newest_first(
    client_for, approved, now, enterprise, department, officer, reviewer
):
    now.move_to(at("2027-03-01 09:00"))  # Monday
    first = opened(enterprise, department, "济市监罚〔2027〕1号")
    now.move_to(at("2027-03-02 09:00"))
    second = opened(enterprise, department, "济市监罚〔2027〕2号")
    now.move_to(at("2027-03-03 09:00"))
    third = opened(enterprise, department, "济市监罚〔2027〕3号")
    now.move_to(at("2027-03-04 09:00"))
    fourth = opened(enterprise, department, "济市监罚〔2027〕4号")
    # The first waits three working days for the applicant's statement: its
    # department's clock is paused, its deadline moves past the second's.
    now.move_to(at("2027-03-03 10:00"))
    breach_notice_issue(reviewer=reviewer, review=first, facts=NOTICE_FACTS)
    now.move_to(at("2027-03-08 10:00"))
    breach_statement_submit(applicant=approved.applicant, review=first, text=STATEMENT)
    # The third and the fourth are dismissed: after every pending one, newest first.
    for review in (third, fourth):
        response = client_for(reviewer).post(f"{LIST}{review.pk}/dismiss/", DISMISS)
        assert response.status_code == 302
    response = client_for(officer).get(LIST)
    assert rows(response) == [second.pk, first.pk, fourth.pk, third.pk]
    # Each row's own deadline: 10 working days from its opening (the first's
    # moved by its pause), the decided ones' as their clocks stopped.
    assert due_shown(response) == [
        "2027-03-16 17:00",
        "2027-03-18 17:00",
        "2027-03-18 17:00",
        "2027-03-17 17:00",
    ]
    # Paged (as the list's pager reads it, counted as one queryset), every
    # page size gives the same rows: a page may start past the pending part.
    ordered = [second.pk, first.pk, fourth.pk, third.pk]
    for size in (1, 2, 3, 4):
        pager = EstimatedCountPaginator(reviews_by_deadline(reviews_for_user(officer)), size)
        assert pager.count == 4
        paged = [r.pk for n in pager.page_range for r in pager.page(n).object_list]
        assert paged == ordered, size
    # A status filter reads only the part that can hold it.
    assert rows(client_for(officer).get(LIST, {"status": "notified"})) == [first.pk]
    assert rows(client_for(officer).get(LIST, {"status": "dismissed"})) == [fourth.pk, third.pk]
    # Past its deadline a pending review is flagged; a decided one never is.
    now.move_to(at("2027-03-17 09:00"))
    body = client_for(officer).get(LIST).content.decode()
    assert re.findall(r'<tr data-review="(\d+)" class="overdue"', body) == [str(second.pk)]


def test_the_api_lists_newest_first_with_each_deadline(
    api_for, approved, now, enterprise, department, officer, reviewer
):
    now.move_to(at("2027-03-01 09:00"))
    first = opened(enterprise, department, "济市监罚〔2027〕1号")
    now.move_to(at("2027-03-02 09:00"))
    second = opened(enterprise, department, "济市监罚〔2027〕2号")
    breach_dismiss(reviewer=reviewer, review=first, reasons=["新增处罚信息与该信用主体无关"])
    body = api_for(officer).get(API, PURPOSE).json()
    assert [(row["id"], row["due_at"]) for row in body["results"]] == [
        (second.pk, "2027-03-16T17:00:00+08:00"),
        (first.pk, "2027-03-15T17:00:00+08:00"),
    ]
    detail = api_for(officer).get(f"{API}{first.pk}/", PURPOSE).json()
    assert detail["status"] == BreachStatus.DISMISSED
    assert detail["due_at"] == "2027-03-15T17:00:00+08:00"


def many(enterprise, department, reviewer, *, pending: int, decided: int, start: int) -> None:
    """`pending + decided` new reviews in one import; `decided` of them dismissed."""
    numbers = [f"济市监罚〔2027〕{start + i}号" for i in range(pending + decided)]
    import_rows(*(penalty_row(enterprise, department, number=n, day="2027-02-26") for n in numbers))
    for review in BreachReview.objects.filter(record__decision_number__in=numbers[:decided]):
        breach_dismiss(reviewer=reviewer, review=review, reasons=["新增处罚信息与该信用主体无关"])


def queries(client, path, query) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, query)
    assert response.status_code == 200
    return len(captured)


def test_the_lists_run_as_many_queries_for_50_rows_as_for_a_few(
    client_for, api_for, approved, now, enterprise, department, officer, reviewer
):
    now.move_to(at("2027-03-02 09:00"))
    # A page with both parts: one pending review and one decided.
    many(enterprise, department, reviewer, pending=1, decided=1, start=100)
    page, api = client_for(officer), api_for(officer)
    reads = [
        (page, LIST, {}),
        (page, LIST, {"status": "dismissed"}),
        (page, LIST, {"status": "open"}),
        (api, API, PURPOSE),
    ]
    for client, path, query in reads:
        queries(client, path, query)  # warm the caches
    few = [queries(client, path, query) for client, path, query in reads]
    many(enterprise, department, reviewer, pending=24, decided=24, start=200)
    assert len(rows(page.get(LIST))) == 50
    assert len(api.get(API, PURPOSE).json()["results"]) == 50
    assert [queries(client, path, query) for client, path, query in reads] == few


def test_a_review_has_one_open_breach_review_clock(approved, now, enterprise, department):
    now.move_to(at("2027-03-02 09:00"))
    review = opened(enterprise, department, "济市监罚〔2027〕1号")
    with pytest.raises(SlaError):
        clock_start(case=review, stage=Stage.BREACH_REVIEW, actor=None)
    # The database refuses it too (one_open_clock_per_case_stage), whatever
    # writes it: the list's join finds one clock per pending review.
    clock = clocks_for(review).get(stage=Stage.BREACH_REVIEW)
    clock.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        clock.save()
    assert SlaClock.objects.filter(stage=Stage.BREACH_REVIEW, stopped_at=None).count() == 1


@pytest.mark.parametrize("exact_up_to", [1000, 1])
def test_a_chain_of_querysets_reads_as_one_list(settings, exact_up_to):
    # Counted exactly, or (on PostgreSQL, past the limit) by the planner's
    # estimate: the rows of every slice are the same.
    settings.LIST_EXACT_COUNT_LIMIT = exact_up_to
    for code in "ABCDEFG":
        Department.objects.create(code=code, name=f"部门{code}", sector=Sector.OTHER)
    departments = Department.objects.filter(code__in=list("ABCDEFG"))
    first = departments.filter(code__lt="D").order_by("code")
    second = departments.filter(code__gte="D").order_by("-code")
    whole = list(first) + list(second)
    # Every slice, whether it starts in a part, at its end, or after it;
    # read without a count first (as a slice alone), and after one (as a
    # Paginator reads it, which lets a page skip a part it starts after);
    # counted by its parts, or as the one queryset they make together.
    for counted, together in itertools.product((False, True), (None, departments)):
        chain = QuerysetChain(first, second, whole=together)
        if counted:
            total = chain.count()
            assert total == 7 or chain.estimated
        for start in range(9):
            for stop in range(start, 10):
                assert chain[start:stop] == whole[start:stop], (counted, together, start, stop)
    assert QuerysetChain(first.none(), second)[0:3] == whole[3:6]
