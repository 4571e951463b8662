"""Every stored letter is a signed PDF (PAdES) that proves itself: pyHanko
and poppler's pdfsig both verify it; one changed byte, an expired or an
untrusted certificate is reported as such on /verify, by the API and by
`manage.py verify_letters`; and without a key no letter is stored unsigned."""

import datetime as dt
import hashlib
import io
import shutil
import socket
import subprocess
import threading
import warnings
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from asn1crypto.keys import PrivateKeyInfo
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from letters import render, signing
from letters.models import Letter, RenderStatus
from tests.letters.conftest import acceptance_committed, commitment_signed

PASSPHRASE = "correct horse"


@pytest.fixture
def letter(record, officer, committed):
    letter = acceptance_committed(record, officer, committed)
    assert letter.status == RenderStatus.RENDERED
    return letter


def stored(letter: Letter) -> bytes:
    with open(letter.file.path, "rb") as f:
        return f.read()


def demo_ca_path() -> str:
    signing.demo_authority()
    return str(django_settings.LETTER_SIGNING_DEMO_DIR / "demo-ca.pem")


def p12_file(tmp_path, *, name, issuer=None, not_before, not_after) -> str:
    """A PKCS#12 for the centre: issued by `issuer` (key, certificate), or by
    a CA of its own that nobody configured."""
    if issuer is None:
        issuer = signing.certificate_build(
            common_name="外来根证书（测试）",
            issuer_key=None,
            issuer_certificate=None,
            not_before=not_before,
            not_after=not_after + dt.timedelta(days=3650),
            ca=True,
        )
    key, certificate = signing.certificate_build(
        common_name=name,
        issuer_key=issuer[0],
        issuer_certificate=issuer[1],
        not_before=not_before,
        not_after=not_after,
    )
    path = tmp_path / f"{name}.p12"
    path.write_bytes(
        signing.pkcs12_bytes(
            key=key, certificate=certificate, chain=[issuer[1]], passphrase=PASSPHRASE
        )
    )
    return str(path)


def use_key(settings, path, passphrase=PASSPHRASE):
    settings.LETTER_SIGNING_KEYS = {"CENTRE": {"p12": path, "passphrase": passphrase}}


def verify_all() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_letters", stdout=out, stderr=err)
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, out.getvalue(), err.getvalue()


def reported_everywhere(client, letter, check: str) -> None:
    """The failed check is named on the page, by the API and by the command."""
    message = str(signing.CHECKS[check])
    page = client.get(f"/verify/{letter.verification_code}").content.decode()
    assert "签名核验未通过" in page and message in page
    body = client.post(f"/api/v1/verify/{letter.verification_code}/").json()
    assert body["signature"]["ok"] is False
    assert check in body["signature"]["failed"] and message in body["signature"]["problems"]
    code, _, err = verify_all()
    assert code == 1 and f"{letter.number}: signature fails: " in err and check in err


# Signed, and verified by the library and by poppler


def test_an_issued_letter_is_signed_by_its_issuer_and_pyhanko_validates_it(letter, client):
    pdf = stored(letter)
    assert letter.sha256 == hashlib.sha256(pdf).hexdigest()  # the hash of the signed bytes
    (embedded,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    # Off this worker's main thread when the browser tests' session-wide
    # Playwright keeps its event loop running there, as the app signs.
    status = signing.off_the_event_loop(
        validate_pdf_signature,
        embedded,
        ValidationContext(trust_roots=[load_cert_from_pemder(demo_ca_path())]),
    )
    assert status.bottom_line and status.intact and status.valid and status.trusted
    # A demo certificate says so in its name.
    assert status.signing_cert.subject.native["common_name"] == f"{letter.issuer}（样章）"
    assert status.signing_cert.subject.native["organization_name"] == "演示"
    assert embedded.sig_object["/Reason"] == "出具受理通知书"
    assert letter.signer_sha256 == hashlib.sha256(status.signing_cert.dump()).hexdigest()

    page = client.get(f"/verify/{letter.verification_code}").content.decode()
    assert "有效：出具机关的电子签名完好，证书可信，签名时证书在有效期内" in page
    assert f"{letter.issuer}（样章）（演示）" in page
    assert verify_all()[0] == 0


def pdfsig(path, nssdir=None) -> str:
    command = ["pdfsig", *(["-nssdir", f"sql:{nssdir}"] if nssdir else []), str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout


@pytest.fixture(scope="module")
def nss_trusting_demo_ca(tmp_path_factory):
    """An NSS database that trusts the demo CA (certutil, libnss3-tools);
    None where certutil is missing."""
    if shutil.which("certutil") is None:
        return None
    directory = tmp_path_factory.mktemp("nss")
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    trust = ["-n", "demo", "-t", "C,C,C", "-i", demo_ca_path()]
    subprocess.run(["certutil", "-A", "-d", f"sql:{directory}", *trust], check=True)
    return directory


def test_poppler_pdfsig_verifies_the_signature_independently(
    letter, nss_trusting_demo_ca, tmp_path
):
    report = pdfsig(letter.file.path, nss_trusting_demo_ca)
    assert f"Signer Certificate Common Name: {letter.issuer}（样章）" in report
    assert "Signature Validation: Signature is Valid." in report
    assert "Total document signed" in report
    if nss_trusting_demo_ca is not None:
        # The whole check: signature, and the chain to the demo CA trusted in NSS.
        assert "Certificate Validation: Certificate is Trusted." in report
    else:
        # Without certutil no NSS database can trust the demo CA: pdfsig checks
        # the signature itself and reports the issuer as not trusted.
        assert "Certificate issuer isn't Trusted" in report

    changed = tmp_path / "changed.pdf"
    changed.write_bytes(one_byte_changed(stored(letter)))
    report = pdfsig(changed, nss_trusting_demo_ca)
    assert "Signature is Valid." not in report and "Digest Mismatch" in report


# What fails, and how it is reported


def one_byte_changed(pdf: bytes) -> bytes:
    """One byte inside the first content stream (inside the signed range)."""
    at = pdf.index(b"stream\n") + 40
    return pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]


def test_one_changed_byte_fails_the_signature_and_the_hash(letter, client):
    changed = one_byte_changed(stored(letter))
    with open(letter.file.path, "wb") as f:
        f.write(changed)
    body = client.get(f"/api/v1/verify/{letter.verification_code}/").json()
    assert body["file_intact"] is False
    assert body["signature"]["intact"] is False and body["signature"]["failed"] == ["intact"]
    reported_everywhere(client, letter, "intact")
    assert f"{letter.number}: file changed" in verify_all()[2]


def test_an_expired_certificate_is_reported_as_expired(
    settings, tmp_path, record, officer, committed, client
):
    now = timezone.now()
    use_key(
        settings,
        p12_file(
            tmp_path,
            name="过期证书（样章）",
            issuer=signing.demo_authority(),  # chains to the trusted demo CA
            not_before=now - dt.timedelta(days=800),
            not_after=now - dt.timedelta(days=400),
        ),
    )
    letter = acceptance_committed(record, officer, committed)
    assert letter.status == RenderStatus.RENDERED
    body = client.get(f"/api/v1/verify/{letter.verification_code}/").json()
    assert body["file_intact"] is True
    assert body["signature"]["failed"] == ["valid_at_signing"]
    assert body["signature"]["intact"] is True and body["signature"]["trusted"] is True
    reported_everywhere(client, letter, "valid_at_signing")


def untrusted_letter(settings, tmp_path, record, officer, committed) -> Letter:
    """A letter signed with a certificate that chains to no trusted root."""
    now = timezone.now()
    use_key(
        settings,
        p12_file(
            tmp_path,
            name="外来证书",
            not_before=now - dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=365),
        ),
    )
    return acceptance_committed(record, officer, committed)


def test_an_untrusted_certificate_is_reported_as_untrusted(
    settings, tmp_path, record, officer, committed, client
):
    letter = untrusted_letter(settings, tmp_path, record, officer, committed)
    body = client.get(f"/api/v1/verify/{letter.verification_code}/").json()
    assert body["file_intact"] is True
    assert body["signature"]["failed"] == ["trusted"] and body["signature"]["signer"] == "外来证书"
    reported_everywhere(client, letter, "trusted")


def test_a_configured_trust_root_is_trusted(settings, tmp_path, record, officer, committed):
    now = timezone.now()
    root = signing.certificate_build(
        common_name="某机构根证书",
        issuer_key=None,
        issuer_certificate=None,
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=3650),
        ca=True,
    )
    pem = tmp_path / "root.pem"
    pem.write_bytes(root[1].public_bytes(signing.serialization.Encoding.PEM))
    use_key(
        settings,
        p12_file(
            tmp_path,
            name="济南市公共信用信息中心",
            issuer=root,
            not_before=now - dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=365),
        ),
    )
    settings.LETTER_SIGNING_TRUST_ROOTS = [str(pem)]
    acceptance_committed(record, officer, committed)
    assert verify_all()[0] == 0


def test_a_certificate_valid_at_signing_still_verifies_after_it_expired(letter, client):
    # The demo certificate is valid for 5 years; the letter is checked in 6.
    with time_machine.travel(timezone.now() + dt.timedelta(days=6 * 365), tick=False):
        body = client.get(f"/api/v1/verify/{letter.verification_code}/").json()
    assert body["signature"]["ok"] is True


def test_the_signer_must_be_the_certificate_the_letter_was_signed_with(letter, client):
    # Another of our own certificates (a valid signature, trusted) is not the signer.
    Letter.objects.filter(pk=letter.pk).update(signer_sha256="0" * 64)
    letter.refresh_from_db()
    reported_everywhere(client, letter, "signer")


def test_a_letter_stored_before_signing_existed_is_checked_by_its_hash_only(letter, client):
    pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    with open(letter.file.path, "wb") as f:
        f.write(pdf)
    Letter.objects.filter(pk=letter.pk).update(
        sha256=hashlib.sha256(pdf).hexdigest(), signer_sha256=""
    )
    page = client.get(f"/verify/{letter.verification_code}").content.decode()
    assert "这份文书出具时尚未启用电子签名" in page
    assert client.get(f"/api/v1/verify/{letter.verification_code}/").json()["signature"] is None
    code, out, _ = verify_all()
    assert code == 0 and "(1 stored before letters were signed: hash only)" in out


# Without a key, no letter


def test_without_a_key_and_without_the_demo_no_letter_is_stored(
    settings, record, officer, committed
):
    settings.LETTER_SIGNING_DEMO = False
    letter = acceptance_committed(record, officer, committed)
    assert letter.status == RenderStatus.FAILED and not letter.file and not letter.sha256
    assert f"未配置出具机关“{letter.issuer}”（centre）的签名证书" in letter.last_error
    assert "LETTER_SIGNING_CENTRE_P12" in letter.last_error
    assert letter.next_attempt_at is not None  # retried once a key is configured


def test_a_demo_ca_that_cannot_be_made_stops_the_letter(
    settings, tmp_path, record, officer, committed
):
    (tmp_path / "a-file").write_text("")
    settings.LETTER_SIGNING_DEMO_DIR = tmp_path / "a-file" / "signing"
    letter = acceptance_committed(record, officer, committed)
    assert letter.status == RenderStatus.FAILED and not letter.file
    assert "无法在" in letter.last_error and "创建演示签名证书" in letter.last_error


@pytest.mark.parametrize(
    ("passphrase", "missing", "message"),
    [
        ("wrong", False, "口令不对，或者文件不是 PKCS#12 格式"),
        (PASSPHRASE, True, "无法读取（LETTER_SIGNING_CENTRE_P12）"),
    ],
)
def test_a_bad_key_file_says_what_is_wrong(
    settings, tmp_path, record, officer, committed, passphrase, missing, message
):
    now = timezone.now()
    path = p12_file(
        tmp_path,
        name="济南市公共信用信息中心",
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=365),
    )
    use_key(settings, str(tmp_path / "nowhere.p12") if missing else path, passphrase)
    letter = acceptance_committed(record, officer, committed)
    assert letter.status == RenderStatus.FAILED and not letter.file
    assert message in letter.last_error


# The commitment: the applicant's typed signature, the institution as witness


def test_the_signed_commitment_carries_the_applicants_block_and_the_institutions_signature(
    record, applicant, committed, client
):
    signed = commitment_signed(record, applicant, committed)
    text = subprocess.run(
        ["pdftotext", "-layout", signed.file.path, "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "电子签署" in text and "签署时间" in text
    (embedded,) = PdfFileReader(io.BytesIO(stored(signed))).embedded_signatures
    assert embedded.sig_object["/Reason"] == "见证申请人电子签署本承诺书"
    assert signing.issuer_code(signed) == "centre"
    body = client.get(f"/api/v1/verify/{signed.verification_code}/").json()
    assert body["signature"]["ok"] is True
    assert body["signature"]["signer"] == f"{signed.issuer}（样章）"


def test_manage_py_check_names_a_key_that_cannot_be_loaded_and_a_missing_one(settings, tmp_path):
    settings.LETTER_SIGNING_KEYS = {"CENTRE": {"p12": str(tmp_path / "nowhere.p12")}}
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "（LETTER_SIGNING_CENTRE_P12）：文件或目录不存在" in str(raised.value)

    settings.LETTER_SIGNING_KEYS = {}
    settings.LETTER_SIGNING_DEMO = False
    err = io.StringIO()
    call_command("check", stderr=err)  # warnings: the server still starts
    assert "letters.W001" in err.getvalue() and "LETTER_SIGNING_CENTRE_P12" in err.getvalue()
    assert "letters.W002" in err.getvalue()


# An RFC 3161 timestamp


@pytest.fixture
def local_tsa():
    """A timestamp authority on 127.0.0.1 (pyHanko's DummyTimeStamper behind
    HTTP), its certificate issued by the demo CA for time stamping."""
    ca_key, ca_certificate = signing.demo_authority()
    now = timezone.now()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # the dummy TSA's kind
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "演示时间戳（样章）")]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER)),
        tsa_key=PrivateKeyInfo.load(
            key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        ),
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = stamper.request_tsa_response(request).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/tsa"
    server.shutdown()
    server.server_close()
    thread.join()


def test_with_a_timestamp_authority_the_signature_carries_its_time(
    settings, local_tsa, record, officer, committed, client
):
    settings.LETTER_SIGNING_TSA_URL = local_tsa
    letter = acceptance_committed(record, officer, committed)
    assert letter.status == RenderStatus.RENDERED
    body = client.get(f"/api/v1/verify/{letter.verification_code}/").json()
    assert body["signature"]["ok"] is True and body["signature"]["timestamped"] is True
    page = client.get(f"/verify/{letter.verification_code}").content.decode()
    assert "（可信时间戳）" in page


def test_a_timestamp_authority_that_does_not_answer_stops_the_letter(
    settings, record, officer, committed
):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings.LETTER_SIGNING_TSA_URL = f"http://127.0.0.1:{port}/tsa"
    letter = acceptance_committed(record, officer, committed)
    assert letter.status == RenderStatus.FAILED and not letter.file
    assert f"时间戳服务 http://127.0.0.1:{port}/tsa（LETTER_SIGNING_TSA_URL）没有正确应答" in (
        letter.last_error
    )


def test_the_verify_page_logs_an_untrusted_signature_in_one_line_without_traceback(
    settings, tmp_path, record, officer, committed, client
):
    """pyHanko warns with certvalidator's traceback; the console shows one line."""
    import logging

    letter = untrusted_letter(settings, tmp_path, record, officer, committed)
    console = next(
        h
        for h in logging.getLogger().handlers
        if any(type(f).__name__ == "LibraryWarningInOneLine" for f in h.filters)
    )
    printed = io.StringIO()
    stream = console.setStream(printed)
    try:
        page = client.get(f"/verify/{letter.verification_code}")
    finally:
        console.setStream(stream)
    assert page.status_code == 200
    log = printed.getvalue()
    assert "pyhanko" in log, "the untrusted certificate is still logged"
    assert "Traceback" not in log
    assert all(line.split(" ", 2)[0][:2] == "20" for line in log.splitlines()), log


def test_letters_are_signed_and_checked_from_a_thread_that_runs_an_event_loop(
    record, officer, committed
):
    """An ASGI thread, or Playwright's sync API in the browser tests, runs an
    event loop: pyHanko's asyncio.run() may not start there."""
    import asyncio

    letter = acceptance_committed(record, officer, committed)
    with letter.file.open("rb") as stored:
        pdf = stored.read()
    unsigned, _pages = render.render_letter_pdf(letter)
    assert letter.issuer_ref is not None  # loaded here: no query in the event loop

    async def check_and_sign():
        return (
            signing.pdf_signature_check(pdf, signer_sha256=letter.signer_sha256),
            signing.pdf_sign(unsigned, letter=letter),
        )

    def in_an_event_loop():
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            return asyncio.run(check_and_sign())

    check, signed = signing.off_the_event_loop(in_an_event_loop)
    assert check.intact and check.trusted and not check.failed
    assert signed.certificate_sha256 == letter.signer_sha256
    assert signing.pdf_signature_check(signed.pdf).intact
