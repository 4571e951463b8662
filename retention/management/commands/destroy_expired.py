from django.core.management.base import BaseCommand
from django.utils import timezone

from retention.services import destruction_plan, expired_destroy


class Command(BaseCommand):
    help = (
        "Destroy what the retention rules (admin: 保存期限规则) say is due today: delete "
        "materials and their files and access register entries, anonymise letters (PDF removed, "
        "facts emptied) and audit payloads (chain kept), and write the destruction register. "
        "Idempotent. With --dry-run, list what would go (type and id, no personal data) and "
        "change nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="list what is due; destroy nothing"
        )

    def handle(self, *args, dry_run, **options):
        if dry_run:
            plan = destruction_plan(today=timezone.localdate())
            for item in plan.items:
                self.stdout.write(
                    f"would {item.action}: {item.object_type} #{item.object_id} "
                    f"(rule: {item.rule.kind}, files: {len(item.files)})"
                )
            self.report(plan.counts(), plan.not_destroyed, verb="would be destroyed")
            return
        run = expired_destroy(trigger="command")
        self.report(
            run.counts["destroyed"], run.counts["not_destroyed"], verb=f"destroyed (run #{run.pk})"
        )

    def report(self, counts: dict, not_destroyed: dict, *, verb: str) -> None:
        for kind, count in sorted(not_destroyed.items()):
            self.stdout.write(f"due but not destroyed by this job yet: {kind}: {count}")
        total = sum(counts.values())
        detail = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
        self.stdout.write(f"{total} items {verb}" + (f": {detail}" if detail else ""))
