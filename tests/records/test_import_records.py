"""`import_records`: CSV and JSON Lines in, records and subjects out."""

import datetime as dt
import io
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from records.identifiers import make_resident_id, make_uscc
from records.models import CreditRecord, RecordStatus, Subject, SubjectKind
from repair_flow.models import AuditEvent

TODAY = dt.datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
HEADER = (
    "decision_number,department_code,subject_type,subject_identifier,subject_name,"
    "decision_date,fine_amount,severity,penalty_types,facts"
)
USCC_A = make_uscc(serial=5001)
USCC_B = make_uscc(serial=5002)
PERSON_ID = make_resident_id(birth=dt.date(1990, 3, 8), serial=41)


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def run(path, *args, stderr=None):
    out, err = io.StringIO(), stderr or io.StringIO()
    try:
        call_command("import_records", str(path), *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def write_csv(tmp_path, *lines, name="records.csv", header=HEADER, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(("\n".join([header, *lines]) + "\n").encode(encoding))
    return path


def write_empty(path):
    path.write_bytes(b"")
    return path


def write_jsonl(tmp_path, *items, name="records.jsonl"):
    path = tmp_path / name
    text = "\n".join(
        item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in items
    )
    path.write_text(text + "\n", encoding="utf-8")
    return path


GOOD_ROWS = (
    f"济市监罚〔2026〕101号,SCJGJ,enterprise,{USCC_A},济南甲食品有限公司,2026-05-10,5000,general,"
    "fine;warning,超范围经营。",
    f"济市监罚〔2025〕77号,SCJGJ,enterprise,{USCC_B.lower()} ,济南乙餐饮有限公司,2025-06-01,,"
    'serious,licence_revocation,"未取得许可从事食品生产，\n情节严重。"',
    f"济市监罚〔2026〕102号,SCJGJ,person,{PERSON_ID},王某,2026-04-20,200.50,minor,fine,",
)


def test_it_imports_a_good_csv_file(department, tmp_path):
    code, out, err = run(write_csv(tmp_path, *GOOD_ROWS))

    assert code == 0, err
    assert err == ""
    assert out.splitlines()[-1] == "imported 3, updated 0, rejected 0"
    first = CreditRecord.objects.get(decision_number="济市监罚〔2026〕101号")
    assert first.department == department
    assert first.subject.identifier == USCC_A and first.subject.kind == SubjectKind.ENTERPRISE
    assert first.penalty_types == ["fine", "warning"]
    assert first.fine_amount == Decimal("5000.00")
    assert first.status == RecordStatus.PUBLISHED
    # General class under NDRC Order 36 (in force 2026-04-01): at most 1 year.
    assert (first.publicity_starts_on, first.publicity_ends_on) == (
        dt.date(2026, 5, 10),
        dt.date(2027, 5, 10),
    )
    second = CreditRecord.objects.get(decision_number="济市监罚〔2025〕77号")
    # Identifier normalised; the old rule set (before 2026-04-01) gives serious 3 years.
    assert second.subject.identifier == USCC_B
    assert second.fine_amount is None
    assert second.facts == "未取得许可从事食品生产，\n情节严重。"
    assert second.publicity_ends_on == dt.date(2028, 6, 1)
    third = CreditRecord.objects.get(decision_number="济市监罚〔2026〕102号")
    assert third.subject.kind == SubjectKind.PERSON and third.subject.name == "王某"
    # Minor under NDRC Order 36: normally not published (an empty window).
    assert third.publicity_ends_on == dt.date(2026, 4, 20)
    # No conduct end date given: the conduct ended on the decision date.
    assert third.conduct_end_date == dt.date(2026, 4, 20)
    assert Subject.objects.count() == 3


def test_it_accepts_a_utf8_byte_order_mark(department, tmp_path):
    path = write_csv(tmp_path, GOOD_ROWS[0], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    code, out, _ = run(path)

    assert code == 0
    assert out.splitlines()[-1] == "imported 1, updated 0, rejected 0"


def test_it_imports_json_lines_with_lists_numbers_and_blank_lines(department, tmp_path):
    path = write_jsonl(
        tmp_path,
        {
            "decision_number": "济市监罚〔2026〕201号",
            "department_code": "SCJGJ",
            "subject_type": "enterprise",
            "subject_identifier": USCC_A,
            "subject_name": "济南甲食品有限公司",
            "decision_date": "2026-05-10",
            "fine_amount": 1234.5,
            "severity": "general",
            "penalty_types": ["fine", "confiscation"],
            "facts": "销售过期食品。",
        },
        "",
        {
            "decision_number": "济市监罚〔2026〕202号",
            "department_code": "SCJGJ",
            "subject_type": "person",
            "subject_identifier": PERSON_ID,
            "subject_name": "王某",
            "decision_date": "2026-05-11",
            "fine_amount": "300",
            "severity": "minor",
            "penalty_types": "fine",
        },
    )

    code, out, err = run(path)

    assert code == 0, err
    assert out.splitlines()[-1] == "imported 2, updated 0, rejected 0"
    first = CreditRecord.objects.get(decision_number="济市监罚〔2026〕201号")
    assert first.fine_amount == Decimal("1234.50")
    assert first.penalty_types == ["fine", "confiscation"]
    second = CreditRecord.objects.get(decision_number="济市监罚〔2026〕202号")
    assert second.facts == "" and second.fine_amount == Decimal("300")


def test_it_reports_each_bad_row_by_line_and_field(department, tmp_path):
    bad_check = USCC_A[:-1] + ("0" if USCC_A[-1] != "0" else "1")
    path = write_csv(
        tmp_path,
        GOOD_ROWS[0],
        f"A-1,SCJGJ,enterprise,{bad_check},甲公司,2026-05-10,100,general,fine,",
        f"A-2,SCJGJ,enterprise,{USCC_A},甲公司,2026-06-02,100,general,fine,",
        f"A-3,NOPE,enterprise,{USCC_A},甲公司,2026-05-10,100,general,fine,",
        f"A-4,SCJGJ,enterprise,{USCC_A},甲公司,2026-05-10,100,huge,fine,",
        f"A-5,SCJGJ,enterprise,{USCC_A},甲公司,2026-05-10,100,general,fine;fine,",
        f"A-6,SCJGJ,enterprise,{USCC_A},甲公司,2026-05-10,12.345,general,fine,",
        f"A-7,SCJGJ,enterprise,{USCC_A},甲公司,2026-05-10,,general,fine,",
        f"A-8,SCJGJ,person,{PERSON_ID[:-1]},王某,2026-05-10,,general,warning,",
        f"A-9,SCJGJ,enterprise,{USCC_A},甲公司,2026-02-30,,general,warning,",
        f"A-10,SCJGJ,enterprise,{USCC_A},甲公司,2026-05-10,,general,warning;flogging,",
        "A-11,SCJGJ,enterprise",
        f"A-12,SCJGJ,company,{USCC_A},甲公司,2026-05-10,,general,warning,",
        f"A-13,SCJGJ,enterprise,{USCC_A},甲公司,2026-05-10,100,general,warning,",
        f"A-14,SCJGJ,enterprise,{USCC_A},甲公司,2026-05-10,-5,general,fine,",
        f"A-15,SCJGJ,enterprise,{USCC_A},甲公司,10.5.2026,,general,warning,",
        f"A-16,SCJGJ,enterprise,{USCC_A},甲公司,2026-05-10,,general,,",
        f",SCJGJ,enterprise,{USCC_A},,2026-05-10,,general,warning,",
        f"{'X' * 101},SCJGJ,enterprise,{USCC_A},甲公司,2026-05-10,,general,warning,",
    )

    code, out, err = run(path)

    assert code == 1
    assert out.splitlines()[-1] == "imported 1, updated 0, rejected 18"
    assert err.splitlines() == [
        "line 3: subject_identifier: 统一社会信用代码第18位校验码不正确（GB 32100）",
        "line 4: decision_date: 处罚决定日期不能晚于今天（2026-06-01）",
        "line 5: department_code: 认定单位代码“NOPE”不存在",
        "line 6: severity: 应为 minor（轻微）、general（一般）或 serious（严重）",
        "line 7: penalty_types: 处罚类型重复：fine",
        "line 8: fine_amount: 罚款金额最多两位小数（精确到分）",
        "line 9: fine_amount: 处罚类型包含罚款（fine）时必须填写罚款金额",
        "line 10: subject_identifier: 居民身份证号码应为18位，实际为17位",
        "line 11: decision_date: “2026-02-30”不是真实的日期",
        "line 12: penalty_types: 未知的处罚类型：flogging（可用：warning, public_criticism, fine, "
        "confiscation, licence_suspension, qualification_downgrade, licence_revocation, "
        "business_restriction, production_suspension, closure, occupation_ban, detention, other）",
        "line 13: csv: 该行有3列，表头有10列",
        "line 14: subject_type: 应为 enterprise（法人和非法人组织）或 person（自然人）",
        "line 15: fine_amount: 处罚类型不含罚款（fine）时不应填写罚款金额",
        "line 16: fine_amount: 罚款金额不能为负数",
        "line 17: decision_date: 应为 YYYY-MM-DD 格式的日期",
        "line 18: penalty_types: 至少填写一种处罚类型",
        "line 19: decision_number: 必填，不能为空",
        "line 19: subject_name: 必填，不能为空",
        "line 20: decision_number: 处罚决定书文号最多100个字符，实际101个",
    ]
    assert CreditRecord.objects.count() == 1


def test_line_numbers_count_physical_lines_across_quoted_newlines_and_blanks(department, tmp_path):
    path = write_csv(
        tmp_path,
        GOOD_ROWS[1],  # lines 2-3: the facts span two lines
        "",
        f"B-1,SCJGJ,enterprise,{USCC_A},甲公司,2026-05-10,,severe,warning,",
    )

    code, out, err = run(path)

    assert code == 1
    assert err.splitlines() == [
        "line 5: severity: 应为 minor（轻微）、general（一般）或 serious（严重）"
    ]
    assert out.splitlines()[-1] == "imported 1, updated 0, rejected 1"


def test_json_lines_errors_name_the_object_line(department, tmp_path):
    path = write_jsonl(
        tmp_path,
        '{"decision_number": "J-1", "department_code": "SCJGJ"',
        "",
        "[1, 2]",
        {
            "decision_number": 7,
            "department_code": "SCJGJ",
            "subject_type": "enterprise",
            "subject_identifier": USCC_A,
            "subject_name": "甲公司",
            "decision_date": "2026-05-10",
            "severity": "general",
            "penalty_types": ["warning", 3],
        },
        {
            "decision_number": "J-2",
            "department_code": "SCJGJ",
            "subject_type": "enterprise",
            "subject_identifier": USCC_A,
            "subject_name": "甲公司",
            "decision_date": "2026-05-10",
            "severity": "general",
            "penalty_types": ["fine"],
            "fine_amount": True,
        },
    )

    code, out, err = run(path)

    assert code == 1
    assert err.splitlines() == [
        "line 1: json: 不是有效的 JSON：Expecting ',' delimiter（第54列）",
        "line 3: json: 每行应为一个 JSON 对象",
        "line 4: decision_number: 应为文本",
        "line 4: penalty_types: 应为处罚类型代码的列表或以分号分隔的文本",
        "line 5: fine_amount: 应为以元为单位的金额，最多两位小数，例如 5000 或 5000.50",
    ]
    assert out.splitlines()[-1] == "imported 0, updated 0, rejected 4"


def test_reimport_updates_records_without_duplicating_them_or_touching_status(department, tmp_path):
    assert run(write_csv(tmp_path, *GOOD_ROWS))[0] == 0
    record = CreditRecord.objects.get(decision_number="济市监罚〔2026〕101号")
    CreditRecord.objects.filter(pk=record.pk).update(status=RecordStatus.UNDER_OBJECTION)
    corrected = (
        GOOD_ROWS[0]
        .replace(",5000,", ",6000,")
        .replace("济南甲食品有限公司", "济南甲食品集团有限公司")
    )

    code, out, _ = run(write_csv(tmp_path, corrected, *GOOD_ROWS[1:], name="again.csv"))

    assert code == 0
    assert out.splitlines()[-1] == "imported 0, updated 3, rejected 0"
    assert CreditRecord.objects.count() == 3 and Subject.objects.count() == 3
    record.refresh_from_db()
    assert record.fine_amount == Decimal("6000.00")
    assert record.status == RecordStatus.UNDER_OBJECTION
    assert record.subject.name == "济南甲食品集团有限公司"


def test_the_later_row_for_the_same_decision_updates_the_earlier_one(department, tmp_path):
    later = GOOD_ROWS[0].replace(",5000,", ",7000,")

    code, out, _ = run(write_csv(tmp_path, GOOD_ROWS[0], later))

    assert code == 0
    assert out.splitlines()[-1] == "imported 1, updated 1, rejected 0"
    assert CreditRecord.objects.get().fine_amount == Decimal("7000.00")


def test_the_same_decision_number_in_two_departments_is_two_records(
    department, other_department, tmp_path
):
    other = GOOD_ROWS[0].replace(",SCJGJ,", ",ZJJ,")

    code, out, _ = run(write_csv(tmp_path, GOOD_ROWS[0], other))

    assert code == 0
    assert out.splitlines()[-1] == "imported 2, updated 0, rejected 0"
    assert CreditRecord.objects.filter(decision_number="济市监罚〔2026〕101号").count() == 2


def test_batches_behave_like_one_pass(department, tmp_path):
    later = GOOD_ROWS[0].replace(",5000,", ",7000,")

    code, out, _ = run(write_csv(tmp_path, GOOD_ROWS[0], GOOD_ROWS[1], later), "--batch-size", "1")

    assert code == 0
    assert out.splitlines()[-1] == "imported 2, updated 1, rejected 0"
    assert CreditRecord.objects.get(decision_number="济市监罚〔2026〕101号").fine_amount == 7000


def test_an_existing_subject_is_renamed_by_its_source(department, enterprise, tmp_path):
    # The department that first supplied the subject (its issuing source).
    Subject.objects.filter(pk=enterprise.pk).update(source_department=department)
    row = GOOD_ROWS[0].replace(USCC_A, enterprise.identifier)

    assert run(write_csv(tmp_path, row))[0] == 0

    enterprise.refresh_from_db()
    assert enterprise.name == "济南甲食品有限公司"
    assert Subject.objects.count() == 1


def test_a_rejected_row_leaves_nothing_behind(department, tmp_path):
    row = GOOD_ROWS[0].replace("2026-05-10", "2026-13-01")

    code, out, _ = run(write_csv(tmp_path, row))

    assert code == 1
    assert out.splitlines()[-1] == "imported 0, updated 0, rejected 1"
    assert not Subject.objects.exists() and not CreditRecord.objects.exists()
    assert not AuditEvent.objects.exists()


def test_an_identifier_registered_as_another_kind_is_rejected(department, tmp_path):
    # A USCC-shaped code wrongly held as a person: the import must not flip its kind.
    Subject.objects.create(kind=SubjectKind.PERSON, identifier=USCC_A, name="某人")

    code, out, err = run(write_csv(tmp_path, GOOD_ROWS[0], GOOD_ROWS[1]))

    assert code == 1
    assert err.splitlines() == [
        "line 2: subject_type: 该证件号码已登记为“自然人”，与本行的主体类型不符"
    ]
    assert out.splitlines()[-1] == "imported 1, updated 0, rejected 1"
    assert Subject.objects.identified_by(USCC_A).get().kind == SubjectKind.PERSON
    assert not CreditRecord.objects.filter(decision_number="济市监罚〔2026〕101号").exists()


def test_each_batch_writes_one_audit_event(department, tmp_path):
    bad = GOOD_ROWS[0].replace("general", "huge")
    path = write_csv(tmp_path, *GOOD_ROWS, bad)

    code, _, _ = run(path, "--batch-size", "2")

    assert code == 1
    events = list(AuditEvent.objects.filter(action="records.import").order_by("seq"))
    assert len(events) == 2
    assert [e.object_type for e in events] == ["records.CreditRecord"] * 2
    assert events[0].actor_label == "import_records"
    first, second = events[0].summary, events[1].summary
    assert first["source"] == f"file:{path.name}"
    assert first["lines"] == [2, 3] and first["created"] == 2 and first["updated"] == 0
    assert sorted(first["created_ids"]) == sorted(
        CreditRecord.objects.exclude(decision_number="济市监罚〔2026〕102号").values_list(
            "id", flat=True
        )
    )
    assert second["lines"] == [5, 6] and second["created"] == 1 and second["rejected"] == 1


def test_the_audit_actor_can_be_named(department, department_system, tmp_path):
    assert run(write_csv(tmp_path, GOOD_ROWS[0]), "--actor", department_system.username)[0] == 0

    assert AuditEvent.objects.get(action="records.import").actor == department_system


def test_a_named_system_account_imports_only_its_departments_rows(
    department, integration, tmp_path
):
    # The account's scope holds for a file too (issue 17, finding 6).
    code, _, err = run(write_csv(tmp_path, GOOD_ROWS[0]), "--actor", integration.username)
    assert code == 1
    assert "未绑定认定单位" in err
    assert not CreditRecord.objects.exists()


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: tmp / "missing.csv", "文件不存在"),
        (
            lambda tmp: write_csv(tmp, GOOD_ROWS[0], encoding="gbk"),
            "不是 UTF-8 编码的文本（第2行有无法解码的字节）",
        ),
        (lambda tmp: write_csv(tmp, header=""), "文件为空或第1行没有表头"),
        (
            lambda tmp: write_empty(tmp / "empty.csv"),
            "文件为空或第1行没有表头",
        ),
        (
            lambda tmp: write_csv(tmp, GOOD_ROWS[0], header=HEADER.replace("severity,", "")),
            "表头缺少必需的列：severity",
        ),
        (
            lambda tmp: write_csv(tmp, GOOD_ROWS[0], name="records.xlsx"),
            "无法识别文件类型：扩展名应为 .csv 或 .jsonl",
        ),
    ],
    ids=["missing", "not-utf8", "blank-header", "empty", "missing-column", "extension"],
)
def test_an_unreadable_file_exits_2_and_imports_nothing(department, tmp_path, make, reason):
    path = make(tmp_path)

    code, out, err = run(path)

    assert code == 2
    assert err.strip() == f"无法导入 {path}：{reason}"
    assert out == ""
    assert not CreditRecord.objects.exists()


def test_a_bad_byte_late_in_the_file_rejects_the_whole_file(department, tmp_path):
    path = write_csv(tmp_path, *GOOD_ROWS)
    path.write_bytes(path.read_bytes() + "济南".encode("gbk") + b"\n")

    code, _, err = run(path)

    assert code == 2
    assert "第6行" in err
    assert not CreditRecord.objects.exists()


def test_unknown_columns_are_ignored_with_a_warning(department, tmp_path):
    path = write_csv(tmp_path, GOOD_ROWS[0] + ",x", header=HEADER + ",remark")

    code, out, err = run(path)

    assert code == 0
    assert err.strip() == "表头中的以下列不认识，已忽略：remark"
    assert out.splitlines()[-1] == "imported 1, updated 0, rejected 0"


def test_progress_bar_only_on_a_terminal(department, tmp_path):
    path = write_csv(tmp_path, *GOOD_ROWS)
    tty = FakeTTY()

    code, _, err = run(path, stderr=tty)

    assert code == 0
    assert "lines" in err  # tqdm drew its bar
    CreditRecord.objects.all().delete()
    assert run(path)[2] == ""  # a pipe stays quiet


def test_the_audit_chain_stays_intact_after_an_import(department, tmp_path):
    from repair_flow.audit import verify_chain

    assert run(write_csv(tmp_path, *GOOD_ROWS), "--batch-size", "1")[0] == 0

    report = verify_chain()
    assert report.broken_at is None and report.verified == 3


def test_the_format_can_be_given_when_the_extension_says_nothing(department, tmp_path):
    path = write_jsonl(
        tmp_path,
        {"decision_number": "J-9", "department_code": "SCJGJ", "subject_type": "enterprise",
         "subject_identifier": USCC_A, "subject_name": "甲公司", "decision_date": "2026-05-10",
         "severity": "general", "penalty_types": "warning"},
        name="push.txt",
    )  # fmt: skip

    assert run(path)[0] == 2
    code, out, _ = run(path, "--format", "jsonl")

    assert code == 0
    assert out.splitlines()[-1] == "imported 1, updated 0, rejected 0"
