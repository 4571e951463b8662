"""Issue 14, records: what is not collected (Shandong Social Credit Regulation
Art. 13), the five-year disclosure ceiling (Art. 38), the rule-set boundary
(从旧兼从轻) and the non-repairable types, through the import command, the
records API and the record page."""

import datetime as dt
import importlib
import json
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps

from flows.models import RepairCase
from records.models import CreditRecord, Department, NonRepairableRule, PublicityPeriod, Sector
from records.sync import sync_event_queue
from tests.api_errors import field_errors
from tests.conftest import make_record
from tests.records.test_import_records import HEADER, USCC_A, run, write_csv

TZ = ZoneInfo("Asia/Shanghai")
ART_13 = "《山东省社会信用条例》第十三条"


def moment(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=TZ)


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(moment("2026-06-01"), tick=False) as traveller:
        yield traveller


ROW = (
    f"济市监罚〔2026〕201号,SCJGJ,enterprise,{USCC_A},济南甲食品有限公司,"
    "2026-05-10,5000,general,fine,"
)


# Art. 13: not collected ------------------------------------------------------------


def test_a_simplified_procedure_penalty_is_refused_citing_art_13(department, tmp_path):
    path = write_csv(tmp_path, ROW + ",simplified,", header=HEADER + ",procedure,minor_remedied")
    code, out, err = run(path)
    assert code == 1
    assert out.splitlines()[-1] == "imported 0, updated 0, rejected 1"
    assert "line 2: procedure: 适用简易程序作出的行政处罚信息不纳入公共信用信息数据清单" in err
    assert ART_13 in err
    assert not CreditRecord.objects.exists()


def test_a_minor_remedied_violation_is_refused_citing_art_13(department, tmp_path):
    path = tmp_path / "records.jsonl"
    row = dict(zip(HEADER.split(","), ROW.split(","), strict=True))
    path.write_text(json.dumps({**row, "minor_remedied": True}, ensure_ascii=False) + "\n")
    code, _out, err = run(path)
    assert code == 1
    assert "line 1: minor_remedied: 违法行为轻微且主动消除、减轻违法行为危害后果" in err
    assert ART_13 in err
    assert not CreditRecord.objects.exists()


@pytest.mark.parametrize(
    ("procedure", "remedied"), [("", ""), ("general", "false"), ("GENERAL", "否")]
)
def test_the_general_procedure_is_the_default_and_is_collected(
    department, tmp_path, procedure, remedied
):
    path = write_csv(
        tmp_path, ROW + f",{procedure},{remedied}", header=HEADER + ",procedure,minor_remedied"
    )
    code, _out, err = run(path)
    assert (code, err) == (0, "")
    assert CreditRecord.objects.count() == 1


def test_an_unknown_procedure_says_what_is_expected(department, tmp_path):
    path = write_csv(tmp_path, ROW + ",summary", header=HEADER + ",procedure")
    code, _out, err = run(path)
    assert code == 1
    assert "procedure: 应为 general（普通程序，默认）或 simplified（简易程序）" in err


def test_a_minor_remedied_flag_that_is_not_a_yes_or_no_says_so(department, tmp_path):
    path = write_csv(tmp_path, ROW + ",maybe", header=HEADER + ",minor_remedied")
    code, _out, err = run(path)
    assert code == 1
    assert "minor_remedied: 应为 true 或 false（默认 false）" in err
    assert not CreditRecord.objects.exists()


def test_the_api_refuses_them_too(api_for, department_system, department):
    row = dict(zip(HEADER.split(","), ROW.split(","), strict=True))
    body = [{**row, "procedure": "simplified"}, {**row, "minor_remedied": True}]
    response = api_for(department_system).post("/api/v1/records/", body, format="json")
    assert response.status_code == 400
    errors = [item["errors"][0] for item in response.json()["results"]]
    assert [(e["field"], e["code"]) for e in errors] == [
        ("procedure", "not_collected"),
        ("minor_remedied", "not_collected"),
    ]
    assert all(ART_13 in e["message"] for e in errors)


# Art. 38: five years from the end of the conduct ------------------------------------


def test_the_conduct_end_date_defaults_to_the_decision_date_and_bounds_the_window(
    department, tmp_path
):
    # A serious record of the old rules: 3 years from 2025-01-10, but the
    # conduct ended on 2022-03-01, so disclosure ends on 2027-03-01.
    path = write_csv(
        tmp_path,
        ROW,
        f"济市监罚〔2025〕9号,SCJGJ,enterprise,{USCC_A},济南甲食品有限公司,2025-01-10,,serious,"
        "occupation_ban,,2022-03-01",
        header=HEADER + ",conduct_end_date",
    )
    # The first row has one column fewer: give it an empty conduct end date.
    path.write_text(path.read_text().replace("fine,\n", "fine,,\n", 1))
    code, _out, err = run(path)
    assert (code, err) == (0, "")
    first = CreditRecord.objects.get(decision_number="济市监罚〔2026〕201号")
    assert first.conduct_end_date == dt.date(2026, 5, 10)
    second = CreditRecord.objects.get(decision_number="济市监罚〔2025〕9号")
    assert second.conduct_end_date == dt.date(2022, 3, 1)
    assert second.publicity_ends_on == dt.date(2027, 3, 1)


def test_a_conduct_end_date_in_the_future_is_refused(department, tmp_path):
    path = write_csv(tmp_path, ROW + ",2026-06-02", header=HEADER + ",conduct_end_date")
    code, _out, err = run(path)
    assert code == 1
    assert "conduct_end_date: 失信行为终止日期不能晚于今天（2026-06-01）" in err


@pytest.mark.parametrize(
    ("day", "shared", "eligibility"),
    [
        ("2026-11-30", True, "eligible"),  # the day before the ceiling
        ("2026-12-01", False, "not_needed"),  # five years after the conduct ended
        ("2026-12-02", False, "not_needed"),
    ],
)
def test_at_the_ceiling_the_record_leaves_every_output(
    today, api_for, client_for, applicant, department, enterprise, day, shared, eligibility
):
    record = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2024〕3号",
        decision_date=dt.date(2024, 1, 10),
        severity="serious",  # published until 2027-01-10 but for the ceiling
        conduct_end_date=dt.date(2021, 12, 1),
    )
    today.move_to(moment(day))
    answer = api_for(applicant).get(f"/api/v1/records/{record.pk}/").json()["eligibility"]
    assert (answer["shared"], answer["published"], answer["eligibility"]) == (
        shared,
        shared,
        eligibility,
    )
    assert answer["disclosure_ends_on"] == "2026-12-01"
    page = client_for(applicant).get(f"/records/{record.pk}/").content.decode()
    if shared:
        assert "repair-apply" in page
    else:
        assert "《山东省社会信用条例》第三十八条" in answer["legal_basis"]
        assert "不再公开或共享，也不再作为任何限制或惩戒的依据" in answer["reason"]
        assert "repair-apply" not in page


# The rule-set boundary: 从旧兼从轻 ---------------------------------------------------


@pytest.mark.parametrize(
    ("day", "rule_set", "choice"),
    [
        ("2026-03-31", "ndrc-order-58-2023", False),  # the old rules still in force
        ("2026-04-01", "ndrc-order-58-2023", True),  # the new ones: the old are kinder
        ("2026-04-02", "ndrc-order-58-2023", True),
    ],
)
def test_a_serious_record_across_the_boundary_keeps_the_kinder_minimum(
    today, api_for, client_for, applicant, department, enterprise, day, rule_set, choice
):
    # Serious, decided 2025-09-15: 6 months under Order 58 (2026-03-15),
    # 1 year under Order 36 (2026-09-15).
    record = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2025〕88号",
        decision_date=dt.date(2025, 9, 15),
        severity="serious",
    )
    today.move_to(moment(day))
    answer = api_for(applicant).get(f"/api/v1/records/{record.pk}/").json()["eligibility"]
    assert (answer["eligibility"], answer["eligible_from"]) == ("eligible", "2026-03-15")
    assert answer["rule_set"] == rule_set
    if choice:
        assert "从旧兼从轻" in answer["rule_set_choice"]
        page = client_for(applicant).get(f"/records/{record.pk}/").content.decode()
        assert "rule-set-choice" in page and "从旧兼从轻" in page
    else:
        assert answer["rule_set_choice"] == ""


# Non-repairable types, as their rule says ------------------------------------------


def test_an_order_to_stop_business_is_not_repairable_early_in_any_sector(
    today, api_for, applicant, enterprise
):
    culture = Department.objects.create(
        code="WHLYJ", name="济南市文化和旅游局", sector=Sector.OTHER
    )
    record = make_record(
        department=culture,
        subject=enterprise,
        decision_number="济文旅罚〔2025〕1号",
        decision_date=dt.date(2025, 1, 10),
        severity="serious",
        penalty_types=("production_suspension",),
    )
    answer = api_for(applicant).get(f"/api/v1/records/{record.pk}/").json()["eligibility"]
    assert answer["eligibility"] == "never"
    assert "国家市场监督管理总局令第45号）第十四条" in answer["legal_basis"]
    assert "（依据：《市场监督管理行政处罚信息公示规定》" in answer["reason"]


def test_filing_for_it_is_refused_with_the_article(today, api_for, applicant, enterprise):
    culture = Department.objects.create(
        code="WHLYJ", name="济南市文化和旅游局", sector=Sector.OTHER
    )
    record = make_record(
        department=culture,
        subject=enterprise,
        decision_number="济文旅罚〔2025〕2号",
        decision_date=dt.date(2025, 1, 10),
        severity="serious",
        penalty_types=("occupation_ban",),
    )
    body = {"record": record.pk, "details": "", "capacity": "legal_representative"}
    response = api_for(applicant).post("/api/v1/repair-cases/", body, format="json")
    assert response.status_code == 400
    [message] = field_errors(response)["record"]
    assert message == (
        "该记录目前不能申请信用修复：“限制从业”类处罚不可提前修复：此类处罚须待期满方可结束。"
        " 公示至 2028-01-10 届满。（依据：《市场监督管理行政处罚信息公示规定》"
        "（国家市场监督管理总局令第45号）第十四条）"
    )
    assert not RepairCase.objects.filter(record=record).exists()


def test_an_order_to_close_is_no_longer_an_invented_refusal(
    today, api_for, applicant, department, enterprise
):
    record = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2025〕2号",
        decision_date=dt.date(2025, 1, 10),
        severity="serious",
        penalty_types=("closure",),
    )
    answer = api_for(applicant).get(f"/api/v1/records/{record.pk}/").json()["eligibility"]
    assert answer["eligibility"] == "eligible"


@pytest.mark.parametrize(
    ("day", "listed"),
    [("2026-11-30", True), ("2026-12-01", False), ("2026-12-02", False)],
)
def test_at_the_ceiling_the_record_leaves_what_other_systems_are_given(
    today, api_for, department_system, department, enterprise, day, listed
):
    record = make_record(
        department=department,
        subject=enterprise,
        decision_number="济市监罚〔2024〕3号",
        decision_date=dt.date(2024, 1, 10),
        severity="serious",
        conduct_end_date=dt.date(2021, 12, 1),
    )
    sync_event_queue(record=record, kind="corrected", source="test", key="k1", actor="test")
    today.move_to(moment(day))
    api = api_for(department_system)
    numbers = [r["decision_number"] for r in api.get("/api/v1/records/").json()["results"]]
    assert (record.decision_number in numbers) is listed
    events = api.get("/api/v1/sync-events/").json()["results"]
    assert bool(events) is listed
    assert api.get(f"/api/v1/records/{record.pk}/").status_code == (200 if listed else 404)


# The data migration ---------------------------------------------------------------


def test_the_migration_gives_old_rows_their_decision_date_and_each_rule_its_article(
    department, enterprise
):
    migration = importlib.import_module("records.migrations.0010_records_disclosure_ceiling")
    record = make_record(department=department, subject=enterprise)
    CreditRecord.objects.filter(pk=record.pk).update(conduct_end_date=None)
    migration.forwards(apps, None)
    record.refresh_from_db()
    assert record.conduct_end_date == record.decision_date
    rules = NonRepairableRule.objects.filter(rule_set__code="ndrc-order-36-2025")
    assert sorted(rules.values_list("penalty_type", flat=True)) == [
        "business_restriction",
        "licence_revocation",
        "occupation_ban",
        "production_suspension",
        "qualification_downgrade",
    ]
    for rule in rules:
        assert "第十四条" in rule.legal_basis or rule.unconfirmed
        assert (rule.sectors == []) is (rule.penalty_type != "licence_revocation")
        assert "公示" not in rule.reason
    minor = PublicityPeriod.objects.get(rule_set__code="ndrc-order-36-2025", severity="minor")
    assert minor.published is False and "一般不予公示" in minor.note
