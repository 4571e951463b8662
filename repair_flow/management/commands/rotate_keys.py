"""Re-encrypts personal data under the current keys (repair_flow/encryption.py).

To rotate: put a new key first in FIELD_ENCRYPTION_KEYS (and/or
FIELD_BLIND_INDEX_KEYS), keep the old ones after it, restart, run
`manage.py rotate_keys`, then drop the old keys. Each batch commits on its
own; the run is idempotent, so one that stopped is resumed by running it
again. `--check` only counts what is left under an old key (exit 1 if any),
for a deployment to confirm before it drops a key.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from repair_flow.encryption import encrypted_tables, new_key_text, reseal_table, row_writes


class Command(BaseCommand):
    help = "Re-encrypt every encrypted value (and blind index) under the current keys."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--check", action="store_true", help="count rows still to do; change nothing"
        )
        parser.add_argument(
            "--new-key", action="store_true", help="print a fresh key for the settings and stop"
        )

    def handle(self, *args, batch_size: int, check: bool, new_key: bool, **options):
        if new_key:
            self.stdout.write(new_key_text())
            return
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if check:
            self.check_only()
            return
        for spec in encrypted_tables():
            read = changed = 0
            for batch_read, batch_changed, last in reseal_table(
                connection=connection, spec=spec, batch_size=batch_size
            ):
                read += batch_read
                changed += batch_changed
                self.stdout.write(
                    f"{spec.table}: {read} rows read, {changed} re-encrypted (up to id {last})"
                )
            self.stdout.write(
                self.style.SUCCESS(f"{spec.table}: done, {read} rows, {changed} re-encrypted")
            )

    def check_only(self):
        left = 0
        quote = connection.ops.quote_name
        for spec in encrypted_tables():
            names = [spec.pk, *spec.columns, *spec.indexes]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {', '.join(quote(n) for n in names)} FROM {quote(spec.table)}"  # noqa: S608
                )
                rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            count = sum(1 for values in rows if row_writes(spec, values))
            self.stdout.write(f"{spec.table}: {count} rows to re-encrypt")
            left += count
        if left:
            raise CommandError(f"{left} rows are not under the current keys yet")
        self.stdout.write(self.style.SUCCESS("every value is under the current keys"))
