"""The API's record search and the sync feed go through the access register
(shared domain reference section 8): an identifier only in a POST body, a
stated purpose, a register row per page (one INSERT), searches that found
nothing included."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.checks import run_checks
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from records.models import RecordStatus, SyncKind
from records.sync import sync_event_queue
from repair_flow.models import AccessLogEntry

SEARCH = "/api/v1/records/search/"
FEED = "/api/v1/sync-events/"


def test_a_search_by_resident_id_is_a_post_with_a_purpose_and_registered(
    api_for, officer, person_record, record
):
    person = person_record.subject
    response = api_for(officer).post(
        SEARCH,
        {"subject_identifier": person.identifier.lower(), "purpose": "repair_case"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [r["id"] for r in body["results"]] == [person_record.pk]
    assert person.identifier not in response.content.decode()
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.subject, entry.purpose, entry.channel) == (
        officer,
        person,
        "repair_case",
        "api",
    )
    assert entry.what == f"api:search:records:{person.display_identifier}:1"


def test_a_search_that_found_nothing_is_registered(api_for, supervisor, person_record):
    response = api_for(supervisor).post(
        SEARCH,
        {"subject_identifier": "11010519491231002X", "purpose": "supervision"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["results"] == []
    entry = AccessLogEntry.objects.get()
    assert entry.subject is None
    assert entry.what == "api:search:records:110105********002X:0"


@pytest.mark.parametrize("purpose", [None, "curiosity"])
def test_staff_must_state_a_valid_purpose_even_to_find_nothing(
    api_for, officer, person_record, purpose
):
    body = {"subject_identifier": "11010519491231002X"}
    if purpose:
        body["purpose"] = purpose
    response = api_for(officer).post(SEARCH, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in {"purpose_required", "invalid_choice"}
    assert AccessLogEntry.objects.count() == 0


def test_an_applicant_searches_only_their_own_without_a_purpose(
    api_for, applicant, record, other_record
):
    for subject, expected in ((record.subject, [record.pk]), (other_record.subject, [])):
        response = api_for(applicant).post(
            SEARCH, {"subject_identifier": subject.identifier}, format="json"
        )
        assert [r["id"] for r in response.json()["results"]] == expected
    assert AccessLogEntry.objects.count() == 0


def test_a_search_names_what_it_needs(api_for, officer):
    response = api_for(officer).post(SEARCH, {"purpose": "supervision"}, format="json")
    assert response.status_code == 400
    assert "subject_identifier" in response.json()


@pytest.mark.parametrize(
    "params",
    [
        {"subject_identifier": "110105194912310029"},
        {"q": "王芳"},
        {"decision_number": "110105194912310029"},
    ],
)
def test_an_identifier_in_a_get_is_refused_with_the_way_to_search(
    api_for, officer, person_record, params
):
    response = api_for(officer).get("/api/v1/records/", {**params, "purpose": "repair_case"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "identifier_in_url"
    assert "POST /api/v1/records/search/" in body["detail"]
    assert AccessLogEntry.objects.count() == 0


def test_the_get_list_keeps_working_with_other_filters(api_for, officer, record):
    response = api_for(officer).get("/api/v1/records/", {"subject_type": "enterprise"})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [record.pk]


# The sync feed ------------------------------------------------------------------------------

NOW = dt.datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def token_client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    return api


@pytest.fixture
def person_events(person_record, record, officer):
    events = []
    with time_machine.travel(NOW, tick=False):
        for n, rec in enumerate([person_record, record, person_record]):
            with transaction.atomic():
                rec.status = RecordStatus.REPAIRED
                rec.save(update_fields=["status", "updated_at"])
                events.append(
                    sync_event_queue(
                        record=rec,
                        kind=SyncKind.REPAIRED,
                        source=f"flows.RepairCase:{n}",
                        key=f"repair:{n}",
                        actor=officer,
                    )
                )
    return events


def test_the_feed_registers_each_persons_event_with_the_accounts_configured_purpose(
    integration, person_events, person_record, settings
):
    settings.INTEGRATION_ACCESS_PURPOSES = {integration.username: "data_maintenance"}
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        response = token_client(integration).get(FEED)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3
    entries = AccessLogEntry.objects.order_by("id")
    assert [(e.subject, e.what, e.purpose, e.channel) for e in entries] == [
        (person_record.subject, f"sync_event:{person_events[0].pk}", "data_maintenance", "feed"),
        (person_record.subject, f"sync_event:{person_events[2].pk}", "data_maintenance", "feed"),
    ]
    inserts = [
        q for q in queries.captured_queries if "INSERT" in q["sql"] and "accesslog" in q["sql"]
    ]
    assert len(inserts) == 1  # the page in one bulk insert


def test_an_account_without_a_purpose_is_refused_a_page_with_people(
    integration, person_events, settings
):
    settings.INTEGRATION_ACCESS_PURPOSES = {}
    with time_machine.travel(NOW, tick=False):
        api = token_client(integration)
        refused = api.get(FEED)
        assert refused.status_code == 400 and refused.json()["code"] == "purpose_required"
        assert AccessLogEntry.objects.count() == 0
        # A purpose given with the request does instead.
        assert api.get(FEED, {"purpose": "repair_case"}).status_code == 200
    assert AccessLogEntry.objects.filter(purpose="repair_case").count() == 2


def test_a_misconfigured_purpose_fails_the_system_check(settings):
    settings.INTEGRATION_ACCESS_PURPOSES = {"dept_system": "curiosity"}
    errors = [e for e in run_checks() if e.id == "repair_flow.E004"]
    assert errors and "curiosity" in errors[0].msg
