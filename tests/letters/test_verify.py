"""Public verification (/verify/<code> and /api/v1/verify/<code>): anyone can
check a letter and an uploaded file against it, and learn nothing personal."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from letters.commitments import commitment_create
from letters.models import Letter, RenderStatus
from tests.api_errors import field_errors
from tests.letters.conftest import acceptance_committed, commitment_signed


def issue_acceptance(record, officer, committed) -> Letter:
    letter = acceptance_committed(record, officer, committed)
    assert letter.status == RenderStatus.RENDERED
    return letter


@pytest.fixture
def letter(record, officer, committed):
    return issue_acceptance(record, officer, committed)


@pytest.fixture
def person_letter(person_record, officer, committed):
    return issue_acceptance(person_record, officer, committed)


def stored_bytes(letter: Letter) -> bytes:
    with open(letter.file.path, "rb") as f:
        return f.read()


def upload(content: bytes, name="letter.pdf"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def personal_data(letter: Letter) -> list[str]:
    subject = letter.subject
    values = [subject.name, subject.identifier, subject.display_identifier]
    values += [letter.record.decision_number, letter.record.department.name]
    if subject.legal_representative:
        values.append(subject.legal_representative)
    return values


# The page


def test_a_valid_code_shows_the_letter_and_an_intact_file(client, letter):
    response = client.get(f"/verify/{letter.verification_code}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "本平台出具的文书" in page
    assert letter.number in page and "受理通知书" in page
    assert "济南市公共信用信息中心" in page  # the issuer
    # The date of Shanghai (after 16:00 UTC it is already the next day there).
    assert timezone.localtime(letter.issued_at).strftime("%Y-%m-%d") in page
    assert letter.sha256 in page
    assert "完好：存档文件与出具时的校验值一致" in page
    assert 'enctype="multipart/form-data"' in page


def test_the_page_shows_no_personal_data(client, letter, person_letter):
    for checked in (letter, person_letter):
        page = client.get(f"/verify/{checked.verification_code}").content.decode()
        assert checked.number in page
        for value in personal_data(checked):
            assert value not in page, value


def test_a_signed_commitment_shows_neither_signer_nor_subject(client, record, applicant, committed):
    signed = commitment_signed(record, applicant, committed)
    page = client.get(f"/verify/{signed.verification_code}").content.decode()
    assert signed.number in page and "信用修复承诺书" in page
    for value in [*personal_data(signed), "张伟", "203.0.113.7"]:
        assert value not in page, value


def test_the_code_can_be_typed_in_lower_case_with_dashes(client, letter):
    code = letter.verification_code
    typed = f"{code[:4]}-{code[4:8]}-{code[8:]}".lower()
    response = client.get("/verify/", {"code": f" {typed} "})
    assert response.status_code == 302 and response["Location"] == f"/verify/{code}"
    assert client.get(f"/verify/{typed}").status_code == 200


def test_the_form_page_asks_for_a_code(client):
    page = client.get("/verify/").content.decode()
    assert 'name="code"' in page and "核验码" in page
    assert "请填写核验码。" in client.get("/verify/", {"code": " "}).content.decode()


def test_an_unknown_code_is_not_found(client, letter):
    response = client.get("/verify/ZZZZZZZZZZZZ")
    assert response.status_code == 404
    page = response.content.decode()
    assert "未找到" in page and "ZZZZZZZZZZZZ" in page
    assert letter.number not in page


def test_a_stored_file_that_was_altered_fails(client, letter):
    with open(letter.file.path, "wb") as f:
        f.write(b"%PDF-1.7 something else entirely")
    page = client.get(f"/verify/{letter.verification_code}").content.decode()
    assert "校验未通过：存档文件与出具时的校验值不一致" in page
    assert "完好" not in page


def test_a_missing_stored_file_fails(client, letter):
    import os

    os.remove(letter.file.path)
    page = client.get(f"/verify/{letter.verification_code}").content.decode()
    assert "校验未通过" in page


def test_uploading_the_exact_pdf_matches(client, letter):
    response = client.post(
        f"/verify/{letter.verification_code}", {"file": upload(stored_bytes(letter))}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "一致：上传的文件就是这份文书，未被改动" in page


def test_uploading_a_modified_pdf_does_not_match(client, letter):
    content = bytearray(stored_bytes(letter))
    content[len(content) // 2] ^= 0x01
    response = client.post(f"/verify/{letter.verification_code}", {"file": upload(bytes(content))})
    page = response.content.decode()
    assert "不一致：上传的文件不是这份文书，或已被改动" in page


def test_another_letters_pdf_does_not_match(client, letter, other_record, officer, committed):
    other = issue_acceptance(other_record, officer, committed)
    response = client.post(
        f"/verify/{letter.verification_code}", {"file": upload(stored_bytes(other))}
    )
    assert "不一致" in response.content.decode()


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (None, "请选择要核对的 PDF 文件。"),
        (SimpleUploadedFile("x.pdf", b"", content_type="application/pdf"), "上传的文件是空的。"),
        (SimpleUploadedFile("x.txt", b"hello, not a pdf"), "上传的文件不是 PDF 文件。"),
        (
            SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)),
            "文件超过 10 MB，不可能是本平台出具的文书。",
        ),
    ],
    ids=["none", "empty", "not-pdf", "too-big"],
)
def test_a_bad_upload_says_what_is_wrong(client, letter, file, message):
    data = {} if file is None else {"file": file}
    response = client.post(f"/verify/{letter.verification_code}", data)
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "一致：" not in page  # no verdict on a file that was not checked
    assert letter.number in page  # the letter itself is still shown


def test_a_commitment_draft_has_no_code_and_cannot_be_verified(
    client, record, applicant, committed
):
    commitment = committed(commitment_create, record=record, actor=applicant)
    assert commitment.draft.verification_code is None
    assert client.get("/verify/None").status_code == 404


def test_verification_needs_no_login_and_works_for_a_signed_in_user_too(
    client, client_for, letter, other_applicant
):
    assert client.get(f"/verify/{letter.verification_code}").status_code == 200
    signed_in = client_for(other_applicant)
    page = signed_in.get(f"/verify/{letter.verification_code}").content.decode()
    assert letter.number in page and letter.subject.name not in page


# The API


def test_the_api_gives_the_same_facts_without_login(client, letter):
    response = client.get(f"/api/v1/verify/{letter.verification_code}/")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "found": True,
        "kind": "acceptance",
        "kind_label": "受理通知书",
        "number": letter.number,
        "issued_at": body["issued_at"],
        "issuer": "济南市公共信用信息中心",
        "sha256": letter.sha256,
        "file_intact": True,
        "signature": {
            "ok": True,
            "present": True,
            "intact": True,
            "signer_matches": True,
            "trusted": True,
            "valid_at_signing": True,
            "signer": f"{letter.issuer}（样章）",
            "organisation": "演示",
            "signed_at": body["signature"]["signed_at"],
            "timestamped": False,
            "failed": [],
            "problems": [],
        },
        "verification_code": letter.verification_code,
        "verify_url": f"http://testserver/verify/{letter.verification_code}",
    }
    text = response.content.decode()
    for value in personal_data(letter):
        assert value not in text, value


def test_the_api_says_not_found_and_reports_an_altered_file(client, letter):
    response = client.get("/api/v1/verify/ZZZZZZZZZZZZ/")
    assert response.status_code == 404 and response.json()["found"] is False
    with open(letter.file.path, "ab") as f:
        f.write(b"\n%%EOF")
    body = client.get(f"/api/v1/verify/{letter.verification_code}/").json()
    assert body["found"] is True and body["file_intact"] is False


def test_the_api_checks_an_uploaded_file(client, letter):
    url = f"/api/v1/verify/{letter.verification_code}/"
    assert client.post(url, {"file": upload(stored_bytes(letter))}).json()["matches"] is True
    assert (
        client.post(url, {"file": upload(stored_bytes(letter) + b" ")}).json()["matches"] is False
    )
    response = client.post(url, {"file": SimpleUploadedFile("a.txt", b"plain text")})
    assert response.status_code == 400
    assert field_errors(response) == {"file": ["上传的文件不是 PDF 文件。"]}
