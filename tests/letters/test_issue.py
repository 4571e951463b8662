"""Issuing a letter: the facts contract, and numbers per kind and year that
never skip and never repeat (a rolled-back letter gives its number back;
the year is the year in Jinan; parallel issuers queue on the sequence)."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from letters import services
from letters.kinds import KINDS, addressee_facts, record_facts
from letters.models import Letter, LetterSequence, OutboundMessage
from letters.services import letter_issue
from repair_flow.models import AuditEvent

TZ = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


@pytest.fixture(autouse=True)
def frozen():
    """2026 in Jinan unless a test travels elsewhere."""
    with time_machine.travel(dt.datetime(2026, 11, 27, 10, tzinfo=TZ), tick=False):
        yield


def acceptance_facts(record) -> dict:
    return {
        "addressee": addressee_facts(record.subject),
        "record": record_facts(record),
        "received_on": "2026-11-20",
    }


def supplement_facts(record) -> dict:
    return {
        **acceptance_facts(record),
        "items": [{"name": "罚款缴纳凭证", "problem": "未提交。"}],
        "deadline": "2026-12-11T17:00:00+08:00",
    }


def issue(kind, record, actor, **kwargs) -> Letter:
    facts = supplement_facts(record) if kind == "supplement" else acceptance_facts(record)
    return letter_issue(kind=kind, facts=facts, record=record, actor=actor, **kwargs)


def nothing_written():
    return (
        Letter.objects.count(),
        LetterSequence.objects.count(),
        OutboundMessage.objects.count(),
        AuditEvent.objects.filter(action="letter.issue").count(),
    ) == (0, 0, 0, 0)


# The facts contract


@pytest.mark.parametrize(
    ("kind", "drop", "named"),
    [
        ("acceptance", "received_on", "received_on"),
        ("refusal_to_accept", "basis", "basis"),
        ("supplement", "deadline", "deadline"),
        ("repair_decision", "effective_on", "effective_on"),
        ("objection_result", "outcome", "outcome"),
        ("revocation", "hearing", "hearing"),
        ("revocation_notice", "statement_due", "statement_due"),
        ("commitment", "record", "record"),
    ],
)
def test_a_missing_required_fact_is_refused_by_name_and_nothing_is_written(
    kind, drop, named, record, applicant, officer
):
    facts = {
        "addressee": addressee_facts(record.subject),
        "record": record_facts(record),
        "received_on": "2026-11-20",
        "reasons": ["理由。"],
        "basis": "《信用修复管理办法》第十条",
        "items": [{"name": "授权委托书", "problem": "未提交。"}],
        "deadline": "2026-12-11T17:00:00+08:00",
        "decision": "予以信用修复。",
        "effective_on": "2026-12-01",
        "outcome": "maintain",
        "repaired_on": "2026-06-01",
        "barred_until": "2029-11-27",
        "facts": "再次受到行政处罚。",
        "trigger": {"source": "false_materials"},
        "hearing": {"noticed_on": "2026-11-20", "statement_due": "2026-11-27T17:00:00+08:00"},
        "statement_due": "2026-12-04T17:00:00+08:00",
    }
    facts = {name: value for name, value in facts.items() if name in KINDS[kind].required}
    del facts[drop]

    with pytest.raises(ValidationError) as refused:
        letter_issue(kind=kind, facts=facts, record=record, actor=officer, recipient=applicant)

    assert named in refused.value.messages[0]
    assert "缺少必填内容" in refused.value.messages[0]
    assert nothing_written()


def test_every_missing_or_empty_fact_is_named_at_once(record, officer):
    facts = {
        "addressee": addressee_facts(record.subject),
        "record": record_facts(record),
        "received_on": "",
        "items": [],
        "deadline": "2026-12-11T17:00:00+08:00",
    }

    with pytest.raises(ValidationError) as refused:
        letter_issue(kind="supplement", facts=facts, record=record, actor=officer)

    assert refused.value.messages == ["补正材料一次性告知书 缺少必填内容：received_on、items"]
    assert nothing_written()


def test_a_list_fact_given_as_text_is_refused_by_name(record, officer):
    facts = {
        **acceptance_facts(record),
        "reasons": "最短公示期未满。",
        "basis": "《信用修复管理办法》第十条",
    }

    with pytest.raises(ValidationError, match="reasons"):
        letter_issue(kind="repair_refusal", facts=facts, record=record, actor=officer)
    assert nothing_written()


def test_the_letter_keeps_the_facts_and_the_remedies_of_its_kind_as_issued(
    record, officer, applicant
):
    letter = issue("acceptance", record, officer, recipient=applicant)

    facts = dict(letter.facts)
    issued_by = facts.pop("issued_by")
    assert facts == {**acceptance_facts(record), "remedies": ""}
    # The issuer as it was when the letter was issued (letters.issuers).
    assert (issued_by["code"], issued_by["name"], issued_by["self_reference"]) == (
        "centre",
        "济南市公共信用信息中心",
        "本中心",
    )
    assert (letter.subject, letter.record, letter.recipient) == (record.subject, record, applicant)
    refusal = letter_issue(
        kind="repair_refusal",
        facts={**acceptance_facts(record), "reasons": ["理由。"], "basis": "《办法》第十条"},
        record=record,
        actor=officer,
    )
    assert refusal.facts["remedies"].startswith("如不服本决定，可以自收到本文书之日起六十日内")


# Numbering


def test_numbers_run_per_kind_from_one_without_gaps(record, officer):
    letters = [issue(kind, record, officer) for kind in ["acceptance"] * 3 + ["supplement"] * 2]

    assert [(letter.kind, letter.year, letter.serial) for letter in letters] == [
        ("acceptance", 2026, 1),
        ("acceptance", 2026, 2),
        ("acceptance", 2026, 3),
        ("supplement", 2026, 1),
        ("supplement", 2026, 2),
    ]
    assert [letter.number for letter in letters] == [
        "济信修受〔2026〕1号",
        "济信修受〔2026〕2号",
        "济信修受〔2026〕3号",
        "济信修补〔2026〕1号",
        "济信修补〔2026〕2号",
    ]
    codes = {letter.verification_code for letter in letters}
    assert len(codes) == 5 and all(len(code) == 12 for code in codes)


def test_a_rolled_back_letter_gives_its_number_back(record, officer):
    first = issue("acceptance", record, officer)

    with pytest.raises(RuntimeError), transaction.atomic():
        doomed = issue("acceptance", record, officer)
        assert doomed.serial == 2
        raise RuntimeError("the case transition failed after the letter was issued")

    again = issue("acceptance", record, officer)
    assert (first.serial, again.serial) == (1, 2)
    assert again.number == "济信修受〔2026〕2号"
    assert list(Letter.objects.order_by("serial").values_list("serial", flat=True)) == [1, 2]
    assert LetterSequence.objects.get(prefix="济信修受", year=2026).last == 2


def test_a_commitment_draft_takes_no_number(record, officer):
    facts = {"addressee": addressee_facts(record.subject), "record": record_facts(record)}

    draft = letter_issue(kind="commitment", facts=facts, record=record, actor=officer, draft=True)
    signed = letter_issue(kind="commitment", facts=facts, record=record, actor=officer)

    assert (draft.number, draft.serial, draft.verification_code) == (None, None, None)
    assert (signed.number, signed.serial) == ("济信诺〔2026〕1号", 1)


def test_drafts_are_only_for_the_commitment(record, officer):
    with pytest.raises(ValidationError, match="只有承诺书有待签署的草稿"):
        issue("acceptance", record, officer, draft=True)
    assert nothing_written()


@pytest.mark.parametrize(
    ("local", "utc", "year"),
    [
        # Just before midnight in Jinan: still 2026 (UTC agrees).
        (dt.datetime(2026, 12, 31, 23, 30, tzinfo=TZ), dt.datetime(2026, 12, 31, 15, 30), 2026),
        # Just after midnight in Jinan: 2027, although UTC is still 31 December.
        (dt.datetime(2027, 1, 1, 0, 30, tzinfo=TZ), dt.datetime(2026, 12, 31, 16, 30), 2027),
    ],
)
def test_the_year_of_the_number_is_the_year_in_jinan(local, utc, year, record, officer):
    assert local == utc.replace(tzinfo=UTC)
    with time_machine.travel(dt.datetime(2026, 6, 1, 9, tzinfo=TZ), tick=False):
        issue("acceptance", record, officer)
        issue("acceptance", record, officer)

    with time_machine.travel(local, tick=False):
        letter = issue("acceptance", record, officer)

    assert letter.issued_at == local
    assert letter.year == year
    expected = 3 if year == 2026 else 1
    assert (letter.serial, letter.number) == (expected, f"济信修受〔{year}〕{expected}号")


def test_a_new_year_restarts_at_one_and_the_old_year_goes_on_where_it_stopped(record, officer):
    late = dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=TZ)
    new_year = dt.datetime(2027, 1, 1, 0, 0, 0, tzinfo=TZ)
    with time_machine.travel(late, tick=False):
        december = [issue("acceptance", record, officer) for _ in range(2)]
    with time_machine.travel(new_year, tick=False):
        january = [issue("acceptance", record, officer) for _ in range(2)]
    # A letter dated back into 2026 (an officer's late entry) continues 2026.
    backdated = issue("acceptance", record, officer, at=late)

    assert [letter.number for letter in december + january + [backdated]] == [
        "济信修受〔2026〕1号",
        "济信修受〔2026〕2号",
        "济信修受〔2027〕1号",
        "济信修受〔2027〕2号",
        "济信修受〔2026〕3号",
    ]
    assert dict(LetterSequence.objects.values_list("year", "last")) == {2026: 3, 2027: 2}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_issuers_get_serials_one_to_two_hundred_without_gap_or_duplicate(
    record, officer, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    # Numbering only: leave rendering to the render tests.
    monkeypatch.setattr(services, "_render_after_commit", lambda letter_pk: None)
    workers, each = 8, 25
    barrier = threading.Barrier(workers)
    errors = []

    def issuer():
        try:
            barrier.wait()
            for _ in range(each):
                issue("acceptance", record, officer)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=issuer) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    serials = sorted(Letter.objects.filter(kind="acceptance").values_list("serial", flat=True))
    assert serials == list(range(1, workers * each + 1))
    numbers = set(Letter.objects.values_list("number", flat=True))
    assert len(numbers) == workers * each
    assert LetterSequence.objects.get(prefix="济信修受", year=2026).last == workers * each


def test_with_a_broker_the_render_goes_to_a_worker_after_commit_not_into_the_request(
    record, officer, django_capture_on_commit_callbacks, settings
):
    """CELERY_BROKER_URL set (scale-out): the letter is queued for a worker, and
    only once the issuing transaction has committed; nothing renders inline."""
    from repair_flow.celery import app

    sent = []
    app.conf.task_always_eager = False
    try:
        original = app.send_task
        app.send_task = lambda name, args=None, kwargs=None, **kw: sent.append((name, list(args)))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            letter = letter_issue(
                kind="acceptance", facts=acceptance_facts(record), record=record, actor=officer
            )
        assert sent == []  # not before the commit
        for callback in callbacks:
            callback()
    finally:
        app.send_task = original
        app.conf.task_always_eager = True
    assert sent == [("letters.render", [letter.pk])]
    letter.refresh_from_db()
    assert letter.status == "pending" and not letter.file
