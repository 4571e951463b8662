"""两书同送: the credit-repair notice (信用修复告知书) issued with a penalty
imported (CSV) or posted (API) for a subject the platform can reach."""

import datetime as dt
import io
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.test import APIClient

from letters.links import verify_url
from letters.models import Letter, LetterKind, OutboundMessage, RenderStatus
from letters.outbox import letters_render_due
from letters.render import render_letter_html
from records.identifiers import make_resident_id, make_uscc
from records.models import BindingCapacity, SubjectBinding
from repair_flow.management.commands import serve
from tests.conftest import make_user

TODAY = dt.datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
HEADER = (
    "decision_number,department_code,subject_type,subject_identifier,subject_name,"
    "decision_date,fine_amount,severity,penalty_types,facts"
)
BOUND = make_uscc(serial=1001)  # the `enterprise` fixture, bound to `applicant`
UNBOUND = make_uscc(serial=5002)
PERSON_ID = make_resident_id(birth=dt.date(1985, 6, 15), serial=123)  # `person`
ROWS = (
    f"济市监罚〔2026〕101号,SCJGJ,enterprise,{BOUND},济南泉城食品有限公司,2026-05-10,5000,"
    "general,fine,超范围经营。",
    f"济市监罚〔2026〕102号,SCJGJ,enterprise,{UNBOUND},济南乙餐饮有限公司,2026-05-11,300,"
    "general,fine,超范围经营。",
)


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


def import_csv(tmp_path, *rows, committed):
    path = tmp_path / "records.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    try:
        committed(call_command, "import_records", str(path), stdout=out, stderr=err)
    except SystemExit:
        pytest.fail(err.getvalue())
    assert err.getvalue() == ""
    return out.getvalue()


def notices():
    return Letter.objects.filter(kind=LetterKind.REPAIR_INFO)


def test_an_import_tells_a_bound_subject_once_and_not_an_unreachable_one(
    department, applicant, tmp_path, committed
):
    import_csv(tmp_path, *ROWS, committed=committed)

    letter = notices().get()
    assert letter.record.decision_number == "济市监罚〔2026〕101号"
    assert letter.recipient == applicant
    # 谁认定: the department that imposed the penalty issues it, in its own series.
    assert letter.issuer == department.name
    assert letter.number == "SCJGJ信修告〔2026〕1号"
    assert letter.verification_code
    # Not rendered inside the import: the render queue does it in the background.
    assert letter.status == RenderStatus.PENDING
    assert letters_render_due() == 1
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED

    # Re-importing the same file never tells twice.
    out = import_csv(tmp_path, *ROWS, committed=committed)
    assert "rejected 0" in out
    assert notices().count() == 1


def test_the_notice_says_when_repair_may_be_applied_for_and_what_to_prepare(
    department, applicant, tmp_path, committed
):
    import_csv(tmp_path, ROWS[0], committed=committed)
    letter = notices().get()

    html = render_letter_html(letter)
    assert letter.facts["eligibility"]["eligibility"] == "not_yet"
    earliest = dt.date.fromisoformat(letter.facts["eligibility"]["eligible_from"])
    assert earliest > TODAY.date()
    assert f"自{earliest.year}年{earliest.month}月{earliest.day}日起可以申请信用修复" in html
    assert "公示期" in html
    assert "已履行行政处罚决定所规定义务的证明" in html
    assert "法定代表人身份证明" in html
    assert "http://" in html and "登录信用修复平台" in html
    assert "如不服本决定" not in html  # it decides nothing: no remedies line


def test_a_penalty_that_cannot_be_repaired_early_says_so_citing_the_rule(
    department, applicant, tmp_path, committed
):
    row = ROWS[0].replace("5000,general,fine", ",serious,licence_revocation")
    import_csv(tmp_path, row, committed=committed)
    letter = notices().get()

    eligibility = letter.facts["eligibility"]
    assert eligibility["eligibility"] == "never"
    assert eligibility["eligible_from"] is None
    html = render_letter_html(letter)
    assert "不可提前修复" in html
    assert eligibility["legal_basis"] and eligibility["legal_basis"] in html
    assert "可以申请信用修复" not in html


def test_a_natural_persons_notice_never_speaks_of_publication(
    department, person, tmp_path, committed
):
    owner = make_user("wangfang", "applicant")
    SubjectBinding.objects.create(user=owner, subject=person, capacity=BindingCapacity.SELF)
    row = f"济市监罚〔2026〕103号,SCJGJ,person,{PERSON_ID},王芳,2026-05-12,200,general,fine,"
    import_csv(tmp_path, row, committed=committed)
    letter = notices().get()

    html = render_letter_html(letter)
    assert letter.recipient == owner
    assert "公示" not in html
    assert "披露期" in html and "共享和使用" in html
    assert "本人身份证件" in html and "营业执照" not in html and "法定代表人" not in html


def test_a_record_posted_through_the_api_tells_the_bound_subject(
    department, applicant, department_system, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {department_system.auth_token.key}")
    item = {
        "decision_number": "济市监罚〔2026〕301号",
        "department_code": "SCJGJ",
        "subject_type": "enterprise",
        "subject_identifier": BOUND,
        "subject_name": "济南泉城食品有限公司",
        "decision_date": "2026-05-20",
        "fine_amount": 8000,
        "severity": "general",
        "penalty_types": ["fine"],
        "facts": "虚假宣传。",
    }
    unbound = {**item, "decision_number": "济市监罚〔2026〕302号", "subject_identifier": UNBOUND}

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/records/", [item, unbound], format="json")
        again = api.post("/api/v1/records/", item, format="json")

    assert response.status_code == 201, response.json()
    assert again.status_code in (200, 201), again.json()
    letter = notices().get()
    assert letter.record.decision_number == "济市监罚〔2026〕301号"
    assert letter.recipient == applicant


def test_the_applicant_sees_the_notice_among_their_letters_and_by_email_others_do_not(
    department, applicant, other_applicant, tmp_path, committed, client_for
):
    applicant.email = "zhangwei@example.com"
    applicant.save(update_fields=["email"])
    import_csv(tmp_path, ROWS[0], committed=committed)
    letter = notices().get()

    message = OutboundMessage.objects.get(letter=letter)
    assert message.to == "zhangwei@example.com"
    assert message.user == applicant
    page = client_for(applicant).get("/letters/").content.decode()
    assert letter.number in page and "信用修复告知书" in page
    other = client_for(other_applicant).get("/letters/").content.decode()
    assert letter.number not in other
    assert client_for(other_applicant).get(f"/letters/{letter.pk}/pdf").status_code == 404


def test_serve_makes_the_verify_url_follow_the_port_served(
    settings, monkeypatch, department, applicant, tmp_path, committed
):
    monkeypatch.delenv("SITE_URL", raising=False)
    settings.SITE_URL = "http://127.0.0.1:8000"
    with mock.patch.object(serve, "call_command") as runserver:
        call_command("serve", "--port", "8123", "--no-scheduler", stdout=io.StringIO())
    runserver.assert_called_once_with(
        "runserver", "127.0.0.1:8123", use_reloader=False, use_threading=True
    )
    import_csv(tmp_path, ROWS[0], committed=committed)
    letter = notices().get()

    assert verify_url(letter) == f"http://127.0.0.1:8123/verify/{letter.verification_code}"
    assert letter.facts["apply_at"] == "http://127.0.0.1:8123/"


def test_a_site_url_set_in_the_environment_is_kept(settings, monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://xyxf.jinan.gov.cn")
    settings.SITE_URL = "https://xyxf.jinan.gov.cn"

    assert serve.site_url_follow(addr="127.0.0.1", port=8123) == "https://xyxf.jinan.gov.cn"
    wildcard = "::"  # every interface: the configured host is kept
    assert serve.site_url_follow(addr=wildcard, port=8123) == "https://xyxf.jinan.gov.cn"
    monkeypatch.delenv("SITE_URL")
    assert serve.site_url_follow(addr=wildcard, port=8124) == "https://xyxf.jinan.gov.cn:8124"
