"""No stuck work: routing to a department with no reviewer in post is refused
(an objection's check, which the platform may do itself) or warned (a
repair's review, which only the issuing department may do), with the way
out named; the reassign list offers every eligible person and, when empty,
says why."""

import re

import pytest

from flows.cases.materials import case_material_add
from flows.cases.review import preliminary_review_claim, supplement_answer
from flows.models import CaseStatus, MaterialKind
from flows.repair.services import repair_case_submit
from tests.flows.conftest import at, draft_with_materials, snapshot, upload
from tests.flows.test_objections import filed

pytestmark = pytest.mark.django_db

UNSTAFFED = "济南市市场监督管理局没有在岗的审核人"


def text(response) -> str:
    return response.content.decode()


def options(response) -> list[str]:
    """The names offered in the reassign list."""
    select = re.search(r'<select id="assignee".*?</select>', text(response), re.S)
    assert select, "the page has no reassign list"
    return re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', select.group(0))


class TestObjectionRouting:
    def test_routing_the_check_to_a_department_without_reviewer_is_refused(
        self, client_for, applicant, record, officer
    ):
        case = filed(applicant, record)
        client = client_for(officer)
        client.post(f"/cases/objections/{case.pk}/work/claim/")
        page = text(client.get(f"/cases/objections/{case.pk}/work/"))
        assert f"{UNSTAFFED}：请先为其设置审核人，或由平台自行核查。" in page
        before = snapshot()
        response = client.post(f"/cases/objections/{case.pk}/work/accept/", {"scope": "department"})
        assert response.status_code == 400
        assert f"{UNSTAFFED}：请先为其设置审核人，或由平台自行核查。" in text(response)
        assert snapshot() == before
        case.refresh_from_db()
        assert case.status == CaseStatus.IN_PRELIMINARY_REVIEW and case.scope == ""

    def test_the_platform_may_still_check_it_itself(self, client_for, applicant, record, officer):
        case = filed(applicant, record)
        client = client_for(officer)
        client.post(f"/cases/objections/{case.pk}/work/claim/")
        response = client.post(f"/cases/objections/{case.pk}/work/accept/", {"scope": "platform"})
        assert response.status_code == 302
        case.refresh_from_db()
        assert (case.status, case.scope) == (CaseStatus.ACCEPTED, "platform")

    def test_a_deactivated_reviewer_is_not_in_post(
        self, client_for, applicant, record, officer, reviewer
    ):
        reviewer.is_active = False
        reviewer.save(update_fields=["is_active"])
        case = filed(applicant, record)
        client = client_for(officer)
        client.post(f"/cases/objections/{case.pk}/work/claim/")
        response = client.post(f"/cases/objections/{case.pk}/work/accept/", {"scope": "department"})
        assert response.status_code == 400 and UNSTAFFED in text(response)

    def test_a_staffed_department_is_routed_to_without_a_word(
        self, client_for, applicant, record, officer, reviewer
    ):
        case = filed(applicant, record)
        client = client_for(officer)
        client.post(f"/cases/objections/{case.pk}/work/claim/")
        assert UNSTAFFED not in text(client.get(f"/cases/objections/{case.pk}/work/"))
        response = client.post(f"/cases/objections/{case.pk}/work/accept/", {"scope": "department"})
        assert response.status_code == 302


class TestRepairRouting:
    def test_accepting_a_repair_for_a_department_without_reviewer_warns(
        self, client_for, applicant, record, officer
    ):
        case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
        client = client_for(officer)
        client.post(f"/cases/{case.pk}/work/claim/")
        warning = f"{UNSTAFFED}，案件将无人审核：请先请系统管理员为其设置审核人。"
        assert warning in text(client.get(f"/cases/{case.pk}/work/"))
        response = client.post(f"/cases/{case.pk}/work/accept/", follow=True)
        assert warning in text(response)
        case.refresh_from_db()
        assert case.status == CaseStatus.ACCEPTED

    def test_the_supervisor_is_told_why_nobody_can_be_assigned(
        self, client_for, applicant, record, officer, supervisor
    ):
        case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
        client_for(officer).post(f"/cases/{case.pk}/work/claim/")
        client_for(officer).post(f"/cases/{case.pk}/work/accept/")
        response = client_for(supervisor).get(f"/cases/{case.pk}/work/")
        assert options(response) == []
        assert f"{UNSTAFFED}，案件将无人审核" in text(response)


class TestReassignList:
    def test_a_resubmitted_case_offers_every_officer_including_its_first(
        self, client_for, applicant, record, officer, second_officer, supervisor, reviewer, now
    ):
        case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
        client = client_for(officer)
        client.post(f"/cases/{case.pk}/work/claim/")
        client.post(
            f"/cases/{case.pk}/work/supplement/",
            {"item_performance_proof": "1", "problem_performance_proof": "缴款凭证模糊"},
        )
        now.move_to(at("2026-11-17 09:00"))
        case_material_add(
            case=case, user=applicant, kind=MaterialKind.PERFORMANCE_PROOF, upload=upload()
        )
        supplement_answer(applicant=applicant, case=case)
        case.refresh_from_db()
        assert case.status == CaseStatus.RESUBMITTED and case.officer == officer
        supervisor_client = client_for(supervisor)
        response = supervisor_client.get(f"/cases/{case.pk}/work/")
        assert sorted(options(response)) == sorted(
            [officer.get_full_name(), second_officer.get_full_name()]
        )
        response = supervisor_client.post(
            f"/cases/{case.pk}/work/reassign/", {"assignee": officer.pk, "reason": "熟悉本案"}
        )
        assert response.status_code == 302
        case.refresh_from_db()
        assert (case.status, case.officer) == (CaseStatus.IN_PRELIMINARY_REVIEW, officer)

    def test_the_holder_is_left_out_and_the_list_says_when_nobody_else_is_there(
        self, client_for, applicant, record, officer, supervisor, reviewer
    ):
        case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
        preliminary_review_claim(officer=officer, case=case)
        response = client_for(supervisor).get(f"/cases/{case.pk}/work/")
        assert options(response) == []
        assert "没有其他在岗的平台工作人员可以改派。" in text(response)

    def test_an_officer_is_not_offered_the_reassign_list(
        self, client_for, applicant, record, officer, second_officer, reviewer
    ):
        case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
        response = client_for(officer).get(f"/cases/{case.pk}/work/")
        assert 'id="assignee"' not in text(response)
        response = client_for(officer).post(
            f"/cases/{case.pk}/work/reassign/", {"assignee": second_officer.pk, "reason": "x"}
        )
        assert response.status_code == 403
