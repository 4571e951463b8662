import hashlib

from django.core.management.base import BaseCommand

from letters.models import Letter, RenderStatus
from letters.services import letter_signature_check


class Command(BaseCommand):
    help = (
        "Check every stored letter: its file still has the recorded SHA-256, and its PDF"
        " signature is intact, by the certificate it was signed with, chains to the trust"
        " roots and was valid at signing time. List each failure (which check) and exit 1"
        " if any letter fails."
    )

    def handle(self, *args, **options):
        checked, unsigned, bad, failing = 0, 0, [], set()
        rendered = Letter.objects.filter(status=RenderStatus.RENDERED)
        # A rendered letter with no file had its PDF destroyed at the end of
        # its retention (retention/services.py): nothing left to check.
        destroyed = rendered.filter(file="").count()
        letters = (
            rendered.exclude(file="")
            .only("pk", "number", "kind", "file", "sha256", "signer_sha256", "rendered_at")
            .order_by("pk")
        )
        for letter in letters.iterator(chunk_size=500):
            checked += 1
            name = letter.number or letter.pk
            try:
                with letter.file.open("rb") as f:
                    pdf = f.read()
            except OSError as exc:
                failing.add(letter.pk)
                bad.append(f"{name}: file missing ({exc.__class__.__name__})")
                continue
            actual = hashlib.sha256(pdf).hexdigest()
            if actual != letter.sha256:
                failing.add(letter.pk)
                bad.append(
                    f"{name}: file changed (recorded {letter.sha256[:16]}…, now {actual[:16]}…)"
                )
            check = letter_signature_check(letter, pdf)
            if check is None:
                unsigned += 1
            elif not check.ok:
                failing.add(letter.pk)
                bad.append(
                    f"{name}: signature fails: {', '.join(check.failed)}"
                    f" ({'；'.join(check.problems)})"
                )
        for line in bad:
            self.stderr.write(line)
        if bad:
            self.stderr.write(f"{len(failing)} of {checked} letters fail verification")
            raise SystemExit(1)
        note = f" ({unsigned} stored before letters were signed: hash only)" if unsigned else ""
        if destroyed:
            note += f"; {destroyed} destroyed under their retention rule"
        self.stdout.write(
            f"{checked} letters verified: every stored file has its recorded hash"
            f" and a valid signature{note}"
        )
