"""How fast the keyed audit chain is written, verified and anchored.

    .venv/bin/python -m pytest tests/bench/bench_audit_chain.py -s -p no:cacheprovider -o addopts=""
    BENCH_EVENTS=1000000 ...                      # more events (default 100,000)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/repair_flow_audit ...

Timed: appending BENCH_EVENTS events in batches of 1,000 (audit_record_many,
one transaction a batch, an HMAC each); `manage.py verify_audit` over the
whole chain (payload digest and HMAC per event, then the anchors); the daily
anchor job (which verifies the chain before it anchors). No target: the
figures say how long a nightly verification of a year's trail takes.
"""

import io
import os
import time

import pytest
from django.core.management import call_command
from django.db import transaction

from repair_flow.anchors import audit_anchor_write
from repair_flow.audit import AuditEntry, audit_record_many

EVENTS = int(os.environ.get("BENCH_EVENTS", "100000"))
BATCH = 1000


@pytest.mark.django_db(transaction=True)
def test_bench_audit_chain(settings, tmp_path):
    settings.AUDIT_ANCHOR_DIR = tmp_path / "anchors"
    summary = {"before": {"status": "published"}, "after": {"status": "repaired"}, "reason": "x"}
    started = time.perf_counter()
    for first in range(0, EVENTS, BATCH):
        with transaction.atomic():
            audit_record_many(
                actor="bench",
                entries=[
                    AuditEntry("records.status", "records.CreditRecord", str(i), summary)
                    for i in range(first, min(first + BATCH, EVENTS))
                ],
            )
    write = time.perf_counter() - started

    started = time.perf_counter()
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    verify = time.perf_counter() - started
    assert f"{EVENTS} events verified" in out.getvalue()

    started = time.perf_counter()
    result = audit_anchor_write()
    anchor = time.perf_counter() - started
    assert result.written is not None

    print(
        f"\naudit chain, {EVENTS:,} events: write {write:.2f} s ({EVENTS / write:,.0f}/s), "
        f"verify_audit {verify:.2f} s ({EVENTS / verify:,.0f}/s), anchor job {anchor:.2f} s"
    )
