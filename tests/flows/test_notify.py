"""Notices at every step (flows.notify): the applicant and staff are told in
the app (the 通知 page and its badge) and by email, once, unless they turned
email off in their profile."""

import datetime as dt

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from flows.cases.assignment import case_reassign
from flows.cases.review import preliminary_review_refuse, supplement_request
from flows.models import BreachReview, CaseStatus
from flows.notify import Event, applicant_deadlines_notify, deliver, notify
from flows.objections.services import objection_maintain
from flows.repair.services import department_review_approve, repair_case_submit
from letters.channels import LocmemSmsBackend, SmsRejected
from letters.models import Channel, Letter, LetterKind, MessageStatus, OutboundMessage
from letters.outbox import letters_sweep
from sla.models import Notification, NotificationKind
from tests.flows.conftest import (
    BASIS,
    at,
    draft_with_materials,
    import_rows,
    penalty_row,
    revoke,
)
from tests.flows.test_objection_work import verifying
from tests.repair_flow.test_english import compiled_catalogue  # noqa: F401 - English mail

pytestmark = pytest.mark.django_db

ITEMS = [{"material": "performance_proof", "problem": "缴款凭证模糊，无法辨认金额"}]


@pytest.fixture(autouse=True)
def addresses(settings, applicant, officer, reviewer, supervisor):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "letters.channels.LocmemSmsBackend"
    LocmemSmsBackend.outbox.clear()
    for user in (applicant, officer, reviewer, supervisor):
        user.email = f"{user.username}@example.com"
        user.save()
    applicant.phone = "13800000000"
    applicant.save()


def notices(user):
    """The user's event notices as they read them (in Chinese, the default)."""
    return [n.headline for n in Notification.objects.filter(user=user, kind=NotificationKind.EVENT)]


def mails_to(user):
    return [m for m in mail.outbox if user.email in m.to]


def test_filing_received_tells_the_applicant(applicant, record, officer, committed):
    case = draft_with_materials(applicant, record)
    committed(repair_case_submit, applicant=applicant, case=case)
    case.refresh_from_db()
    assert notices(applicant) == [f"已收到您的申请 {case.number}，平台将尽快审查。"]
    # The officers hear of the new task in their queue (test_task_notices), not of the receipt.
    assert all("已收到" not in t for t in notices(officer))
    (message,) = mails_to(applicant)
    assert case.number in message.subject
    assert f"/cases/{case.pk}/" in message.body
    assert LocmemSmsBackend.outbox == [
        ("13800000000", f"{notices(applicant)[0]} 详情：{settings.SITE_URL}/cases/{case.pk}/")
    ]


def test_supplement_notice_names_the_deadline_and_mails_the_letter(
    drive, applicant, officer, committed
):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    Notification.objects.all().delete()
    mail.outbox.clear()
    request = committed(supplement_request, officer=officer, case=case, items=ITEMS)
    letter = Letter.objects.get(kind=LetterKind.SUPPLEMENT)
    (notice,) = Notification.objects.filter(user=applicant, kind=NotificationKind.EVENT)
    assert "需要补正材料" in notice.headline
    assert "2026-11-30 17:00" in notice.headline and letter.number in notice.headline
    assert notice.link == reverse("letters:detail", args=[letter.pk])
    assert request.deadline is not None
    (message,) = mails_to(applicant)
    assert letter.number in message.subject
    assert message.attachments and message.attachments[0][0].endswith(".pdf")
    assert notices(officer) == []


def test_acceptance_and_decision_are_told(drive, applicant, reviewer, committed):
    case = committed(drive, CaseStatus.IN_DEPARTMENT_REVIEW)
    assert any("已受理" in t for t in notices(applicant))
    committed(department_review_approve, reviewer=reviewer, case=case, basis=BASIS)
    decision = Letter.objects.get(kind=LetterKind.REPAIR_DECISION)
    assert any("已作出决定" in t and decision.number in t for t in notices(applicant))
    assert any(decision.number in m.subject for m in mails_to(applicant))
    assert all(decision.number not in t for t in notices(reviewer))


def test_refusal_to_accept_is_told(drive, applicant, officer, committed):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    committed(
        preliminary_review_refuse,
        officer=officer,
        case=case,
        reasons=["不属于受理范围"],
        basis=BASIS,
    )
    assert any("不予受理" in t for t in notices(applicant))


def test_a_task_assigned_tells_the_assignee(
    drive, officer, second_officer, supervisor, committed, applicant
):
    second_officer.email = "officer2@example.com"
    second_officer.save()
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    committed(
        case_reassign, supervisor=supervisor, case=case, assignee=second_officer, reason="请假"
    )
    assert notices(second_officer) == [f"案件 {case.label} 已指派给您办理。"]
    assert notices(officer) == [] and notices(supervisor) == []
    assert len(mails_to(second_officer)) == 1
    # Staff are not texted.
    assert all(phone == applicant.phone for phone, _ in LocmemSmsBackend.outbox)


def test_a_repeated_event_notifies_once(drive, applicant, committed):
    case = drive(CaseStatus.SUBMITTED)
    Notification.objects.all().delete()
    mail.outbox.clear()
    committed(notify, Event.FILED, case=case, key="again")
    committed(notify, Event.FILED, case=case, key="again")
    assert len(notices(applicant)) == 1
    assert len(mails_to(applicant)) == 1
    assert (
        deliver(
            "filed:again",
            users=[applicant],
            message="filed",
            params={"case": case.label},
            link="/",
            channels=("app",),
        )
        == 0
    )


def test_email_off_keeps_the_in_app_notice(applicant, record, committed):
    applicant.email_notifications = False
    applicant.save()
    case = draft_with_materials(applicant, record)
    committed(repair_case_submit, applicant=applicant, case=case)
    assert len(notices(applicant)) == 1
    assert mails_to(applicant) == []
    assert LocmemSmsBackend.outbox == []


def test_the_badge_counts_the_notice(client, applicant, record, committed):
    case = draft_with_materials(applicant, record)
    committed(repair_case_submit, applicant=applicant, case=case)
    client.force_login(applicant)
    page = client.get(reverse("notifications")).content.decode()
    assert '<span class="nav-count">1</span>' in page
    assert f'href="/cases/{case.pk}/"' in page


# The profile page


def test_a_person_turns_their_own_email_off(client, applicant):
    client.force_login(applicant)
    assert "同时通过邮件和短信通知我" in client.get(reverse("profile")).content.decode()
    response = client.post(reverse("profile"), {})
    assert response.status_code == 302
    applicant.refresh_from_db()
    assert applicant.email_notifications is False
    client.post(reverse("profile"), {"email_notifications": "on"})
    applicant.refresh_from_db()
    assert applicant.email_notifications is True


def test_no_one_changes_someone_elses_setting(client, applicant, other_applicant):
    client.force_login(other_applicant)
    client.post(reverse("profile"), {"user": applicant.pk, "username": applicant.username})
    applicant.refresh_from_db()
    other_applicant.refresh_from_db()
    assert applicant.email_notifications is True
    assert other_applicant.email_notifications is False


def test_the_profile_page_needs_a_login(client, applicant):
    response = client.post(reverse("profile"), {})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    applicant.refresh_from_db()
    assert applicant.email_notifications is True


def test_an_objection_result_is_told(applicant, record, officer, committed):
    case = verifying(applicant, record, officer, officer, "platform")
    Notification.objects.all().delete()
    mail.outbox.clear()
    committed(objection_maintain, verifier=officer, case=case, reasons=["记录无误"], basis=BASIS)
    result = Letter.objects.get(kind=LetterKind.OBJECTION_RESULT)
    assert notices(applicant) == [
        f"异议 {case.label} 已办结（{result.get_kind_display()} {result.number}）。"
    ]
    assert any(result.number in m.subject for m in mails_to(applicant))
    assert notices(officer) == []


@pytest.fixture
def review(approved, now, enterprise, sister_department):
    """A new penalty of the repaired enterprise: a breach review (as in test_hearing)."""
    now.move_to(at("2027-03-02 09:00"))
    import_rows(penalty_row(enterprise, sister_department, number="济环罚〔2027〕8号"))
    return BreachReview.objects.get()


def test_the_notice_of_intended_revocation_and_the_revocation_are_told(
    review, reviewer, applicant, committed
):
    Notification.objects.all().delete()
    committed(revoke, reviewer=reviewer, review=review, reasons=["再次违法"], basis=BASIS)
    titles = notices(applicant)
    assert any("拟撤销信用修复，您可在" in t for t in titles)
    assert any("的信用修复已撤销" in t for t in titles)
    assert notices(reviewer) == []


def test_the_applicant_is_reminded_of_a_deadline_once(drive, applicant, officer, committed, now):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    supplement_request(officer=officer, case=case, items=ITEMS)
    Notification.objects.all().delete()
    assert applicant_deadlines_notify() == 0  # due 30 November, far off
    now.move_to(at("2026-11-29 09:00"))
    assert committed(applicant_deadlines_notify) == 1
    committed(applicant_deadlines_notify)
    assert notices(applicant) == [
        f"申请 {case.label} 的办理期限 2026-11-30 17:00 即将届满，请及时办理。"
    ]
    assert notices(officer) == []


# A notice is data, written in the reader's language


def test_each_reader_reads_the_notice_in_their_language(
    client, applicant, other_applicant, record, committed
):
    case = draft_with_materials(applicant, record)
    committed(repair_case_submit, applicant=applicant, case=case)
    case.refresh_from_db()
    (notice,) = Notification.objects.filter(user=applicant, kind=NotificationKind.EVENT)
    assert notice.message == "filed" and notice.params == {"case": case.label}
    client.force_login(applicant)
    chinese = f"已收到您的申请 {case.number}，平台将尽快审查。"
    english = f"We have received your application {case.number}"
    page = client.get(reverse("notifications")).content.decode()
    assert chinese in page and english not in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("notifications")).content.decode()
    assert english in page and chinese not in page
    (item,) = client.get("/api/v1/notifications/").json()["results"]
    assert item["headline"].startswith(english)
    assert item["message"] == "filed" and item["link"] == f"/cases/{case.pk}/"
    # The email went out in Chinese, whoever reads the page in English later.
    (message,) = mails_to(applicant)
    assert chinese in message.body
    # Another person's notices are not theirs to read.
    client.force_login(other_applicant)
    assert client.get("/api/v1/notifications/").json()["results"] == []


def test_the_notifications_api_needs_a_login(client):
    assert client.get("/api/v1/notifications/").status_code in (401, 403)


def test_a_notice_written_before_keeps_its_sentence(client, applicant):
    # Rows from before message/params (migration sla 0013) carry only a title.
    Notification.objects.create(
        user=applicant, kind=NotificationKind.EVENT, title="旧通知：申请已受理", event_key="old:1"
    )
    client.force_login(applicant)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "旧通知：申请已受理" in client.get(reverse("notifications")).content.decode()


def test_the_letter_and_deadline_read_in_english(client, drive, applicant, officer, committed):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    committed(supplement_request, officer=officer, case=case, items=ITEMS)
    letter = Letter.objects.get(kind=LetterKind.SUPPLEMENT)
    client.force_login(applicant)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("notifications")).content.decode()
    # The deadline in Beijing time, the letter's kind in English.
    assert (
        f"please submit them by 2026-11-30 17:00 (One-time supplement notice {letter.number})"
        in page
    )


# SMS through the outbox


class FailingSms:
    """A provider that is down."""

    def send(self, *, phone, text):
        raise ConnectionError("短信网关无响应")


class RefusingSms:
    """A provider that refuses the number."""

    def send(self, *, phone, text):
        raise SmsRejected("isv.MOBILE_NUMBER_ILLEGAL")


def test_an_sms_that_fails_is_retried_with_backoff(settings, applicant, record, committed, now):
    settings.SMS_BACKEND = "tests.flows.test_notify.FailingSms"
    case = draft_with_materials(applicant, record)
    committed(repair_case_submit, applicant=applicant, case=case)
    (sms,) = OutboundMessage.objects.filter(channel=Channel.SMS)
    assert (sms.status, sms.attempts, sms.to) == (MessageStatus.QUEUED, 1, "13800000000")
    assert "短信网关无响应" in sms.last_error
    settings.SMS_BACKEND = "letters.channels.LocmemSmsBackend"
    # Not before its backoff (one minute) has passed.
    letters_sweep()
    assert LocmemSmsBackend.outbox == []
    now.shift(dt.timedelta(seconds=61))
    letters_sweep()
    letters_sweep()
    sms.refresh_from_db()
    assert sms.status == MessageStatus.SENT and sms.attempts == 2
    assert len(LocmemSmsBackend.outbox) == 1


def test_a_refused_number_fails_at_once_and_an_officer_sees_and_resends_it(
    settings, client, drive, applicant, officer, committed
):
    settings.SMS_BACKEND = "tests.flows.test_notify.RefusingSms"
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    committed(supplement_request, officer=officer, case=case, items=ITEMS)
    letter = Letter.objects.get(kind=LetterKind.SUPPLEMENT)
    (sms,) = OutboundMessage.objects.filter(channel=Channel.SMS, letter=letter)
    assert sms.status == MessageStatus.FAILED and sms.attempts == 1
    client.force_login(officer)
    page = client.get(reverse("letters:detail", args=[letter.pk])).content.decode()
    row = page[page.index(f'data-message="{sms.pk}"') :].split("</tr>")[0]
    assert "短信" in row and "发送失败" in row and "isv.MOBILE_NUMBER_ILLEGAL" in row
    # The number is masked on screen (3 + 4).
    assert "138****0000" in row and "13800000000" not in page
    # The applicant corrects the number; the officer resends to it.
    applicant.phone = "13900000000"
    applicant.save()
    settings.SMS_BACKEND = "letters.channels.LocmemSmsBackend"
    response = committed(client.post, reverse("letters:message_resend", args=[letter.pk, sms.pk]))
    assert response.status_code == 302
    assert [phone for phone, _ in LocmemSmsBackend.outbox] == ["13900000000"]


def test_an_applicant_may_not_resend(client, drive, applicant, officer, committed, settings):
    settings.SMS_BACKEND = "tests.flows.test_notify.RefusingSms"
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    committed(supplement_request, officer=officer, case=case, items=ITEMS)
    sms = OutboundMessage.objects.get(channel=Channel.SMS)
    client.force_login(applicant)
    response = client.post(reverse("letters:message_resend", args=[sms.letter_id, sms.pk]))
    assert response.status_code == 403
    assert OutboundMessage.objects.filter(channel=Channel.SMS).count() == 1


# The language of emails and texts (profile page)


def test_a_person_who_chooses_english_is_mailed_and_texted_in_english(
    client, applicant, record, committed
):
    client.force_login(applicant)
    page = client.get(reverse("profile")).content.decode()
    assert '<option value="zh-hans" lang="zh-hans" selected>' in page
    response = client.post(reverse("profile"), {"email_notifications": "on", "language": "en"})
    assert response.status_code == 302
    applicant.refresh_from_db()
    assert applicant.language == "en"

    case = draft_with_materials(applicant, record)
    committed(repair_case_submit, applicant=applicant, case=case)
    case.refresh_from_db()
    (message,) = mails_to(applicant)
    text = f"We have received your application {case.number}"
    assert message.subject.startswith("[Credit repair platform] " + text)
    assert text in message.body and "您好" not in message.body
    assert LocmemSmsBackend.outbox == [
        ("13800000000", f"{text}; the platform will review it shortly. "
                        f"Details: {settings.SITE_URL}/cases/{case.pk}/")
    ]  # fmt: skip
    # The stored notice is the reader's page's business: in Chinese by default.
    assert notices(applicant) == [f"已收到您的申请 {case.number}，平台将尽快审查。"]


def test_a_letter_mailed_through_the_outbox_is_in_the_recipients_language(
    drive, applicant, officer, committed
):
    applicant.language = "en"
    applicant.save(update_fields=["language"])
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    mail.outbox.clear()
    committed(supplement_request, officer=officer, case=case, items=ITEMS)
    letter = Letter.objects.get(kind=LetterKind.SUPPLEMENT)

    message = OutboundMessage.objects.get(letter=letter, channel=Channel.EMAIL)
    assert message.subject == f"[{letter.issuer}] One-time supplement notice {letter.number}"
    assert "One-time supplement notice" in message.body and "您好" not in message.body
    (sent,) = mails_to(applicant)
    assert sent.subject == message.subject
    # Chinese stays the default for everyone else.
    officer.refresh_from_db()
    assert officer.language == "zh-hans"


def test_a_language_not_offered_is_refused_and_nothing_saved(client, applicant):
    client.force_login(applicant)
    response = client.post(reverse("profile"), {"language": "fr"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "不支持的通知语言：fr" in page and 'aria-invalid="true"' in page
    applicant.refresh_from_db()
    # The email switch posted with it (off) is not saved either.
    assert (applicant.language, applicant.email_notifications) == ("zh-hans", True)


def test_no_one_changes_someone_elses_language(client, applicant, other_applicant):
    client.force_login(other_applicant)
    client.post(
        reverse("profile"), {"user": applicant.pk, "language": "en", "email_notifications": "on"}
    )
    applicant.refresh_from_db()
    other_applicant.refresh_from_db()
    assert (applicant.language, other_applicant.language) == ("zh-hans", "en")
