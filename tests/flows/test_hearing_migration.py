"""The hearing's data migration moves existing rows sensibly: a breach review
not decided yet passes to the department that made the repair decision,
with its running clock; a decided one keeps the department that decided it;
every monitoring policy's bar is switched off, and says so."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from flows.models import BreachReview, MonitoringPolicy
from sla.models import SlaClock
from tests.flows.conftest import BASIS, at, import_rows, monitored_repair, penalty_row

pytestmark = pytest.mark.django_db(transaction=True)


def before_hearing() -> list[tuple[str, str]]:
    """The flows migration the hearing's schema migration follows (by name,
    whatever its number)."""
    graph = MigrationExecutor(connection).loader.graph
    node = next(
        key
        for key in graph.nodes
        if key[0] == "flows" and key[1].endswith("_hearing_breach_review")
    )
    return [parent.key for parent in graph.node_map[node].parents if parent.key[0] == "flows"]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_open_reviews_pass_to_the_repairing_department_and_the_bar_is_switched_off(
    approved, now, enterprise, department, sister_department, reviewer, second_record, applicant
):
    from flows.monitoring.services import breach_dismiss

    # Two reviews made as the product did before: for the new penalty's issuer.
    other_case = monitored_repair(
        second_record,
        applicant=applicant,
        starts="2026-11-18 15:00",
        ends="2027-11-18 15:00",
        number="济信修申〔2026〕90号",
    )
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, sister_department, number="济药罚〔2027〕5号"))
    open_review = BreachReview.objects.get(case=approved)
    decided = BreachReview.objects.get(case=other_case)
    breach_dismiss(reviewer=reviewer, review=decided, reasons=["新增处罚信息有误"], basis=BASIS)
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    before = before_hearing()

    migrate(before)
    old = MigrationExecutor(connection).loader.project_state(before).apps
    OldReview = old.get_model("flows", "BreachReview")
    OldReview.objects.all().update(department_id=sister_department.pk)
    SlaClock.objects.filter(stage="breach_review").update(department_id=sister_department.pk)
    old.get_model("flows", "MonitoringPolicy").objects.update(note="")

    migrate(leaves)
    open_review.refresh_from_db()
    decided.refresh_from_db()
    assert open_review.department == department
    assert SlaClock.objects.get(case_id=open_review.pk, stage="breach_review").department == (
        department
    )
    # Decided by the issuer, as the product then did: history is not rewritten.
    assert decided.department == sister_department
    policy = MonitoringPolicy.objects.get()
    assert policy.bar_enabled is False and "第二条" in policy.note
