"""One filing for several records (一网通办): a draft case for each, the
shared materials attached to every one, all or nothing."""

import datetime as dt

import pytest

from flows.cases.common import case_commitment
from flows.models import CaseMaterial, CaseStatus, MaterialKind, RepairCase
from letters.models import Commitment
from records.models import BindingCapacity, SubjectBinding
from repair_flow.models import Role
from tests.conftest import make_record, make_user
from tests.flows.conftest import PDF, upload

pytestmark = pytest.mark.django_db

PAGE = "/cases/new/"
API = "/api/v1/repair-cases/many/"


@pytest.fixture
def agent(enterprise):
    """An agent filing for the enterprise under a power of attorney."""
    user = make_user("agent", Role.APPLICANT, first_name="刘律师")
    SubjectBinding.objects.create(user=user, subject=enterprise, capacity=BindingCapacity.AGENT)
    return user


@pytest.fixture
def too_recent(department, enterprise):
    # Decided last week: its minimum publicity period has not passed.
    return make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2026〕88号",
        decision_date=dt.date(2026, 11, 9),
    )


def test_the_page_lists_the_applicants_records_and_says_why_some_cannot_be_filed(
    client_for, applicant, record, too_recent, other_record
):
    page = client_for(applicant).get(PAGE).content.decode()
    assert f'name="record" value="{record.pk}"' in page
    # Not yet eligible: listed with the day it can be filed, no box to tick.
    assert f'value="{too_recent.pk}"' not in page and "可申请日期" in page
    # Another subject's record is not the applicant's business.
    assert other_record.decision_number not in page


def test_no_registration_document_is_asked_for(client_for, applicant, agent, record):
    # Domain section 3: the platform holds the subject; only an agent's power of attorney
    # is shared between the records of one filing.
    page = client_for(applicant).get(PAGE).content.decode()
    assert 'name="file_' not in page
    page = client_for(agent).get(PAGE).content.decode()
    assert 'name="file_power_of_attorney"' in page
    assert "file_identity_document" not in page and "file_application_form" not in page


def test_one_filing_makes_a_draft_per_record_with_the_shared_files(
    client_for, agent, record, second_record
):
    response = client_for(agent).post(
        PAGE,
        {
            "record": [record.pk, second_record.pk],
            "details": "罚款均已缴清。",
            "file_power_of_attorney": upload("授权委托书.pdf"),
        },
    )
    assert response.status_code == 302 and response["Location"] == "/cases/"
    cases = RepairCase.objects.order_by("record_id")
    assert [(c.record_id, c.status, c.details) for c in cases] == [
        (record.pk, CaseStatus.DRAFT, "罚款均已缴清。"),
        (second_record.pk, CaseStatus.DRAFT, "罚款均已缴清。"),
    ]
    for case in cases:
        kinds = sorted(case.materials.values_list("kind", flat=True))
        assert kinds == [MaterialKind.POWER_OF_ATTORNEY]
        # Each case file holds its own copy of the shared file.
        assert all(m.file.read() == PDF for m in case.materials.all())
        # One commitment per record, generated with its draft, to be signed before submission.
        assert case_commitment(case).case_id == case.pk
    assert Commitment.objects.filter(status="draft").count() == 2


def test_one_refused_record_saves_nothing_and_names_every_problem(
    client_for, applicant, record, too_recent
):
    response = client_for(applicant).post(
        PAGE,
        {
            "record": [record.pk, too_recent.pk],
            "details": "x",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "济市监罚〔2026〕88号：该记录目前不能申请信用修复" in page
    # The ticks stay so the applicant can untick the refused one and send again.
    assert f'value="{record.pk}" id="record-{record.pk}" checked' in page
    assert not RepairCase.objects.exists() and not CaseMaterial.objects.exists()


def test_a_bad_shared_file_saves_nothing(client_for, agent, record, second_record):
    response = client_for(agent).post(
        PAGE,
        {
            "record": [record.pk, second_record.pk],
            "file_power_of_attorney": upload("授权委托书.pdf", b"MZ\x90\x00 not a pdf"),
        },
    )
    assert response.status_code == 400
    assert "不是 PDF、JPEG 或 PNG 文件" in response.content.decode()
    assert not RepairCase.objects.exists() and not Commitment.objects.exists()


def test_nothing_ticked_and_another_subjects_record_are_refused(
    client_for, applicant, other_record
):
    c = client_for(applicant)
    response = c.post(PAGE, {"details": "x"})
    assert response.status_code == 400
    assert "请至少选择一条行政处罚信息" in response.content.decode()
    response = c.post(PAGE, {"record": [other_record.pk]})
    assert response.status_code == 400
    assert "不属于您绑定主体" in response.content.decode()
    assert not RepairCase.objects.exists()


@pytest.mark.parametrize("persona", ["officer", "reviewer", "supervisor"])
def test_staff_cannot_file(persona, request, client_for):
    assert client_for(request.getfixturevalue(persona)).get(PAGE).status_code == 403


def test_the_api_files_several_records_all_or_nothing(
    api_for, applicant, record, second_record, too_recent, other_record
):
    api = api_for(applicant)
    response = api.post(API, {"records": [record.pk, too_recent.pk]}, format="json")
    assert response.status_code == 400
    assert response.json()["records"][0].startswith("济市监罚〔2026〕88号：")
    assert not RepairCase.objects.exists()

    response = api.post(API, {"records": [other_record.pk]}, format="json")
    assert response.status_code == 400 and "records" in response.json()
    assert not RepairCase.objects.exists()

    response = api.post(
        API, {"records": [record.pk, second_record.pk], "details": "已整改"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert [c["record"] for c in body] == [record.pk, second_record.pk]
    assert {c["status"] for c in body} == {"draft"}


def test_the_api_refuses_staff(api_for, officer, record):
    response = api_for(officer).post(API, {"records": [record.pk]}, format="json")
    assert response.status_code == 403
