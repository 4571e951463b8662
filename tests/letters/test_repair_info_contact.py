"""两书同送 to a subject with no account: the contact email and mobile number
a department sends with the record (file or API) or an administrator records,
and the credit-repair notice that then reaches the subject, once."""

import datetime as dt
import io
import logging
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from rest_framework.test import APIClient

from letters.channels import ConsoleSmsBackend, LocmemSmsBackend
from letters.links import verify_url
from letters.models import Channel, Letter, LetterKind, MessageStatus, OutboundMessage
from letters.outbox import letters_sweep
from letters.repair_info import repair_info_issue_due
from records.identifiers import make_uscc
from records.models import Subject
from repair_flow.models import AuditEvent

TODAY = dt.datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
HEADER = (
    "decision_number,department_code,subject_type,subject_identifier,subject_name,"
    "decision_date,fine_amount,severity,penalty_types,facts,subject_email,subject_phone"
)
UNBOUND = make_uscc(serial=5002)
ROW = (
    f"济市监罚〔2026〕102号,SCJGJ,enterprise,{UNBOUND},济南乙餐饮有限公司,2026-05-11,300,"
    "general,fine,超范围经营。,{email},{phone}"
)


@pytest.fixture(autouse=True)
def frozen_today(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "letters.channels.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    with time_machine.travel(TODAY, tick=False):
        yield


def import_csv(tmp_path, *rows, committed, rejected=False):
    path = tmp_path / "records.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    try:
        committed(call_command, "import_records", str(path), stdout=out, stderr=err)
    except SystemExit:
        if not rejected:
            pytest.fail(err.getvalue())
    repair_info_issue_due()  # the background's part: the notices the import marked due
    return out.getvalue() + err.getvalue()


def row(email="", phone=""):
    return ROW.format(email=email, phone=phone)


def notices():
    return Letter.objects.filter(kind=LetterKind.REPAIR_INFO)


def test_a_subject_with_no_account_is_told_by_email_and_text_once(department, tmp_path, committed):
    import_csv(tmp_path, row("yi@example.com", "139 0000-1234"), committed=committed)
    subject = Subject.objects.identified_by(UNBOUND).get()
    assert (subject.contact_email, subject.contact_phone) == ("yi@example.com", "13900001234")
    letter = notices().get()
    assert letter.recipient is None and letter.subject == subject
    # Nothing is written in the import's transaction: the email and the text
    # are queued when the PDF exists, rendered in the background (the letters
    # sweep here), and sent then.
    assert OutboundMessage.objects.count() == 0
    letters_sweep()
    letters_sweep()
    email = OutboundMessage.objects.get(letter=letter, channel=Channel.EMAIL)
    sms = OutboundMessage.objects.get(letter=letter, channel=Channel.SMS)
    assert email.to == "yi@example.com" and sms.to == "13900001234"
    assert verify_url(letter) in sms.body and letter.number in sms.body
    (message,) = mail.outbox
    assert message.to == ["yi@example.com"] and letter.number in message.subject
    assert message.attachments[0][0] == f"{letter.number}.pdf"
    assert LocmemSmsBackend.outbox == [("13900001234", sms.body)]
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {MessageStatus.SENT}

    # Re-importing the same row tells no one twice.
    out = import_csv(tmp_path, row("yi@example.com", "13900001234"), committed=committed)
    assert "rejected 0" in out
    letters_sweep()
    assert notices().count() == 1 and OutboundMessage.objects.count() == 2
    assert len(mail.outbox) == 1 and len(LocmemSmsBackend.outbox) == 1


def test_a_subject_with_no_account_and_no_contact_is_not_told(department, tmp_path, committed):
    import_csv(tmp_path, row(), committed=committed)
    assert notices().count() == 0 and OutboundMessage.objects.count() == 0


def test_a_row_without_contact_keeps_the_contact_known(department, tmp_path, committed):
    import_csv(tmp_path, row(phone="13900001234"), committed=committed)
    changed = row().replace("济市监罚〔2026〕102号", "济市监罚〔2026〕103号")
    import_csv(tmp_path, changed, committed=committed)
    subject = Subject.objects.identified_by(UNBOUND).get()
    assert subject.contact_phone == "13900001234" and subject.contact_email == ""
    # The second record is told at the number known (once its PDF exists).
    letters_sweep()
    assert OutboundMessage.objects.filter(channel=Channel.SMS).count() == 2


@pytest.mark.parametrize(
    ("email", "phone", "field"),
    [
        ("", "12345678901", "subject_phone"),  # 1 then 2: no mobile block
        ("", "1390000123", "subject_phone"),  # ten digits
        ("not-an-address", "", "subject_email"),
    ],
)
def test_a_bad_contact_rejects_the_row_saying_why(
    department, tmp_path, committed, email, phone, field
):
    out = import_csv(tmp_path, row(email, phone), committed=committed, rejected=True)
    assert "rejected 1" in out and f"line 2: {field}:" in out
    assert not Subject.objects.identified_by(UNBOUND).exists()
    assert notices().count() == 0


def test_the_api_takes_the_contact_and_refuses_a_bad_one(
    department, department_system, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {department_system.auth_token.key}")
    item = {
        "decision_number": "济市监罚〔2026〕302号",
        "department_code": "SCJGJ",
        "subject_type": "enterprise",
        "subject_identifier": UNBOUND,
        "subject_name": "济南乙餐饮有限公司",
        "decision_date": "2026-05-20",
        "fine_amount": 8000,
        "severity": "general",
        "penalty_types": ["fine"],
        "subject_phone": "1390000123",
    }
    bad = api.post("/api/v1/records/", item, format="json")
    assert bad.status_code == 400
    assert "subject_phone" in str(bad.json())
    assert notices().count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        good = api.post("/api/v1/records/", {**item, "subject_phone": "13900001234"}, format="json")
    repair_info_issue_due()
    assert good.status_code == 201, good.json()
    letter = notices().get()
    letters_sweep()
    assert OutboundMessage.objects.get(letter=letter).channel == Channel.SMS


def test_the_console_backend_masks_the_number(caplog):
    with caplog.at_level(logging.INFO, logger="letters.sms"):
        ConsoleSmsBackend().send(phone="13900001234", text="您好")
    assert "139****1234" in caplog.text and "13900001234" not in caplog.text


# The admin, through the service


def test_an_administrator_sets_the_contact_in_the_admin_masked_and_audited(
    department, administrator, client_for, tmp_path, committed
):
    import_csv(tmp_path, row(), committed=committed)
    subject = Subject.objects.identified_by(UNBOUND).get()
    client = client_for(administrator)
    client.post("/access-purpose/", {"purpose": "data_maintenance"})  # the admin's gate
    url = f"/admin/records/subject/{subject.pk}/change/"
    form = {
        "kind": "enterprise",
        "name": subject.name,
        "legal_representative": "",
        "contact_email": "yi@example.com",
        "contact_phone": "13900001234",
    }
    assert client.post(url, form).status_code == 302
    subject.refresh_from_db()
    assert (subject.contact_email, subject.contact_phone) == ("yi@example.com", "13900001234")
    event = AuditEvent.objects.filter(action="records.subject.contact").get()
    assert event.summary["after"] == {"email": "yi@example.com", "phone": "139****1234"}
    # Never shown in full: the list and the form show it masked.
    listing = client.get("/admin/records/subject/").content.decode()
    page = client.get(url).content.decode()
    assert "139****1234" in listing and "139****1234" in page
    assert "13900001234" not in listing + page
    # An empty number keeps it; a bad one is refused with the reason.
    client.post(url, {**form, "contact_phone": ""})
    subject.refresh_from_db()
    assert subject.contact_phone == "13900001234"
    refused = client.post(url, {**form, "contact_phone": "23900001234"})
    assert refused.status_code == 200 and "手机号码应为11位中国大陆手机号" in (
        refused.content.decode()
    )
    client.post(url, {**form, "contact_phone": "", "clear_phone": "on"})
    subject.refresh_from_db()
    assert subject.contact_phone == ""


def test_an_officer_cannot_edit_a_subject_in_the_admin(department, officer, client_for, tmp_path,
                                                       committed):  # fmt: skip
    import_csv(tmp_path, row(), committed=committed)
    subject = Subject.objects.identified_by(UNBOUND).get()
    response = client_for(officer).post(
        f"/admin/records/subject/{subject.pk}/change/", {"contact_phone": "13900001234"}
    )
    assert response.status_code in (302, 403)
    subject.refresh_from_db()
    assert subject.contact_phone == ""
