"""Daily anchors of the audit chain's head, kept outside the database.

Once a day (the periodic job repair_flow.anchor_audit, repair_flow/jobs.py)
the chain is verified and its head (the last seq and link) is written to
AUDIT_ANCHOR_DIR/anchor-<date>.json, signed with AUDIT_ANCHOR_KEY, and, when
AUDIT_ANCHOR_EMAIL is set, mailed to that auditor through the outbox.
`verify_audit` checks every anchor: an anchored event that is gone, or whose
link differs, means events were removed or the chain was re-sealed. What this
defeats and what it does not: repair_flow/audit.py's docstring.
"""

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from letters.outbox import message_queue
from repair_flow.audit import verify_chain
from repair_flow.audit_seal import anchor_signature
from repair_flow.models import AuditEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnchorResult:
    written: Path | None
    message: str


def _anchor_path(directory: Path, day: dt.date) -> Path:
    return directory / f"anchor-{day.isoformat()}.json"


def audit_anchor_write(*, now: dt.datetime | None = None) -> AnchorResult:
    """Write today's anchor unless it exists. The chain is verified first: an
    anchor must never vouch for a chain that is already broken."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    directory = Path(settings.AUDIT_ANCHOR_DIR)
    path = _anchor_path(directory, day)
    if path.exists():
        return AnchorResult(None, f"anchor of {day} already written")
    report = verify_chain()
    if report.broken_at is not None:
        log.error(
            "audit anchor not written: chain broken at #%s: %s", report.broken_at, report.reason
        )
        return AnchorResult(None, f"not anchored: chain broken at #{report.broken_at}")
    body = {
        "date": day.isoformat(),
        "seq": report.verified,
        "hash": report.head_hash,
        "at": now.isoformat(),
    }
    anchor = {**body, "signature": anchor_signature(settings.AUDIT_ANCHOR_KEY, body)}
    text = json.dumps(anchor, ensure_ascii=False, indent=2) + "\n"
    with transaction.atomic():
        if settings.AUDIT_ANCHOR_EMAIL:
            message_queue(
                key=f"audit-anchor:{day.isoformat()}",
                to=settings.AUDIT_ANCHOR_EMAIL,
                subject=_("审计日志每日锚定 %(day)s") % {"day": day.isoformat()},
                body=_(
                    "审计日志链截至 %(at)s 的末条记录为第 %(seq)s 条，链值如下。"
                    "请原样保存本邮件，核验审计日志（verify_audit）时用以比对。"
                )
                % {"at": body["at"], "seq": body["seq"]}
                + "\n\n"
                + text,
            )
        directory.mkdir(parents=True, exist_ok=True)
        # Written whole or not at all: a torn anchor would read as a forgery.
        partial = path.with_suffix(".partial")
        partial.write_text(text)
        os.replace(partial, path)
    return AnchorResult(path, f"anchored #{body['seq']} for {day}")


@dataclass(frozen=True)
class AnchorReport:
    checked: int
    problem: str = ""


def anchors_verify(*, directory: Path | None = None) -> AnchorReport:
    """Check every anchor file against the events in the database; the first
    problem found (oldest anchor first) is reported."""
    directory = Path(settings.AUDIT_ANCHOR_DIR if directory is None else directory)
    paths = sorted(directory.glob("anchor-*.json")) if directory.is_dir() else []
    checked = 0
    for path in paths:
        try:
            anchor = json.loads(path.read_text())
            body = {name: anchor[name] for name in ("date", "seq", "hash", "at")}
            signature = anchor["signature"]
        except (OSError, ValueError, KeyError, TypeError):
            return AnchorReport(checked, f"anchor {path.name} is unreadable")
        if anchor_signature(settings.AUDIT_ANCHOR_KEY, body) != signature:
            return AnchorReport(
                checked, f"anchor {path.name} has a bad signature (altered or forged)"
            )
        seq = body["seq"]
        if seq:
            event = AuditEvent.objects.filter(seq=seq).only("hash").first()
            if event is None:
                return AnchorReport(
                    checked,
                    f"event #{seq}, anchored on {body['date']}, is missing: "
                    "events were removed after the anchor",
                )
            if event.hash != body["hash"]:
                return AnchorReport(
                    checked,
                    f"event #{seq} differs from its anchor of {body['date']}: "
                    "the chain was rewritten",
                )
        checked += 1
    return AnchorReport(checked)
