"""Create the audit chain's head row up front, so the first events written
concurrently lock one existing row instead of racing to create it."""

from django.db import migrations


def create_head(apps, schema_editor):
    apps.get_model("repair_flow", "AuditChainHead").objects.get_or_create(
        id=1, defaults={"last_seq": 0, "last_hash": "0" * 64}
    )


class Migration(migrations.Migration):
    dependencies = [("repair_flow", "0001_initial")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
