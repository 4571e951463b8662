"""Letter pages: 我的文书, the PDF, the commitment page, and the staff view of
a letter's rendering and messages; each rule with the persona refused."""

import re
import stat

import pytest

from letters import render as render_module
from letters.commitments import commitment_create
from letters.models import (
    Commitment,
    DeliveryEvent,
    Letter,
    MessageStatus,
    OutboundMessage,
    RenderStatus,
)
from letters.outbox import message_queue
from repair_flow.models import AccessLogEntry, AuditEvent
from tests.conftest import status_of
from tests.letters.conftest import acceptance, commitment_sign_committed


@pytest.fixture
def letter(committed, record, officer, applicant):
    letter = committed(acceptance, record, officer, recipient=applicant)
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED
    return letter


@pytest.fixture
def other_letter(committed, other_record, officer):
    letter = committed(acceptance, other_record, officer)
    letter.refresh_from_db()
    return letter


@pytest.fixture
def commitment(committed, record, applicant):
    commitment = committed(commitment_create, record=record, actor=applicant)
    commitment.draft.refresh_from_db()
    return commitment


@pytest.fixture
def failing_render(monkeypatch):
    def broken(letter):
        raise RuntimeError("font cache unavailable")

    monkeypatch.setattr(render_module, "render_letter_pdf", broken)


# Anonymous visitors


def test_anonymous_visitors_are_sent_to_login(client, letter, commitment, record):
    for url in [
        "/letters/",
        f"/letters/{letter.pk}/",
        f"/letters/{letter.pk}/pdf",
        f"/letters/commitments/{commitment.pk}/",
        f"/letters/commitments/new/{record.pk}/",
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url


def test_the_nav_links_to_the_letters_for_signed_in_users_only(client, client_for, applicant):
    assert 'href="/letters/"' not in client.get("/deadlines/").content.decode()
    page = client_for(applicant).get("/records/").content.decode()
    assert '<a href="/letters/">文书</a>' in page


# 我的文书


def test_an_applicant_lists_their_letters_with_number_date_status_and_pdf(
    client_for, applicant, letter, other_letter
):
    response = client_for(applicant).get("/letters/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "我的文书" in page
    assert letter.number in page and "受理通知书" in page
    assert letter.issued_at.strftime("%Y-") in page
    assert f'href="/letters/{letter.pk}/pdf"' in page
    assert other_letter.number not in page


def test_a_letter_still_rendering_shows_as_being_made_without_a_link(
    client_for, applicant, record, officer
):
    pending = acceptance(record, officer)  # the render after commit never ran
    page = client_for(applicant).get("/letters/").content.decode()
    assert pending.number in page and "生成中" in page
    assert f"/letters/{pending.pk}/pdf" not in page
    assert client_for(applicant).get(f"/letters/{pending.pk}/pdf").status_code == 404


def test_a_failed_render_shows_to_the_applicant_as_being_made(
    client_for, applicant, record, officer, committed, failing_render
):
    failed = committed(acceptance, record, officer)
    failed.refresh_from_db()
    assert failed.status == RenderStatus.FAILED
    page = client_for(applicant).get("/letters/").content.decode()
    assert "生成中" in page and "生成失败" not in page


def test_the_commitment_draft_is_listed_to_sign_until_signed(
    client_for, applicant, commitment, committed
):
    client = client_for(applicant)
    page = client.get("/letters/").content.decode()
    assert f'href="/letters/commitments/{commitment.pk}/"' in page and "阅读并签署" in page
    signed = commitment_sign_committed(commitment, applicant, committed)
    page = client.get("/letters/").content.decode()
    assert "阅读并签署" not in page
    assert signed.number in page and f'href="/letters/{signed.pk}/pdf"' in page


def row_of(page: str, letter) -> str:
    """The list's row of one letter."""
    start = page.index(f'<tr data-letter="{letter.pk}">')
    return page[start : page.index("</tr>", start)]


@pytest.mark.parametrize("persona", ["applicant", "officer"])
def test_the_unsigned_commitment_draft_is_marked_as_a_draft_and_the_signed_one_is_not(
    request, client_for, applicant, commitment, committed, persona
):
    client = client_for(request.getfixturevalue(persona))
    row = row_of(client.get("/letters/").content.decode(), commitment.draft)
    assert "信用修复承诺书" in row and "（待签署草稿）" in row
    signed = commitment_sign_committed(commitment, applicant, committed)
    page = client.get("/letters/").content.decode()
    row = row_of(page, signed)
    assert "信用修复承诺书" in row and "（待签署草稿）" not in row
    assert "（待签署草稿）" not in page


def test_staff_lists_are_scoped_like_the_records(
    client_for, officer, reviewer, other_reviewer, letter, other_letter
):
    page = client_for(officer).get("/letters/").content.decode()
    assert letter.number in page and other_letter.number in page
    page = client_for(reviewer).get("/letters/").content.decode()
    assert letter.number in page and other_letter.number not in page
    page = client_for(other_reviewer).get("/letters/").content.decode()
    assert letter.number not in page and other_letter.number in page


def listed(response) -> list[int]:
    """The ids of the letters a list page shows, in order."""
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'<tr data-letter="(\d+)"', response.content.decode())]


def test_the_list_finds_a_letter_or_case_number_by_its_beginning(
    client_for, officer, applicant, other_applicant, letter, other_letter
):
    # What the services write when a letter is about a case: its number.
    Letter.objects.filter(pk=letter.pk).update(case_label="济信修申〔2026〕7号")
    staff = client_for(officer)
    assert listed(staff.get("/letters/", {"q": letter.number})) == [letter.pk]
    assert listed(staff.get("/letters/", {"q": "济信修申〔2026〕7"})) == [letter.pk]
    # The beginning both numbers share finds both, newest first.
    common = letter.number[: letter.number.index("〕") + 1]
    assert other_letter.number.startswith(common)
    assert listed(staff.get("/letters/", {"q": common})) == [other_letter.pk, letter.pk]
    # Not a piece from the middle (no index serves it), and not another's letter.
    assert listed(staff.get("/letters/", {"q": letter.number[1:]})) == []
    assert listed(client_for(applicant).get("/letters/", {"q": common})) == [letter.pk]
    assert listed(client_for(other_applicant).get("/letters/", {"q": letter.number})) == []


def test_the_list_filters_by_kind(client_for, officer, letter, commitment):
    page = client_for(officer).get("/letters/", {"kind": "commitment"}).content.decode()
    assert letter.number not in page and f"/letters/commitments/{commitment.pk}/" in page


# The PDF


def test_the_pdf_is_streamed_inline_under_its_number(client_for, applicant, letter):
    response = client_for(applicant).get(f"/letters/{letter.pk}/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        "inline; filename*=UTF-8''%E6%B5%8E%E4%BF%A1%E4%BF%AE%E5%8F%97%E3%80%94"
        f"{letter.year}%E3%80%95{letter.serial}%E5%8F%B7.pdf"
    )
    assert response.streaming
    body = b"".join(response.streaming_content)
    with letter.file.open("rb") as stored:
        assert body == stored.read() and body.startswith(b"%PDF-")


@pytest.mark.parametrize("persona", ["other_applicant", "other_reviewer"])
@pytest.mark.parametrize("what", ["pdf", "page-1.png"])
def test_someone_elses_pdf_or_page_image_is_not_found(request, client_for, letter, persona, what):
    user = request.getfixturevalue(persona)
    assert client_for(user).get(f"/letters/{letter.pk}/{what}").status_code == 404


@pytest.mark.parametrize("persona", ["reviewer", "officer", "supervisor"])
def test_staff_who_may_see_the_letter_get_its_pdf(request, client_for, letter, persona):
    user = request.getfixturevalue(persona)
    assert status_of(client_for(user).get(f"/letters/{letter.pk}/pdf")) == 200


def test_staff_state_a_purpose_before_a_natural_persons_letter(
    client_for, officer, person_record, committed
):
    letter = committed(acceptance, person_record, officer)
    client = client_for(officer)
    response = client.get(f"/letters/{letter.pk}/pdf")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/access-purpose/{person_record.subject_id}/")
    client.post(
        f"/access-purpose/{person_record.subject_id}/",
        {"purpose": "repair_case", "next": f"/letters/{letter.pk}/"},
    )
    assert status_of(client.get(f"/letters/{letter.pk}/pdf")) == 200
    assert client.get(f"/letters/{letter.pk}/").status_code == 200
    entries = AccessLogEntry.objects.filter(user=officer, purpose="repair_case")
    assert sorted(entries.values_list("what", flat=True)) == [
        f"letter:{letter.pk}",
        f"letter:{letter.pk}:pdf",
    ]


# The commitment page


def test_the_commitment_page_shows_the_pdf_pages_and_repeats_its_content_as_text(
    client_for, applicant, commitment, record
):
    client = client_for(applicant)
    response = client.get(f"/letters/commitments/{commitment.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    # Page images of the stored PDF (phones show nothing in a PDF frame), and the PDF itself.
    image_url = f"/letters/{commitment.draft.pk}/page-1.png"
    assert f'<img src="{image_url}"' in page
    assert f'href="/letters/{commitment.draft.pk}/pdf"' in page
    image = client.get(image_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    png = b"".join(image.streaming_content)
    assert png.startswith(b"\x89PNG")
    assert client.get(f"/letters/{commitment.draft.pk}/page-2.png").status_code == 404
    assert record.decision_number in page and "济南市市场监督管理局" in page
    assert "张伟" in page and "同意将本承诺书在信用网站向社会公开" in page
    # The signer is the account, in its bound capacity: no name to type.
    assert 'name="signer_name"' not in page and 'name="confirmed"' in page
    assert "法定代表人：张伟" in page
    assert f'name="draft_sha256" value="{commitment.draft.sha256}"' in page
    assert "本人已阅读并承诺以上内容真实" in page


def test_a_draft_still_rendering_shows_no_frame_and_no_form(client_for, applicant, record):
    commitment = commitment_create(record=record, actor=applicant)  # render not run
    page = client_for(applicant).get(f"/letters/commitments/{commitment.pk}/").content.decode()
    assert "承诺书正在生成" in page
    assert "<iframe" not in page and 'name="confirmed"' not in page


@pytest.mark.parametrize(
    ("persona", "status"),
    [("other_applicant", 404), ("other_reviewer", 404), ("reviewer", 200), ("officer", 200)],
)
def test_who_may_see_a_commitment(request, client_for, commitment, persona, status):
    user = request.getfixturevalue(persona)
    assert client_for(user).get(f"/letters/commitments/{commitment.pk}/").status_code == status


def test_an_applicant_opens_the_commitment_for_their_record(
    client_for, applicant, record, committed
):
    client = client_for(applicant)
    page = client.get(f"/letters/commitments/new/{record.pk}/").content.decode()
    assert "生成承诺书" in page and record.decision_number in page
    assert not Commitment.objects.exists()
    response = committed(client.post, f"/letters/commitments/new/{record.pk}/")
    commitment = Commitment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/letters/commitments/{commitment.pk}/"
    assert Letter.objects.get(pk=commitment.draft_id).status == RenderStatus.RENDERED
    # Again: the same commitment, nothing new.
    response = committed(client.post, f"/letters/commitments/new/{record.pk}/")
    assert response["Location"] == f"/letters/commitments/{commitment.pk}/"
    assert Commitment.objects.count() == 1
    page = client.get(f"/letters/commitments/new/{record.pk}/").content.decode()
    assert "这条记录的承诺书已经生成" in page


def test_only_an_applicant_bound_to_the_record_may_open_its_commitment(
    client_for, other_applicant, officer, record
):
    assert (
        client_for(other_applicant).post(f"/letters/commitments/new/{record.pk}/").status_code
        == 404
    )
    assert client_for(officer).post(f"/letters/commitments/new/{record.pk}/").status_code == 403
    assert not Commitment.objects.exists()


# The staff letter page


def test_an_officer_sees_a_failed_render_and_renders_it_again(
    client_for, officer, record, applicant, committed, failing_render, monkeypatch
):
    letter = committed(acceptance, record, officer, recipient=applicant)
    client = client_for(officer)
    page = client.get(f"/letters/{letter.pk}/").content.decode()
    assert "生成失败" in page
    assert "RuntimeError: font cache unavailable" in page
    assert '<dd class="attempts">1</dd>' in page
    assert "重新生成" in page

    monkeypatch.undo()  # the font cache is back
    response = committed(client.post, f"/letters/{letter.pk}/render/")
    assert response.status_code == 302 and response["Location"] == f"/letters/{letter.pk}/"
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED and letter.attempts == 2
    assert letter.last_error == ""
    assert AuditEvent.objects.filter(action="letter.retry_render", actor=officer).count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "文书已重新生成。" in page and "已生成" in page and "重新生成</button>" not in page


def test_rendering_a_rendered_letter_again_is_refused_with_a_reason(client_for, officer, letter):
    response = client_for(officer).post(f"/letters/{letter.pk}/render/", follow=True)
    assert "这份文书已经生成，无需重新生成。" in response.content.decode()
    assert not AuditEvent.objects.filter(action="letter.retry_render").exists()


def test_a_retry_that_fails_again_says_so(client_for, officer, record, committed, failing_render):
    letter = committed(acceptance, record, officer)
    response = client_for(officer).post(f"/letters/{letter.pk}/render/", follow=True)
    assert "重新生成仍未成功：font cache unavailable" in response.content.decode()
    letter.refresh_from_db()
    assert (letter.status, letter.attempts) == (RenderStatus.FAILED, 2)


@pytest.mark.parametrize(
    ("persona", "status"), [("applicant", 403), ("reviewer", 403), ("other_reviewer", 403)]
)
def test_only_platform_officers_render_again(request, client_for, letter, persona, status):
    user = request.getfixturevalue(persona)
    response = client_for(user).post(f"/letters/{letter.pk}/render/")
    assert response.status_code == status


def test_the_staff_page_shows_each_message_with_status_attempts_error_and_events(
    client_for, officer, letter
):
    message = message_queue(
        key=f"test:{letter.pk}:1", to="zhangwei@example.com", subject="受理通知书", body="…",
        letter=letter,
    )  # fmt: skip
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.BOUNCED, attempts=3, last_error="550 mailbox unavailable"
    )
    DeliveryEvent.objects.create(
        message=message, event_type="bounced", event_id="evt-1", description="550 user unknown"
    )
    page = client_for(officer).get(f"/letters/{letter.pk}/").content.decode()
    assert "zhangwei@example.com" in page and "被退回" in page
    assert "550 mailbox unavailable" in page
    assert "bounced" in page and "550 user unknown" in page
    assert f'data-message="{message.pk}"' in page


def test_an_officer_resends_a_failed_message_once_from_the_letter_page(
    client_for, officer, reviewer, letter, committed
):
    message = message_queue(
        key=f"letter:{letter.pk}:email", to="zhangwei@example.com", subject="受理通知书",
        body="…", letter=letter,
    )  # fmt: skip
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, attempts=1, last_error="发送中断，结果未知"
    )
    resend = f"/letters/{letter.pk}/messages/{message.pk}/resend/"
    # A reviewer may read the page but not resend.
    assert f'action="{resend}"' not in client_for(reviewer).get(f"/letters/{letter.pk}/").text
    assert client_for(reviewer).post(resend).status_code == 403
    client = client_for(officer)
    page = client.get(f"/letters/{letter.pk}/").content.decode()
    assert f'action="{resend}"' in page

    response = committed(client.post, resend, follow=True)
    assert "已重新排队发送至" in response.text
    new = letter.messages.exclude(pk=message.pk).get()
    assert new.idempotency_key == f"{message.idempotency_key}:resend:1"
    assert new.status == MessageStatus.SENT
    # The failed row keeps its history and offers no second resend.
    page = client.get(f"/letters/{letter.pk}/").content.decode()
    assert f'action="{resend}"' not in page
    assert "已经重发过" in client.post(resend, follow=True).text
    assert letter.messages.count() == 2


@pytest.mark.parametrize(
    ("persona", "status"),
    [("applicant", 403), ("other_applicant", 403), ("other_reviewer", 404), ("reviewer", 200)],
)
def test_who_may_see_the_staff_letter_page(request, client_for, letter, persona, status):
    user = request.getfixturevalue(persona)
    assert client_for(user).get(f"/letters/{letter.pk}/").status_code == status


def test_a_reviewer_sees_the_page_without_the_render_button(
    client_for, reviewer, record, officer, committed, failing_render
):
    letter = committed(acceptance, record, officer)
    page = client_for(reviewer).get(f"/letters/{letter.pk}/").content.decode()
    assert "生成失败" in page and "重新生成</button>" not in page


# The admin


def test_an_administrator_edits_a_letter_setting_and_the_edit_is_audited(client_for, administrator):
    from letters.models import LetterSetting

    setting = LetterSetting.objects.get(kind="repair_refusal")
    remedies = (
        "如不服本决定，可以自收到本决定书之日起六十日内向{reconsideration_body}申请行政复议，"
        "或者自收到本决定书之日起六个月内向{court}提起行政诉讼。"
    )
    response = client_for(administrator).post(
        f"/admin/letters/lettersetting/{setting.pk}/change/", {"remedies": remedies}
    )
    assert response.status_code == 302
    setting.refresh_from_db()
    assert setting.remedies == remedies
    assert setting.kind == "repair_refusal"  # fixed once made
    event = AuditEvent.objects.get(action="letters.setting_change")
    assert event.actor == administrator
    assert set(event.summary["changed"]) == {"remedies"}


def test_a_remedies_line_that_names_no_court_is_refused_and_nothing_saved(
    client_for, administrator
):
    from letters.models import LetterSetting

    setting = LetterSetting.objects.get(kind="repair_refusal")
    before = setting.remedies
    response = client_for(administrator).post(
        f"/admin/letters/lettersetting/{setting.pk}/change/",
        {"remedies": "六十日内向{reconsideration_body}申请复议，或者六个月内向人民法院起诉。"},
    )
    assert response.status_code == 200
    assert "救济途径须写明行政复议机关和人民法院：请保留占位符 {court}。" in (
        response.content.decode()
    )
    setting.refresh_from_db()
    assert setting.remedies == before


def test_letters_commitments_and_messages_are_read_only_in_the_admin(
    client_for, administrator, letter, commitment, person_record, officer, committed
):
    client = client_for(administrator)
    client.post("/access-purpose/", {"purpose": "data_maintenance"})  # the admin's gate
    assert client.get(f"/admin/letters/letter/{letter.pk}/change/").status_code == 200
    assert client.get(f"/admin/letters/commitment/{commitment.pk}/change/").status_code == 200
    response = client.post(f"/admin/letters/commitment/{commitment.pk}/change/", {"status": "void"})
    assert response.status_code == 403
    assert Commitment.objects.get().status == "draft"
    assert client.get("/admin/letters/letter/add/").status_code == 403
    assert client.get("/admin/letters/outboundmessage/add/").status_code == 403
    # The frozen facts hold the resident ID whole: the admin does not show them.
    person_letter = committed(acceptance, person_record, officer)
    page = client.get(f"/admin/letters/letter/{person_letter.pk}/change/").content.decode()
    assert person_letter.number in page
    assert person_record.subject.identifier not in page
    assert person_record.subject.display_identifier in page


def test_a_page_image_is_kept_beside_the_pdf_and_not_world_readable(
    client_for, applicant, letter, settings
):
    # Made once through the storage API (the local disk here, an object store
    # in a scale-out: tests/flows/test_shared_storage.py), with the uploads'
    # permissions (FILE_UPLOAD_PERMISSIONS), then served from storage.
    client = client_for(applicant)
    first = b"".join(client.get(f"/letters/{letter.pk}/page-1.png").streaming_content)
    path = settings.MEDIA_ROOT / "letter-previews" / f"{letter.sha256}-1.png"
    assert path.read_bytes() == first and first.startswith(b"\x89PNG")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    again = client.get(f"/letters/{letter.pk}/page-1.png")
    assert again["X-Content-Type-Options"] == "nosniff"
    assert b"".join(again.streaming_content) == first
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
