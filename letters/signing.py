"""A PDF signature on every stored letter, and its check.

Each PDF is signed (PAdES baseline, pyHanko) with its issuer's certificate
right after it is rendered, so that a letter proves itself in any PDF reader
without the verification page. The stored SHA-256 is that of the signed
bytes. A commitment carries the applicant's typed signature block in its text
and the institution's PDF signature as witness.

Keys: per issuer code (`issuer_code`), a PKCS#12 file and its passphrase named
by the environment (settings.LETTER_SIGNING_KEYS), never the database or the
repository. Where an issuer has none and the demo is allowed (development,
the tests), a demo CA and one certificate per issuer are made once under
settings.LETTER_SIGNING_DEMO_DIR, every name marked 演示/样章. Otherwise
signing raises SigningUnavailable: the render fails with that message and is
retried; an unsigned letter is never stored.

The check (`pdf_signature_check`): the signature is intact (the signed bytes
unchanged, the signature value sound), the signer is the certificate the
letter was signed with, the certificate chains to a configured trust root,
and it was within its validity at signing time (the timestamp's time when
there is one, else our own record of when the letter was signed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import hashlib
import io
import logging
import os
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy

from letters.models import Letter, LetterKind

# pyHanko (and the aiohttp it brings) is imported where a PDF is signed or
# checked, not with the app: it was 0.5 s of every process's start (each
# gunicorn and Celery worker, each manage.py command, each test worker and
# the tests' subprocesses), most of which never sign.
if TYPE_CHECKING:
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign import signers

log = logging.getLogger(__name__)

DEFAULT_ISSUER_CODE = "centre"
DEMO_ORGANISATION = "演示"
DEMO_MARK = "（样章）"
SIGNATURE_FIELD = "IssuerSignature"
# Demo certificates: EC P-256 (a key in milliseconds, small signatures).
DEMO_CA_YEARS = 20
DEMO_CERTIFICATE_YEARS = 5
TSA_TIMEOUT = 10  # seconds


class SigningUnavailable(Exception):
    """No usable key for an issuer: the letter is not stored until there is one."""


def issuer_code(letter: Letter) -> str:
    """Which issuer's key signs this letter: its issuer's code, else the
    institution's ("centre")."""
    issuer = getattr(letter, "issuer_ref", None)
    return getattr(issuer, "code", None) or DEFAULT_ISSUER_CODE


def env_name(code: str) -> str:
    """centre -> CENTRE, jn-scjgj -> JN_SCJGJ (LETTER_SIGNING_<CODE>_P12)."""
    return re.sub(r"[^A-Z0-9]", "_", code.upper())


# Keys


@dataclass(frozen=True)
class KeySource:
    path: Path
    passphrase: str
    variable: str  # where it was configured, for the error messages


_signers: dict[tuple, signers.SimpleSigner] = {}
_lock = threading.Lock()


def key_source(code: str, *, name: str) -> KeySource:
    configured = settings.LETTER_SIGNING_KEYS.get(env_name(code))
    if configured:
        return KeySource(
            Path(configured["p12"]),
            configured.get("passphrase") or "",
            f"LETTER_SIGNING_{env_name(code)}_P12",
        )
    if not settings.LETTER_SIGNING_DEMO:
        raise SigningUnavailable(
            f"未配置出具机关“{name}”（{code}）的签名证书：请设置环境变量 "
            f"LETTER_SIGNING_{env_name(code)}_P12 和 LETTER_SIGNING_{env_name(code)}_PASSPHRASE。"
            "文书未签名，不予出具，配置后自动重试。"
        )
    path, passphrase = demo_certificate(code=code, name=name)
    return KeySource(path, passphrase, "LETTER_SIGNING_DEMO_DIR")


def signer_for(code: str, *, name: str) -> signers.SimpleSigner:
    source = key_source(code, name=name)
    cache_key = (code, str(source.path), source.passphrase)
    with _lock:
        signer = _signers.get(cache_key)
        if signer is None:
            signer = _signers[cache_key] = load_signer(source)
    return signer


def load_signer(source: KeySource) -> signers.SimpleSigner:
    from pyhanko.sign import signers

    try:
        data = source.path.read_bytes()
    except OSError as exc:
        raise SigningUnavailable(
            f"签名证书文件 {source.path} 无法读取（{source.variable}）：{_os_reason(exc)}。"
        ) from None
    try:
        key, certificate, _chain = pkcs12.load_key_and_certificates(
            data, source.passphrase.encode() or None
        )
    except ValueError:
        raise SigningUnavailable(
            f"签名证书文件 {source.path} 无法打开（{source.variable}）：口令不对，"
            "或者文件不是 PKCS#12 格式。"
        ) from None
    if key is None or certificate is None:
        raise SigningUnavailable(
            f"签名证书文件 {source.path} 中没有私钥和证书（{source.variable}）。"
        )
    return signers.SimpleSigner.load_pkcs12_data(
        data, other_certs=[], passphrase=source.passphrase.encode() or None
    )


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "文件或目录不存在"
    if isinstance(exc, PermissionError):
        return "没有访问权限"
    if isinstance(exc, IsADirectoryError):
        return "这是一个目录，不是文件"
    if isinstance(exc, NotADirectoryError):
        return "路径中有一段不是目录"
    return exc.strerror or str(exc)


# The demo CA (development and tests only)


@contextmanager
def _locked(path: Path):
    # Two workers (a pool, Celery) making the demo CA at once: one makes it.
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_private(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _demo_name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEMO_ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
        ]
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,  # non-repudiation: what a document signature asserts
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def certificate_build(
    *,
    common_name: str,
    issuer_key,
    issuer_certificate: x509.Certificate | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool = False,
):
    """(key, certificate) marked as a demo: O=演示. The demo CA, its issuer
    certificates, and the tests' foreign and expired certificates."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _demo_name(common_name)
    signing_key = key if issuer_certificate is None else issuer_key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer_certificate is None else issuer_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(_key_usage(ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False,
        )
    )
    return key, builder.sign(signing_key, hashes.SHA256())


def pkcs12_bytes(*, key, certificate, chain, passphrase: str, name: str = "letters") -> bytes:
    return pkcs12.serialize_key_and_certificates(
        name.encode(),
        key,
        certificate,
        chain,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )


def demo_valid_from() -> dt.datetime:
    """When a demo certificate made now starts to be valid: a day ago, so a
    clock a little behind the signing machine's still accepts it."""
    return timezone.now() - dt.timedelta(days=1)


def _demo_ca(directory: Path, passphrase: str):
    """The demo CA's key and certificate, made on first use (call under the lock)."""
    key_path, certificate_path = directory / "demo-ca-key.pem", directory / "demo-ca.pem"
    if key_path.exists() and certificate_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), passphrase.encode())
        return key, x509.load_pem_x509_certificate(certificate_path.read_bytes())
    valid_from = demo_valid_from()
    key, certificate = certificate_build(
        common_name=f"信用文书演示根证书{DEMO_MARK}",
        issuer_key=None,
        issuer_certificate=None,
        not_before=valid_from,
        not_after=valid_from + dt.timedelta(days=365 * DEMO_CA_YEARS),
        ca=True,
    )
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        ),
    )
    _write_private(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
    return key, certificate


def _demo_passphrase(directory: Path) -> str:
    # Generated once, kept beside the demo keys (never in the repository).
    path = directory / "demo-passphrase"
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(24).encode())
    return path.read_text().strip()


def demo_certificate(*, code: str, name: str) -> tuple[Path, str]:
    """The demo PKCS#12 of an issuer (made with the demo CA if missing):
    (path, passphrase). CN = the issuer's name + （样章）, O = 演示."""
    directory = Path(settings.LETTER_SIGNING_DEMO_DIR)
    path = directory / f"demo-{re.sub(r'[^a-z0-9_-]', '_', code.lower())}.p12"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory / ".lock"):
            passphrase = _demo_passphrase(directory)
            if path.exists():
                return path, passphrase
            ca_key, ca_certificate = _demo_ca(directory, passphrase)
            valid_from = demo_valid_from()
            key, certificate = certificate_build(
                common_name=f"{name}{DEMO_MARK}",
                issuer_key=ca_key,
                issuer_certificate=ca_certificate,
                not_before=valid_from,
                not_after=valid_from + dt.timedelta(days=365 * DEMO_CERTIFICATE_YEARS),
            )
            _write_private(
                path,
                pkcs12_bytes(
                    key=key, certificate=certificate, chain=[ca_certificate], passphrase=passphrase
                ),
            )
            return path, passphrase
    except OSError as exc:
        raise SigningUnavailable(
            f"无法在 {directory} 创建演示签名证书：{_os_reason(exc)}。"
            "文书未签名，不予出具；请配置出具机关的签名证书（LETTER_SIGNING_<CODE>_P12），"
            "或让该目录可写，之后自动重试。"
        ) from None


def demo_authority():
    """The demo CA's (key, certificate), made if missing: it issues the demo
    certificates (and the tests' expired one)."""
    directory = Path(settings.LETTER_SIGNING_DEMO_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory / ".lock"):
        return _demo_ca(directory, _demo_passphrase(directory))


def demo_setup(*, issuers: dict[str, str]) -> list[Path]:
    """seed_demo: the demo CA and a certificate for each issuer {code: name}
    that has no key configured. Nothing when the demo is off."""
    if not settings.LETTER_SIGNING_DEMO:
        return []
    return [
        demo_certificate(code=code, name=name)[0]
        for code, name in issuers.items()
        if env_name(code) not in settings.LETTER_SIGNING_KEYS
    ]


# Signing


def certificate_sha256(certificate: asn1_x509.Certificate) -> str:
    return hashlib.sha256(certificate.dump()).hexdigest()


@dataclass(frozen=True)
class SignedPdf:
    pdf: bytes
    certificate_sha256: str  # the signer's certificate (DER), for the signer check


def off_the_event_loop(call, *args):
    """pyHanko's synchronous calls (sign_pdf, validate_pdf_signature) wrap
    their coroutines in asyncio.run(), which refuses to start in a thread
    that already runs an event loop (an ASGI server's thread; Playwright's
    sync API in the browser tests): it raised "cannot be called from a
    running event loop", the coroutine was never awaited and the letter was
    left unsigned. There the call runs on a thread of its own, where
    asyncio.run() may start its loop; everywhere else it runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call(*args)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyhanko") as pool:
        return pool.submit(call, *args).result()


def pdf_sign(pdf: bytes, *, letter: Letter) -> SignedPdf:
    """The letter's PDF signed by its issuer (PAdES B-B; B-T with a TSA).

    Raises SigningUnavailable when the issuer has no usable key."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError
    from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

    signer = signer_for(issuer_code(letter), name=letter.issuer)
    commitment = letter.kind == LetterKind.COMMITMENT
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        name=letter.issuer,
        reason=("见证申请人电子签署本承诺书" if commitment else f"出具{letter.get_kind_display()}"),
    )
    url = settings.LETTER_SIGNING_TSA_URL
    # requests, not pyHanko's default aiohttp client: signing runs in plain
    # synchronous workers. A TSA that does not answer fails the render (retried).
    timestamper = RequestsHTTPTimeStamper(url, timeout=TSA_TIMEOUT) if url else None
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    try:
        pdf_signer = signers.PdfSigner(metadata, signer=signer, timestamper=timestamper)
        signed = off_the_event_loop(pdf_signer.sign_pdf, writer)
    except TimestampRequestError:
        raise SigningUnavailable(
            f"时间戳服务 {url}（LETTER_SIGNING_TSA_URL）没有正确应答：文书未签名，不予出具，"
            "稍后自动重试。"
        ) from None
    return SignedPdf(signed.getvalue(), certificate_sha256(signer.signing_cert))


# Checking


def trust_roots() -> list[asn1_x509.Certificate]:
    """The configured roots, and the demo CA where the demo is allowed."""
    from pyhanko.keys import load_cert_from_pemder

    roots = []
    for name in settings.LETTER_SIGNING_TRUST_ROOTS:
        try:
            roots.append(load_cert_from_pemder(name))
        except (OSError, ValueError):
            # A root that cannot be read trusts nothing; each check then says
            # the chain failed, and the log says why.
            log.error("LETTER_SIGNING_TRUST_ROOTS: cannot read %s", name)
    demo = Path(settings.LETTER_SIGNING_DEMO_DIR) / "demo-ca.pem"
    if settings.LETTER_SIGNING_DEMO and demo.exists():
        roots.append(load_cert_from_pemder(str(demo)))
    return roots


# Each check in the order a reader asks; the message says what failed.
CHECKS = {
    "present": gettext_lazy("文件中没有出具机关的电子签名"),
    "intact": gettext_lazy("签名验证失败：文件在签名后被改动，或签名已损坏"),
    "signer": gettext_lazy("签名人不符：签名证书不是出具这份文书时使用的证书"),
    "trusted": gettext_lazy("证书不受信任：签名证书不能追溯到本平台配置的信任根证书"),
    "valid_at_signing": gettext_lazy("证书在签名时不在有效期内（已过期或尚未生效）"),
    "revoked": gettext_lazy("签名证书已被吊销"),
}


@dataclass(frozen=True)
class SignatureCheck:
    """What a reader learns from a letter's PDF signature."""

    present: bool = False
    intact: bool = False
    signer_matches: bool = False
    trusted: bool = False
    valid_at_signing: bool = False
    revoked: bool = False
    signer: str = ""  # the certificate's common name, e.g. 济南市公共信用信息中心（样章）
    organisation: str = ""  # its organisation (演示 for a demo certificate)
    signed_at: dt.datetime | None = None  # the timestamp's time, else the signer's claim
    timestamped: bool = False
    failed: list[str] = field(default_factory=list)  # keys of CHECKS, in order

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def problems(self) -> list[str]:
        return [str(CHECKS[key]) for key in self.failed]


_EXPIRY = {"EXPIRED", "OUT_OF_BOUNDS_NO_POE", "NOT_YET_VALID", "OUT_OF_BOUNDS_NOT_REVOKED"}


def pdf_signature_check(
    pdf: bytes, *, signer_sha256: str = "", signed_at: dt.datetime | None = None
) -> SignatureCheck:
    """Check the (last) signature of a PDF against the trust roots.

    `signer_sha256`: the SHA-256 of the certificate the letter was signed with (the
    signer check is skipped without it). `signed_at`: our own record of when
    it was signed, the time the certificate must have been valid at when the
    signature carries no timestamp.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import validation
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        signatures = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    except Exception:  # a damaged file is simply one without a readable signature
        signatures = []
    if not signatures:
        return SignatureCheck(failed=["present"])
    embedded = signatures[-1]
    try:
        reported = embedded.self_reported_timestamp
    except Exception:
        reported = None
    context = ValidationContext(
        trust_roots=trust_roots(),
        allow_fetching=False,  # no network: the chain is what we configured
        revocation_mode="soft-fail",
        moment=signed_at or reported,
    )
    try:
        status = off_the_event_loop(validation.validate_pdf_signature, embedded, context)
    except Exception:
        return SignatureCheck(present=True, failed=["intact"])
    indication = getattr(status.trust_problem_indic, "name", "") or ""
    subject = status.signing_cert.subject.native
    timestamp = status.timestamp_validity
    matches = not signer_sha256 or signer_sha256 == certificate_sha256(status.signing_cert)
    # A letter is signed once, as its last revision: anything appended after
    # the signature (an incremental update, stray bytes) is a change too.
    covered = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    intact = bool(status.intact and status.valid and covered)
    revoked = indication.startswith("REVOKED")
    expired = indication in _EXPIRY
    trusted = bool(status.trusted)
    failed = [] if intact else ["intact"]
    if not matches:
        failed.append("signer")
    # A broken signature vouches for nothing: its certificate's chain and
    # dates are beside the point, and pyHanko reports them as unknown anyway.
    if intact and revoked:
        failed.append("revoked")
    elif intact and expired:
        failed.append("valid_at_signing")
    elif intact and not trusted:
        failed.append("trusted")
    return SignatureCheck(
        present=True,
        intact=intact,
        signer_matches=matches,
        # An expired certificate may chain to our root: the failure is its dates.
        trusted=trusted or expired,
        valid_at_signing=not expired and not revoked and trusted,
        revoked=revoked,
        signer=subject.get("common_name", ""),
        organisation=subject.get("organization_name", ""),
        signed_at=timestamp.timestamp if timestamp is not None else reported,
        timestamped=timestamp is not None,
        failed=failed,
    )
