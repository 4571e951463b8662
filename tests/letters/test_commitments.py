"""The credit commitment: opened once per record, signed once by an explicit
act of the bound applicant, by the name on their account in the capacity of
their binding, each refusal with its own message and nothing saved."""

import datetime as dt
import hashlib
import subprocess
import threading
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction

from letters.commitments import commitment_create, commitment_sign
from letters.models import Commitment, CommitmentStatus, Letter, RenderStatus
from records.models import BindingCapacity, SubjectBinding
from repair_flow.models import AuditEvent, Role
from tests.conftest import make_user

TZ = ZoneInfo("Asia/Shanghai")
SIGNED_AT = dt.datetime(2026, 11, 27, 10, 30, tzinfo=TZ)


@pytest.fixture
def commitment(committed, record, applicant):
    commitment = committed(commitment_create, record=record, actor=applicant)
    commitment.draft.refresh_from_db()
    assert commitment.draft.status == RenderStatus.RENDERED
    return commitment


def sign_form(commitment, **changes) -> dict:
    form = {"confirmed": "on", "draft_sha256": commitment.draft.sha256}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def post_sign(client, commitment, committed, **changes):
    return committed(
        client.post,
        f"/letters/commitments/{commitment.pk}/",
        sign_form(commitment, **changes),
        REMOTE_ADDR="203.0.113.7",
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone) TestBrowser/1.0",
    )


def pdf_text(letter: Letter) -> str:
    """The PDF's text with every space dropped (the letter spaces its title out)."""
    text = subprocess.run(
        ["pdftotext", letter.file.path, "-"], capture_output=True, text=True, check=True
    ).stdout
    return "".join(text.split())


def assert_nothing_signed(commitment):
    commitment.refresh_from_db()
    assert commitment.status == CommitmentStatus.DRAFT
    assert commitment.signed_id is None
    assert (commitment.signer_name, commitment.signed_at, commitment.signed_sha256) == (
        "",
        None,
        "",
    )
    assert not Letter.objects.filter(kind="commitment", number__isnull=False).exists()
    assert not AuditEvent.objects.filter(action="commitment.sign").exists()


# Opening the commitment


def test_opening_issues_an_unnumbered_draft_with_the_records_facts(commitment, record):
    draft = commitment.draft
    assert commitment.status == CommitmentStatus.DRAFT
    assert (commitment.record, commitment.subject) == (record, record.subject)
    assert draft.kind == "commitment" and draft.is_draft
    assert draft.number is None and draft.verification_code is None
    assert draft.facts["addressee"]["legal_representative"] == "张伟"
    assert draft.facts["record"]["decision_number"] == record.decision_number
    assert draft.sha256 == hashlib.sha256(draft.file.read()).hexdigest()
    text = pdf_text(draft)
    assert "信用修复承诺书" in text and record.decision_number in text
    assert "待签署" in text
    event = AuditEvent.objects.get(action="commitment.create")
    assert event.object_id == str(commitment.pk)


def test_opening_again_returns_the_open_commitment(commitment, record, applicant, officer):
    again = commitment_create(record=record, actor=officer)
    assert again.pk == commitment.pk
    assert Commitment.objects.count() == 1
    assert Letter.objects.filter(kind="commitment").count() == 1
    assert AuditEvent.objects.filter(action="commitment.create").count() == 1


def test_a_commitment_opened_before_its_case_joins_the_case_file(
    commitment, record, applicant, other_record
):
    """Opened from the record's page, then reached by a case: the case takes it
    (and its draft letter); a commitment already in a case is never moved."""
    case, other_case = record.subject, other_record.subject  # any saved model stands in
    joined = commitment_create(record=record, actor=applicant, case=case)
    assert joined.pk == commitment.pk
    assert (joined.case_type.model_class(), joined.case_id) == (type(case), case.pk)
    joined.draft.refresh_from_db()
    assert joined.draft.case_id == case.pk
    again = commitment_create(record=record, actor=applicant, case=other_case)
    assert again.case_id == case.pk


def test_the_database_allows_one_open_commitment_per_record(commitment, record):
    with pytest.raises(IntegrityError), transaction.atomic():
        Commitment.objects.create(record=record, subject=record.subject, draft=commitment.draft)


def test_a_void_commitment_makes_way_for_a_new_one(commitment, record, applicant, committed):
    Commitment.objects.filter(pk=commitment.pk).update(status=CommitmentStatus.VOID)
    fresh = committed(commitment_create, record=record, actor=applicant)
    assert fresh.pk != commitment.pk and fresh.status == CommitmentStatus.DRAFT


# Signing through the page


def test_signing_records_signer_time_ip_agent_and_the_hash_of_the_draft_signed(
    commitment, applicant, client_for, committed
):
    client = client_for(applicant)
    page = client.get(f"/letters/commitments/{commitment.pk}/").content.decode()
    # No name to type: the signer is the account, in the capacity of its binding.
    assert 'name="signer_name"' not in page
    assert "法定代表人：张伟" in page
    with time_machine.travel(SIGNED_AT, tick=False):
        # A name in the form is not a signature: it is ignored.
        response = post_sign(client, commitment, committed, signer_name="李娜")
    assert response.status_code == 302
    assert response["Location"] == f"/letters/commitments/{commitment.pk}/"

    commitment.refresh_from_db()
    draft = commitment.draft
    assert commitment.status == CommitmentStatus.SIGNED
    assert (commitment.signer_name, commitment.signer_capacity) == ("张伟", "legal_representative")
    assert commitment.signed_by == applicant
    assert commitment.signed_at == SIGNED_AT
    assert commitment.signed_ip == "203.0.113.7"
    assert commitment.signed_user_agent == "Mozilla/5.0 (iPhone) TestBrowser/1.0"
    assert commitment.signed_sha256 == draft.sha256
    assert commitment.signed_sha256 == hashlib.sha256(draft.file.read()).hexdigest()

    signed = commitment.signed
    assert signed.number == "济信诺〔2026〕1号"
    assert signed.verification_code and signed.recipient == applicant
    assert signed.status == RenderStatus.RENDERED
    signature = signed.facts["signature"]
    assert (signature["name"], signature["draft_sha256"]) == ("张伟", draft.sha256)
    assert (signature["capacity"], signature["block"]) == (
        "legal_representative",
        "法定代表人：张伟",
    )
    assert dt.datetime.fromisoformat(signature["signed_at"]) == SIGNED_AT
    assert signed.facts["record"] == draft.facts["record"]
    text = pdf_text(signed)
    assert "法定代表人：张伟电子签署" in text
    # An enterprise consents to its commitment being published (domain section 9).
    assert "同意将本承诺书在信用网站向社会公开" in text
    assert "2026年11月27日10时30分" in text
    assert signed.number in text
    event = AuditEvent.objects.get(action="commitment.sign")
    assert event.actor == applicant
    assert event.summary["signed_letter"] == signed.number

    page = client.get(response["Location"]).content.decode()
    assert "已签署" in page and signed.number in page
    assert f"/letters/{signed.pk}/pdf" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"confirmed": None}, "confirmed", "请阅读承诺书并勾选确认后再签署。"),
        (
            {"draft_sha256": "0" * 64},
            "draft_sha256",
            "您签署的不是当前版本的承诺书，请刷新页面，重新阅读后再签署。",
        ),
        ({"draft_sha256": None}, "draft_sha256", "缺少所签承诺书的校验值，请刷新页面后重新签署。"),
    ],
    ids=["unchecked", "stale-hash", "no-hash"],
)
def test_each_refusal_says_what_is_wrong_next_to_its_field_and_saves_nothing(
    commitment, applicant, client_for, committed, changes, field, message
):
    response = post_sign(client_for(applicant), commitment, committed, **changes)
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode()
    assert_nothing_signed(commitment)


def test_every_problem_at_once_is_reported_at_once(commitment, applicant, client_for, committed):
    applicant.first_name = "王五"
    applicant.save(update_fields=["first_name"])
    response = post_sign(client_for(applicant), commitment, committed, confirmed=None)
    errors = response.context["form"].errors
    assert set(errors) == {"__all__", "confirmed"}
    assert_nothing_signed(commitment)


@pytest.mark.parametrize(
    ("first_name", "message"),
    [
        (
            "李娜",
            "您的账号姓名“李娜”与该企业登记的法定代表人不一致，不能以法定代表人身份签署；"
            "他人代为办理的，请以委托代理人身份绑定并上传授权委托书。",
        ),
        ("", "您的账号没有登记姓名，不能签署承诺书；请联系信用平台完善账号的实名信息。"),
    ],
    ids=["someone-else", "no-name"],
)
def test_an_account_not_named_as_the_legal_representative_cannot_sign_as_one(
    commitment, applicant, client_for, committed, first_name, message
):
    applicant.first_name = first_name
    applicant.save(update_fields=["first_name"])
    response = post_sign(client_for(applicant), commitment, committed)
    assert response.status_code == 400
    assert response.context["form"].errors["__all__"] == [message]
    assert message in response.content.decode()
    assert_nothing_signed(commitment)


def test_the_account_name_is_compared_as_people_write_it(
    commitment, applicant, client_for, committed
):
    applicant.first_name = " 张 伟　"
    applicant.save(update_fields=["first_name"])
    assert post_sign(client_for(applicant), commitment, committed).status_code == 302
    commitment.refresh_from_db()
    assert commitment.signer_name == "张 伟"


def test_a_draft_not_rendered_yet_cannot_be_signed(record, applicant, client_for, committed):
    commitment = commitment_create(record=record, actor=applicant)  # its render never ran
    response = post_sign(client_for(applicant), commitment, committed, draft_sha256="")
    assert response.status_code == 400
    assert response.context["form"].errors["__all__"] == [
        "承诺书正在生成，请稍后刷新页面，阅读后再签署。"
    ]
    assert_nothing_signed(commitment)


def test_a_draft_whose_stored_file_changed_cannot_be_signed(
    commitment, applicant, client_for, committed
):
    with open(commitment.draft.file.path, "ab") as f:
        f.write(b"%% tampered")
    response = post_sign(client_for(applicant), commitment, committed)
    assert response.status_code == 400
    assert "承诺书文件校验未通过" in response.content.decode()
    assert_nothing_signed(commitment)


def test_staff_who_may_see_the_commitment_still_cannot_sign_it(
    commitment, officer, client_for, committed
):
    client = client_for(officer)
    page = client.get(f"/letters/commitments/{commitment.pk}/").content.decode()
    assert 'name="confirmed"' not in page
    response = post_sign(client, commitment, committed)
    assert response.status_code == 400
    assert "您的账号没有绑定该信用主体" in response.content.decode()
    assert_nothing_signed(commitment)


def test_an_applicant_not_bound_to_the_subject_is_refused_by_the_service(
    commitment, other_applicant
):
    with pytest.raises(ValidationError) as refused:
        commitment_sign(
            commitment=commitment,
            user=other_applicant,
            confirmed=True,
            draft_sha256=commitment.draft.sha256,
            ip="203.0.113.7",
            user_agent="test",
        )
    assert refused.value.message_dict == {
        "__all__": ["您的账号没有绑定该信用主体，不能代其签署承诺书。"]
    }
    assert_nothing_signed(commitment)


def test_another_applicant_cannot_even_open_it(commitment, other_applicant, client_for, committed):
    client = client_for(other_applicant)
    assert client.get(f"/letters/commitments/{commitment.pk}/").status_code == 404
    assert post_sign(client, commitment, committed).status_code == 404
    assert_nothing_signed(commitment)


def test_a_signed_commitment_cannot_be_signed_again(commitment, applicant, client_for, committed):
    client = client_for(applicant)
    assert post_sign(client, commitment, committed).status_code == 302
    signed_at = Commitment.objects.get().signed_at
    response = post_sign(client, commitment, committed)
    assert response.status_code == 400
    assert "这份承诺书已经签署，不能再次签署。" in response.content.decode()
    assert Letter.objects.filter(kind="commitment", number__isnull=False).count() == 1
    assert Commitment.objects.get().signed_at == signed_at
    assert AuditEvent.objects.filter(action="commitment.sign").count() == 1


def test_a_natural_person_signs_as_themself_by_their_own_name(
    person_record, person, client_for, committed
):
    user = make_user("wangfang", Role.APPLICANT, first_name="张伟")
    SubjectBinding.objects.create(user=user, subject=person, capacity=BindingCapacity.SELF)
    commitment = committed(commitment_create, record=person_record, actor=user)
    commitment.draft.refresh_from_db()
    client = client_for(user)
    page = client.get(f"/letters/commitments/{commitment.pk}/").content.decode()
    assert person.display_identifier in page and person.identifier not in page
    # Shandong Social Credit Regulation Art. 20: no publication clause, no 公示.
    assert "公示" not in page and "向社会公开" not in page
    response = post_sign(client, commitment, committed)
    assert response.context["form"].errors["__all__"] == [
        "您的账号姓名“张伟”与该自然人的姓名不一致，不能以本人身份签署；"
        "他人代为办理的，请以委托代理人身份绑定并上传授权委托书。"
    ]
    assert_nothing_signed(commitment)
    user.first_name = "王芳"
    user.save(update_fields=["first_name"])
    response = post_sign(client, commitment, committed)
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert (commitment.status, commitment.signer_capacity) == (CommitmentStatus.SIGNED, "self")
    for letter in (commitment.draft, commitment.signed):
        text = pdf_text(letter)
        assert "公示" not in text and "向社会公开" not in text
    text = pdf_text(commitment.signed)
    assert "承诺人：王芳电子签署" in text
    assert person.identifier not in text  # masked on the letter (domain section 8)


def test_an_enterprise_without_a_registered_legal_representative_is_told_why(
    commitment, applicant, enterprise, client_for, committed
):
    enterprise.legal_representative = ""
    enterprise.save(update_fields=["legal_representative"])
    client = client_for(applicant)
    page = client.get(f"/letters/commitments/{commitment.pk}/").content.decode()
    assert "该企业未登记法定代表人" in page
    response = post_sign(client, commitment, committed)
    assert response.context["form"].errors["__all__"] == [
        "该企业未登记法定代表人，无法核对签署人，请联系信用平台更正主体信息。"
    ]
    assert_nothing_signed(commitment)


# Concurrency (PostgreSQL)


def _race(n: int, work) -> tuple[list, list]:
    results, errors = [], []
    barrier = threading.Barrier(n)

    def run():
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_signings_at_once_sign_once(record, applicant):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    commitment = commitment_create(record=record, actor=applicant)
    commitment.draft.refresh_from_db()
    assert commitment.draft.status == RenderStatus.RENDERED

    def sign():
        return commitment_sign(
            commitment=commitment,
            user=applicant,
            confirmed=True,
            draft_sha256=commitment.draft.sha256,
            ip="203.0.113.7",
            user_agent="thread",
        )

    results, errors = _race(2, sign)
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], ValidationError)
    assert errors[0].message_dict == {"__all__": ["这份承诺书已经签署，不能再次签署。"]}
    commitment.refresh_from_db()
    assert commitment.status == CommitmentStatus.SIGNED
    assert commitment.signed_id == results[0].signed_id
    numbered = Letter.objects.filter(kind="commitment", number__isnull=False)
    assert list(numbered.values_list("serial", flat=True)) == [1]
    assert AuditEvent.objects.filter(action="commitment.sign").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_openings_at_once_make_one_commitment(record, applicant, officer):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    results, errors = _race(2, lambda: commitment_create(record=record, actor=applicant).pk)
    assert errors == []
    assert len(set(results)) == 1
    assert Commitment.objects.count() == 1
    assert Letter.objects.filter(kind="commitment").count() == 1
