import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from tqdm import tqdm

from records.ingest import UnreadableFile, read_rows
from records.services import INGEST_BATCH_SIZE, IngestResult, records_ingest

EXIT_REJECTED = 1
EXIT_UNREADABLE = 2


class Command(BaseCommand):
    help = (
        "Import penalty records from a CSV file (UTF-8, with a header) or JSON Lines. "
        "Required columns: decision_number, department_code, subject_type, "
        "subject_identifier, subject_name, decision_date, severity, penalty_types; optional: "
        "fine_amount, facts, conduct_end_date (default: the decision date), procedure "
        "(general, the default, or simplified) and minor_remedied (default false); "
        "simplified-procedure and minor remedied penalties are refused (Shandong Social "
        "Credit Regulation Art. 13). The full contract is in records/ingest.py. "
        "Rejected rows go to stderr as 'line N: FIELD: message'; the last line on stdout is "
        "'imported X, updated Y, rejected Z'. Exit 0 when nothing was rejected, 1 when some "
        "rows were, 2 when the file cannot be read at all."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="a .csv or .jsonl file")
        parser.add_argument(
            "--format", choices=["csv", "jsonl"], help="override the format the extension implies"
        )
        parser.add_argument(
            "--actor",
            help="username recorded in the audit trail (default: the label 'import_records'); "
            "rows reporting a revoked or changed decision (decision_change) need the issuing "
            "department's reviewer or its department-bound system account",
        )
        parser.add_argument("--batch-size", type=int, default=INGEST_BATCH_SIZE)

    def handle(self, *args, path, format, actor, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        audit_actor = "import_records"
        if actor:
            try:
                audit_actor = get_user_model().objects.get(username=actor)
            except get_user_model().DoesNotExist:
                raise CommandError(f"no user named {actor!r}") from None

        file_path = Path(path)
        try:
            source = read_rows(file_path, fmt=format)
        except UnreadableFile as error:
            self.stderr.write(
                _("无法导入 %(path)s：%(reason)s") % {"path": path, "reason": error.reason}
            )
            raise SystemExit(EXIT_UNREADABLE) from None

        # A progress bar only for a person watching a terminal; pipes and logs stay quiet.
        # OutputWrapper appends a newline to every write; the bar needs the raw stream.
        stream = getattr(self.stderr, "_out", sys.stderr)
        bar = tqdm(
            total=source.lines,
            unit=" lines",
            file=stream,
            disable=not self.stderr.isatty(),
            dynamic_ncols=True,
            leave=False,
        )

        def say(message: str) -> None:
            if bar.disable:
                self.stderr.write(message)
            else:
                bar.write(message, file=stream)

        def report(batch: IngestResult) -> None:
            for error in batch.rejected:
                say(str(error))
            if batch.last_line is not None:
                bar.update(batch.last_line - bar.n)

        with source, bar:
            for warning in source.warnings:
                say(warning)
            result = records_ingest(
                rows=source.rows,
                actor=audit_actor,
                # The file's name, not its path: a source column holds 100 characters.
                source=f"file:{file_path.name}"[:100],
                batch_size=batch_size,
                on_batch=report,
            )
        rejected = len(result.rejected_lines)
        self.stdout.write(
            f"imported {result.created}, updated {result.updated}, rejected {rejected}"
        )
        if rejected:
            raise SystemExit(EXIT_REJECTED)
