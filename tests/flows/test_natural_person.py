"""Shandong Social Credit Regulation Art. 20: a natural person's record is
shared between authorities and shown to the person, never published. Its
pages, letters, API answers and sync events never speak of 公示, and its
repair ends its use as a negative record."""

import pytest
from django.urls import reverse

from flows.cases.review import REFUSAL_REASONS, preliminary_review_claim
from flows.models import CaseStatus, ObjectionCase
from flows.repair.services import (
    REJECTION_REASONS,
    department_review_claim,
    department_review_reject,
    preliminary_review_accept,
    repair_case_submit,
)
from letters.render import render_letter_html
from records.models import BindingCapacity, SubjectBinding, SyncEvent
from repair_flow.models import Role
from tests.conftest import make_user
from tests.flows.conftest import approve_repair, draft_with_materials

pytestmark = pytest.mark.django_db


@pytest.fixture
def geren(person):
    user = make_user("geren", Role.APPLICANT, first_name="王芳")
    SubjectBinding.objects.create(user=user, subject=person, capacity=BindingCapacity.SELF)
    return user


def pages(client, *paths) -> dict[str, str]:
    shown = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        shown[path] = response.content.decode()
    return shown


def test_a_natural_persons_record_pages_never_speak_of_publication(
    client_for, api_for, geren, person, person_record
):
    shown = pages(
        client_for(geren),
        reverse("record_list"),
        reverse("record_detail", args=[person_record.pk]),
        reverse("subject_detail", args=[person.pk]),
    )
    for path, html in shown.items():
        assert "公示" not in html, path
    detail = shown[reverse("record_detail", args=[person_record.pk])]
    assert "共享使用中" in detail and "披露期" in detail
    assert "自然人信息不予公开" in detail
    assert '<dd class="shared">是' in detail
    body = api_for(geren).get(f"/api/v1/records/{person_record.pk}/").json()
    assert body["status_label"] == "共享使用中"
    assert body["eligibility"]["published"] is False
    assert body["eligibility"]["shared"] is True
    assert "公示" not in body["eligibility"]["reason"]


def test_an_enterprises_record_is_still_published(client_for, api_for, applicant, record):
    html = client_for(applicant).get(reverse("record_detail", args=[record.pk])).content.decode()
    assert "公示中" in html and "是否公示中" in html
    body = api_for(applicant).get(f"/api/v1/records/{record.pk}/").json()
    assert body["status_label"] == "公示中" and body["eligibility"]["published"] is True


def test_the_repair_of_a_natural_persons_record_ends_its_use_in_sharing(
    client_for, geren, person, person_record, officer, reviewer, now
):
    case = draft_with_materials(geren, person_record, capacity=BindingCapacity.SELF)
    case = approve_repair(case, officer=officer, reviewer=reviewer)
    assert case.status == CaseStatus.APPROVED
    letter = render_letter_html(case.decision_letter)
    assert "不再作为失信信息共享和使用" in letter
    assert "恢复作为失信信息共享和使用" in letter
    assert "公示" not in letter
    event = SyncEvent.objects.get(record=person_record)
    assert event.payload["public"] is False
    assert event.payload["record_status"] != "published"
    shown = pages(
        client_for(geren),
        reverse("flows:list"),
        reverse("flows:detail", args=[case.pk]),
        reverse("flows:monitoring"),
        reverse("record_detail", args=[person_record.pk]),
    )
    for path, html in shown.items():
        assert "公示" not in html, path


def test_an_enterprises_repair_decision_still_stops_publication(
    applicant, record, officer, reviewer, now
):
    case = approve_repair(
        draft_with_materials(applicant, record), officer=officer, reviewer=reviewer
    )
    letter = render_letter_html(case.decision_letter)
    assert "停止公示该条行政处罚信息" in letter and "恢复公示上述行政处罚信息" in letter
    assert SyncEvent.objects.get(record=record).payload["public"] is True


def test_a_refusal_to_repair_a_natural_persons_record_never_speaks_of_publication(
    geren, person_record, officer, reviewer
):
    case = draft_with_materials(geren, person_record, capacity=BindingCapacity.SELF)
    case = repair_case_submit(applicant=geren, case=case)
    case = preliminary_review_claim(officer=officer, case=case)
    case = preliminary_review_accept(officer=officer, case=case)
    case = department_review_claim(reviewer=reviewer, case=case)
    case = department_review_reject(
        reviewer=reviewer,
        case=case,
        reasons=[str(dict(REFUSAL_REASONS)["period"]), str(REJECTION_REASONS[0][1])],
        basis="《信用修复管理办法》第十条",
    )
    letter = render_letter_html(case.decision_letter)
    assert "不予信用修复" in letter and "最短期限" in letter
    assert "公示" not in letter


def test_a_natural_persons_objection_pages_never_speak_of_publication(
    client_for, geren, person_record, officer
):
    client = client_for(geren)
    page = client.get(reverse("flows:objection_new", args=[person_record.pk])).content.decode()
    assert "不应采集或共享使用" in page and "超过期限仍在共享使用" in page
    assert "公示" not in page
    response = client.post(
        reverse("flows:objection_new", args=[person_record.pk]),
        {
            "grounds": ["not_publishable", "past_period", "duplicate"],
            "statement": "该处罚已超过期限。",
            "capacity": BindingCapacity.SELF,
        },
    )
    assert response.status_code == 302
    case = ObjectionCase.objects.get(record=person_record)
    shown = pages(
        client,
        reverse("flows:objection_detail", args=[case.pk]),
        reverse("flows:objection_materials", args=[case.pk]),
    )
    for path, html in shown.items():
        assert "公示" not in html, path
    assert "重复记录" in shown[reverse("flows:objection_detail", args=[case.pk])]


def test_an_enterprises_objection_page_still_speaks_of_publication(client_for, applicant, record):
    page = client_for(applicant).get(reverse("flows:objection_new", args=[record.pk]))
    assert "不应公示" in page.content.decode()
