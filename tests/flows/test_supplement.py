"""One-time notification (一次性告知): one notice listing everything, the
applicant's 10-working-day window, resubmission, lapse, and the supervisor's
override for a second notice."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from flows.cases.materials import case_material_add
from flows.cases.review import (
    cases_lapse_due,
    preliminary_review_claim,
    supplement_answer,
    supplement_request,
)
from flows.cases.withdrawal import case_withdraw
from flows.models import CaseEvent, CaseMaterial, CaseStatus, SupplementRequest
from letters.models import Letter
from repair_flow.models import AuditEvent
from sla.clocks import clocks_for
from sla.models import ClockState, SlaClock
from tests.flows.conftest import at, local, upload

pytestmark = pytest.mark.django_db

ITEMS = [
    {"material": "performance_proof", "problem": "缴款凭证模糊，无法辨认金额"},
    {"material": "identity_document", "name": "营业执照副本", "problem": "营业执照已过期"},
]
DEADLINE = at("2026-11-30 17:00")  # 10 working days from Mon 16 Nov, not counting that day
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
def in_review(drive):
    return drive(CaseStatus.IN_PRELIMINARY_REVIEW)


@pytest.fixture
def awaiting(in_review, officer):
    supplement_request(officer=officer, case=in_review, items=ITEMS)
    in_review.refresh_from_db()
    return in_review


def answer_all(case, applicant, items=ITEMS):
    for item in items:
        case_material_add(
            case=case, user=applicant, kind=item["material"], upload=upload("补正.pdf")
        )
    return supplement_answer(applicant=applicant, case=case)


def test_one_notice_lists_every_item_with_the_deadline(in_review, officer):
    request = supplement_request(officer=officer, case=in_review, items=ITEMS)
    in_review.refresh_from_db()
    assert (in_review.status, in_review.supplement_count) == ("awaiting_supplement", 1)
    assert request.deadline == DEADLINE
    assert request.items == [
        {"material": "performance_proof", "name": "履行义务证明", "problem": ITEMS[0]["problem"]},
        {"material": "identity_document", "name": "营业执照副本", "problem": "营业执照已过期"},
    ]
    letter = request.letter
    assert (letter.kind, letter.number, letter.recipient) == (
        "supplement",
        "济信修补〔2026〕1号",
        in_review.applicant,
    )
    assert letter.facts["items"] == [
        {"name": "履行义务证明", "problem": ITEMS[0]["problem"]},
        {"name": "营业执照副本", "problem": "营业执照已过期"},
    ]
    assert letter.facts["deadline"] == "2026-11-30T17:00:00+08:00"
    assert Letter.objects.filter(kind="supplement").count() == 1
    clocks = {c.stage: c for c in clocks_for(in_review)}
    assert clocks["preliminary_review"].state == ClockState.MET
    assert clocks["supplement"].state == ClockState.RUNNING
    assert clocks["supplement"].due_at == DEADLINE


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "请列明需要补正的全部材料及其问题。"),
        ([{"material": "performance_proof", "problem": " "}], "第 1 项没有写明问题。"),
        ([{"material": "photo", "problem": "看不清"}], "第 1 项没有写明补正哪种材料。"),
    ],
)
def test_a_notice_without_items_or_problems_is_refused(in_review, officer, items, message):
    with pytest.raises(ValidationError) as refused:
        supplement_request(officer=officer, case=in_review, items=items)
    assert refused.value.messages == [message]
    in_review.refresh_from_db()
    assert in_review.status == CaseStatus.IN_PRELIMINARY_REVIEW
    assert not SupplementRequest.objects.exists()
    assert not Letter.objects.filter(kind="supplement").exists()
    assert not SlaClock.objects.filter(stage="supplement").exists()


def test_the_answer_resumes_the_preliminary_review_on_a_new_clock(awaiting, applicant, now):
    now.move_to(at("2026-11-20 15:00"))
    case = answer_all(awaiting, applicant)
    assert case.status == CaseStatus.RESUBMITTED
    assert list(CaseMaterial.objects.filter(case=case, round=1).values_list("kind", flat=True)) == [
        "performance_proof",
        "identity_document",
    ]
    assert SupplementRequest.objects.get().answered_at == at("2026-11-20 15:00")
    clocks = [
        (c.stage, c.state, local(c.due_at)) for c in clocks_for(case).order_by("started_at", "id")
    ]
    # The acceptance clock paused at the notice (Tue 17 and Wed 18 left) and
    # runs on from Fri 15:00 with those 16 working hours: Tue 24 Nov 15:00.
    assert clocks == [
        ("preliminary_review", "met", "2026-11-16 17:00"),
        ("acceptance", "running", "2026-11-24 15:00"),
        ("supplement", "met", "2026-11-30 17:00"),
        ("preliminary_review", "running", "2026-11-20 17:00"),
    ]
    events = list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))
    assert events[-2:] == ["request_supplement", "resubmit"]


def test_an_incomplete_answer_is_refused_naming_what_is_missing(awaiting, applicant):
    case_material_add(
        case=awaiting, user=applicant, kind="performance_proof", upload=upload("补正.pdf")
    )
    with pytest.raises(ValidationError) as refused:
        supplement_answer(applicant=applicant, case=awaiting)
    assert refused.value.messages == ["还有补正材料未上传：营业执照副本。"]
    awaiting.refresh_from_db()
    assert awaiting.status == CaseStatus.AWAITING_SUPPLEMENT
    assert clocks_for(awaiting).get(stage="supplement").state == ClockState.RUNNING


def test_only_the_requested_kinds_may_be_uploaded_in_the_supplement(awaiting, applicant):
    with pytest.raises(ValidationError) as refused:
        case_material_add(
            case=awaiting, user=applicant, kind="application_form", upload=upload("申请书.pdf")
        )
    assert refused.value.messages == ["文件“申请书.pdf”：补正告知书没有要求补正“信用修复申请书”。"]
    assert not CaseMaterial.objects.filter(round=1).exists()


def test_a_second_notice_is_refused_without_a_supervisor(awaiting, applicant, officer, supervisor):
    answer_all(awaiting, applicant)
    preliminary_review_claim(officer=officer, case=awaiting)
    letters, events = Letter.objects.count(), CaseEvent.objects.count()
    attempts = [
        {},
        {"supervisor": supervisor},  # no reason
        {"supervisor": officer, "override_reason": "材料仍有问题"},  # not a supervisor
    ]
    for extra in attempts:
        with pytest.raises(ValidationError):
            supplement_request(officer=officer, case=awaiting, items=ITEMS[:1], **extra)
    assert SupplementRequest.objects.count() == 1
    assert (Letter.objects.count(), CaseEvent.objects.count()) == (letters, events)
    awaiting.refresh_from_db()
    assert (awaiting.status, awaiting.supplement_count) == ("in_preliminary_review", 1)
    assert clocks_for(awaiting).filter(stage="preliminary_review", stopped_at=None).exists()


def test_a_supervisor_may_override_and_the_override_is_recorded(
    awaiting, applicant, officer, supervisor
):
    answer_all(awaiting, applicant)
    preliminary_review_claim(officer=officer, case=awaiting)
    request = supplement_request(
        officer=officer,
        case=awaiting,
        items=ITEMS[:1],
        supervisor=supervisor,
        override_reason="补正的缴款凭证属于另一处罚决定",
    )
    assert (request.override_by, request.override_reason) == (
        supervisor,
        "补正的缴款凭证属于另一处罚决定",
    )
    assert request.letter.number == "济信修补〔2026〕2号"
    awaiting.refresh_from_db()
    assert (awaiting.status, awaiting.supplement_count) == ("awaiting_supplement", 2)
    override = AuditEvent.objects.get(action="flows.supplement.override")
    assert override.actor == supervisor
    assert override.summary["reason"] == "补正的缴款凭证属于另一处罚决定"
    assert (
        CaseEvent.objects.filter(case=awaiting).last().comment == "补正的缴款凭证属于另一处罚决定"
    )
    # The first notice keeps no override; the overrides are countable.
    assert SupplementRequest.objects.exclude(override_by=None).count() == 1


@pytest.mark.parametrize(
    ("when", "lapsed"),
    [(DEADLINE - SECOND, False), (DEADLINE, False), (DEADLINE + SECOND, True)],
)
def test_a_case_lapses_only_after_its_supplement_deadline(awaiting, now, when, lapsed):
    now.move_to(when)
    assert cases_lapse_due(now=when) == int(lapsed)
    awaiting.refresh_from_db()
    assert awaiting.status == ("lapsed" if lapsed else "awaiting_supplement")
    clock = clocks_for(awaiting).get(stage="supplement")
    if lapsed:
        assert (clock.state, clock.stopped_at) == (ClockState.BREACHED, when)
        assert awaiting.closed_at == when
        event = CaseEvent.objects.filter(case=awaiting).last()
        assert (event.action, event.actor, event.to_status) == ("lapse", None, "lapsed")
        # A second sweep finds nothing more to do.
        assert cases_lapse_due(now=when + dt.timedelta(hours=1)) == 0
        assert CaseEvent.objects.filter(case=awaiting, action="lapse").count() == 1
    else:
        assert clock.state == ClockState.RUNNING


def test_answered_or_withdrawn_cases_never_lapse(awaiting, applicant, now):
    case_withdraw(applicant=applicant, case=awaiting, reason="不再申请")
    later = DEADLINE + dt.timedelta(days=1)
    now.move_to(later)
    assert cases_lapse_due(now=later) == 0
    awaiting.refresh_from_db()
    assert awaiting.status == CaseStatus.WITHDRAWN
    assert clocks_for(awaiting).get(stage="supplement").state == ClockState.CANCELLED


def test_an_answer_after_the_deadline_is_refused(awaiting, applicant, now):
    for item in ITEMS:
        case_material_add(
            case=awaiting, user=applicant, kind=item["material"], upload=upload("补正.pdf")
        )
    now.move_to(DEADLINE + SECOND)
    with pytest.raises(ValidationError) as refused:
        supplement_answer(applicant=applicant, case=awaiting)
    assert refused.value.messages == ["补正期限已于 2026-11-30 17:00 届满，申请已逾期。"]
    awaiting.refresh_from_db()
    assert awaiting.status == CaseStatus.AWAITING_SUPPLEMENT


def test_the_applicant_is_emailed_once_when_their_case_lapses(awaiting, applicant, now):
    from letters.models import OutboundMessage

    applicant.email = "zhangwei@example.com"
    applicant.save(update_fields=["email"])
    later = DEADLINE + SECOND
    now.move_to(later)
    assert cases_lapse_due(now=later) == 1
    assert cases_lapse_due(now=later) == 0
    message = OutboundMessage.objects.get(idempotency_key=f"repair_case:{awaiting.pk}:lapsed")
    assert message.to == "zhangwei@example.com"
    assert awaiting.number in message.subject and "逾期未补正" in message.subject
    assert "2026-11-30 17:00" in message.body and awaiting.record.decision_number in message.body


def test_lapsing_runs_every_minute_from_the_scheduler_and_celery_beat(awaiting, now, settings):
    from flows.tasks import lapse_due
    from repair_flow.scheduler import JOBS, run_job

    job = next(j for j in JOBS if j.name == "flows-lapse-due")
    entry = settings.CELERY_BEAT_SCHEDULE["flows-lapse-due"]
    assert (job.every_seconds, entry["task"], entry["schedule"]) == (60, "flows.lapse_due", 60.0)
    now.move_to(DEADLINE)
    assert run_job(job) == "0 repair cases lapsed"
    now.move_to(DEADLINE + SECOND)
    assert lapse_due.apply().get() == "1 repair cases lapsed"
    awaiting.refresh_from_db()
    assert awaiting.status == CaseStatus.LAPSED
