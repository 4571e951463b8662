from django.core.management.base import BaseCommand, CommandError

from flows.monitoring.services import SWEEP_BATCH, monitoring_sweep


class Command(BaseCommand):
    help = (
        "The daily sweep of post-repair monitoring: open a breach review for every penalty "
        "decided inside a monitoring window that has none yet (the import opens them at once; "
        "this catches what it missed), then complete the windows that ended with no review "
        "pending, with their cases, telling the applicants. Idempotent; safe beside another "
        "sweep. The last line on stdout is 'X breach reviews opened, Y monitoring windows "
        "completed'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=SWEEP_BATCH)

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        result = monitoring_sweep(actor="monitor_commitments", batch_size=batch_size)
        self.stdout.write(str(result))
