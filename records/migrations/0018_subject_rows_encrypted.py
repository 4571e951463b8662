"""Encrypts the subjects' identifiers and phones already stored, and fills the
blind index (repair_flow/encryption.py), a batch per transaction: a run
stopped half-way is resumed by migrating again (rows already done are left
alone)."""

from django.db import migrations

from repair_flow.encryption import EncryptedTable, reseal_table

SUBJECTS = EncryptedTable(
    table="records_subject",
    pk="id",
    columns={
        "identifier": "records.subject.identifier",
        "contact_phone": "records.subject.contact_phone",
    },
    indexes={"identifier_index": "identifier"},
)


def encrypt_rows(apps, schema_editor):
    for _batch in reseal_table(connection=schema_editor.connection, spec=SUBJECTS):
        pass


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("records", "0017_subject_encrypted_fields"),
    ]

    operations = [
        migrations.RunPython(encrypt_rows, migrations.RunPython.noop, elidable=True),
    ]
