"""Encrypts the users' phones already stored (repair_flow/encryption.py), a
batch per transaction; resumed by migrating again."""

from django.db import migrations

from repair_flow.encryption import EncryptedTable, reseal_table

USERS = EncryptedTable(
    table="repair_flow_user", pk="id", columns={"phone": "repair_flow.user.phone"}, indexes={}
)


def encrypt_rows(apps, schema_editor):
    for _batch in reseal_table(connection=schema_editor.connection, spec=USERS):
        pass


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("repair_flow", "0010_user_phone_encrypted"),
    ]

    operations = [
        migrations.RunPython(encrypt_rows, migrations.RunPython.noop, elidable=True),
    ]
