"""Who attests an objection (issue 14, "Who signs"): the logged-in account's
person by the name on the account, in the capacity of their binding to the
subject, as the repair commitment is signed: an agent only under a power of
attorney uploaded to the objection, a legal representative only when the
account's name is the enterprise's registered one, a natural person as
themself. No typed name; every refusal in Chinese, nothing saved; the
signature block on the applicant's, the staff's and the API's answers."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from flows.cases.materials import case_material_add
from flows.models import CaseStatus, MaterialKind, ObjectionCase
from flows.objections.services import objection_draft_save, objection_submit
from records.models import BindingCapacity, SubjectBinding
from repair_flow.models import Role
from tests.conftest import make_user
from tests.flows.conftest import upload

pytestmark = pytest.mark.django_db

NO_POWER_OF_ATTORNEY = (
    "您以委托代理人身份申请，须先在申请中上传授权委托书，再以受托人身份签署异议承诺。"
)
NOT_THE_LEGAL_REPRESENTATIVE = (
    "您的账号姓名“李四”与该企业登记的法定代表人不一致，不能以法定代表人身份签署；"
    "他人代为办理的，请以委托代理人身份绑定并上传授权委托书。"
)


def bound(username, name, subject, capacity):
    user = make_user(username, Role.APPLICANT, first_name=name)
    SubjectBinding.objects.create(user=user, subject=subject, capacity=capacity)
    return user


def drafted(user, record, capacity, *kinds):
    case = objection_draft_save(
        applicant=user,
        record=record,
        grounds=["error"],
        statement="罚款金额登记错误。",
        capacity=capacity,
    )
    for kind in kinds or (MaterialKind.EVIDENCE,):
        case_material_add(case=case, user=user, kind=kind, upload=upload(f"{kind}.pdf"))
    return case


def refused_with(user, case, **kwargs) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        objection_submit(applicant=user, case=case, confirmed=True, **kwargs)
    case.refresh_from_db()
    # Nothing half-saved: no number, no signature, no event.
    assert (case.status, case.number) == (CaseStatus.DRAFT, None)
    assert (case.attested_name, case.attested_capacity, case.attested_at) == ("", "", None)
    assert not case.events.exists()
    return refused.value.messages


def work(case) -> str:
    return f"/cases/objections/{case.pk}/work/"


@pytest.fixture
def agent(enterprise):
    return bound("wangwu", "王五", enterprise, BindingCapacity.AGENT)


def test_an_agent_is_refused_without_a_power_of_attorney_then_attests_as_agent_with_it(
    client_for, agent, record, officer
):
    case = drafted(agent, record, "agent")
    client = client_for(agent)
    # Said on the page before the agent tries.
    page = client.get(reverse("flows:objection_materials", args=[case.pk])).content.decode()
    assert NO_POWER_OF_ATTORNEY in page and 'class="error signer-problem"' in page
    assert '<dd class="signer-capacity">委托代理人</dd>' in page

    # One message for the missing power of attorney, not two.
    assert refused_with(agent, case) == [NO_POWER_OF_ATTORNEY]

    case_material_add(
        case=case, user=agent, kind=MaterialKind.POWER_OF_ATTORNEY, upload=upload("委托书.pdf")
    )
    page = client.get(reverse("flows:objection_materials", args=[case.pk])).content.decode()
    assert "signer-problem" not in page
    assert '<dd class="signer-block">受托人：王五（代理 济南泉城食品有限公司）</dd>' in page
    response = client.post(reverse("flows:objection_submit", args=[case.pk]), {"confirmed": "on"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    assert (case.attested_name, case.attested_capacity) == ("王五", "agent")
    block = "受托人：王五（代理 济南泉城食品有限公司）"
    page = client.get(reverse("flows:objection_detail", args=[case.pk])).content.decode()
    assert f'<span class="signed-block">{block}</span>' in page and "委托代理人" in page
    # The staff's work page shows the same signature block.
    page = client_for(officer).get(work(case)).content.decode()
    assert f'<span class="signed-block">{block}</span>' in page


def test_an_account_whose_name_is_not_the_legal_representatives_is_refused_with_the_message(
    client_for, enterprise, record
):
    impostor = bound("lisi", "李四", enterprise, BindingCapacity.LEGAL_REPRESENTATIVE)
    case = drafted(impostor, record, "legal_representative")
    page = client_for(impostor).get(reverse("flows:objection_materials", args=[case.pk]))
    assert NOT_THE_LEGAL_REPRESENTATIVE in page.content.decode()
    assert refused_with(impostor, case) == [NOT_THE_LEGAL_REPRESENTATIVE]
    # Over the page too: shown once (beside the signer), with a 400, nothing saved.
    response = client_for(impostor).post(
        reverse("flows:objection_submit", args=[case.pk]),
        {"confirmed": "on", "attested_name": "张伟"},
    )
    page = response.content.decode()
    assert response.status_code == 400 and page.count(NOT_THE_LEGAL_REPRESENTATIVE) == 1
    case.refresh_from_db()
    assert (case.status, case.attested_name) == (CaseStatus.DRAFT, "")


def test_a_natural_person_attests_as_themself(client_for, person, person_record):
    wang = bound("wangfang", "王芳", person, BindingCapacity.SELF)
    case = drafted(wang, person_record, "self")
    case = objection_submit(applicant=wang, case=case, confirmed=True, ip="10.0.0.1")
    assert (case.attested_name, case.attested_capacity, case.attested_ip) == (
        "王芳",
        "self",
        "10.0.0.1",
    )
    page = client_for(wang).get(reverse("flows:objection_detail", args=[case.pk])).content.decode()
    assert '<span class="signed-block">承诺人：王芳</span>' in page


def test_someone_else_bound_as_the_person_is_refused(person, person_record):
    other = bound("zhaoliu", "赵六", person, BindingCapacity.SELF)
    case = drafted(other, person_record, "self")
    assert refused_with(other, case) == [
        "您的账号姓名“赵六”与该自然人的姓名不一致，不能以本人身份签署；"
        "他人代为办理的，请以委托代理人身份绑定并上传授权委托书。"
    ]


def test_an_account_without_a_name_cannot_attest(enterprise, record):
    nameless = bound("noname", "", enterprise, BindingCapacity.AGENT)
    case = drafted(nameless, record, "agent", MaterialKind.EVIDENCE, MaterialKind.POWER_OF_ATTORNEY)
    assert refused_with(nameless, case) == [
        "您的账号没有登记姓名，不能签署异议承诺；请联系信用平台完善账号的实名信息。"
    ]


def test_a_binding_changed_since_the_draft_is_refused(agent, record):
    case = drafted(agent, record, "agent", MaterialKind.EVIDENCE, MaterialKind.POWER_OF_ATTORNEY)
    SubjectBinding.objects.filter(user=agent).update(capacity=BindingCapacity.LEGAL_REPRESENTATIVE)
    messages = refused_with(agent, case)
    # 王五 is not the registered legal representative either: that is said first.
    assert messages == [NOT_THE_LEGAL_REPRESENTATIVE.replace("李四", "王五")]
    SubjectBinding.objects.filter(user=agent).update(capacity=BindingCapacity.AGENT)
    ObjectionCase.objects.filter(pk=case.pk).update(filed_by_capacity="legal_representative")
    assert refused_with(agent, case) == [
        "您绑定该主体的身份已变更为“委托代理人”，与本异议的申请人身份“法定代表人”不一致；"
        "请以现在的身份重新保存异议后再提交。"
    ]


def test_the_api_ignores_a_signer_name_and_answers_the_signer_and_capacity(api_for, agent, record):
    case = drafted(agent, record, "agent")
    api = api_for(agent)
    submit = f"/api/v1/objections/{case.pk}/submit/"
    response = api.post(submit, {"signer_name": "张伟", "confirmed": True}, format="json")
    assert response.status_code == 400
    assert response.json()["non_field_errors"] == [NO_POWER_OF_ATTORNEY]
    assert "signer_name" not in response.json()
    case_material_add(
        case=case, user=agent, kind=MaterialKind.POWER_OF_ATTORNEY, upload=upload("委托书.pdf")
    )
    # The typed name (the legal representative's) is not what is signed.
    response = api.post(submit, {"signer_name": "张伟", "confirmed": True}, format="json")
    assert response.status_code == 200, response.json()
    body = api.get(f"/api/v1/objections/{case.pk}/").json()
    assert body["signer_name"] == "王五"
    assert (body["signer_capacity"], body["signer_capacity_label"]) == ("agent", "委托代理人")
    assert body["signature_block"] == "受托人：王五（代理 济南泉城食品有限公司）"
    assert body["signed_at"]
