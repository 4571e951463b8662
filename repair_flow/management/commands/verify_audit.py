from django.core.management.base import BaseCommand

from repair_flow.audit import verify_chain


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain; exit 1 at the first broken link."

    def handle(self, *args, **options):
        report = verify_chain()
        if report.broken_at is not None:
            self.stderr.write(
                f"audit chain broken at event #{report.broken_at}: {report.reason} "
                f"({report.verified} events before it verified)"
            )
            raise SystemExit(1)
        self.stdout.write(f"audit chain intact: {report.verified} events verified")
