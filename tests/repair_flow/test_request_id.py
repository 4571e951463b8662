"""X-Request-ID (issue 17 finding 15): a client's id is accepted only in a
strict format and is always stored beside a server-generated id, in the access
register and the audit trail; a bad one is dropped, never stored."""

import datetime as dt
import re

import pytest
import time_machine

from repair_flow.audit import verify_chain
from repair_flow.models import AccessLogEntry, AuditEvent

SERVER_ID = re.compile(r"[0-9a-f]{32}")


def view_person(client, person_record, **headers):
    client.post(f"/access-purpose/{person_record.subject_id}/", {"purpose": "repair_case"})
    return client.get(f"/records/{person_record.pk}/", **headers)


def test_a_good_client_id_is_stored_beside_the_servers_own(client_for, officer, person_record):
    page = view_person(client_for(officer), person_record, HTTP_X_REQUEST_ID="lb-2026.12_03-abc")
    assert SERVER_ID.fullmatch(page["X-Request-ID"])
    assert page["X-Client-Request-ID"] == "lb-2026.12_03-abc"
    entry = AccessLogEntry.objects.get()
    assert entry.request_id == page["X-Request-ID"]
    assert entry.client_request_id == "lb-2026.12_03-abc"


@pytest.mark.parametrize(
    "sent",
    [
        "short",  # under 8
        "x" * 65,  # over 64
        "has space inside",
        "<script>alert(1)</script>",
        "id;DROP TABLE",
        "tab\tinside-id",
        "中文请求编号很长很长",
        "110105194912310029",  # a resident ID someone chose to send
    ],
)
def test_a_bad_client_id_is_dropped_and_the_server_id_stands(
    client_for, officer, person_record, sent
):
    page = view_person(client_for(officer), person_record, HTTP_X_REQUEST_ID=sent)
    assert SERVER_ID.fullmatch(page["X-Request-ID"])
    assert "X-Client-Request-ID" not in page
    entry = AccessLogEntry.objects.get()
    assert entry.request_id == page["X-Request-ID"]
    assert entry.client_request_id == ""


def test_the_audit_event_keeps_both_ids_and_the_chain_seals_them(api_for, reviewer, record):
    with time_machine.travel(dt.datetime(2026, 10, 8, 10, 0, tzinfo=dt.UTC), tick=False):
        response = api_for(reviewer).post(
            f"/api/v1/records/{record.pk}/decision-change/",
            {"kind": "revoked", "changed_on": "2026-09-30", "note": "济政复决〔2026〕12号"},
            format="json",
            HTTP_X_REQUEST_ID="gateway-0001",
        )
    assert response.status_code == 201, response.json()
    events = AuditEvent.objects.filter(client_request_id="gateway-0001")
    assert events.exists()
    assert {e.request_id for e in events} == {response["X-Request-ID"]}
    assert verify_chain().broken_at is None
