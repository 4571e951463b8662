"""The records list at a city's volume (issue 18): the search asks each part
through its index (a decision number by prefix, a name from a minimum length,
an identifier exactly), and the count beyond LIST_EXACT_COUNT_LIMIT is
PostgreSQL's estimate. The plans themselves are measured by
tests/bench/bench_lists.py."""

import pytest
from django.db import connection

import records.views
from records.models import CreditRecord
from repair_flow import paging
from repair_flow.paging import list_count
from tests.conftest import make_record

pytestmark = pytest.mark.django_db

POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the estimate and the trigram index are PostgreSQL's"
)


def shown(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def test_a_decision_number_is_found_by_its_prefix_not_its_middle(
    client_for, officer, record, other_record
):
    c = client_for(officer)
    body = shown(c.get("/records/", {"q": "济建罚〔2026〕"}))
    assert other_record.decision_number in body and record.decision_number not in body
    # "〔2026〕7号" is inside 济建罚〔2026〕7号, not at its start: no index serves it.
    body = shown(c.get("/records/", {"q": "〔2026〕7号"}))
    assert other_record.decision_number not in body


def test_a_name_is_matched_from_the_minimum_length(settings, client_for, officer, record):
    c = client_for(officer)
    # 济南泉城食品有限公司: "泉城" (2 characters, the default minimum) finds it.
    assert record.decision_number in shown(c.get("/records/", {"q": "泉城"}))
    # One character matches no name (it would match nearly every subject).
    assert record.decision_number not in shown(c.get("/records/", {"q": "泉"}))
    settings.RECORD_NAME_SEARCH_MIN_LENGTH = 3
    assert record.decision_number not in shown(c.get("/records/", {"q": "泉城"}))
    assert record.decision_number in shown(c.get("/records/", {"q": "泉城食"}))


def test_an_applicant_still_sees_only_their_own_records_when_searching(
    client_for, applicant, record, other_record
):
    body = shown(client_for(applicant).get("/records/", {"q": "济"}))
    assert record.decision_number in body and other_record.decision_number not in body


def test_the_count_is_exact_up_to_the_limit(settings, api_for, officer, record, other_record):
    settings.LIST_EXACT_COUNT_LIMIT = 10
    body = api_for(officer).get("/api/v1/records/").json()
    assert body["count"] == 2 and len(body["results"]) == 2


@POSTGRES
def test_beyond_the_limit_the_count_is_the_planners_estimate(
    settings, api_for, officer, record, other_record
):
    from repair_flow.paging import planner_estimate

    settings.LIST_EXACT_COUNT_LIMIT = 0
    estimate = planner_estimate(CreditRecord.objects.all())
    body = api_for(officer).get("/api/v1/records/").json()
    # The page itself is exact; only the total is the estimate.
    assert body["count"] == estimate and len(body["results"]) == 2


@POSTGRES
def test_the_name_search_has_its_trigram_index():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'records_subject_name_trgm'"
        )
        (definition,) = cursor.fetchone()
    assert "gin_trgm_ops" in definition and "upper" in definition.lower()


def test_a_list_that_can_match_nothing_counts_zero(db):
    # `__in` an empty list: Django runs no SQL for it, and the planner's
    # estimate must not try to EXPLAIN it (a 500 on PostgreSQL before).
    assert list_count(CreditRecord.objects.filter(pk__in=[])) == (0, False)


def records_of(department, subject, n: int, *, prefix: str):
    return [
        make_record(department=department, subject=subject, decision_number=f"{prefix}{i}号")
        for i in range(n)
    ]


def estimated_at(monkeypatch, rows: int) -> None:
    """The planner's estimate is PostgreSQL's: stood in for here, so the
    wording of an estimated count is tested on every database."""
    monkeypatch.setattr(paging, "planner_estimate", lambda queryset: rows)


def test_the_hidden_persons_count_is_exact_up_to_the_limit(
    settings, monkeypatch, client_for, officer, department, person
):
    records_of(department, person, 3, prefix="济罚〔2026〕人")
    settings.LIST_EXACT_COUNT_LIMIT = 3
    # Even an estimate far above: at or below the limit the count is exact.
    estimated_at(monkeypatch, 5000)
    body = shown(client_for(officer).get("/records/"))
    assert "另有 3 条自然人的记录未列出" in body and "另有约" not in body


def test_beyond_the_limit_the_hidden_persons_count_says_it_is_an_estimate(
    settings, monkeypatch, client_for, officer, department, person
):
    records_of(department, person, 4, prefix="济罚〔2026〕人")
    settings.LIST_EXACT_COUNT_LIMIT = 3
    estimated_at(monkeypatch, 5000)
    body = shown(client_for(officer).get("/records/"))
    assert "另有约 5000 条自然人的记录未列出" in body


def test_an_estimated_total_is_shown_as_one_on_the_pager(
    settings, monkeypatch, client_for, officer, department, enterprise
):
    records_of(department, enterprise, 26, prefix="济罚〔2026〕企")
    settings.LIST_EXACT_COUNT_LIMIT = 26
    c = client_for(officer)
    assert "第 1 / 2 页，共 26 条" in shown(c.get("/records/"))
    settings.LIST_EXACT_COUNT_LIMIT = 25
    estimated_at(monkeypatch, 5000)
    assert "第 1 / 约 200 页，共约 5000 条" in shown(c.get("/records/"))


def test_a_term_matching_many_names_still_finds_every_record(
    monkeypatch, client_for, officer, record, other_record, department
):
    # 济南泉城食品 and 济南历下建筑: both names contain 济南, more subjects than
    # the search lists by id: the records query joins the subjects instead.
    monkeypatch.setattr(records.views, "SEARCH_SUBJECTS_LISTED", 1)
    body = shown(client_for(officer).get("/records/", {"q": "济南"}))
    assert record.decision_number in body and other_record.decision_number in body
    monkeypatch.setattr(records.views, "SEARCH_SUBJECTS_LISTED", 2)
    body = shown(client_for(officer).get("/records/", {"q": "济南"}))
    assert record.decision_number in body and other_record.decision_number in body


def test_one_term_finds_both_a_decision_number_and_a_name(
    client_for, officer, department, enterprise, other_enterprise
):
    # "济南" starts one record's decision number and is in the other's subject name.
    by_number = make_record(
        department=department, subject=other_enterprise, decision_number="济南罚〔2026〕1号"
    )
    by_name = make_record(
        department=department, subject=enterprise, decision_number="鲁罚〔2026〕2号"
    )
    other_enterprise.name = "历城建材有限公司"
    other_enterprise.save(update_fields=["name"])
    body = shown(client_for(officer).get("/records/", {"q": "济南"}))
    assert by_number.decision_number in body and by_name.decision_number in body


def test_a_staff_search_in_the_url_never_lists_a_persons_record_by_name(
    client_for, officer, person_record, record
):
    # 王芳 is a natural person: her records are found only through the purpose form.
    body = shown(client_for(officer).get("/records/", {"q": "王芳"}))
    assert person_record.decision_number not in body and "王芳" not in body.split("</form>")[-1]


def test_a_staff_search_by_decision_number_leaves_out_persons_records(
    client_for, officer, person_record, record
):
    # Both decision numbers start with 济: the organisation's record is listed,
    # the person's is found only through the purpose form.
    body = shown(client_for(officer).get("/records/", {"q": "济"}))
    assert record.decision_number in body and person_record.decision_number not in body
