"""Board figures true, through the services that start the clocks: every
clock carries the department it belongs to (the issuing department, or none
for the platform's own stages, read as 市信用平台); clocks that wait for the
applicant are shown apart and never counted as 未分配; the board lists the
departments with open work and no reviewer in post, and names people
without their usernames. sla 0011_board_clock_departments fills the
department of existing clocks."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from flows.cases.review import preliminary_review_claim, supplement_request
from flows.models import MaterialKind
from flows.repair.services import preliminary_review_accept, repair_case_submit
from sla.clocks import clock_assign, clocks_for
from sla.models import ClockState, SlaClock, Stage
from tests.flows.conftest import draft_with_materials

BOARD = "/sla/board/"


def text(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def submitted(applicant, record):
    return repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))


def accepted(applicant, record, officer):
    case = submitted(applicant, record)
    preliminary_review_claim(officer=officer, case=case)
    return preliminary_review_accept(officer=officer, case=case)


def supplementing(applicant, record, officer):
    case = submitted(applicant, record)
    preliminary_review_claim(officer=officer, case=case)
    items = [{"material": MaterialKind.PERFORMANCE_PROOF, "name": "履行证明", "problem": "模糊"}]
    supplement_request(officer=officer, case=case, items=items)
    return case


@pytest.mark.django_db
class TestClockDepartments:
    def test_department_stages_carry_the_issuing_department_platform_stages_none(
        self, applicant, record, officer, reviewer
    ):
        case = accepted(applicant, record, officer)
        departments = dict(clocks_for(case).values_list("stage", "department_id"))
        assert departments[Stage.DEPARTMENT_REVIEW] == record.department_id
        assert departments[Stage.WHOLE_DECISION] == record.department_id
        assert departments[Stage.PRELIMINARY_REVIEW] is None
        assert departments[Stage.ACCEPTANCE] is None

    def test_the_applicants_supplement_clock_carries_the_department_too(
        self, applicant, record, officer
    ):
        case = supplementing(applicant, record, officer)
        clock = clocks_for(case).get(stage=Stage.SUPPLEMENT, stopped_at=None)
        assert clock.department_id == record.department_id


@pytest.mark.django_db
class TestBoardPage:
    def test_platform_work_is_named_and_applicant_waits_are_apart(
        self, client_for, applicant, record, second_record, officer, supervisor, reviewer
    ):
        submitted(applicant, record)  # preliminary review and acceptance: the platform's
        supplementing(applicant, second_record, officer)  # waits for the applicant
        page = text(client_for(supervisor).get(BOARD))
        assert "市信用平台（平台环节）" in page
        assert "未指定认定单位" not in page
        assert "另有" in page and "项计时在等待申请人" in page
        summary = client_for(supervisor).get("/api/v1/sla/summary/").json()
        # The supplementing case's supplement clock (the applicant's stage) and
        # its acceptance clock, paused while the case waits for the applicant.
        assert summary["waiting_applicant"] == 2
        assert summary["paused_for_applicant"] == 1
        unassigned = [o for o in summary["officers"] if o["id"] is None]
        # Only the unclaimed case's preliminary review and acceptance: the
        # paused acceptance is nobody's work until the applicant answers.
        assert unassigned and unassigned[0]["open"] == 2
        assert "1 项是申请人的环节" in page and "1 项是暂停等待申请人的办理计时" in page
        listed = text(client_for(supervisor).get("/sla/board/list/?metric=open&assignee=applicant"))
        assert "等待申请人" in listed
        assert listed.count("申请人补正") >= 1 and "受理决定" in listed
        nobody = client_for(supervisor).get("/sla/board/list/?metric=open&assignee=none")
        assert nobody.context["page"].paginator.count == 2

    def test_a_paused_office_clock_held_by_an_officer_leaves_their_row(
        self, client_for, applicant, record, officer, supervisor
    ):
        case = supplementing(applicant, record, officer)
        # The clock's holder as the task would leave it (sla.clocks service).
        clock_assign(case=case, stage=Stage.ACCEPTANCE, assignee=officer, actor=officer)
        paused = clocks_for(case).get(stage=Stage.ACCEPTANCE, stopped_at=None)
        assert paused.state == ClockState.PAUSED and paused.assignee_id == officer.pk
        summary = client_for(supervisor).get("/api/v1/sla/summary/").json()
        assert summary["waiting_applicant"] == 2 and summary["paused_for_applicant"] == 1
        assert [o for o in summary["officers"] if o["open"]] == []
        page = text(client_for(supervisor).get(BOARD))
        assert "1 项是暂停等待申请人的办理计时" in page
        mine = client_for(supervisor).get(f"/sla/board/list/?metric=open&assignee={officer.pk}")
        assert mine.context["page"].paginator.count == 0

    def test_departments_with_open_work_and_no_reviewer_are_listed(
        self, client_for, applicant, record, officer, supervisor, reviewer
    ):
        accepted(applicant, record, officer)
        client = client_for(supervisor)
        assert "有待办但没有在岗审核人的认定单位" not in text(client.get(BOARD))
        reviewer.is_active = False
        reviewer.save(update_fields=["is_active"])
        page = text(client.get(BOARD))
        assert "有待办但没有在岗审核人的认定单位" in page
        assert f'data-department="{record.department.code}"' in page
        assert f"{record.department.name} · " in page

    def test_the_board_names_people_without_usernames(
        self, client_for, applicant, record, officer, supervisor
    ):
        case = submitted(applicant, record)
        preliminary_review_claim(officer=officer, case=case)
        page = text(client_for(supervisor).get(BOARD))
        assert officer.get_full_name() in page
        assert f"> {officer.username}<" not in page and ">officer<" not in page

    def test_an_officer_cannot_see_the_board(self, client_for, officer):
        assert client_for(officer).get(BOARD).status_code == 403


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_department_of_existing_clocks(
    applicant, record, second_record, officer, reviewer
):
    case = accepted(applicant, record, officer)
    other = supplementing(applicant, second_record, officer)
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate([("sla", "0010_hearing_statement_period")])
    SlaClock.objects.update(department=None)
    migrate(leaves)
    departments = dict(clocks_for(case).values_list("stage", "department_id"))
    assert departments[Stage.DEPARTMENT_REVIEW] == record.department_id
    assert departments[Stage.WHOLE_DECISION] == record.department_id
    assert departments[Stage.PRELIMINARY_REVIEW] is None
    supplement = clocks_for(other).get(stage=Stage.SUPPLEMENT)
    assert supplement.department_id == record.department_id
