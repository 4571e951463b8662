"""flows 0012_attest_objection_signer_capacity: an objection attested under
the old rule (a typed name) gets the capacity that rule implied, 本人 for a
natural person and 法定代表人 for an enterprise, whoever filed it; its
typed name is kept; a draft stays unsigned."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from flows.models import ObjectionCase
from flows.objections.services import objection_draft_save
from records.models import BindingCapacity, SubjectBinding
from repair_flow.models import Role
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)

MIGRATION = "0012_attest_objection_signer_capacity"


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def test_attested_objections_get_the_capacity_the_old_rule_implied(
    applicant, record, person, person_record
):
    agent = make_user("wangwu", Role.APPLICANT, first_name="王五")
    SubjectBinding.objects.create(user=agent, subject=person, capacity=BindingCapacity.AGENT)
    enterprise_case = objection_draft_save(
        applicant=applicant, record=record, grounds=["error"], statement="x",
        capacity="legal_representative",
    )  # fmt: skip
    person_case = objection_draft_save(
        applicant=agent, record=person_record, grounds=["error"], statement="x", capacity="agent"
    )
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate([("flows", "0011_commitment_at_filing")])
    old = (
        MigrationExecutor(connection)
        .loader.project_state([("flows", "0011_commitment_at_filing")])
        .apps
    )
    OldCase = old.get_model("flows", "ObjectionCase")
    # Attested as the old rule asked: the legal representative's name typed
    # for the enterprise, the person's own name typed (here by an agent).
    OldCase.objects.filter(pk=enterprise_case.pk).update(
        attested_name="张伟", attested_at=timezone.now()
    )
    OldCase.objects.filter(pk=person_case.pk).update(
        attested_name="王芳", attested_at=timezone.now()
    )
    unsigned = OldCase.objects.create(
        record_id=record.pk, subject_id=record.subject_id, applicant_id=applicant.pk,
        filed_by_capacity="legal_representative", grounds=["other"], status="withdrawn",
    )  # fmt: skip

    migrate(leaves)
    rows = dict(ObjectionCase.objects.values_list("pk", "attested_capacity"))
    assert rows == {
        enterprise_case.pk: "legal_representative",
        person_case.pk: "self",
        unsigned.pk: "",
    }
    assert ObjectionCase.objects.get(pk=person_case.pk).attested_name == "王芳"
