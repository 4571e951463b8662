from django.core.management.base import BaseCommand
from django.utils import timezone

from retention.services import destruction_plan, expired_destroy


class Command(BaseCommand):
    help = (
        "Destroy what the retention rules (admin: 保存期限规则) say is due today: delete "
        "materials and their files and access register entries; anonymise records at the end "
        "of their disclosure (Shandong Art. 38), case files, letters and credit-repair notices "
        "(PDF removed, facts emptied), audit payloads (chain kept) and subjects with nothing "
        "left; remove files an earlier run could not; write the destruction register. "
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
            if plan.pending_files:
                self.stdout.write(f"files left by earlier runs, to remove: {plan.pending_files}")
            self.report(plan.counts(), plan.held, plan.left, verb="would be destroyed")
            return
        run = expired_destroy(trigger="command")
        if left := run.counts["files_left_by_earlier_runs"]:
            self.stdout.write(f"files left by earlier runs, removed: {left}")
        self.report(
            run.counts["destroyed"],
            run.counts["held"],
            run.counts["left_for_next_run"],
            verb=f"destroyed (run #{run.pk})",
        )

    def report(self, counts: dict, held: dict, left: dict, *, verb: str) -> None:
        for kind, count in sorted(held.items()):
            self.stdout.write(f"due but held by a running case or monitoring: {kind}: {count}")
        for kind, count in sorted(left.items()):
            self.stdout.write(f"due, left for the next runs: {kind}: {count}")
        total = sum(counts.values())
        detail = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
        self.stdout.write(f"{total} items {verb}" + (f": {detail}" if detail else ""))
