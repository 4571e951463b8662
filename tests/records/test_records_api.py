"""/api/v1/records/: ingest for department systems, scoped reads."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from records.identifiers import make_resident_id, make_uscc
from records.models import CreditRecord, RecordStatus, Subject
from repair_flow.models import AccessLogEntry, AccessPurpose, AuditEvent

URL = "/api/v1/records/"
TODAY = dt.datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PERSON_ID = make_resident_id(birth=dt.date(1990, 3, 8), serial=41)


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


def item(**overrides):
    values = {
        "decision_number": "济市监罚〔2026〕301号",
        "department_code": "SCJGJ",
        "subject_type": "enterprise",
        "subject_identifier": make_uscc(serial=7001),
        "subject_name": "济南丙商贸有限公司",
        "decision_date": "2026-05-20",
        "fine_amount": 8000,
        "severity": "general",
        "penalty_types": ["fine"],
        "facts": "虚假宣传。",
    }
    values.update(overrides)
    return values


def detail_url(record):
    return f"{URL}{record.pk}/"


# Ingest ------------------------------------------------------------------------------------


def test_an_integration_account_posts_one_record_with_its_token(department, department_system):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {department_system.auth_token.key}")

    response = api.post(URL, item(), format="json")

    assert response.status_code == 201, response.json()
    record = CreditRecord.objects.get()
    assert response.json() == {
        "created": 1,
        "updated": 0,
        "rejected": 0,
        "results": [{"index": 0, "status": "created", "id": record.pk, "errors": []}],
    }
    assert record.fine_amount == 8000 and record.publicity_ends_on == dt.date(2027, 5, 20)
    event = AuditEvent.objects.get(action="records.import")
    assert event.actor == department_system
    assert event.summary["source"] == "api" and event.summary["created_ids"] == [record.pk]


def test_an_officer_posts_a_list_and_a_repeat_is_an_update(department, officer, api_for):
    api = api_for(officer)
    first = api.post(URL, [item(), item(decision_number="济市监罚〔2026〕302号")], format="json")
    assert first.status_code == 201
    assert [r["status"] for r in first.json()["results"]] == ["created", "created"]

    again = api.post(URL, [item(fine_amount="9000.50")], format="json")

    assert again.status_code == 200
    assert again.json()["results"][0]["status"] == "updated"
    assert CreditRecord.objects.count() == 2
    assert (
        str(CreditRecord.objects.get(decision_number="济市监罚〔2026〕301号").fine_amount)
        == "9000.50"
    )


def test_valid_items_are_saved_and_invalid_ones_reported(department, department_system, api_for):
    bad_uscc = make_uscc(serial=7002)[:-1] + "Z"

    response = api_for(department_system).post(
        URL,
        [
            item(),
            item(decision_number="", subject_identifier=bad_uscc),
            "not an object",
            item(
                decision_number="济市监罚〔2026〕303号",
                penalty_types="warning;public_criticism",
                fine_amount=None,
            ),
        ],
        format="json",
    )

    assert response.status_code == 207
    body = response.json()
    assert (body["created"], body["updated"], body["rejected"]) == (2, 0, 2)
    assert body["results"][1] == {
        "index": 1,
        "status": "rejected",
        "id": None,
        "errors": [
            {"field": "decision_number", "code": "required", "message": "必填，不能为空"},
            {
                "field": "subject_identifier",
                "code": "alphabet",
                "message": "统一社会信用代码含有不允许的字符：Z（不使用 I、O、S、V、Z）",
            },
        ],
    }
    assert body["results"][2]["errors"] == [
        {"field": "json", "code": "not_object", "message": "每一项应为一个 JSON 对象"}
    ]
    assert body["results"][3]["status"] == "created"
    assert CreditRecord.objects.count() == 2


def test_all_items_invalid_is_400_and_nothing_is_saved(department, department_system, api_for):
    response = api_for(department_system).post(
        URL, item(subject_type="person", subject_identifier="37010219900308041"), format="json"
    )

    assert response.status_code == 400
    assert response.json()["results"][0]["errors"] == [
        {
            "field": "subject_identifier",
            "code": "length",
            "message": "居民身份证号码应为18位，实际为17位",
        }
    ]
    assert not Subject.objects.exists() and not CreditRecord.objects.exists()


@pytest.mark.parametrize("body", [[], "text", 5])
def test_a_body_that_is_not_records_is_400(department, department_system, api_for, body):
    response = api_for(department_system).post(URL, body, format="json")

    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize("persona", ["applicant", "reviewer", "supervisor"])
def test_other_roles_may_not_ingest(department, persona, request, api_for):
    user = request.getfixturevalue(persona)

    response = api_for(user).post(URL, item(), format="json")

    assert response.status_code == 403
    assert not CreditRecord.objects.exists()


def test_anonymous_is_401(department):
    assert APIClient().post(URL, item(), format="json").status_code == 401
    assert APIClient().get(URL).status_code == 401


def test_a_bad_token_is_401(department, integration):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert api.post(URL, item(), format="json").status_code == 401


def test_the_ingest_endpoint_is_in_the_schema(db, client):
    schema = client.get("/api/schema/").content.decode()

    assert "RecordIngestBody" in schema and "IngestResponse" in schema
    assert "/api/v1/records/{id}/" in schema


# Reads -------------------------------------------------------------------------------------


def test_an_applicant_lists_only_their_own_records(applicant, record, other_record, api_for):
    response = api_for(applicant).get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [r["id"] for r in body["results"]] == [record.pk]
    only = body["results"][0]
    assert only["subject"]["identifier"] == record.subject.identifier  # a USCC is public
    assert only["department"] == {"code": "SCJGJ", "name": "济南市市场监督管理局"}
    assert only["eligibility"]["eligibility"] == "eligible"
    assert only["eligibility"]["eligible_from"] == "2026-04-15"


def test_an_applicant_gets_404_for_another_subjects_record(applicant, other_record, api_for):
    assert api_for(applicant).get(detail_url(other_record)).status_code == 404


def test_a_reviewer_sees_only_their_departments_records(reviewer, other_reviewer, record, api_for):
    assert api_for(reviewer).get(detail_url(record)).status_code == 200
    assert api_for(other_reviewer).get(detail_url(record)).status_code == 404
    assert api_for(other_reviewer).get(URL).json()["count"] == 0


def test_the_detail_answers_with_eligibility(officer, record, api_for):
    response = api_for(officer).get(detail_url(record))

    assert response.status_code == 200
    body = response.json()
    assert body["decision_number"] == record.decision_number
    assert body["fine_amount"] == "5000.00" and body["penalty_types"] == ["fine"]
    assert body["eligibility"]["rule_set"] == "ndrc-order-36-2025"
    assert body["status"] == RecordStatus.PUBLISHED


def test_a_persons_identifier_is_masked_and_the_read_registered(officer, person_record, api_for):
    response = api_for(officer).get(detail_url(person_record), {"purpose": "repair_case"})

    assert response.status_code == 200
    full = person_record.subject.identifier
    assert response.json()["subject"]["identifier"] == full[:6] + "********" + full[-4:]
    assert full not in response.content.decode()
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.subject, entry.purpose, entry.channel) == (
        officer,
        person_record.subject,
        AccessPurpose.REPAIR_CASE,
        "api",
    )
    assert entry.what == f"api:record:{person_record.pk}"


@pytest.mark.parametrize("purpose", [None, "curiosity"])
def test_staff_need_a_valid_purpose_for_a_persons_record(officer, person_record, api_for, purpose):
    params = {"purpose": purpose} if purpose else {}

    response = api_for(officer).get(detail_url(person_record), params)

    assert response.status_code == 400
    assert "purpose" in response.json()["detail"]
    assert not AccessLogEntry.objects.exists()


def test_a_list_with_people_needs_a_purpose_and_registers_each_person(
    integration, record, person_record, api_for
):
    api = api_for(integration)
    assert api.get(URL).status_code == 400
    assert api.get(URL, {"subject_type": "enterprise"}).status_code == 200  # no people: no purpose

    response = api.get(URL, {"purpose": "data_maintenance"})

    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert list(AccessLogEntry.objects.values_list("what", "purpose")) == [
        (f"api:record:{person_record.pk}", "data_maintenance")
    ]
    assert person_record.subject.identifier not in response.content.decode()


def test_an_applicant_reading_their_own_person_record_needs_no_purpose(
    person, person_record, api_for
):
    from records.models import BindingCapacity, SubjectBinding
    from repair_flow.models import Role, User

    owner = User.objects.create_user(username="wangfang", password="x" * 12, role=Role.APPLICANT)
    SubjectBinding.objects.create(user=owner, subject=person, capacity=BindingCapacity.SELF)

    response = api_for(owner).get(detail_url(person_record))

    assert response.status_code == 200
    assert person.identifier not in response.content.decode()
    assert not AccessLogEntry.objects.exists()


def test_the_list_filters_by_department_and_decision_number(officer, record, other_record, api_for):
    api = api_for(officer)

    by_department = api.get(URL, {"department": "ZJJ"}).json()
    by_number = api.get(URL, {"decision_number": record.decision_number}).json()

    assert [r["id"] for r in by_department["results"]] == [other_record.pk]
    assert [r["id"] for r in by_number["results"]] == [record.pk]


def test_a_record_posted_through_the_api_reads_back_masked(department, department_system, api_for):
    api = api_for(department_system)
    posted = api.post(
        URL,
        item(subject_type="person", subject_identifier=PERSON_ID.lower(), subject_name="李某"),
        format="json",
    )
    record_id = posted.json()["results"][0]["id"]

    response = api.get(f"{URL}{record_id}/", {"purpose": "data_maintenance"})

    assert response.status_code == 200
    assert response.json()["subject"]["identifier"] == PERSON_ID[:6] + "********" + PERSON_ID[-4:]
    assert PERSON_ID not in response.content.decode()
