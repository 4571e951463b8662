from django.core.management.base import BaseCommand, CommandError

from sla.sweep import SWEEP_BATCH_SIZE, clocks_sweep


class Command(BaseCommand):
    help = (
        "Move SLA clocks whose next threshold is due through their warnings and into breach, "
        "notifying the policy's recipients and escalating breaches. Safe to run while another "
        "sweep (the scheduler, Celery beat) runs; a rerun continues where a crash stopped. "
        "The last line on stdout is 'warned X (first), Y (second), breached Z, escalated Z, "
        "notified N'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=SWEEP_BATCH_SIZE)

    def handle(self, *args, batch_size, verbosity, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")

        def progress(total):
            if verbosity >= 2:
                self.stderr.write(f"batch {total.batches}: {total}")

        result = clocks_sweep(actor="sla_sweep", batch_size=batch_size, on_batch=progress)
        self.stdout.write(str(result))
