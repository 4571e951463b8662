"""Cases issue their letters in the deciding body's name (issue 15): the
platform's steps as the institution, the department's decisions as the
department, an objection's notices in the objection series; every case
letter cites the application number, in Chinese dates only."""

import re
import subprocess

import pytest

from flows.cases.review import preliminary_review_claim, supplement_request
from flows.models import CaseStatus, MaterialKind
from flows.objections.services import objection_maintain, verification_claim
from letters.models import Letter, LetterKind
from letters.services import letter_render
from tests.flows.conftest import draft_with_materials
from tests.flows.test_objections import accepted

pytestmark = pytest.mark.django_db

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def text_of(letter: Letter) -> str:
    letter.refresh_from_db()
    if not letter.file:
        letter_render(letter_id=letter.pk)
        letter.refresh_from_db()
    out = subprocess.run(
        ["pdftotext", "-layout", letter.file.path, "-"], capture_output=True, text=True, check=True
    ).stdout
    return re.sub(r"\s+", "", out)


def test_a_repair_is_accepted_by_the_institution_and_decided_by_the_department(approved, record):
    letters = {x.kind: x for x in Letter.objects.filter(case_id=approved.pk).exclude(number=None)}
    acceptance = letters[LetterKind.ACCEPTANCE]
    decision = letters[LetterKind.REPAIR_DECISION]

    assert acceptance.issuer == "济南市公共信用信息中心"
    assert decision.issuer == "济南市市场监督管理局"
    assert decision.issuer_ref.department == record.department
    decision_text = text_of(decision)
    # The decision in Chinese dates, at the source (flows/repair/services.py).
    assert "准予信用修复，自2026年11月18日起停止公示该条行政处罚信息。" in decision_text
    for letter in letters.values():
        text = text_of(letter)
        assert not ISO_DATE.search(text), (letter.kind, ISO_DATE.search(text))
        if letter.kind != LetterKind.COMMITMENT:
            # Every case letter cites the application number.
            assert f"申请编号{approved.number}" in text, letter.kind


def test_the_supplement_notice_says_how_the_clocks_run(applicant, record, officer):
    from flows.repair.services import repair_case_submit

    case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    preliminary_review_claim(officer=officer, case=case)
    request = supplement_request(
        officer=officer,
        case=case,
        items=[
            {"material": MaterialKind.PERFORMANCE_PROOF, "name": "罚款缴纳凭证", "problem": "模糊"}
        ],
    )

    letter = request.letter
    text = text_of(letter)
    assert letter.issuer == "济南市公共信用信息中心"
    assert letter.number == "济信修补〔2026〕1号"
    # The applicant's window as the supplement policy counts it (10 working
    # days after the notice's day, to office close), every item at once.
    assert "请于2026年11月30日17时00分前（自本告知书发出之次日起10个工作日内）" in text
    assert "材料未上传齐全的，无法提交" in text
    # The office clocks pause and run on (sla.clocks.clock_resume), never restart.
    assert "本中心的办理时限暂停计算" in text
    assert "办理时限接着已经过的时间继续计算，不重新起算" in text
    assert "重新计算" not in text
    assert f"申请编号{case.number}" in text
    assert not ISO_DATE.search(text)


@pytest.mark.parametrize(
    ("scope", "issuer", "number"),
    [
        ("platform", "济南市公共信用信息中心", "济信异〔2026〕1号"),
        ("department", "济南市市场监督管理局", "SCJGJ信异〔2026〕1号"),
    ],
)
def test_an_objection_is_accepted_by_the_institution_and_answered_by_whoever_checked(
    applicant, record, officer, reviewer, scope, issuer, number
):
    case = accepted(applicant, record, officer, scope)
    checker = reviewer if scope == "department" else officer
    verification_claim(user=checker, case=case)
    objection_maintain(
        verifier=checker,
        case=case,
        reasons=["登记内容与决定书一致"],
        basis="《山东省社会信用条例》第三十九条",
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.MAINTAINED

    acceptance = Letter.objects.get(case_id=case.pk, kind=LetterKind.ACCEPTANCE)
    result = Letter.objects.get(case_id=case.pk, kind=LetterKind.OBJECTION_RESULT)
    # An objection's acceptance is numbered in the objection series.
    assert (acceptance.issuer, acceptance.number) == (
        "济南市公共信用信息中心",
        "济信异受〔2026〕1号",
    )
    assert (result.issuer, result.number) == (issuer, number)
    text = text_of(result)
    assert text.startswith(issuer)
    assert f"申请编号{case.number}" in text
    assert not ISO_DATE.search(text)
