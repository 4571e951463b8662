"""Objection pages use objection wording: refusal reasons, breadcrumb; the
one-time notice offers the materials that fit the case kind and the subject
kind (a repair never 异议证明材料, a natural person never a 营业执照), and
the service refuses the ones that do not fit, whoever sends them."""

import pytest
from django.core.exceptions import ValidationError

from flows.cases.materials import case_material_add
from flows.cases.review import preliminary_review_claim, supplement_request
from flows.models import MaterialKind, SupplementRequest
from flows.objections.services import objection_draft_save, objection_submit
from flows.repair.services import repair_case_submit
from records.models import BindingCapacity, SubjectBinding
from repair_flow.models import Role
from tests.conftest import make_user
from tests.flows.conftest import draft_with_materials, upload
from tests.flows.test_objections import filed

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def supplement_section(page: str) -> str:
    start = page.index('<section class="card action supplement">')
    return page[start : page.index("</section>", start)]


def person_objection(person, person_record):
    user = make_user("wangfang", Role.APPLICANT, first_name="王芳")
    SubjectBinding.objects.create(user=user, subject=person, capacity=BindingCapacity.SELF)
    case = objection_draft_save(
        applicant=user,
        record=person_record,
        grounds=["error"],
        statement="金额有误",
        capacity="self",
    )
    case_material_add(case=case, user=user, kind=MaterialKind.EVIDENCE, upload=upload())
    return objection_submit(applicant=user, case=case, confirmed=True)


def test_the_objection_work_page_speaks_of_objections(client_for, applicant, record, officer):
    case = filed(applicant, record)
    client = client_for(officer)
    client.post(f"/cases/objections/{case.pk}/work/claim/")
    page = text(client.get(f"/cases/objections/{case.pk}/work/"))
    assert '办理队列</a> › <span class="kind">异议申请' in page
    assert '信用修复办理</a> › <span class="kind">异议' not in page
    assert "所提事项不属于对公共信用信息的异议" in page
    for repair_reason in ("最短期限", "不可提前修复", "信用修复次数"):
        assert repair_reason not in page
    supplement = supplement_section(page)
    assert "异议证明材料" in supplement and "履行义务证明" not in supplement


def test_the_repair_work_page_offers_repair_materials_only(client_for, applicant, record, officer):
    case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    client = client_for(officer)
    client.post(f"/cases/{case.pk}/work/claim/")
    page = text(client.get(f"/cases/{case.pk}/work/"))
    assert "信用修复申请</span>" in page
    supplement = supplement_section(page)
    assert "履行义务证明" in supplement
    assert "异议证明材料" not in supplement and "营业执照" not in supplement
    assert "不属于信用修复受理范围" in page


def test_a_natural_person_is_asked_for_an_id_card_not_a_business_licence(
    client_for, officer, person, person_record
):
    case = person_objection(person, person_record)
    client = client_for(officer)
    client.post(f"/access-purpose/{person.pk}/", {"purpose": "objection_case"})
    client.post(f"/cases/objections/{case.pk}/work/claim/")
    supplement = supplement_section(text(client.get(f"/cases/objections/{case.pk}/work/")))
    assert "本人身份证件" in supplement and "营业执照" not in supplement
    client.post(
        f"/cases/objections/{case.pk}/work/supplement/",
        {"item_identity_document": "1", "problem_identity_document": "身份证照片不清晰"},
    )
    assert SupplementRequest.objects.get(objection_id=case.pk).items[0]["name"] == "本人身份证件"


def test_the_service_refuses_an_objections_evidence_on_a_repair(applicant, record, officer):
    case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    preliminary_review_claim(officer=officer, case=case)
    items = [{"material": MaterialKind.EVIDENCE, "problem": "证据不足"}]
    with pytest.raises(ValidationError) as refused:
        supplement_request(officer=officer, case=case, items=items)
    assert "本案不能要求补正“异议证明材料”" in refused.value.messages[0]
    assert not SupplementRequest.objects.exists()


def test_the_service_refuses_a_legal_representatives_proof_for_a_person(
    officer, person, person_record
):
    case = person_objection(person, person_record)
    preliminary_review_claim(officer=officer, case=case)
    items = [{"material": MaterialKind.LEGAL_REP_PROOF, "problem": "缺少"}]
    with pytest.raises(ValidationError):
        supplement_request(officer=officer, case=case, items=items)
    assert not SupplementRequest.objects.exists()
