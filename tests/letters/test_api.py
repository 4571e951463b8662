"""Letters and commitments over the API: scoped like the pages, signing with
JSON errors per field, anonymous callers refused."""

import hashlib

import pytest
from rest_framework.test import APIClient

from letters.api import LetterSummarySerializer
from letters.commitments import commitment_create
from letters.models import (
    Commitment,
    CommitmentStatus,
    DeliveryEvent,
    Letter,
    MessageStatus,
    OutboundMessage,
    RenderStatus,
)
from letters.outbox import message_queue
from records.models import BindingCapacity, SubjectBinding
from repair_flow.models import AccessLogEntry, AuditEvent
from tests.api_errors import field_errors
from tests.conftest import status_of
from tests.letters.conftest import acceptance


@pytest.fixture
def letter(committed, record, officer, applicant):
    letter = committed(acceptance, record, officer, recipient=applicant)
    letter.refresh_from_db()
    return letter


@pytest.fixture
def other_letter(committed, other_record, officer):
    letter = committed(acceptance, other_record, officer)
    letter.refresh_from_db()
    return letter


@pytest.fixture
def commitment(committed, record, applicant):
    commitment = committed(commitment_create, record=record, actor=applicant)
    commitment.draft.refresh_from_db()
    return commitment


def sign(api, commitment, committed, **changes):
    body = {"confirmed": True, "draft_sha256": commitment.draft.sha256}
    body.update(changes)
    return committed(
        api.post,
        f"/api/v1/commitments/{commitment.pk}/sign/",
        {k: v for k, v in body.items() if v is not None},
        format="json",
        REMOTE_ADDR="198.51.100.4",
        HTTP_USER_AGENT="jinan-app/2.1 (Android 14)",
    )


def ids(response) -> set[int]:
    return {item["id"] for item in response.json()["results"]}


# Who may read


def test_anonymous_callers_get_401(api_for, letter, commitment):
    api = api_for(None)
    for method, url in [
        ("get", "/api/v1/letters/"),
        ("get", f"/api/v1/letters/{letter.pk}/"),
        ("get", f"/api/v1/letters/{letter.pk}/pdf/"),
        ("get", f"/api/v1/commitments/{commitment.pk}/"),
        ("post", f"/api/v1/commitments/{commitment.pk}/sign/"),
    ]:
        assert getattr(api, method)(url).status_code == 401, url


def test_the_list_is_scoped_to_what_each_persona_may_see(
    api_for,
    letter,
    other_letter,
    commitment,
    applicant,
    other_applicant,
    officer,
    reviewer,
    other_reviewer,
    integration,
):
    assert ids(api_for(applicant).get("/api/v1/letters/")) == {letter.pk, commitment.draft_id}
    assert ids(api_for(other_applicant).get("/api/v1/letters/")) == {other_letter.pk}
    everything = {letter.pk, other_letter.pk, commitment.draft_id}
    assert ids(api_for(officer).get("/api/v1/letters/")) == everything
    assert ids(api_for(reviewer).get("/api/v1/letters/")) == {letter.pk, commitment.draft_id}
    assert ids(api_for(other_reviewer).get("/api/v1/letters/")) == {other_letter.pk}
    assert ids(api_for(integration).get("/api/v1/letters/")) == set()


def test_an_applicant_sees_a_letter_by_address_or_by_binding_once_each(
    api_for, client_for, letter, other_letter, applicant, other_applicant, enterprise
):
    # Addressed to the applicant and about a subject they act for: one row.
    body = api_for(applicant).get("/api/v1/letters/").json()
    assert [item["id"] for item in body["results"]] == [letter.pk] and body["count"] == 1
    # Another applicant acting for the same subject sees it by the binding.
    SubjectBinding.objects.create(
        user=other_applicant, subject=enterprise, capacity=BindingCapacity.AGENT
    )
    assert ids(api_for(other_applicant).get("/api/v1/letters/")) == {letter.pk, other_letter.pk}
    # No longer acting for the subject: still the letter addressed to them,
    # on the page as in the API.
    SubjectBinding.objects.filter(user=applicant).delete()
    assert ids(api_for(applicant).get("/api/v1/letters/")) == {letter.pk}
    assert letter.number in client_for(applicant).get("/letters/").content.decode()
    SubjectBinding.objects.filter(user=other_applicant, subject=enterprise).delete()
    assert ids(api_for(other_applicant).get("/api/v1/letters/")) == {other_letter.pk}


def test_the_list_is_paginated_and_filters_by_kind(
    api_for, officer, letter, other_letter, commitment
):
    body = api_for(officer).get("/api/v1/letters/", {"limit": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    body = api_for(officer).get("/api/v1/letters/", {"kind": "commitment"}).json()
    assert [item["id"] for item in body["results"]] == [commitment.draft_id]
    assert body["results"][0]["number"] is None and body["results"][0]["is_draft"] is True


def test_a_letter_gives_its_number_status_hash_and_links(api_for, applicant, letter):
    body = api_for(applicant).get(f"/api/v1/letters/{letter.pk}/").json()
    assert body["number"] == letter.number and body["kind"] == "acceptance"
    assert body["status"] == "rendered" and body["sha256"] == letter.sha256
    assert body["verification_code"] == letter.verification_code
    assert body["verify_url"] == f"http://testserver/verify/{letter.verification_code}"
    assert body["pdf_url"] == f"http://testserver/api/v1/letters/{letter.pk}/pdf/"
    assert body["decision_number"] == letter.record.decision_number
    # Rendering and messages are for staff.
    for staff_only in ("messages", "attempts", "last_error", "next_attempt_at"):
        assert staff_only not in body


def test_a_letter_not_rendered_has_no_pdf_url_and_its_pdf_answers_409(
    api_for, applicant, record, officer
):
    pending = acceptance(record, officer)
    api = api_for(applicant)
    body = api.get(f"/api/v1/letters/{pending.pk}/").json()
    assert body["status"] == "pending" and body["pdf_url"] is None and body["sha256"] == ""
    response = api.get(f"/api/v1/letters/{pending.pk}/pdf/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "文书正在生成，请稍后再试。",
        "status": "pending",
        "code": "not_rendered",
    }


def test_staff_see_each_message_with_its_status_and_delivery_events(api_for, officer, letter):
    message = message_queue(
        key=f"test:{letter.pk}:api", to="zhangwei@example.com", subject="受理通知书", body="…",
        letter=letter,
    )  # fmt: skip
    OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.DELIVERED, attempts=1)
    DeliveryEvent.objects.create(message=message, event_type="delivered", event_id="e-1")
    body = api_for(officer).get(f"/api/v1/letters/{letter.pk}/").json()
    assert body["attempts"] == 1 and body["last_error"] == ""
    sent = [m for m in body["messages"] if m["id"] == message.pk]
    assert sent[0]["status"] == "delivered" and sent[0]["attempts"] == 1
    assert [e["event_type"] for e in sent[0]["events"]] == ["delivered"]


@pytest.mark.parametrize("persona", ["other_applicant", "other_reviewer", "integration"])
def test_someone_elses_letter_is_not_found(request, api_for, letter, persona):
    api = api_for(request.getfixturevalue(persona))
    assert api.get(f"/api/v1/letters/{letter.pk}/").status_code == 404
    assert api.get(f"/api/v1/letters/{letter.pk}/pdf/").status_code == 404


def test_the_pdf_is_the_stored_file_whatever_the_client_accepts(api_for, applicant, letter):
    response = api_for(applicant).get(
        f"/api/v1/letters/{letter.pk}/pdf/", HTTP_ACCEPT="application/pdf"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline; filename*=UTF-8''")
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == letter.sha256


def test_staff_reading_a_natural_persons_letter_state_a_purpose(
    api_for, officer, person_record, committed
):
    letter = committed(acceptance, person_record, officer)
    api = api_for(officer)
    response = api.get(f"/api/v1/letters/{letter.pk}/")
    assert response.status_code == 400 and response.json()["code"] == "purpose_required"
    assert api.get(f"/api/v1/letters/{letter.pk}/", {"purpose": "gossip"}).status_code == 400
    assert api.get(f"/api/v1/letters/{letter.pk}/pdf/").status_code == 400
    assert not AccessLogEntry.objects.exists()
    assert api.get(f"/api/v1/letters/{letter.pk}/", {"purpose": "repair_case"}).status_code == 200
    pdf = api.get(f"/api/v1/letters/{letter.pk}/pdf/", {"purpose": "repair_case"})
    assert status_of(pdf) == 200
    assert sorted(AccessLogEntry.objects.values_list("what", flat=True)) == [
        f"api:letter:{letter.pk}",
        f"api:letter:{letter.pk}:pdf",
    ]
    # A list carries no personal data and needs no purpose.
    assert api.get("/api/v1/letters/").status_code == 200


# The commitment


def test_a_commitment_gives_its_draft_hash_to_sign(api_for, applicant, commitment):
    body = api_for(applicant).get(f"/api/v1/commitments/{commitment.pk}/").json()
    assert body["status"] == "draft" and body["signed"] is None
    assert body["draft"]["sha256"] == commitment.draft.sha256
    assert body["draft"]["pdf_url"].endswith(f"/api/v1/letters/{commitment.draft_id}/pdf/")
    assert body["sign_url"].endswith(f"/api/v1/commitments/{commitment.pk}/sign/")
    assert "signed_ip" not in body


@pytest.mark.parametrize("persona", ["other_applicant", "other_reviewer"])
def test_someone_elses_commitment_is_not_found(request, api_for, commitment, persona, committed):
    api = api_for(request.getfixturevalue(persona))
    assert api.get(f"/api/v1/commitments/{commitment.pk}/").status_code == 404
    if persona == "other_applicant":
        assert sign(api, commitment, committed).status_code == 404
    assert Commitment.objects.get().status == CommitmentStatus.DRAFT


def test_signing_through_the_api(api_for, applicant, officer, commitment, committed):
    response = sign(api_for(applicant), commitment, committed)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "signed" and body["signer_name"] == "张伟"
    # The account's name, in the capacity of its binding (no name is sent).
    assert (body["signer_capacity"], body["signer_capacity_label"]) == (
        "legal_representative",
        "法定代表人",
    )
    assert body["signed_sha256"] == commitment.draft.sha256
    assert body["signed"]["number"].startswith("济信诺〔")
    # Rendered after the commit: then the PDF is there.
    again = api_for(applicant).get(f"/api/v1/commitments/{commitment.pk}/").json()
    assert again["signed"]["status"] == "rendered" and again["signed"]["pdf_url"]
    commitment.refresh_from_db()
    assert commitment.signed_ip == "198.51.100.4"
    assert commitment.signed_user_agent == "jinan-app/2.1 (Android 14)"
    staff_view = api_for(officer).get(f"/api/v1/commitments/{commitment.pk}/").json()
    assert staff_view["signed_ip"] == "198.51.100.4"


def test_each_refusal_comes_back_as_json_per_field(api_for, applicant, commitment, committed):
    # The account is not named as the enterprise's legal representative.
    applicant.first_name = "李娜"
    applicant.save(update_fields=["first_name"])
    response = sign(
        api_for(applicant), commitment, committed, confirmed=False, draft_sha256="ab" * 32
    )
    assert response.status_code == 400
    assert field_errors(response) == {
        "non_field_errors": [
            "您的账号姓名“李娜”与该企业登记的法定代表人不一致，不能以法定代表人身份签署；"
            "他人代为办理的，请以委托代理人身份绑定并上传授权委托书。"
        ],
        "confirmed": ["请阅读承诺书并勾选确认后再签署。"],
        "draft_sha256": ["您签署的不是当前版本的承诺书，请刷新页面，重新阅读后再签署。"],
    }
    assert Commitment.objects.get().status == CommitmentStatus.DRAFT
    assert not AuditEvent.objects.filter(action="commitment.sign").exists()


def test_a_body_of_the_wrong_shape_is_refused_per_field(api_for, applicant, commitment, committed):
    response = sign(api_for(applicant), commitment, committed, confirmed="maybe")
    assert response.status_code == 400
    assert set(field_errors(response)) == {"confirmed"}
    assert Commitment.objects.get().status == CommitmentStatus.DRAFT


def test_signing_twice_answers_409(api_for, applicant, commitment, committed):
    api = api_for(applicant)
    assert sign(api, commitment, committed).status_code == 200
    response = sign(api, commitment, committed)
    assert response.status_code == 409
    assert field_errors(response) == {"non_field_errors": ["这份承诺书已经签署，不能再次签署。"]}
    assert Letter.objects.filter(kind="commitment", number__isnull=False).count() == 1


@pytest.mark.parametrize("persona", ["officer", "reviewer", "integration"])
def test_only_applicants_sign(request, api_for, commitment, committed, persona):
    response = sign(api_for(request.getfixturevalue(persona)), commitment, committed)
    assert response.status_code == 403
    assert Commitment.objects.get().status == CommitmentStatus.DRAFT


def test_a_draft_not_rendered_yet_is_refused(api_for, applicant, record, committed):
    commitment = commitment_create(record=record, actor=applicant)  # no render ran
    response = sign(api_for(applicant), commitment, committed, draft_sha256="")
    assert response.status_code == 400
    assert field_errors(response) == {
        "non_field_errors": ["承诺书正在生成，请稍后刷新页面，阅读后再签署。"]
    }
    assert Letter.objects.get(pk=commitment.draft_id).status == RenderStatus.PENDING


# The schema


def test_the_endpoints_are_documented(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for path in [
        "/api/v1/letters/",
        "/api/v1/letters/{id}/",
        "/api/v1/letters/{id}/pdf/",
        "/api/v1/commitments/{id}/",
        "/api/v1/commitments/{id}/sign/",
        "/api/v1/verify/{code}/",
    ]:
        assert path in paths, path
    sign_op = paths["/api/v1/commitments/{id}/sign/"]["post"]
    assert set(sign_op["responses"]) >= {"200", "400", "403", "404", "409"}
    pdf_answer = paths["/api/v1/letters/{id}/pdf/"]["get"]["responses"]["200"]
    assert "application/pdf" in pdf_answer["content"]
    assert not paths["/api/v1/verify/{code}/"]["get"].get("security")


def test_a_letter_gives_its_verification_code_and_a_verify_url_on_the_callers_host(
    api_for, applicant, letter, settings
):
    settings.ALLOWED_HOSTS = ["credit.example.cn"]
    api = api_for(applicant)
    body = api.get(f"/api/v1/letters/{letter.pk}/", HTTP_HOST="credit.example.cn").json()
    code = letter.verification_code
    assert body["verification_code"] == code
    assert body["verify_url"] == f"http://credit.example.cn/verify/{code}"
    assert body["url"].startswith("http://credit.example.cn/api/v1/letters/")
    listed = api.get("/api/v1/letters/", HTTP_HOST="credit.example.cn").json()["results"]
    assert [item["verification_code"] for item in listed] == [code]
    public = APIClient().get(f"/api/v1/verify/{code}/", HTTP_HOST="credit.example.cn").json()
    assert public["verification_code"] == code
    assert public["verify_url"] == f"http://credit.example.cn/verify/{code}"


def test_without_a_request_the_verify_url_is_on_site_url(letter, settings):
    settings.SITE_URL = "https://credit.jinan.example/"
    body = LetterSummarySerializer(letter).data
    assert body["verify_url"] == f"https://credit.jinan.example/verify/{letter.verification_code}"


def test_an_unknown_verification_code_is_404_in_the_error_shape(db, client):
    response = client.get("/api/v1/verify/ZZZZZZZZZZZZ/")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "没有这个核验码的文书。",
        "code": "not_found",
        "found": False,
    }
