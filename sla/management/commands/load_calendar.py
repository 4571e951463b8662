import hashlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sla.calendar import CalendarFileError, parse_calendar_csv
from sla.services import calendar_load_year


class Command(BaseCommand):
    help = (
        "Load one year's holidays and make-up working days from a CSV file "
        "(date,kind,name; see sla/data/calendar-example.csv), replacing that year "
        "and marking it loaded."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file: header date,kind,name; kind holiday or workday")
        parser.add_argument(
            "--year",
            type=int,
            help="the year the file is for (default: the year of its first date)",
        )
        parser.add_argument(
            "--source",
            help="where the arrangement comes from, e.g. the State Council notice number "
            "(default: the file name and its checksum)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and report; change nothing"
        )

    def handle(self, *args, path, year, source, dry_run, **options):
        file = Path(path)
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            raise CommandError(_("文件不存在：%(path)s") % {"path": path}) from None
        except OSError as exc:
            raise CommandError(
                _("无法读取文件 %(path)s：%(reason)s") % {"path": path, "reason": exc.strerror}
            ) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CommandError(
                _("文件 %(path)s 不是 UTF-8 编码（第%(byte)d字节）")
                % {"path": path, "byte": exc.start + 1}
            ) from None
        if year is not None and not 1900 <= year <= 2100:
            raise CommandError(_("--year %(year)s 超出范围（1900-2100）") % {"year": year})
        try:
            arrangement = parse_calendar_csv(text, year=year)
        except CalendarFileError as exc:
            for message in exc.errors:
                self.stderr.write(message)
            raise CommandError(
                ngettext(
                    "%(path)s 有 %(count)d 处错误，未载入任何内容",
                    "%(path)s 有 %(count)d 处错误，未载入任何内容",
                    len(exc.errors),
                )
                % {"path": path, "count": len(exc.errors)}
            ) from None

        holidays, workdays = len(arrangement.holidays), len(arrangement.workdays)
        summary = _("%(year)s年：%(holidays)d 个放假日，%(workdays)d 个调休上班日") % {
            "year": arrangement.year,
            "holidays": holidays,
            "workdays": workdays,
        }
        if dry_run:
            self.stdout.write(
                _("校验通过，未写入（--dry-run）：%(summary)s") % {"summary": summary}
            )
            return
        if not source:
            digest = hashlib.sha256(raw).hexdigest()[:12]
            source = f"{file.name} sha256:{digest}"
        result = calendar_load_year(
            arrangement=arrangement, source=source, actor="manage.py load_calendar"
        )
        if result.unchanged:
            self.stdout.write(_("重新载入，内容无变化：%(summary)s") % {"summary": summary})
        elif result.replaced:
            self.stdout.write(_("已替换原有安排：%(summary)s") % {"summary": summary})
            for label in result.added:
                self.stdout.write(_("  新增 %(entry)s") % {"entry": label})
            for label in result.removed:
                self.stdout.write(_("  删除 %(entry)s") % {"entry": label})
        else:
            self.stdout.write(_("已载入：%(summary)s") % {"summary": summary})
        self.stdout.write(
            _("%(year)s年已标记为已载入（来源：%(source)s），期限计算不再按暂定处理")
            % {"year": arrangement.year, "source": source}
        )
        moved = result.deadline_changes
        self.stdout.write(
            ngettext(
                "%(count)d 个进行中的期限因此调整",
                "%(count)d 个进行中的期限因此调整",
                len(moved),
            )
            % {"count": len(moved)}
        )
        for change in moved:
            self.stdout.write(
                _("  %(clock)s：%(old)s → %(new)s")
                % {
                    "clock": change.clock,
                    "old": timezone.localtime(change.old_due_at).strftime("%Y-%m-%d %H:%M"),
                    "new": timezone.localtime(change.new_due_at).strftime("%Y-%m-%d %H:%M"),
                }
            )
