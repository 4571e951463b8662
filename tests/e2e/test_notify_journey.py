"""Told in the app and by email: after the officer's supplement notice the
applicant's 通知 link carries a badge, the notice leads to the letter, and
the email with the letter is in the (locmem) outbox."""

import time

import pytest
from django.core import mail

from flows.cases.review import preliminary_review_claim
from tests.e2e.conftest import nav
from tests.e2e.test_staff_journey import messages, submit, submitted

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_the_applicant_sees_the_badge_and_gets_the_email_after_a_supplement_notice(
    browser_as, applicant, record, officer
):
    applicant.email = "zhangwei@example.com"
    applicant.save()
    case = submitted(applicant, record)
    preliminary_review_claim(officer=officer, case=case)

    me = browser_as("applicant")
    badge = nav(me).get_by_role("link", name="通知").locator(".nav-count")
    assert badge.inner_text() == "1"  # the filing received

    desk = browser_as("officer")
    desk.goto(f"{desk.base}/cases/{case.pk}/work/")
    notice = desk.locator(f"form[action='/cases/{case.pk}/work/supplement/']")
    notice.locator("input[name=item_performance_proof]").check()
    notice.get_by_label("履行义务证明的问题").fill("缴款凭证不清晰")
    submit(desk, case, "supplement", "发出补正告知书")
    assert "一次性补正告知书已发出" in messages(desk)

    me.reload()
    badge = nav(me).get_by_role("link", name="通知").locator(".nav-count")
    assert badge.inner_text() == "2"
    nav(me).get_by_role("link", name="通知").click()
    me.wait_for_url("**/notifications/")
    told = me.get_by_role("link", name=f"申请 {case.number} 需要补正材料", exact=False)
    assert "前提交" in told.inner_text()
    told.click()
    me.wait_for_url("**/letters/*/")

    # The letter's email goes once its PDF exists.
    deadline = time.monotonic() + 20
    while not any("补正材料一次性告知书" in m.subject for m in mail.outbox):
        assert time.monotonic() < deadline, [m.subject for m in mail.outbox]
        time.sleep(0.2)
    letter_mail = next(m for m in mail.outbox if "补正材料一次性告知书" in m.subject)
    assert letter_mail.to == ["zhangwei@example.com"]
    assert letter_mail.attachments
