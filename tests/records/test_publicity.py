"""The registry's answer: published or expired, eligible now, from a date, or never."""

import datetime as dt

import pytest

from records.models import Department, Sector
from records.publicity import Eligibility, RecordFacts, add_months, answer, load_rule_sets
from tests.conftest import make_record

D = dt.date


@pytest.fixture
def rule_sets(db):
    return load_rule_sets()


def ask(record, on):
    return answer(RecordFacts.of(record), load_rule_sets(), on)


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(D(2025, 8, 31), 6) == D(2026, 2, 28)
    assert add_months(D(2024, 2, 29), 12) == D(2025, 2, 28)
    assert add_months(D(2026, 1, 15), 3) == D(2026, 4, 15)


def test_the_window_follows_the_rules_of_the_decision_date(department, enterprise):
    old = make_record(
        department=department,
        subject=enterprise,
        decision_number="A1",
        decision_date=D(2026, 3, 31),
        severity="minor",
    )
    new = make_record(
        department=department,
        subject=enterprise,
        decision_number="A2",
        decision_date=D(2026, 4, 1),
        severity="minor",
    )
    # Order 58 did not publish minor penalties; under Order 36 they are normally
    # not published either (the rule set's minor period is "not published").
    assert old.publicity_ends_on == D(2026, 3, 31)
    assert new.publicity_ends_on == D(2026, 4, 1)
    for minor in (old, new):
        result = ask(minor, D(2026, 4, 2))
        assert result.eligibility == Eligibility.NOT_NEEDED
        assert result.published is False
        assert "不予公示" in result.reason


@pytest.mark.parametrize(
    ("on", "eligibility"),
    [
        (D(2026, 4, 14), Eligibility.NOT_YET),
        (D(2026, 4, 15), Eligibility.ELIGIBLE),
        (D(2026, 4, 16), Eligibility.ELIGIBLE),
    ],
)
def test_general_penalty_is_repairable_after_three_months(record, on, eligibility):
    result = ask(record, on)  # decided 2026-01-15, general
    assert result.eligibility == eligibility
    assert result.eligible_from == D(2026, 4, 15)
    assert result.rule_set == "ndrc-order-36-2025"
    if eligibility == Eligibility.NOT_YET:
        assert "2026-04-15" in result.reason and "3 个月" in result.reason


def test_the_rule_set_more_favourable_to_the_applicant_applies(department, enterprise):
    """从旧兼从轻: a serious record decided under Order 58 (minimum 6 months)
    and applying under Order 36 (minimum 1 year) keeps the shorter minimum."""
    record = make_record(
        department=department,
        subject=enterprise,
        decision_number="S1",
        decision_date=D(2025, 6, 10),
        severity="serious",
    )
    before = ask(record, D(2026, 3, 31))  # Order 58 in force: no choice to make
    assert (before.eligibility, before.rule_set) == (Eligibility.ELIGIBLE, "ndrc-order-58-2023")
    assert before.rule_set_choice == ""
    for day in (D(2026, 4, 1), D(2026, 4, 2)):
        after = ask(record, day)
        assert (after.eligibility, after.eligible_from) == (Eligibility.ELIGIBLE, D(2025, 12, 10))
        assert after.rule_set == "ndrc-order-58-2023"
        assert "从旧兼从轻" in after.rule_set_choice
        assert "国家发展改革委令2025年第36号" in after.rule_set_choice


@pytest.mark.parametrize(
    ("on", "published", "eligibility"),
    [
        (D(2027, 1, 14), True, Eligibility.ELIGIBLE),
        (D(2027, 1, 15), False, Eligibility.NOT_NEEDED),
        (D(2027, 1, 16), False, Eligibility.NOT_NEEDED),
    ],
)
def test_publication_stops_at_the_maximum_period(record, on, published, eligibility):
    result = ask(record, on)
    assert (result.published, result.eligibility) == (published, eligibility)
    assert result.publicity_ends_on == D(2027, 1, 15)


def test_licence_revocation_in_food_safety_is_never_repairable_early(department, enterprise):
    assert department.sector == Sector.FOOD_DRUG
    record = make_record(
        department=department,
        subject=enterprise,
        decision_number="R1",
        decision_date=D(2024, 1, 10),
        severity="serious",
        penalty_types=("fine", "licence_revocation"),
    )
    result = ask(record, D(2026, 11, 27))
    assert result.eligibility == Eligibility.NEVER
    assert result.eligible_from is None
    assert "吊销许可证件" in result.reason and "2027-01-10" in result.reason
    # Each entry cites its own basis, in the answer and in the refusal's text.
    assert "特定严重失信行为" in result.legal_basis
    assert f"（依据：{result.legal_basis}）" in result.reason


def test_the_same_penalty_outside_the_listed_sectors_is_repairable(enterprise):
    other = Department.objects.create(code="WHLYJ", name="济南市文化和旅游局", sector=Sector.OTHER)
    record = make_record(
        department=other,
        subject=enterprise,
        decision_number="R2",
        decision_date=D(2024, 1, 10),
        severity="serious",
        penalty_types=("licence_revocation",),
    )
    assert ask(record, D(2026, 11, 27)).eligibility == Eligibility.ELIGIBLE


@pytest.mark.parametrize(
    ("status", "eligibility", "phrase"),
    [
        ("repaired", Eligibility.NOT_NEEDED, "已完成信用修复"),
        ("deleted", Eligibility.NOT_NEEDED, "已删除"),
        ("under_objection", Eligibility.NOT_YET, "异议处理中"),
    ],
)
def test_the_status_of_the_record_is_respected(department, enterprise, status, eligibility, phrase):
    record = make_record(department=department, subject=enterprise, status=status)
    result = ask(record, D(2026, 6, 1))
    assert result.eligibility == eligibility
    assert phrase in result.reason


def test_a_date_before_any_rule_set_is_an_error(record):
    from records.publicity import NoRuleSetError

    with pytest.raises(NoRuleSetError):
        ask(record, D(1999, 12, 31))


def test_when_both_rule_sets_agree_the_answer_says_so(record):
    # General, decided 2026-01-15: 3 months under either set.
    result = ask(record, D(2026, 4, 15))
    assert (result.eligibility, result.rule_set) == (Eligibility.ELIGIBLE, "ndrc-order-36-2025")
    assert "两者结果相同" in result.rule_set_choice
