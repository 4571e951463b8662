"""Repeat limits on credit repair (shared domain reference section 3; a local
example, UNCONFIRMED as national law, so configurable): each limit just
before, at and just after its boundary (Beijing dates), refused at filing
through the portal and the API, at acceptance and approval when a repair
landed meanwhile, a policy edited by an administrator, and the record page."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from flows.cases.limits import PriorRepair, repeat_limit_reason
from flows.cases.review import preliminary_review_claim
from flows.models import CaseStatus, RepairCase
from flows.repair.services import (
    department_review_approve,
    department_review_claim,
    preliminary_review_accept,
    repair_case_draft_save,
    repair_case_submit,
)
from records.models import RepeatLimitPolicy
from repair_flow.models import AuditEvent
from tests.api_errors import field_errors
from tests.conftest import make_record
from tests.flows.conftest import LIMITS_BASIS, at, draft_with_materials

pytestmark = pytest.mark.django_db

CASES = "/api/v1/repair-cases/"
PREFIX = "该记录目前不能申请信用修复："
# Every test here runs with the limits enabled, as an administrator would
# enable them with their legal basis; see the tests at the end for the default.
pytestmark = pytest.mark.usefixtures("repeat_limits_enabled")


@pytest.fixture
def to(applicant, officer):
    """`to(record, status, reviewer)`: a case of `applicant` on `record`,
    brought to `status` through the services at the current (frozen) time."""

    def run(record, status: str, reviewer=None):
        case = draft_with_materials(applicant, record)
        steps = [
            (CaseStatus.SUBMITTED, lambda: repair_case_submit(applicant=applicant, case=case)),
            (
                CaseStatus.IN_PRELIMINARY_REVIEW,
                lambda: preliminary_review_claim(officer=officer, case=case),
            ),
            (
                CaseStatus.ACCEPTED,
                lambda: preliminary_review_accept(officer=officer, case=case),
            ),
            (
                CaseStatus.IN_DEPARTMENT_REVIEW,
                lambda: department_review_claim(reviewer=reviewer, case=case),
            ),
            (
                CaseStatus.APPROVED,
                lambda: department_review_approve(
                    reviewer=reviewer, case=case, basis="已履行全部义务并作出信用承诺。"
                ),
            ),
        ]
        for reached, step in steps:
            if status == CaseStatus.DRAFT:
                break
            step()
            if reached == status:
                break
        case.refresh_from_db()
        assert case.status == status
        return case

    return run


@pytest.fixture
def first_repair(to, now, department, enterprise, reviewer):
    """The subject's first repair: a fine of the market regulator, approved
    on 2026-11-16 (Beijing)."""
    record = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2026〕1号",
        decision_date=dt.date(2026, 7, 1),
        penalty_types=("fine",),
    )
    return to(record, CaseStatus.APPROVED, reviewer)


def new_record(department, subject, number, decided_on, types=("fine",)):
    # A general record: repairable from 3 months after the decision, published for 12.
    return make_record(
        department=department,
        subject=subject,
        decision_number=number,
        decision_date=decided_on,
        penalty_types=types,
    )


def file(applicant, record):
    return repair_case_draft_save(
        applicant=applicant, record=record, details="", capacity="legal_representative"
    )


def refusal(applicant, record) -> str:
    with pytest.raises(ValidationError) as refused:
        file(applicant, record)
    [message] = refused.value.messages
    return message


# The interval since the last repair --------------------------------------------


@pytest.mark.parametrize(
    ("moment", "refused"),
    [
        ("2027-11-15 23:59:59", True),  # just before: 364 days and a bit
        ("2027-11-16 00:00:00", False),  # at: 365 days after 2026-11-16
        ("2027-11-17 09:00:00", False),  # just after
    ],
)
def test_less_than_a_year_since_the_last_repair_is_refused(
    first_repair, now, applicant, other_department, enterprise, moment, refused
):
    # Another department's record: not the same kind of conduct, only the interval applies.
    record = new_record(other_department, enterprise, "济建罚〔2027〕5号", dt.date(2027, 6, 1))
    now.move_to(at(moment))
    if refused:
        assert refusal(applicant, record) == (
            PREFIX + "距该主体上次信用修复（济信修申〔2026〕1号，2026-11-16）不满1年，"
            "2027-11-16 起方可再次申请。"
            f"（依据：{LIMITS_BASIS}）"
        )
        assert not RepairCase.objects.filter(record=record).exists()
    else:
        assert file(applicant, record).status == CaseStatus.DRAFT


# Two repairs within five years ------------------------------------------------


@pytest.fixture
def second_repair(first_repair, to, now, other_department, enterprise, other_reviewer):
    """The second repair, another department's fine, on 2027-11-16: the first
    day the interval allows."""
    now.move_to(at("2027-11-16 10:00"))
    record = new_record(other_department, enterprise, "济建罚〔2027〕5号", dt.date(2027, 6, 1))
    return to(record, CaseStatus.APPROVED, other_reviewer)


@pytest.mark.parametrize(
    ("moment", "refused"),
    [
        # The first repair's record (conduct ended 2026-07-01) reaches its
        # disclosure ceiling (Shandong Art. 38: five years) before the five
        # years of the limit run out: from then on it counts for nothing, and
        # the refusal names that day.
        ("2031-06-30 23:59:59", True),
        ("2031-07-01 00:00:00", False),
        ("2031-07-02 09:00:00", False),
    ],
)
def test_two_repairs_within_five_years_are_refused(
    second_repair, now, applicant, department, enterprise, moment, refused
):
    # The market regulator again, but a warning: not the same kind as its fine.
    record = new_record(
        department, enterprise, "济市监罚〔2031〕2号", dt.date(2031, 3, 1), types=("warning",)
    )
    now.move_to(at(moment))
    if refused:
        assert refusal(applicant, record) == (
            PREFIX + "该主体5年内已信用修复2次（济信修申〔2026〕1号，2026-11-16；"
            "济信修申〔2027〕1号，2027-11-16），达到2次上限，2031-07-01 起方可再次申请。"
            f"（依据：{LIMITS_BASIS}）"
        )
    else:
        assert file(applicant, record).status == CaseStatus.DRAFT


# The same kind of conduct within five years -----------------------------------


@pytest.mark.parametrize(
    ("moment", "refused"),
    [
        # Until the repaired record's disclosure ceiling (Art. 38), 2031-07-01.
        ("2031-06-30 23:59:59", True),
        ("2031-07-01 00:00:00", False),
        ("2031-07-02 09:00:00", False),
    ],
)
def test_the_same_kind_of_conduct_repaired_within_five_years_is_refused(
    first_repair, now, applicant, department, enterprise, moment, refused
):
    # Same department, and the penalty types overlap (a fine): the same kind of conduct.
    record = new_record(
        department,
        enterprise,
        "济市监罚〔2031〕3号",
        dt.date(2031, 3, 1),
        types=("warning", "fine"),
    )
    now.move_to(at(moment))
    if refused:
        assert refusal(applicant, record) == (
            PREFIX + "该主体同类失信行为（同一认定单位作出的“罚款”处罚）已于5年内信用修复"
            "（济信修申〔2026〕1号，2026-11-16），2031-07-01 起方可再次申请。"
            f"（依据：{LIMITS_BASIS}）"
        )
    else:
        assert file(applicant, record).status == CaseStatus.DRAFT


def test_another_departments_fine_is_not_the_same_kind_of_conduct(
    first_repair, now, applicant, other_department, enterprise
):
    record = new_record(other_department, enterprise, "济建罚〔2028〕1号", dt.date(2028, 1, 10))
    now.move_to(at("2028-05-01 10:00"))
    assert file(applicant, record).status == CaseStatus.DRAFT


def test_another_subjects_repairs_do_not_count(
    first_repair, now, other_applicant, department, other_enterprise
):
    record = new_record(department, other_enterprise, "济市监罚〔2026〕50号", dt.date(2026, 7, 2))
    now.move_to(at("2026-11-17 10:00"))
    assert file(other_applicant, record).status == CaseStatus.DRAFT


def test_when_several_limits_apply_the_longest_is_named():
    policy = RepeatLimitPolicy(
        min_interval_days=365,
        max_repairs=2,
        max_repairs_window_years=5,
        same_conduct_window_years=5,
    )
    prior = [PriorRepair("济信修申〔2026〕1号", dt.date(2026, 11, 16), 1, frozenset({"fine"}))]
    message = repeat_limit_reason(
        policy=policy, prior=prior, department_id=1, penalty_types=["fine"], on=dt.date(2027, 1, 1)
    )
    # Both the interval (until 2027-11-16) and the same conduct (until 2031-11-16) apply.
    assert message.startswith("该主体同类失信行为")
    assert "2031-11-16 起方可再次申请" in message


def test_a_repair_on_29_february_counts_until_28_february_five_years_on():
    policy = RepeatLimitPolicy(
        min_interval_days=0, max_repairs=1, max_repairs_window_years=5, same_conduct_window_years=0
    )
    prior = [PriorRepair("济信修申〔2028〕1号", dt.date(2028, 2, 29), 1, frozenset({"fine"}))]

    def check(day):
        return repeat_limit_reason(
            policy=policy, prior=prior, department_id=2, penalty_types=["warning"], on=day
        )

    assert "2033-02-28 起方可再次申请" in check(dt.date(2033, 2, 27))
    assert check(dt.date(2033, 2, 28)) is None


# Refused at filing through the portal and the API ---------------------------------


@pytest.fixture
def limited_record(first_repair, now, other_department, enterprise):
    """Another department's record, three months after the first repair."""
    now.move_to(at("2027-02-16 10:00"))
    return new_record(other_department, enterprise, "济建罚〔2026〕9号", dt.date(2026, 10, 1))


REASON = (
    "距该主体上次信用修复（济信修申〔2026〕1号，2026-11-16）不满1年，2027-11-16 起方可再次申请。"
    f"（依据：{LIMITS_BASIS}）"
)


def test_the_record_page_shows_the_reason_instead_of_the_button(
    client_for, applicant, limited_record
):
    page = client_for(applicant).get(reverse("record_detail", args=[limited_record.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert REASON in html and "repeat-limit" in html
    assert reverse("flows:new", args=[limited_record.pk]) not in html
    assert "暂不可申请" in html


def test_the_filing_page_shows_the_reason_and_refuses_the_post(
    client_for, applicant, limited_record
):
    client = client_for(applicant)
    page = client.get(reverse("flows:new", args=[limited_record.pk])).content.decode()
    assert REASON in page and "<textarea" not in page
    response = client.post(
        reverse("flows:new", args=[limited_record.pk]),
        {"details": "罚款已缴清。", "capacity": "legal_representative"},
    )
    assert response.status_code == 400
    assert PREFIX + REASON in response.content.decode()
    assert not RepairCase.objects.filter(record=limited_record).exists()


def test_the_api_refuses_the_filing_under_record(api_for, applicant, limited_record):
    body = {"record": limited_record.pk, "details": "", "capacity": "legal_representative"}
    response = api_for(applicant).post(CASES, body, format="json")
    assert response.status_code == 400
    assert field_errors(response) == {"record": [PREFIX + REASON]}
    assert not RepairCase.objects.filter(record=limited_record).exists()


def test_the_record_page_shows_the_button_once_the_limit_has_passed(
    client_for, first_repair, now, applicant, other_department, enterprise
):
    record = new_record(other_department, enterprise, "济建罚〔2027〕5号", dt.date(2027, 6, 1))
    now.move_to(at("2027-11-16 00:00"))
    html = client_for(applicant).get(reverse("record_detail", args=[record.pk]))
    html = html.content.decode()
    assert reverse("flows:new", args=[record.pk]) in html
    assert "repeat-limit" not in html


# Checked again at acceptance and approval -------------------------------------


def test_a_repair_landing_meanwhile_refuses_neither_acceptance_nor_approval(
    to, now, applicant, department, other_department, enterprise, reviewer, other_reviewer
):
    """A case is judged by the limits in force when it was filed (domain
    section 3): a sister case approved meanwhile refuses neither the case
    already accepted nor the one in preliminary review; a new filing is refused."""
    first = new_record(department, enterprise, "济市监罚〔2026〕1号", dt.date(2026, 7, 1))
    second = new_record(other_department, enterprise, "济建罚〔2026〕2号", dt.date(2026, 7, 1))
    third = new_record(
        department, enterprise, "济市监罚〔2026〕3号", dt.date(2026, 7, 1), types=("warning",)
    )
    fourth = new_record(other_department, enterprise, "济建罚〔2026〕4号", dt.date(2026, 7, 1))
    # Three filed while the subject had no repair at all.
    in_review = to(second, CaseStatus.IN_DEPARTMENT_REVIEW, other_reviewer)
    claimed = to(third, CaseStatus.IN_PRELIMINARY_REVIEW)
    landing = to(first, CaseStatus.IN_DEPARTMENT_REVIEW, reviewer)

    now.move_to(at("2026-11-16 11:00"))
    repaired = department_review_approve(reviewer=reviewer, case=landing, basis="已履行义务。")
    assert repaired.status == CaseStatus.APPROVED

    now.move_to(at("2026-11-16 14:00"))
    approved = department_review_approve(
        reviewer=other_reviewer, case=in_review, basis="已履行义务。"
    )
    assert approved.status == CaseStatus.APPROVED
    accepted = preliminary_review_accept(officer=claimed.officer, case=claimed)
    assert accepted.status != CaseStatus.IN_PRELIMINARY_REVIEW
    second.refresh_from_db()
    assert second.status == "repaired"
    # Filed after the landings: the limits apply.
    message = refusal(applicant, fourth)
    assert message.startswith(PREFIX) and LIMITS_BASIS in message


# The policy is data ---------------------------------------------------------------


def test_an_administrator_shortens_the_interval_and_it_takes_effect(
    client_for, administrator, applicant, limited_record
):
    assert refusal(applicant, limited_record) == PREFIX + REASON
    policy = RepeatLimitPolicy.objects.get()
    admin = client_for(administrator)
    listing = admin.get("/admin/records/repeatlimitpolicy/").content.decode()
    assert "已核实" in listing
    data = {
        "effective_from": "2000-01-01",
        "min_interval_days": "90",
        "max_repairs": "2",
        "max_repairs_window_years": "5",
        "same_conduct_window_years": "5",
        "enabled": "on",
        "legal_basis": policy.legal_basis,
        "note": policy.note,
    }
    response = admin.post(f"/admin/records/repeatlimitpolicy/{policy.pk}/change/", data)
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="records.repeat_limit_policy_change")
    assert event.summary["changed"] == ["min_interval_days"]

    # 2027-02-16 is 92 days after the first repair.
    client = client_for(applicant)
    assert file(applicant, limited_record).status == CaseStatus.DRAFT
    assert client.get(reverse("flows:new", args=[limited_record.pk])).status_code == 200


def test_a_later_version_applies_from_its_effective_date(now, applicant, limited_record):
    RepeatLimitPolicy.objects.create(
        effective_from=dt.date(2027, 3, 1),
        enabled=True,
        unconfirmed=False,
        min_interval_days=30,
        max_repairs=2,
        max_repairs_window_years=5,
        same_conduct_window_years=5,
        legal_basis="试行",
    )
    now.move_to(at("2027-02-28 23:59:59"))
    assert refusal(applicant, limited_record) == PREFIX + REASON
    now.move_to(at("2027-03-01 00:00:00"))
    assert file(applicant, limited_record).status == CaseStatus.DRAFT


def test_a_policy_with_no_repairs_allowed_is_refused_in_the_admin(client_for, administrator):
    policy = RepeatLimitPolicy.objects.get()
    data = {
        "effective_from": "2000-01-01",
        "min_interval_days": "365",
        "max_repairs": "0",
        "max_repairs_window_years": "5",
        "same_conduct_window_years": "5",
        "legal_basis": policy.legal_basis,
    }
    response = client_for(administrator).post(
        f"/admin/records/repeatlimitpolicy/{policy.pk}/change/", data
    )
    assert response.status_code == 200
    assert "最多修复次数至少为 1" in response.content.decode()
    policy.refresh_from_db()
    assert policy.max_repairs == 2


def test_staff_other_than_administrators_cannot_edit_the_policy(client_for, supervisor):
    response = client_for(supervisor).get("/admin/records/repeatlimitpolicy/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
