"""Two people (or two sweeps) acting on one case at the same instant: the row
lock in each service makes one of them go first and the other see its result,
so the case, its viewflow task, its SLA clocks and its timeline always agree.

Every test starts both sides from one barrier. A `first` argument lets one
side finish before the other starts, so each order is exercised every run as
well as the true race (where one side waits on the other's row lock).

PostgreSQL only: SQLite serialises writers, so nothing would race there.
"""

import datetime as dt
import threading
from collections import Counter
from itertools import pairwise

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from flows.cases.assignment import case_reassign, case_release
from flows.cases.materials import case_material_add
from flows.cases.review import (
    cases_lapse_due,
    preliminary_review_claim,
    supplement_answer,
    supplement_request,
)
from flows.cases.withdrawal import case_withdraw
from flows.models import CaseEvent, CaseStatus, RepairCase, RepairProcess
from flows.repair.services import (
    department_review_claim,
    preliminary_review_accept,
    repair_case_submit,
)
from letters.models import Commitment, CommitmentStatus, OutboundMessage
from records.models import DepartmentMembership
from repair_flow.audit import verify_chain
from repair_flow.models import Role
from sla.clocks import clocks_for
from tests.conftest import make_record, make_user
from tests.flows.conftest import draft_with_materials, upload

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrency needs PostgreSQL (DATABASE_URL=postgres://...): "
        "SQLite serialises writers, so nothing races",
    ),
]

ORDERS = [None, 0, 1]  # the true race, then each side first
ITEMS = [{"material": "performance_proof", "problem": "缴款凭证模糊"}]
SECOND = dt.timedelta(seconds=1)
OPEN = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)


def race(*calls, first: int | None = None) -> list[object]:
    """Run `calls` in threads released by one barrier; each one's return value
    or exception, in the order given. Each thread closes its own connection.
    With `first`, the others start once that one has returned: a head start
    of a fixed time lost the order on a loaded CI machine, where the first
    side's first call took longer than the head start."""
    outcomes: list[object] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))
    first_done = threading.Event()

    def run(i, call):
        try:
            barrier.wait()
            if first is not None and i != first:
                # Nothing else runs meanwhile, so the first cannot wait on us.
                first_done.wait(timeout=60)
            outcomes[i] = call()
        except Exception as exc:
            outcomes[i] = exc
        finally:
            if i == first:
                first_done.set()
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a racer is stuck (deadlock?)"
    return outcomes


def failed(outcome) -> bool:
    return isinstance(outcome, Exception)


def code_of(outcome) -> str | None:
    assert isinstance(outcome, ValidationError), repr(outcome)
    return outcome.code


def open_tasks(case) -> list[Task]:
    return list(
        Task.objects.filter(process__repairprocess__case=case, status__in=OPEN)
        .select_related("owner")
        .order_by("id")
    )


def timeline(case) -> list[str]:
    """The case's timeline actions, after checking that the rows chain (each
    starts where the last ended, the last ends at the case's status) and that
    no transition was written twice in a row."""
    case.refresh_from_db()
    events = list(CaseEvent.objects.filter(case=case).order_by("id"))
    for before, after in pairwise(events):
        assert after.from_status == before.to_status, (before, after)
        assert (after.action, after.to_status) != (before.action, before.to_status), (before, after)
    assert events[-1].to_status == case.status
    return [e.action for e in events]


def assert_held(case, *, node: str, holder_field: str, stage: str, holder) -> None:
    """The case, its one open human task and its SLA clock name the same
    holder (None: back in the queue, the task unclaimed)."""
    case.refresh_from_db()
    assert getattr(case, f"{holder_field}_id") == getattr(holder, "pk", None)
    tasks = open_tasks(case)
    assert [t.flow_task.name for t in tasks] == [node]
    task = tasks[0]
    if holder is None:
        assert (task.status, task.owner_id) == (STATUS.NEW, None)
    else:
        assert (task.status, task.owner_id) == (STATUS.ASSIGNED, holder.pk)
    clock = clocks_for(case).get(stage=stage, stopped_at=None)
    assert clock.assignee_id == getattr(holder, "pk", None)
    assert verify_chain().broken_at is None


def assert_officer(case, holder) -> None:
    assert_held(
        case,
        node="preliminary_review",
        holder_field="officer",
        stage="preliminary_review",
        holder=holder,
    )
    queued = CaseStatus.SUBMITTED if holder is None else CaseStatus.IN_PRELIMINARY_REVIEW
    assert case.status == queued


@pytest.fixture
def submitted(applicant, record):
    return repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))


@pytest.fixture
def claimed(submitted, officer):
    return preliminary_review_claim(officer=officer, case=submitted)


# 1. Two officers claim one case ---------------------------------------------------
# (test_permissions.py races the case row; here: the loser's code and the flow's task)


@pytest.mark.parametrize("first", ORDERS)
def test_two_officers_claim_one_case_the_task_goes_to_the_winner(
    submitted, officer, second_officer, first
):
    outcomes = race(
        lambda: preliminary_review_claim(officer=officer, case=submitted),
        lambda: preliminary_review_claim(officer=second_officer, case=submitted),
        first=first,
    )
    winners = [u for u, o in zip((officer, second_officer), outcomes, strict=True) if not failed(o)]
    losers = [o for o in outcomes if failed(o)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert code_of(losers[0]) == "taken"
    if first is not None:
        assert winners[0] == (officer, second_officer)[first]
    assert_officer(submitted, winners[0])
    assert timeline(submitted) == ["submit", "claim_preliminary_review"]
    event = CaseEvent.objects.get(case=submitted, action="claim_preliminary_review")
    assert event.actor_id == winners[0].pk


# 2. An officer claims while a supervisor assigns the queued case to another ---------


@pytest.mark.parametrize("first", ORDERS)
def test_a_claim_and_a_supervisors_assignment_of_a_queued_case(
    submitted, officer, second_officer, supervisor, first
):
    claim, assign = race(
        lambda: preliminary_review_claim(officer=officer, case=submitted),
        lambda: case_reassign(
            supervisor=supervisor, case=submitted, assignee=second_officer, reason="按片区分配"
        ),
        first=first,
    )
    # Whichever goes first, the supervisor's word is the last: the claim is
    # either refused (already assigned) or taken over by the reassignment.
    assert not failed(assign), assign
    if failed(claim):
        assert first != 0
        assert code_of(claim) == "taken"
        assert timeline(submitted) == ["submit", "claim_preliminary_review"]
        assert CaseEvent.objects.get(action="claim_preliminary_review").actor == supervisor
    else:
        assert first != 1
        assert timeline(submitted) == ["submit", "claim_preliminary_review", "reassign"]
        assert CaseEvent.objects.get(action="claim_preliminary_review").actor == officer
    assert_officer(submitted, second_officer)


# 3. The holder releases while a supervisor reassigns ---------------------------------


@pytest.mark.parametrize("first", ORDERS)
def test_the_holder_releases_while_a_supervisor_reassigns(
    claimed, officer, second_officer, supervisor, first
):
    release, reassign = race(
        lambda: case_release(user=officer, case=claimed),
        lambda: case_reassign(
            supervisor=supervisor, case=claimed, assignee=second_officer, reason="刘洋请假"
        ),
        first=first,
    )
    actions = ["submit", "claim_preliminary_review"]
    if failed(release):
        # The reassignment went first: the releaser no longer holds the case.
        assert first != 0
        assert isinstance(release, PermissionDenied), repr(release)
        assert not failed(reassign), reassign
        assert timeline(claimed) == [*actions, "reassign"]
        assert_officer(claimed, second_officer)
    elif failed(reassign):
        # Only if the reassignment could not find a case to give (not expected:
        # a released case waits in the queue, which a supervisor may assign).
        pytest.fail(f"reassignment after the release refused: {reassign!r}")
    else:
        # The release went first; the supervisor then assigned the queued case.
        assert first != 1
        assert timeline(claimed) == [
            *actions,
            "release_preliminary_review",
            "claim_preliminary_review",
        ]
        assert_officer(claimed, second_officer)


# 4. Two reviewers of the issuing department claim one accepted case -----------------


@pytest.mark.parametrize("first", ORDERS)
def test_two_reviewers_claim_one_accepted_case(drive, reviewer, department, first):
    colleague = make_user("reviewer2", Role.REVIEWER, first_name="周婷")
    DepartmentMembership.objects.create(user=colleague, department=department)
    case = drive(CaseStatus.ACCEPTED)
    before = timeline(case)
    outcomes = race(
        lambda: department_review_claim(reviewer=reviewer, case=case),
        lambda: department_review_claim(reviewer=colleague, case=case),
        first=first,
    )
    winners = [u for u, o in zip((reviewer, colleague), outcomes, strict=True) if not failed(o)]
    losers = [o for o in outcomes if failed(o)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert code_of(losers[0]) == "taken"
    if first is not None:
        assert winners[0] == (reviewer, colleague)[first]
    assert_held(
        case,
        node="department_review",
        holder_field="reviewer",
        stage="department_review",
        holder=winners[0],
    )
    assert case.status == CaseStatus.IN_DEPARTMENT_REVIEW
    assert timeline(case) == [*before, "claim_department_review"]


# 5. The supplement answer against the lapse sweep, at the deadline -----------------


@pytest.fixture
def awaiting(claimed, officer, applicant):
    request = supplement_request(officer=officer, case=claimed, items=ITEMS)
    case_material_add(case=claimed, user=applicant, kind="performance_proof", upload=upload())
    claimed.refresh_from_db()
    assert claimed.status == CaseStatus.AWAITING_SUPPLEMENT
    return claimed, request


@pytest.mark.parametrize("first", ORDERS)
@pytest.mark.parametrize(
    ("answer_at", "sweep_at"),
    [
        pytest.param(SECOND, SECOND, id="one-second-late"),
        pytest.param(dt.timedelta(0), dt.timedelta(0), id="at-the-deadline"),
        # The applicant's request arrived on the last instant, the sweep ran a
        # second later and locked the case first (or not): one of them, never both.
        pytest.param(dt.timedelta(0), SECOND, id="answer-on-time-sweep-late"),
    ],
)
def test_the_supplement_answer_races_the_lapse_sweep(
    awaiting, applicant, now, answer_at, sweep_at, first
):
    case, request = awaiting
    deadline = request.deadline
    now.move_to(deadline + sweep_at)
    answer, lapsed = race(
        lambda: supplement_answer(applicant=applicant, case=case, at=deadline + answer_at),
        lambda: cases_lapse_due(now=deadline + sweep_at),
        first=first,
    )
    assert not failed(lapsed), lapsed
    case.refresh_from_db()
    request.refresh_from_db()
    actions = timeline(case)
    assert actions[:3] == ["submit", "claim_preliminary_review", "request_supplement"]
    if failed(answer):
        # Refused as late (or the case had lapsed already); the case lapsed once.
        assert code_of(answer) in ("late", "wrong_status")
        assert lapsed == 1
        assert case.status == CaseStatus.LAPSED
        assert request.answered_at is None
        assert actions[-1] == "lapse" and actions.count("lapse") == 1
        assert "resubmit" not in actions
        assert open_tasks(case) == []
        assert not clocks_for(case).filter(stopped_at=None).exists()
        assert RepairProcess.objects.get(case=case).status == PROCESS.DONE
    else:
        # Answered in time: no lapse, back in the officers' queue.
        assert lapsed == 0
        assert case.status == CaseStatus.RESUBMITTED
        assert request.answered_at == deadline + answer_at
        assert actions[-1] == "resubmit" and "lapse" not in actions
        assert [(t.flow_task.name, t.status, t.owner_id) for t in open_tasks(case)] == [
            ("preliminary_review", STATUS.NEW, None)
        ]
        running = clocks_for(case).filter(stopped_at=None)
        assert sorted(running.values_list("stage", flat=True)) == [
            "acceptance",
            "preliminary_review",
        ]
        assert clocks_for(case).get(stage="supplement").stopped_at == deadline + answer_at
    if answer_at > dt.timedelta(0):
        assert failed(answer)  # a second late is late, whoever goes first
    if sweep_at == dt.timedelta(0):
        assert not failed(answer)  # at the deadline the answer is in time: no lapse
    assert verify_chain().broken_at is None


# 6. Two lapse sweeps at once -----------------------------------------------------------


def test_two_lapse_sweeps_lapse_each_case_once(applicant, department, enterprise, officer, now):
    applicant.email = "zhangwei@example.com"
    applicant.save(update_fields=["email"])
    cases, deadlines = [], []
    for n in range(5):
        record = make_record(
            department=department, subject=enterprise, decision_number=f"济市监罚〔2026〕{n + 1}号"
        )
        case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
        preliminary_review_claim(officer=officer, case=case)
        deadlines.append(supplement_request(officer=officer, case=case, items=ITEMS).deadline)
        cases.append(case)
    later = max(deadlines) + SECOND
    now.move_to(later)

    outcomes = race(lambda: cases_lapse_due(now=later), lambda: cases_lapse_due(now=later))
    assert not any(failed(o) for o in outcomes), outcomes
    assert sum(outcomes) == 5, outcomes

    for case in cases:
        case.refresh_from_db()
        assert case.status == CaseStatus.LAPSED
        actions = timeline(case)
        assert actions.count("lapse") == 1 and actions[-1] == "lapse"
        assert open_tasks(case) == []
        assert not clocks_for(case).filter(stopped_at=None).exists()
        assert RepairProcess.objects.get(case=case).status == PROCESS.DONE
        closed = Task.objects.filter(process__repairprocess__case=case, flow_task_type="END")
        assert closed.count() == 1
    keys = Counter(OutboundMessage.objects.values_list("idempotency_key", flat=True))
    lapse_keys = {k: v for k, v in keys.items() if k.endswith(":lapsed")}
    assert lapse_keys == {f"repair_case:{c.pk}:lapsed": 1 for c in cases}
    assert CaseEvent.objects.filter(action="lapse").count() == 5
    assert verify_chain().broken_at is None


# 7. The applicant withdraws while the officer accepts --------------------------------


@pytest.mark.parametrize("first", ORDERS)
def test_the_applicant_withdraws_while_the_officer_accepts(
    claimed, applicant, officer, record, first
):
    accept, withdraw = race(
        lambda: preliminary_review_accept(officer=officer, case=claimed),
        lambda: case_withdraw(applicant=applicant, case=claimed, reason="不再申请"),
        first=first,
    )
    claimed.refresh_from_db()
    actions = timeline(claimed)
    assert actions.count("withdraw") <= 1 and actions.count("accept") <= 1
    if failed(accept):
        # The withdrawal went first: nothing was accepted.
        assert first != 0
        assert not failed(withdraw), withdraw
        assert code_of(accept) == "wrong_status"
        assert actions[-1] == "withdraw" and "accept" not in actions
    elif failed(withdraw):
        # The acceptance went first and the withdrawal was refused (not
        # expected: an accepted case may still be withdrawn).
        assert first != 1
        assert claimed.status == CaseStatus.ACCEPTED
        pytest.fail(f"withdrawal after acceptance refused: {withdraw!r}")
    else:
        # Accepted, then withdrawn.
        assert first != 1
        assert actions[-2:] == ["accept", "withdraw"]
    # The commitment was signed with the filing: the subject did commit, so it stays.
    assert list(Commitment.objects.filter(record=record).values_list("status", flat=True)) == [
        CommitmentStatus.SIGNED
    ]
    assert claimed.status == CaseStatus.WITHDRAWN
    assert open_tasks(claimed) == []
    assert not clocks_for(claimed).filter(stopped_at=None).exists()
    assert RepairProcess.objects.get(case=claimed).status == PROCESS.CANCELED
    assert RepairCase.objects.filter(record=record).exclude(status="withdrawn").count() == 0
    assert verify_chain().broken_at is None
