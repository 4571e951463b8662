from django.core.management.base import BaseCommand

from letters.models import Letter, RenderStatus
from letters.services import file_sha256


class Command(BaseCommand):
    help = (
        "Recompute the SHA-256 of every stored letter; list each one whose file is"
        " missing or changed and exit 1 if any is."
    )

    def handle(self, *args, **options):
        checked, bad = 0, []
        letters = (
            Letter.objects.filter(status=RenderStatus.RENDERED)
            .only("pk", "number", "kind", "file", "sha256")
            .order_by("pk")
        )
        for letter in letters.iterator(chunk_size=500):
            checked += 1
            try:
                actual = file_sha256(letter)
            except OSError as exc:
                bad.append(f"{letter.number or letter.pk}: file missing ({exc.__class__.__name__})")
                continue
            if actual != letter.sha256:
                bad.append(
                    f"{letter.number or letter.pk}: file changed"
                    f" (recorded {letter.sha256[:16]}…, now {actual[:16]}…)"
                )
        for line in bad:
            self.stderr.write(line)
        if bad:
            self.stderr.write(f"{len(bad)} of {checked} letters fail verification")
            raise SystemExit(1)
        self.stdout.write(f"{checked} letters verified: every stored file has its recorded hash")
