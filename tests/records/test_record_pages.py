"""Who sees which records on the pages, each rule with the persona refused."""

import pytest

from repair_flow.models import AccessLogEntry


def test_anonymous_visitors_are_sent_to_login(client, record):
    response = client.get("/records/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(f"/records/{record.pk}/").status_code == 302


def test_an_applicant_sees_only_their_own_subjects_records(
    client_for, applicant, record, other_record
):
    response = client_for(applicant).get("/records/")
    assert response.status_code == 200
    body = response.content.decode()
    assert record.decision_number in body
    assert other_record.decision_number not in body


def test_an_applicant_is_refused_another_subjects_record(client_for, applicant, other_record):
    c = client_for(applicant)
    assert c.get(f"/records/{other_record.pk}/").status_code == 404
    assert c.get(f"/records/subjects/{other_record.subject_id}/").status_code == 404


def test_the_applicant_sees_the_eligibility_answer(client_for, applicant, record):
    body = client_for(applicant).get(f"/records/{record.pk}/").content.decode()
    assert "信用修复资格" in body
    assert "《信用修复管理办法》" in body


def test_a_reviewer_sees_only_their_departments_records(client_for, reviewer, record, other_record):
    c = client_for(reviewer)
    body = c.get("/records/").content.decode()
    assert record.decision_number in body and other_record.decision_number not in body
    assert c.get(f"/records/{record.pk}/").status_code == 200
    assert c.get(f"/records/{other_record.pk}/").status_code == 404


def test_a_reviewer_of_another_department_is_refused(client_for, other_reviewer, record):
    assert client_for(other_reviewer).get(f"/records/{record.pk}/").status_code == 404


def test_an_officer_sees_every_department(client_for, officer, record, other_record):
    body = client_for(officer).get("/records/").content.decode()
    assert record.decision_number in body and other_record.decision_number in body


def test_list_filters_by_status_and_search(client_for, officer, record, other_record):
    c = client_for(officer)
    body = c.get("/records/", {"q": "济建罚"}).content.decode()
    assert other_record.decision_number in body and record.decision_number not in body
    body = c.get("/records/", {"status": "repaired"}).content.decode()
    assert record.decision_number not in body


class TestAccessRegister:
    def test_staff_must_state_a_purpose_before_seeing_a_person(
        self, client_for, officer, person_record
    ):
        c = client_for(officer)
        url = f"/records/{person_record.pk}/"
        response = c.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(f"/access-purpose/{person_record.subject_id}/")
        assert AccessLogEntry.objects.count() == 0

        form = c.get(response["Location"])
        assert "请说明查询目的" in form.content.decode()
        done = c.post(response["Location"], {"purpose": "repair_case", "next": url})
        assert done.status_code == 302 and done["Location"] == url

        page = c.get(url)
        assert page.status_code == 200
        body = page.content.decode()
        assert person_record.subject.identifier not in body
        assert person_record.subject.display_identifier in body
        entry = AccessLogEntry.objects.get()
        assert (entry.user, entry.subject, entry.purpose, entry.channel) == (
            officer,
            person_record.subject,
            "repair_case",
            "page",
        )
        assert entry.what == f"record:{person_record.pk}"
        assert entry.request_id == page["X-Request-ID"]

    def test_the_purpose_is_asked_once_per_session_and_every_view_is_registered(
        self, client_for, officer, person_record
    ):
        c = client_for(officer)
        c.post(f"/access-purpose/{person_record.subject_id}/", {"purpose": "objection_case"})
        assert c.get(f"/records/{person_record.pk}/").status_code == 200
        assert c.get(f"/records/subjects/{person_record.subject_id}/").status_code == 200
        assert AccessLogEntry.objects.filter(purpose="objection_case").count() == 2

    def test_a_purpose_outside_the_list_is_refused(self, client_for, officer, person_record):
        c = client_for(officer)
        response = c.post(f"/access-purpose/{person_record.subject_id}/", {"purpose": "curiosity"})
        assert response.status_code == 400
        assert "请从列表中选择" in response.content.decode()
        assert c.get(f"/records/{person_record.pk}/").status_code == 302

    def test_the_next_url_cannot_leave_the_site(self, client_for, officer, person_record):
        c = client_for(officer)
        response = c.post(
            f"/access-purpose/{person_record.subject_id}/",
            {"purpose": "supervision", "next": "https://evil.example/"},
        )
        assert response["Location"] == "/"

    def test_enterprise_records_need_no_purpose(self, client_for, officer, record):
        assert client_for(officer).get(f"/records/{record.pk}/").status_code == 200
        assert AccessLogEntry.objects.count() == 0

    def test_a_reviewer_cannot_state_a_purpose_for_another_departments_person(
        self, client_for, other_reviewer, person_record
    ):
        response = client_for(other_reviewer).get(f"/access-purpose/{person_record.subject_id}/")
        assert response.status_code == 404

    def test_applicants_cannot_reach_the_purpose_form(self, client_for, applicant, person_record):
        response = client_for(applicant).get(f"/access-purpose/{person_record.subject_id}/")
        assert response.status_code == 403

    def test_supervisors_can_list_the_register(
        self, client_for, officer, supervisor, person_record
    ):
        c = client_for(officer)
        c.post(f"/access-purpose/{person_record.subject_id}/", {"purpose": "repair_case"})
        c.get(f"/records/{person_record.pk}/")
        body = client_for(supervisor).get("/access-register/").content.decode()
        assert officer.get_full_name() in body and "办理信用修复" in body
        # Names and labels, not the account, the internal id or the channel code.
        assert f"行政处罚信息 {person_record.decision_number}" in body and "网页" in body
        assert ">officer<" not in body and "record:" not in body and ">page<" not in body
        assert person_record.subject.display_identifier in body
        assert person_record.subject.identifier not in body

    @pytest.mark.parametrize("persona", ["officer", "reviewer", "applicant"])
    def test_other_roles_are_refused_the_register(self, request, client_for, persona):
        user = request.getfixturevalue(persona)
        assert client_for(user).get("/access-register/").status_code == 403
