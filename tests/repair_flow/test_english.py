"""English is one locale away: the pages, the API and the messages in English,
Chinese by default, and a catalogue with every message translated."""

import ast
import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.signals import setting_changed
from django.utils import translation
from rest_framework.test import APIClient

from records.identifiers import IdentifierError, make_uscc, validate_resident_id, validate_uscc
from repair_flow.accounts import AccountError, account_create
from tests.api_errors import field_errors
from tests.conftest import make_record
from tests.sla.test_deadlines import NATIONAL_DAY_3

PO = Path(settings.BASE_DIR) / "repair_flow" / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
SHANGHAI = ZoneInfo("Asia/Shanghai")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogue():
    """Compile the English catalogue when the .mo is missing or older than the
    .po (pytest may run without `make install`), as scripts/install.sh does."""
    if MO.exists() and MO.stat().st_mtime >= PO.stat().st_mtime:
        return
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.fail("msgfmt (Debian package gettext) is needed to compile the catalogue")
    partial = MO.with_name(f"django.mo.{os.getpid()}.tmp")
    try:
        subprocess.run([msgfmt, "--check-format", "-o", str(partial), str(PO)], check=True)
        partial.replace(MO)
    finally:
        partial.unlink(missing_ok=True)
    # Forget any catalogue loaded before the .mo existed.
    setting_changed.send(
        sender=type(settings),
        setting="LOCALE_PATHS",
        value=settings.LOCALE_PATHS,
        enter=False,
    )


@pytest.fixture(autouse=True)
def default_language_after():
    """A request leaves its language active in the thread; the next test starts
    from the default again."""
    yield
    translation.deactivate()


@pytest.fixture
def on():
    """`on(date)`: freeze the clock at 10:00 Beijing time on that day."""
    travellers = []

    def travel(day: dt.date):
        traveller = time_machine.travel(
            dt.datetime.combine(day, dt.time(10), tzinfo=SHANGHAI), tick=False
        )
        traveller.start()
        travellers.append(traveller)

    yield travel
    for traveller in reversed(travellers):
        traveller.stop()


def english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def without_language_switch(html: str) -> str:
    """The page minus the switcher's own label, which names Chinese in Chinese."""
    return html.replace(">中文</button>", "></button>")


# The catalogue ---------------------------------------------------------------------------


def read_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr / msgstr[N], flags."""
    entries: list[dict] = []
    entry: dict | None = None
    key = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            entry = None
            continue
        if line.startswith("#"):
            if entry is None:
                entry = {"flags": set()}
                entries.append(entry)
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        if line.startswith('"'):
            entry[key] += ast.literal_eval(line)
            continue
        key, _, value = line.partition(" ")
        if entry is None:
            entry = {"flags": set()}
            entries.append(entry)
        entry[key] = ast.literal_eval(value)
    return entries


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = [e for e in read_po(PO) if e.get("msgid")]
    assert len(entries) > 300
    for entry in entries:
        assert "fuzzy" not in entry["flags"], entry["msgid"]
        translations = [value for key, value in entry.items() if key.startswith("msgstr")]
        if "msgid_plural" in entry:
            assert sorted(k for k in entry if k.startswith("msgstr")) == ["msgstr[0]", "msgstr[1]"]
        assert translations and all(t.strip() for t in translations), entry["msgid"]
        for text in translations:
            assert sorted(PLACEHOLDER.findall(text)) == sorted(
                PLACEHOLDER.findall(entry["msgid"])
            ), entry["msgid"]
            # Chinese left in a translation is only ever a holiday's own name.
            assert not CJK.search(text.replace("国庆节", "")), text
    header = next(e for e in read_po(PO) if e.get("msgid") == "")
    assert "fuzzy" not in header["flags"]
    assert "Language: en\n" in header["msgstr"]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header["msgstr"]


def test_msgfmt_reports_no_untranslated_or_fuzzy_messages(tmp_path):
    result = subprocess.run(
        ["msgfmt", "--check-format", "--statistics", "-o", str(tmp_path / "check.mo"), str(PO)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert re.fullmatch(r"\d+ translated messages\.\n", result.stderr), result.stderr


# Pages -----------------------------------------------------------------------------------


def test_the_login_page_in_english(client):
    html = english(client).get("/accounts/login/").content.decode()
    assert '<html lang="en">' in html
    assert "<h1>Log in</h1>" in html
    assert "Username" in html and "Password" in html
    assert "Jinan Public Credit Information Platform" in html
    assert not CJK.search(without_language_switch(html))


def test_the_login_page_is_chinese_by_default(client):
    html = client.get("/accounts/login/").content.decode()
    assert '<html lang="zh-hans">' in html
    assert "<h1>登录</h1>" in html and "用户名" in html
    assert "Log in" not in html


def test_a_wrong_password_is_explained_in_english(client, applicant):
    response = english(client).post(
        "/accounts/login/", {"username": "applicant", "password": "wrong"}
    )
    assert "The username or password is incorrect. Please try again." in response.content.decode()


def test_the_language_switcher_turns_the_ui_english_and_back(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert "<h1>Log in</h1>" in client.get("/accounts/login/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/accounts/login/"})
    assert "<h1>登录</h1>" in client.get("/accounts/login/").content.decode()


def test_the_records_list_in_english(client_for, applicant, record, on):
    on(dt.date(2026, 6, 1))
    html = english(client_for(applicant)).get("/records/").content.decode()
    assert "My credit records" in html
    assert "<th>Penalty decision number</th>" in html
    assert "<th>Issuing department</th>" in html
    assert "<th>Credit repair</th>" in html
    assert '<span class="tag sev-general">general</span>' in html
    assert "<td>Published</td>" in html
    assert '<span class="badge ok">Eligible for repair</span>' in html
    assert '<option value="serious" >serious</option>' in html
    assert record.decision_number in html  # the data stays as it is


def test_the_records_list_is_chinese_by_default(client_for, applicant, record, on):
    on(dt.date(2026, 6, 1))
    html = client_for(applicant).get("/records/").content.decode()
    assert "我的信用记录" in html
    assert '<span class="tag sev-general">一般</span>' in html
    assert '<span class="badge ok">可申请修复</span>' in html
    assert "My credit records" not in html


def test_a_record_in_english_explains_its_eligibility(
    client_for, applicant, department, enterprise, on
):
    on(dt.date(2026, 6, 1))
    record = make_record(
        department=department, subject=enterprise, penalty_types=("warning", "fine")
    )
    html = english(client_for(applicant)).get(f"/records/{record.pk}/").content.decode()
    assert "<h2>Credit repair eligibility</h2>" in html
    assert (
        "<p>The minimum publicity period (general, 3 months) has passed, so credit repair may "
        "be applied for; all obligations must also have been fulfilled and a credit commitment "
        "made.</p>"
    ) in html
    assert "<dd>Warning, Fine</dd>" in html
    assert "5000.00 yuan" in html
    # The rule set's name is data: it stays as the migration stored it.
    assert "《信用修复管理办法》" in html


def test_a_record_not_yet_eligible_in_english(client_for, applicant, record, on):
    # Under the 2023 rules, a general record may be repaired after 3 months.
    on(dt.date(2026, 3, 1))
    html = english(client_for(applicant)).get(f"/records/{record.pk}/").content.decode()
    assert (
        "The minimum publicity period for general dishonest conduct is 3 months; credit repair "
        "may be applied for from 2026-04-15."
    ) in html
    assert '<span class="badge wait">Eligible from 2026-04-15</span>' in html


def test_a_record_is_chinese_by_default(client_for, applicant, record, on):
    on(dt.date(2026, 6, 1))
    html = client_for(applicant).get(f"/records/{record.pk}/").content.decode()
    assert "已满最短公示期（一般，3 个月），可申请信用修复" in html
    assert "credit repair" not in html


def test_a_record_out_of_reach_is_refused_in_english(api_for, applicant, other_record):
    response = api_for(applicant).get(f"/api/v1/records/{other_record.pk}/", **EN)
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "This record does not exist, or you are not authorized to view it."
    )
    response = api_for(applicant).get(f"/api/v1/records/{other_record.pk}/")
    assert response.json()["detail"] == "没有这条记录，或您无权查看。"


def test_a_role_refusal_in_english(api_for, applicant):
    response = api_for(applicant).post("/api/v1/records/", [], format="json", **EN)
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "Your account's role is not authorized to perform this action."
    )
    response = api_for(applicant).post("/api/v1/records/", [], format="json")
    assert response.json()["detail"] == "您的账号角色无权执行此操作。"


# The deadline calculator -----------------------------------------------------------------

NATIONAL_DAY_3_EN = [
    "The day of receipt, 2026-09-30, is not counted",
    "2026-10-01 Thursday, 国庆节 (public holiday): not counted",
    "2026-10-02 Friday, 国庆节 (public holiday): not counted",
    "2026-10-03 Saturday, weekend: not counted",
    "2026-10-04 Sunday, weekend: not counted",
    "2026-10-05 Monday, 国庆节 (public holiday): not counted",
    "2026-10-06 Tuesday, 国庆节 (public holiday): not counted",
    "2026-10-07 Wednesday, 国庆节 (public holiday): not counted",
    "2026-10-08 Thursday, working day: counted as working day 1",
    "2026-10-09 Friday, working day: counted as working day 2",
    "2026-10-10 Saturday, make-up working day: counted as working day 3",
    "Deadline: 2026-10-10 Saturday 17:00",
]


def test_the_deadline_calculator_page_in_english(client):
    html = english(client).get("/deadlines/").content.decode()
    assert "<h1>Processing deadline calculator</h1>" in html
    assert "Years with the official working-day calendar loaded: 2004-2026." in html
    assert ">Same day (received before the cut-off time)</option>" in html
    assert not CJK.search(without_language_switch(html))


def test_the_deadline_calculator_explains_a_deadline_in_english(client):
    html = (
        english(client)
        .get("/deadlines/", {"received": "2026-09-30T10:00", "rule": "working_days", "n": "3"})
        .content.decode()
    )
    assert ">How it was calculated</h2>" in html
    assert "3 working days (day of receipt not counted)" in html
    assert '<li class="skip">2026-10-01 Thursday, 国庆节 (public holiday): not counted</li>' in html
    assert (
        '<li class="makeup">2026-10-10 Saturday, make-up working day: counted as working day 3</li>'
    ) in html
    assert '<li class="due">Deadline: 2026-10-10 Saturday 17:00</li>' in html


def test_one_working_day_is_singular_in_english(client):
    html = (
        english(client)
        .get("/deadlines/", {"received": "2026-09-30T10:00", "rule": "working_days", "n": "1"})
        .content.decode()
    )
    assert "1 working day (day of receipt not counted)" in html


def test_a_provisional_deadline_is_flagged_in_english(client):
    html = (
        english(client)
        .get("/deadlines/", {"received": "2026-12-31T16:30", "rule": "same_day", "n": ""})
        .content.decode()
    )
    assert "Provisional result: the period reaches a year whose working-day calendar" in html
    assert "The working-day calendar for 2027 has not been loaded yet" in html


def test_the_deadline_calculator_is_chinese_by_default(client):
    html = client.get(
        "/deadlines/", {"received": "2026-09-30T10:00", "rule": "working_days", "n": "3"}
    ).content.decode()
    assert "<h1>办理期限计算</h1>" in html
    assert '<li class="due">期限届满：2026-10-10 周六 17:00</li>' in html
    assert "Deadline" not in html


def test_the_deadline_api_explains_in_english():
    response = APIClient().get(
        "/api/v1/deadlines/",
        {"received": "2026-09-30T10:00:00+08:00", "rule": "working_days", "n": "3"},
        **EN,
    )
    assert response.status_code == 200
    assert response.json()["explanation"] == NATIONAL_DAY_3_EN


def test_the_deadline_api_explains_in_chinese_by_default():
    response = APIClient().get(
        "/api/v1/deadlines/",
        {"received": "2026-09-30T10:00:00+08:00", "rule": "working_days", "n": "3"},
    )
    assert response.json()["explanation"] == NATIONAL_DAY_3


def test_the_deadline_api_reports_errors_in_english():
    response = APIClient().get(
        "/api/v1/deadlines/",
        {"received": "2026-09-30T15:30", "rule": "working_days", "n": "0"},
        **EN,
    )
    assert response.status_code == 400
    assert field_errors(response) == {
        "received": [
            "The time of receipt “2026-09-30T15:30” has no UTC offset; please add one, "
            "e.g. +08:00 or Z"
        ],
        "n": ["The number of days n must be between 1 and 365; got 0"],
    }


# Validation messages ---------------------------------------------------------------------


def bad_check_character(code: str) -> str:
    return code[:17] + ("1" if code[17] != "1" else "2")


def test_identifier_errors_in_english():
    with translation.override("en"):
        with pytest.raises(IdentifierError) as error:
            validate_uscc("91370100")
        assert error.value.message == (
            "A Unified Social Credit Code must be 18 characters long; this one has 8"
        )
        with pytest.raises(IdentifierError) as error:
            validate_uscc(bad_check_character(make_uscc(serial=1001)))
        assert error.value.message == (
            "The check character (character 18) of the Unified Social Credit Code is incorrect "
            "(GB 32100)"
        )
        with pytest.raises(IdentifierError) as error:
            validate_uscc("9137010O" + "0" * 10)
        assert "not allowed: O (I, O, S, V and Z are not used)" in error.value.message
        with pytest.raises(IdentifierError) as error:
            validate_resident_id("37010219850615123")
        assert error.value.message == (
            "A resident ID number must be 18 characters long; this one has 17"
        )


def test_identifier_errors_are_chinese_by_default():
    with pytest.raises(IdentifierError) as error:
        validate_uscc(bad_check_character(make_uscc(serial=1001)))
    assert error.value.message == "统一社会信用代码第18位校验码不正确（GB 32100）"


def test_an_ingested_identifier_is_rejected_in_english(api_for, integration, department, on):
    on(dt.date(2026, 6, 1))
    item = {
        "decision_number": "济市监罚〔2026〕301号",
        "department_code": department.code,
        "subject_type": "enterprise",
        "subject_identifier": bad_check_character(make_uscc(serial=7001)),
        "subject_name": "济南丙商贸有限公司",
        "decision_date": "2026-05-20",
        "fine_amount": 8000,
        "severity": "general",
        "penalty_types": ["fine"],
    }
    response = api_for(integration).post("/api/v1/records/", item, format="json", **EN)
    assert response.status_code == 400
    assert response.json()["results"][0]["errors"] == [
        {
            "field": "subject_identifier",
            "code": "check_character",
            "message": "The check character (character 18) of the Unified Social Credit Code "
            "is incorrect (GB 32100)",
        }
    ]


def test_account_errors_in_english(db, administrator):
    with translation.override("en"), pytest.raises(AccountError, match=r"^Unknown role: pilot$"):
        account_create(actor=administrator, username="x", password=None, role="pilot")
    with pytest.raises(AccountError, match=r"^未知角色：pilot$"):
        account_create(actor=administrator, username="x", password=None, role="pilot")


def test_the_api_schema_describes_fields_in_english(api_for, officer):
    english_schema = api_for(officer).get("/api/schema/?format=json", **EN).content.decode()
    assert "Issuing department code (must be registered)" in english_schema
    assert "Penalty decision number (exact match)" in english_schema
    chinese_schema = api_for(officer).get("/api/schema/?format=json").content.decode()
    assert "认定单位代码（须已登记）" in chinese_schema
