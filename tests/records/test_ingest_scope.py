"""Integration tokens scoped to their department (issue 17, finding 6): a
department's system writes only that department's records; a subject is
renamed by an import only from its issuing source, with the old name kept in
the audit."""

import importlib

import pytest
from django.apps import apps
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from records.models import CreditRecord, DepartmentMembership, Subject
from repair_flow.models import AuditEvent, Role
from tests.conftest import make_record, make_user
from tests.records.test_records_api import URL, item

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    return api


@pytest.fixture
def other_system(other_department):
    user = make_user("zjj_system", Role.INTEGRATION)
    Token.objects.create(user=user)
    DepartmentMembership.objects.create(user=user, department=other_department)
    return user


def test_a_departments_token_cannot_overwrite_another_departments_record(
    department, other_system, record
):
    record.refresh_from_db()
    before = (record.fine_amount, record.facts, record.updated_at)
    body = item(
        decision_number=record.decision_number,
        subject_identifier=record.subject.identifier,
        subject_name=record.subject.name,
        fine_amount=1,
        facts="被改写。",
    )

    response = token_client(other_system).post(URL, body, format="json")

    assert response.status_code == 400
    [error] = response.json()["results"][0]["errors"]
    assert (error["field"], error["code"]) == ("department_code", "other_department")
    assert error["message"] == (
        "本系统对接账号属于“济南市住房和城乡建设局”，只能导入该单位的记录；"
        "本行的认定单位是“济南市市场监督管理局”，未导入"
    )
    record.refresh_from_db()
    assert (record.fine_amount, record.facts, record.updated_at) == before
    assert not AuditEvent.objects.filter(action="records.import").exists()


def test_nor_create_one_in_its_name(department, other_system):
    response = token_client(other_system).post(URL, item(), format="json")
    assert response.status_code == 400
    assert response.json()["results"][0]["errors"][0]["code"] == "other_department"
    assert not CreditRecord.objects.exists() and not Subject.objects.exists()


def test_its_own_departments_rows_pass_beside_refused_ones(
    department, other_department, other_system
):
    own = item(department_code="ZJJ", decision_number="济建罚〔2026〕31号")
    response = token_client(other_system).post(URL, [own, item()], format="json")
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected"]
    assert CreditRecord.objects.get().department == other_department


def test_a_token_bound_to_no_department_imports_nothing(department, integration):
    response = token_client(integration).post(URL, item(), format="json")
    assert response.status_code == 400
    [error] = response.json()["results"][0]["errors"]
    assert error["code"] == "no_department" and "未绑定认定单位" in error["message"]
    assert not CreditRecord.objects.exists()


def test_platform_staff_import_for_any_department(department, other_department, officer, api_for):
    rows = [item(), item(department_code="ZJJ", decision_number="济建罚〔2026〕32号")]
    response = api_for(officer).post(URL, rows, format="json")
    assert response.status_code == 201
    assert CreditRecord.objects.count() == 2


# Renames


def test_a_new_subject_has_the_importing_department_as_its_source(department, department_system):
    assert token_client(department_system).post(URL, item(), format="json").status_code == 201
    assert Subject.objects.get().source_department == department


def test_a_rename_by_another_department_is_refused(
    department, other_department, department_system, other_system
):
    api = token_client(department_system)
    assert api.post(URL, item(), format="json").status_code == 201
    subject = Subject.objects.get()

    renamed = item(
        department_code="ZJJ", decision_number="济建罚〔2026〕40号", subject_name="冒名有限公司"
    )
    response = token_client(other_system).post(URL, renamed, format="json")

    assert response.status_code == 400
    [error] = response.json()["results"][0]["errors"]
    assert (error["field"], error["code"]) == ("subject_name", "not_subject_source")
    assert error["message"] == (
        "该主体登记的名称为“济南丙商贸有限公司”，本行为“冒名有限公司”；主体名称只能由其报送"
        "来源单位“济南市市场监督管理局”更改，本行未导入"
    )
    subject.refresh_from_db()
    assert subject.name == "济南丙商贸有限公司"
    assert CreditRecord.objects.count() == 1


def test_another_department_may_add_a_record_under_the_same_name(
    department, other_department, department_system, other_system
):
    assert token_client(department_system).post(URL, item(), format="json").status_code == 201
    same = item(department_code="ZJJ", decision_number="济建罚〔2026〕41号")
    assert token_client(other_system).post(URL, same, format="json").status_code == 201


def test_a_rename_by_the_source_is_audited_with_the_old_name(department, department_system):
    api = token_client(department_system)
    assert api.post(URL, item(), format="json").status_code == 201
    subject = Subject.objects.get()

    response = api.post(URL, item(subject_name="济南丙商贸集团有限公司"), format="json")

    assert response.status_code == 200
    subject.refresh_from_db()
    assert subject.name == "济南丙商贸集团有限公司"
    event = AuditEvent.objects.filter(action="records.import").latest("id")
    assert event.actor == department_system
    assert event.summary["subjects_renamed"] == 1
    assert event.summary["renamed_subjects"] == [
        {
            "subject": subject.pk,
            "old_name": "济南丙商贸有限公司",
            "new_name": "济南丙商贸集团有限公司",
        }
    ]


def test_a_subject_with_no_source_is_not_renamed_by_an_import(
    department, enterprise, department_system
):
    # Registered by hand (no import supplied it, no record of it).
    body = item(subject_identifier=enterprise.identifier, subject_name="改名有限公司")
    response = token_client(department_system).post(URL, body, format="json")
    assert response.status_code == 400
    assert "该主体没有报送来源单位" in response.json()["results"][0]["errors"][0]["message"]
    enterprise.refresh_from_db()
    assert enterprise.name == "济南泉城食品有限公司"


def test_the_migration_gives_older_subjects_their_first_records_department(
    department, other_department, enterprise
):
    make_record(department=department, subject=enterprise, decision_number="甲1")
    make_record(department=other_department, subject=enterprise, decision_number="乙1")
    migration = importlib.import_module("records.migrations.0012_subject_source_department")

    migration.backfill(apps, None)

    enterprise.refresh_from_db()
    assert enterprise.source_department == department
