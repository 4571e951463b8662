"""A trigram index on subjects' names (PostgreSQL's pg_trgm), so a records
search by name (`UPPER(name) LIKE UPPER('%q%')`, Django's icontains) reads
the index instead of scanning every subject (issue 18). The extension and the
index exist on PostgreSQL only; on SQLite this migration does nothing, and
the index is not in the model's Meta, so SQLite's schema never needs it."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX = "records_subject_name_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The expression is the one Django's icontains writes for a varchar column.
    schema_editor.execute(
        f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "records_subject" '
        'USING gin ((UPPER("name"::text)) gin_trgm_ops)'
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("records", "0015_list_indexes")]

    operations = [
        # CreateExtension does nothing on other databases.
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
