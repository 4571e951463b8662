"""The applicant takes back a file uploaded by mistake, before submitting it:
a draft's file or one uploaded for the open supplement notice, from the
materials page or the case page; the removal is audited like the upload and
the stored file goes. Submitted files stay; nobody else may remove one."""

import pytest

from flows.cases.materials import case_material_add
from flows.cases.review import supplement_request
from flows.models import CaseMaterial, CaseStatus
from repair_flow.models import AuditEvent
from tests.flows.conftest import draft_with_materials, upload
from tests.flows.test_objection_portal import draft as objection_draft

pytestmark = pytest.mark.django_db


def remove_url(case, material) -> str:
    return f"/cases/{case.pk}/materials/{material.pk}/remove/"


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def draft(applicant, record):
    return draft_with_materials(applicant, record)


def test_the_applicant_removes_a_drafts_file_and_it_is_gone(
    client_for, applicant, draft, django_capture_on_commit_callbacks
):
    wrong = case_material_add(
        case=draft, user=applicant, kind="other", upload=upload("别人的身份证.pdf")
    )
    stored, storage = wrong.file.name, wrong.file.storage
    client = client_for(applicant)
    page = text(client.get(f"/cases/{draft.pk}/materials/"))
    assert f'action="{remove_url(draft, wrong)}"' in page
    assert 'aria-label="删除文件“别人的身份证.pdf”"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(remove_url(draft, wrong))
    assert response.status_code == 302 and response["Location"] == f"/cases/{draft.pk}/materials/"
    assert not CaseMaterial.objects.filter(pk=wrong.pk).exists()
    assert not storage.exists(stored)
    event = AuditEvent.objects.get(action="flows.case_material.remove")
    assert event.actor == applicant and event.object_id == str(wrong.pk)
    assert event.summary["sha256"] == wrong.sha256 and event.summary["kind"] == "other"
    assert "已删除文件“别人的身份证.pdf”。" in text(client.get(f"/cases/{draft.pk}/materials/"))


def test_a_submitted_file_cannot_be_removed(client_for, applicant, drive):
    case = drive(CaseStatus.SUBMITTED)
    material = case.materials.first()
    client = client_for(applicant)
    assert "material-remove" not in text(client.get(f"/cases/{case.pk}/"))
    response = client.post(remove_url(case, material))
    assert response.status_code == 400
    assert "当前状态为“已提交”，不能办理此操作" in text(response)
    assert CaseMaterial.objects.filter(pk=material.pk).exists()
    assert not AuditEvent.objects.filter(action="flows.case_material.remove").exists()


def test_only_the_files_for_the_open_supplement_notice_can_be_removed(
    client_for, applicant, drive, officer
):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    supplement_request(
        officer=officer,
        case=case,
        items=[{"material": "performance_proof", "problem": "缴款凭证模糊"}],
    )
    case.refresh_from_db()
    first = case.materials.get(round=0, kind="performance_proof")
    again = case_material_add(
        case=case, user=applicant, kind="performance_proof", upload=upload("错的凭证.pdf")
    )
    client = client_for(applicant)
    page = text(client.get(f"/cases/{case.pk}/"))
    assert f'action="{remove_url(case, again)}"' in page
    assert f'action="{remove_url(case, first)}"' not in page
    refused = client.post(remove_url(case, first))
    assert refused.status_code == 400
    assert f"文件“{first.original_name}”已随申请提交，不能删除。" in text(refused)
    assert CaseMaterial.objects.filter(pk=first.pk).exists()
    response = client.post(remove_url(case, again))
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert not CaseMaterial.objects.filter(pk=again.pk).exists()


def test_another_applicant_cannot_remove_the_file(client_for, other_applicant, draft):
    material = draft.materials.first()
    assert client_for(other_applicant).post(remove_url(draft, material)).status_code == 404
    assert CaseMaterial.objects.filter(pk=material.pk).exists()


@pytest.mark.parametrize("persona", ["officer", "reviewer", "supervisor", "administrator"])
def test_staff_cannot_remove_an_applicants_file(request, client_for, draft, persona):
    material = draft.materials.first()
    user = request.getfixturevalue(persona)
    assert client_for(user).post(remove_url(draft, material)).status_code == 403
    assert CaseMaterial.objects.filter(pk=material.pk).exists()


def test_a_file_of_another_case_is_not_found(client_for, applicant, draft, second_record):
    other = draft_with_materials(applicant, second_record)
    material = other.materials.first()
    response = client_for(applicant).post(f"/cases/{draft.pk}/materials/{material.pk}/remove/")
    assert response.status_code == 400
    assert "没有这份材料。" in text(response)
    assert CaseMaterial.objects.filter(pk=material.pk).exists()


def test_a_get_removes_nothing(client_for, applicant, draft):
    material = draft.materials.first()
    assert client_for(applicant).get(remove_url(draft, material)).status_code == 405
    assert CaseMaterial.objects.filter(pk=material.pk).exists()


def test_an_objection_drafts_evidence_can_be_removed(client_for, applicant, record):
    case = objection_draft(applicant, record)
    evidence = case.materials.get()
    url = f"/cases/objections/{case.pk}/materials/{evidence.pk}/remove/"
    client = client_for(applicant)
    assert f'action="{url}"' in text(client.get(f"/cases/objections/{case.pk}/materials/"))
    response = client.post(url)
    assert response["Location"] == f"/cases/objections/{case.pk}/materials/"
    assert not case.materials.exists()
