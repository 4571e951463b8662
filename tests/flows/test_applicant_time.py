"""The applicant's time never counts against the office (domain section 5):
a supplement notice pauses the acceptance clock (never "met" for a decision
not made) and the answer resumes it; an objection's check runs from receipt
(Shandong Social Credit Regulation Art. 39), across National Day 2026 and its
make-up Saturday, with the supplement round paused, and the acceptance notice
states the limit and its date."""

import datetime as dt

import pytest

from flows.cases.review import cases_lapse_due
from flows.models import CaseStatus, ObjectionCase
from letters.models import Letter
from letters.render import render_letter_html
from sla.clocks import clocks_for
from sla.models import ClockState, SlaPolicy
from tests.flows.conftest import at, local, upload
from tests.flows.test_objection_api import file_objection
from tests.flows.test_objection_api import url as objection_url

pytestmark = pytest.mark.django_db

CASES = "/api/v1/repair-cases/"
SECOND = dt.timedelta(seconds=1)
ITEMS = [{"material": "performance_proof", "name": "罚款缴纳凭证", "problem": "照片模糊"}]


def clocks(api, path) -> dict[str, tuple[str, str]]:
    return {
        c["stage"]: (c["state"], c["due_at"][:16].replace("T", " "))
        for c in api.get(path).json()["open_clocks"]
    }


def test_a_supplement_notice_pauses_the_acceptance_clock_and_the_answer_resumes_it(
    apis, posted, drive, now
):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)  # filed Mon 16 Nov 2026 10:00
    path = f"{CASES}{case.pk}/"
    assert clocks(apis.staff, path)["acceptance"] == ("running", "2026-11-18 17:00")
    now.move_to(at("2026-11-16 11:00"))
    response = posted(apis.staff, f"{path}supplement-request/", {"items": ITEMS})
    assert response.status_code == 200, response.json()
    # Paused with its deadline as it stood, not stopped as met.
    assert clocks(apis.staff, path)["acceptance"] == ("paused", "2026-11-18 17:00")
    acceptance = clocks_for(case).get(stage="acceptance")
    assert acceptance.stopped_at is None and acceptance.on_time is None
    assert clocks_for(case).get(stage="preliminary_review").state == ClockState.MET

    # The applicant takes until Fri 20 Nov 15:00; Tue 17 and Wed 18 were still
    # owed, so 16 working hours run on: Fri 15-17, Mon 23, Tue 24 9-15.
    now.move_to(at("2026-11-20 15:00"))
    apis.mine.post(
        f"{path}materials/",
        {"kind": "performance_proof", "file": upload("凭证.pdf")},
        format="multipart",
    )
    assert posted(apis.mine, f"{path}supplement-answer/").status_code == 200
    assert clocks(apis.staff, path)["acceptance"] == ("running", "2026-11-24 15:00")
    acceptance.refresh_from_db()
    [pause] = acceptance.pauses.all()
    assert (local(pause.started_at), local(pause.ended_at)) == (
        "2026-11-16 11:00",
        "2026-11-20 15:00",
    )
    assert pause.reason == "等待申请人补正材料"

    # Accepted just before the pushed deadline: on time.
    now.move_to(at("2026-11-24 14:59"))
    posted(apis.staff, f"{path}claim/")
    assert posted(apis.staff, f"{path}accept/").status_code == 200
    acceptance.refresh_from_db()
    assert acceptance.state == ClockState.MET


def test_a_case_that_lapses_while_paused_has_no_acceptance_met(apis, posted, drive, now):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    path = f"{CASES}{case.pk}/"
    assert posted(apis.staff, f"{path}supplement-request/", {"items": ITEMS}).status_code == 200
    # The window ends Mon 30 Nov 17:00: a second before, the case still waits.
    assert cases_lapse_due(now=at("2026-11-30 17:00") - SECOND) == 0
    assert cases_lapse_due(now=at("2026-11-30 17:00")) == 0
    assert cases_lapse_due(now=at("2026-11-30 17:00") + SECOND) == 1
    states = dict(clocks_for(case).values_list("stage", "state"))
    assert states["acceptance"] == ClockState.CANCELLED
    assert states["supplement"] == ClockState.BREACHED


# Art. 39 across National Day 2026 (1-7 Oct off, Sat 10 Oct a working day).
# Received Tue 29 Sep 10:00; the notice at 11:00 the same day; the answer
# Thu 8 Oct 09:00 (Wed 30 Sep, a whole working day, was the applicant's);
# accepted Fri 9 Oct 10:00.
#   own scope, 3 days: 30 Sep, 8, 9 Oct -> 9 Oct 17:00, plus the applicant's
#     working day -> Sat 10 Oct 17:00 (counted from acceptance it would be 13 Oct)
#   another unit, 7 days: 30 Sep, 8, 9, 10, 12, 13, 14 Oct -> plus one -> 15 Oct 17:00
DUE = {"platform": "2026-10-10 17:00", "department": "2026-10-15 17:00"}


def objection_accepted(apis, posted, record, now, scope: str) -> int:
    now.move_to(at("2026-09-29 10:00"))
    case_id = file_objection(apis.mine, posted, record)
    now.move_to(at("2026-09-29 11:00"))
    posted(apis.staff, objection_url(case_id, "claim"))
    notice = {"items": [{"material": "evidence", "name": "处罚决定书", "problem": "模糊"}]}
    assert (
        posted(apis.staff, objection_url(case_id, "supplement-request"), notice).status_code == 200
    )
    now.move_to(at("2026-10-08 09:00"))
    response = apis.mine.post(
        objection_url(case_id, "materials"),
        {"kind": "evidence", "file": upload("清晰版.pdf")},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert posted(apis.mine, objection_url(case_id, "supplement-answer")).status_code == 200
    now.move_to(at("2026-10-09 10:00"))
    posted(apis.staff, objection_url(case_id, "claim"))
    response = posted(apis.staff, objection_url(case_id, "accept"), {"scope": scope})
    assert response.status_code == 200, response.json()
    return case_id


@pytest.mark.parametrize("scope", ["platform", "department"])
def test_the_check_runs_from_receipt_with_the_supplement_round_paused(
    apis, posted, record, now, scope
):
    case_id = objection_accepted(apis, posted, record, now, scope)
    stage = {"platform": "objection_own", "department": "objection_other"}[scope]
    assert clocks(apis.staff, objection_url(case_id)) == {stage: ("running", DUE[scope])}
    clock = clocks_for(ObjectionCase.objects.get(pk=case_id)).get(stage=stage)
    assert local(clock.started_at) == "2026-09-29 10:00"  # receipt, not acceptance
    [pause] = clock.pauses.all()
    assert (local(pause.started_at), local(pause.ended_at)) == (
        "2026-09-29 11:00",
        "2026-10-08 09:00",
    )
    assert pause.paused_seconds == 8 * 3600

    # The acceptance notice states the limit, from receipt, and its date.
    letter = Letter.objects.get(
        kind="acceptance", case_label=ObjectionCase.objects.get(pk=case_id).label
    )
    days = {"platform": 3, "department": 7}[scope]
    assert letter.facts["time_limit"]["days"] == days
    text = render_letter_html(letter)
    due_text = {"platform": "2026年10月10日17时00分", "department": "2026年10月15日17时00分"}
    assert (
        f"依据《山东省社会信用条例》第三十九条，本中心自收到异议申请之日起{days}个工作日内"
        f"（收到次日起算，补正材料期间不计入）处理完毕，办理期限至{due_text[scope]}。"
    ) in text


@pytest.mark.parametrize(
    ("offset", "state"),
    [(-SECOND, ClockState.MET), (dt.timedelta(0), ClockState.MET), (SECOND, ClockState.BREACHED)],
    ids=["just-before", "at", "just-after"],
)
def test_the_check_decided_around_its_deadline(apis, posted, record, now, offset, state):
    case_id = objection_accepted(apis, posted, record, now, "platform")
    posted(apis.staff, objection_url(case_id, "claim"))
    now.move_to(at(DUE["platform"]) + offset)
    maintain = {"reasons": ["经核查，该记录与处罚决定书内容一致"], "basis": "第三十九条"}
    response = posted(apis.staff, objection_url(case_id, "maintain"), maintain)
    assert response.status_code == 200, response.json()
    clock = clocks_for(ObjectionCase.objects.get(pk=case_id)).get(stage="objection_own")
    assert clock.state == state


def test_the_policies_say_where_the_period_starts_and_flag_the_supplement_rule():
    own = SlaPolicy.objects.get(stage="objection_own")
    assert own.legal_basis.startswith("《山东省社会信用条例》第三十九条：自收到异议申请之日起")
    assert "未经核实" in own.legal_basis and own.unconfirmed
    assert "自撤销或变更之日起" in SlaPolicy.objects.get(stage="record_change").legal_basis


def test_the_check_explains_itself_from_receipt(apis, posted, record, now):
    case_id = objection_accepted(apis, posted, record, now, "platform")
    clock = clocks_for(ObjectionCase.objects.get(pk=case_id)).get(stage="objection_own")
    response = apis.staff.get(f"/api/v1/sla/clocks/{clock.pk}/explain/")
    assert response.status_code == 200
    lines = [line["text"] for line in response.json()["lines"]]
    assert lines[0].startswith(
        "开始计时：2026-09-29 周二 10:00；规则：3 个工作日"
        "（《山东省社会信用条例》第三十九条：自收到异议申请之日起 3 个工作日内处理"
    )
    assert "该时限为合理默认值，法律依据尚未核实" in lines
    assert (
        "暂停：2026-09-29 周二 11:00 至 2026-10-08 周四 09:00（等待申请人补正材料），"
        "其间计时 8.0 小时，期限顺延至 2026-10-10 周六 17:00"
    ) in lines
    assert lines[-1] == "期限：2026-10-10 周六 17:00"
    assert response.json()["clock"]["started_at"] == "2026-09-29T10:00:00+08:00"
