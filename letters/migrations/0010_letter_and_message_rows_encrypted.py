"""Encrypts the letters' facts and the messages' addresses already stored
(repair_flow/encryption.py), a batch per transaction; resumed by migrating
again."""

from django.db import migrations

from repair_flow.encryption import EncryptedTable, reseal_table

TABLES = [
    EncryptedTable(
        table="letters_letter", pk="id", columns={"facts": "letters.letter.facts"}, indexes={}
    ),
    EncryptedTable(
        table="letters_outboundmessage",
        pk="id",
        columns={"to": "letters.outboundmessage.to"},
        indexes={},
    ),
]


def encrypt_rows(apps, schema_editor):
    for spec in TABLES:
        for _batch in reseal_table(connection=schema_editor.connection, spec=spec):
            pass


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("letters", "0009_letter_facts_and_message_to_encrypted"),
    ]

    operations = [
        migrations.RunPython(encrypt_rows, migrations.RunPython.noop, elidable=True),
    ]
