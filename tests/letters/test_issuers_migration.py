"""The issuers' data migration moves existing rows sensibly: the institution
takes the name an administrator gave the letters (or the default), its
series run on from the settings' prefixes, each department gets an issuer,
each sequence keys on the prefix it numbered, existing letters point at
the issuer whose name they carry and keep their text, and the remedies lines
name the bodies through placeholders."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from letters.kinds import addressee_facts, record_facts
from letters.models import Issuer, Letter, LetterSequence, LetterSetting
from letters.services import letter_issue

pytestmark = pytest.mark.django_db(transaction=True)


def issuers_migration() -> list[tuple[str, str]]:
    """The issuers' migration (by name, whatever its number)."""
    graph = MigrationExecutor(connection).loader.graph
    return [key for key in graph.nodes if key[0] == "letters" and "_issuers_" in key[1]]


def before_issuers() -> list[tuple[str, str]]:
    graph = MigrationExecutor(connection).loader.graph
    (node,) = issuers_migration()
    return [parent.key for parent in graph.node_map[node].parents if parent.key[0] == "letters"]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_existing_settings_sequences_and_letters_move_to_issuers(record, department, officer):
    after = issuers_migration()
    old = migrate(before_issuers())
    Setting = old.get_model("letters", "LetterSetting")
    Setting.objects.update(issuer="济南市社会信用中心")
    Setting.objects.filter(kind="acceptance").update(number_prefix="济信受")
    old.get_model("letters", "LetterSequence").objects.create(kind="acceptance", year=2026, last=5)
    OldLetter = old.get_model("letters", "Letter")
    platform_letter = OldLetter.objects.create(
        kind="acceptance", issuer="济南市社会信用中心", number="济信受〔2026〕5号", year=2026,
        serial=5, facts={"remedies": ""},
    )  # fmt: skip
    department_letter = OldLetter.objects.create(
        kind="revocation_notice", issuer=department.name, number="济信修拟撤〔2026〕1号",
        year=2026, serial=1, facts={"remedies": ""},
    )  # fmt: skip

    migrate(after)
    # On to the latest state (the letters' facts encrypted since) before the
    # current models read it, and so later tests find the schema they expect.
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    centre = Issuer.objects.get(code="centre")
    assert (centre.name, centre.self_reference) == ("济南市社会信用中心", "本中心")
    assert dict(centre.prefixes.values_list("series", "prefix")) == {
        "acceptance": "济信受",
        "refusal_to_accept": "济信修不受",
        "supplement": "济信修补",
        "commitment": "济信诺",
        "objection_result": "济信异",
        "objection_acceptance": "济信异受",
        "objection_refusal_to_accept": "济信异不受",
        "objection_supplement": "济信异补",
    }
    dept = Issuer.objects.get(department=department)
    assert (dept.name, dept.kind, dept.self_reference) == (department.name, "department", "本机关")
    assert dict(dept.prefixes.values_list("series", "prefix"))["repair_decision"] == "SCJGJ信修决"
    assert list(LetterSequence.objects.values_list("prefix", "year", "last")) == [
        ("济信受", 2026, 5)
    ]
    assert Letter.objects.get(pk=platform_letter.pk).issuer_ref == centre
    kept = Letter.objects.get(pk=department_letter.pk)
    assert (kept.issuer_ref, kept.issuer, kept.facts) == (dept, department.name, {"remedies": ""})
    assert (
        "依法向{reconsideration_body}申请行政复议"
        in LetterSetting.objects.get(kind="revocation").remedies
    )
    assert "依法向{court}提起行政诉讼" in LetterSetting.objects.get(kind="revocation").remedies

    # The acceptance series runs on, without a gap.
    letter = letter_issue(
        kind="acceptance",
        facts={
            "addressee": addressee_facts(record.subject),
            "record": record_facts(record),
            "received_on": "2026-11-20",
        },
        record=record,
        actor=officer,
    )
    assert letter.number == "济信受〔2026〕6号"
