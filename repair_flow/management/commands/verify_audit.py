from django.core.management.base import BaseCommand

from repair_flow.anchors import anchors_verify
from repair_flow.audit import verify_chain
from repair_flow.audit_seal import AuditKeyMissing


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's keyed chain (needs AUDIT_CHAIN_KEY) and check it "
        "against the daily anchors (AUDIT_ANCHOR_DIR, AUDIT_ANCHOR_KEY); exit 1 at the "
        "first broken link or anchor, 2 without the keys."
    )

    def handle(self, *args, **options):
        try:
            report = verify_chain()
            anchors = anchors_verify()
        except AuditKeyMissing as exc:
            self.stderr.write(f"cannot verify the audit chain: {exc}")
            raise SystemExit(2) from None
        if report.broken_at is not None:
            self.stderr.write(
                f"audit chain broken at event #{report.broken_at}: {report.reason} "
                f"({report.verified} events before it verified)"
            )
            raise SystemExit(1)
        if anchors.problem:
            self.stderr.write(
                f"audit chain does not match its anchors: {anchors.problem} "
                f"({anchors.checked} anchors before it matched)"
            )
            raise SystemExit(1)
        self.stdout.write(
            f"audit chain intact: {report.verified} events verified, "
            f"{anchors.checked} anchors matched"
        )
