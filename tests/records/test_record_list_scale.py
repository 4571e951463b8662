"""The records list at a city's volume (issue 18): the search asks each part
through its index (a decision number by prefix, a name from a minimum length,
an identifier exactly), and the count beyond LIST_EXACT_COUNT_LIMIT is
PostgreSQL's estimate. The plans themselves are measured by
tests/bench/bench_lists.py."""

import pytest
from django.db import connection

from records.models import CreditRecord
from repair_flow.paging import list_count

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
