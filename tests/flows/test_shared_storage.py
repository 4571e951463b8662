"""Shared storage (issue 18): with STORAGE_S3_BUCKET set, materials, letters'
PDFs and their page images live in an S3-compatible object store, private,
and are served only through the app's views with their access checks.

Run against moto's S3 server, started here on a free loopback port (never
the internet); the storage is configured from the same environment
variables an operator sets (repair_flow.env.default_storage_from_env).
"""

import errno
import socket
import subprocess
import uuid
from io import StringIO

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from flows.cases.review import preliminary_review_claim, preliminary_review_refuse
from flows.models import CaseMaterial
from flows.repair.services import repair_case_submit
from letters.issuers import institution_issuer, issuer_seal_set
from letters.models import Letter
from letters.specimen import specimen_seal_png
from repair_flow.env import S3_BACKEND, default_storage_from_env
from repair_flow.storage import storage_unavailable
from retention.models import DestructionEntry, RetentionRule
from tests.flows.conftest import PDF, PNG, draft_with_materials

pytestmark = pytest.mark.django_db

moto_server = pytest.importorskip(
    "moto.server", reason="moto[server] is not installed: no local S3 server to test against"
)
boto3 = pytest.importorskip("boto3", reason="boto3 is not installed (django-storages[s3])")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on a free loopback port, once per module (per xdist worker)."""
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


class Bucket:
    """The test's bucket, read with its own client (not through the app)."""

    def __init__(self, client, name: str):
        self.client, self.name = client, name

    def names(self) -> set[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return {item["Key"] for item in listing.get("Contents", [])}

    def get(self, key: str) -> dict:
        return self.client.get_object(Bucket=self.name, Key=key)

    def body(self, key: str) -> bytes:
        return self.get(key)["Body"].read()

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=body)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=key)

    def grants(self, key: str) -> list[dict]:
        return self.client.get_object_acl(Bucket=self.name, Key=key)["Grants"]


@pytest.fixture
def bucket(s3_endpoint, settings, monkeypatch, tmp_path):
    """A fresh bucket per test, and the default storage switched to it through
    the operator's environment variables."""
    name = f"rf-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
    )
    client.create_bucket(Bucket=name)
    for variable, value in {
        "STORAGE_S3_BUCKET": name,
        "STORAGE_S3_ENDPOINT_URL": s3_endpoint,
        "STORAGE_S3_REGION": "us-east-1",
        "STORAGE_S3_ACCESS_KEY_ID": "test-key",
        "STORAGE_S3_SECRET_ACCESS_KEY": "test-secret",
        "STORAGE_S3_ADDRESSING_STYLE": "path",
    }.items():
        monkeypatch.setenv(variable, value)
    default = default_storage_from_env()
    assert default["BACKEND"] == S3_BACKEND
    # Django resets default_storage when STORAGES changes (test signal).
    settings.STORAGES = {**settings.STORAGES, "default": default}
    settings.MEDIA_ROOT = tmp_path / "media"
    return Bucket(client, name)


def nothing_on_disk(settings) -> bool:
    root = settings.MEDIA_ROOT
    return not root.exists() or not any(path.is_file() for path in root.rglob("*"))


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def only_the_owner_may_read(grants: list[dict]) -> bool:
    # A private object: one grant, FULL_CONTROL to the owner's canonical
    # user; no AllUsers / AuthenticatedUsers group grant.
    return [grant["Permission"] for grant in grants] == ["FULL_CONTROL"] and all(
        grant["Grantee"]["Type"] == "CanonicalUser" for grant in grants
    )


@pytest.fixture
def draft(applicant, record, bucket):
    return draft_with_materials(applicant, record)


def web_upload(client, case, name: str, content: bytes, browser_type: str):
    return client.post(
        f"/cases/{case.pk}/materials/",
        {"file_other": SimpleUploadedFile(name, content, browser_type)},
    )


# Materials


def test_an_upload_is_a_private_object_typed_by_its_content_and_nothing_is_on_the_disk(
    client_for, applicant, draft, bucket, settings
):
    # A PNG under an .html name, which the browser calls text/html.
    assert web_upload(client_for(applicant), draft, "x.html", PNG, "text/html").status_code == 302
    material = CaseMaterial.objects.get(original_name="x.html")
    key = f"cases/{draft.pk}/{material.sha256}.png"
    assert material.file.name == key
    assert key in bucket.names()
    stored = bucket.get(key)
    assert stored["Body"].read() == PNG
    # The object's own type is the detected one, never the browser's word.
    assert stored["ContentType"] == "image/png"
    assert only_the_owner_may_read(bucket.grants(key))
    assert nothing_on_disk(settings)


def test_a_material_downloads_through_the_view_with_its_checks(
    client_for, applicant, other_applicant, officer, draft, bucket
):
    assert web_upload(client_for(applicant), draft, "说明.pdf", PDF, "application/pdf").status_code
    material = CaseMaterial.objects.get(original_name="说明.pdf")
    url = f"/cases/{draft.pk}/materials/{material.pk}/"

    response = client_for(applicant).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    assert body_of(response) == PDF == bucket.body(material.file.name)

    # Another applicant, and an officer before the case reaches the office, are refused.
    assert client_for(other_applicant).get(url).status_code == 404
    assert client_for(officer).get(url).status_code == 404


def test_a_material_whose_object_is_gone_is_not_found_not_a_server_error(
    client_for, applicant, draft, bucket
):
    material = draft.materials.first()
    bucket.delete(material.file.name)
    response = client_for(applicant).get(f"/cases/{draft.pk}/materials/{material.pk}/")
    assert response.status_code == 404


def test_the_same_content_twice_is_two_objects_and_removing_one_keeps_the_other(
    client_for, applicant, draft, bucket, django_capture_on_commit_callbacks
):
    client = client_for(applicant)
    assert web_upload(client, draft, "一.pdf", PDF + b"x", "application/pdf").status_code == 302
    assert web_upload(client, draft, "二.pdf", PDF + b"x", "application/pdf").status_code == 302
    first = CaseMaterial.objects.get(original_name="一.pdf")
    second = CaseMaterial.objects.get(original_name="二.pdf")
    assert first.sha256 == second.sha256
    assert first.file.name != second.file.name
    assert {first.file.name, second.file.name} <= bucket.names()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/cases/{draft.pk}/materials/{first.pk}/remove/")
    assert response.status_code == 302
    assert first.file.name not in bucket.names()
    assert second.file.name in bucket.names()
    download = client.get(f"/cases/{draft.pk}/materials/{second.pk}/")
    assert body_of(download) == PDF + b"x"


# Letters


@pytest.fixture
def refused(applicant, record, officer, committed, bucket):
    """A repair case refused: its refusal letter rendered into the bucket."""
    return refuse(applicant, record, officer, committed)


def refuse(applicant, record, officer, committed):
    case = draft_with_materials(applicant, record)
    case = repair_case_submit(applicant=applicant, case=case)
    case = preliminary_review_claim(officer=officer, case=case)
    return committed(
        preliminary_review_refuse,
        officer=officer,
        case=case,
        reasons=["不符合条件"],
        basis="第十一条",
    )


def test_a_rendered_letter_is_a_private_pdf_object_served_through_its_views(
    client_for, api_for, applicant, other_applicant, refused, bucket, settings
):
    letter = Letter.objects.get(pk=refused.decision_letter_id)
    key = letter.file.name
    assert key.startswith("letters/") and key in bucket.names()
    stored = bucket.get(key)
    assert stored["ContentType"] == "application/pdf"
    assert only_the_owner_may_read(bucket.grants(key))
    pdf = stored["Body"].read()
    assert pdf.startswith(b"%PDF-") and len(pdf) == letter.size

    client = client_for(applicant)
    response = client.get(f"/letters/{letter.pk}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    assert body_of(response) == pdf

    # The page image is made from the stored PDF and kept beside it in the bucket.
    image = client.get(f"/letters/{letter.pk}/page-1.png")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    png = body_of(image)
    assert png.startswith(b"\x89PNG")
    assert bucket.body(f"letter-previews/{letter.sha256}-1.png") == png
    assert body_of(client.get(f"/letters/{letter.pk}/page-1.png")) == png  # served again

    for what in ("pdf", "page-1.png"):
        assert client_for(other_applicant).get(f"/letters/{letter.pk}/{what}").status_code == 404

    # The API's PDF is the same object, with the same check.
    api = api_for(applicant).get(f"/api/v1/letters/{letter.pk}/pdf/")
    assert api.status_code == 200 and body_of(api) == pdf
    assert api_for(other_applicant).get(f"/api/v1/letters/{letter.pk}/pdf/").status_code == 404
    assert nothing_on_disk(settings)


def test_an_issuers_seal_is_an_object_and_is_drawn_from_it_into_the_letter(
    applicant, record, officer, committed, bucket, tmp_path
):
    issuer = institution_issuer()
    issuer_seal_set(
        issuer=issuer, data=specimen_seal_png(issuer.name), filename="seal.png", actor="test"
    )
    assert issuer.seal.name in bucket.names()
    assert bucket.get(issuer.seal.name)["ContentType"] == "image/png"
    case = refuse(applicant, record, officer, committed)
    letter = Letter.objects.get(pk=case.decision_letter_id)
    assert letter.facts["issued_by"]["seal"] == issuer.seal.name
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(bucket.body(letter.file.name))
    listing = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    # The seal is the letter's one raster image.
    assert "image" in listing.split("\n", 2)[2]


def test_the_public_verification_reads_the_object(client, refused, bucket):
    letter = Letter.objects.get(pk=refused.decision_letter_id)
    page = client.get(f"/verify/{letter.verification_code}").content.decode()
    assert "完好：存档文件与出具时的校验值一致" in page

    with_upload = client.post(
        f"/verify/{letter.verification_code}",
        {"file": SimpleUploadedFile("x.pdf", bucket.body(letter.file.name), "application/pdf")},
    ).content.decode()
    assert "完好" in with_upload and "校验未通过" not in with_upload

    api = client.get(f"/api/v1/verify/{letter.verification_code}/").json()
    assert api["file_intact"] is True and api["signature"]["ok"] is True

    bucket.put(letter.file.name, b"%PDF-1.7 altered")
    page = client.get(f"/verify/{letter.verification_code}").content.decode()
    assert "校验未通过：存档文件与出具时的校验值不一致" in page
    assert client.get(f"/api/v1/verify/{letter.verification_code}/").json()["file_intact"] is False


def test_a_letter_whose_object_was_altered_or_is_gone_has_no_page_image_and_verify_fails(
    client, client_for, applicant, refused, bucket
):
    letter = Letter.objects.get(pk=refused.decision_letter_id)
    bucket.put(letter.file.name, b"%PDF-1.7 altered")
    user = client_for(applicant)
    # No image is made from bytes that are not the issued letter.
    assert user.get(f"/letters/{letter.pk}/page-1.png").status_code == 404
    assert not any(key.startswith("letter-previews/") for key in bucket.names())

    bucket.delete(letter.file.name)
    assert user.get(f"/letters/{letter.pk}/pdf").status_code == 404
    assert "校验未通过" in client.get(f"/verify/{letter.verification_code}").content.decode()
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("verify_letters", stdout=out, stderr=out)
    assert f"{letter.number}: file missing" in out.getvalue()


# Retention


def test_destroying_an_expired_case_file_deletes_its_objects(
    client_for, applicant, refused, bucket, now, django_capture_on_commit_callbacks
):
    RetentionRule.objects.update(period_years=1)
    letter = Letter.objects.get(pk=refused.decision_letter_id)
    # The page image the applicant looked at is a copy of the letter: it goes too.
    assert client_for(applicant).get(f"/letters/{letter.pk}/page-1.png").status_code == 200
    image = f"letter-previews/{letter.sha256}-1.png"
    names = [m.file.name for m in refused.materials.all()] + [letter.file.name, image]
    assert set(names) <= bucket.names()

    now.move_to("2028-01-04T10:00:00+08:00")
    # The files go after the run's commit (retention.services.pending_files_remove).
    with django_capture_on_commit_callbacks(execute=True):
        call_command("destroy_expired", stdout=StringIO())
    entry = DestructionEntry.objects.get(object_type="letters.Letter", object_id=str(letter.pk))
    assert entry.files_removed == 2  # the PDF and its page image

    assert not set(names) & bucket.names()
    assert not CaseMaterial.objects.filter(case=refused).exists()
    letter.refresh_from_db()
    assert not letter.file
    assert not any(default_storage.exists(name) for name in names)


# An outage of the storage: 503 with Retry-After and a message, nothing saved.


def stop_the_store(settings, monkeypatch):
    """The store stops answering: the storage now points at a loopback port
    nobody listens on (connection refused), tried once instead of three times
    so the test does not sit through botocore's back-off."""
    monkeypatch.setenv("STORAGE_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    default = default_storage_from_env()
    options = default["OPTIONS"]
    options["client_config"] = options["client_config"].merge(
        Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1)
    )
    settings.STORAGES = {**settings.STORAGES, "default": default}


@pytest.fixture
def store_down(bucket, settings, monkeypatch):
    stop_the_store(settings, monkeypatch)


def outage_said(response) -> bool:
    return response.status_code == 503 and response["Retry-After"] == "60"


OUTAGE = "文件存储暂时无法访问"


def test_an_upload_while_the_store_is_down_is_refused_with_503_and_nothing_is_saved(
    client_for, api_for, applicant, draft, store_down
):
    held = set(draft.materials.values_list("pk", flat=True))

    page = web_upload(client_for(applicant), draft, "说明.pdf", PDF, "application/pdf")
    assert outage_said(page)
    assert OUTAGE in page.content.decode()

    api = api_for(applicant).post(
        f"/api/v1/repair-cases/{draft.pk}/materials/",
        {"kind": "other", "file": SimpleUploadedFile("说明.pdf", PDF, "application/pdf")},
        format="multipart",
    )
    assert outage_said(api)
    assert api.json()["code"] == "storage_unavailable"
    assert OUTAGE in api.json()["detail"]
    assert set(draft.materials.values_list("pk", flat=True)) == held


def test_a_file_read_while_the_store_is_down_is_503_not_a_server_error_nor_not_found(
    client_for, api_for, applicant, refused, bucket, settings, monkeypatch
):
    material = refused.materials.first()
    letter = Letter.objects.get(pk=refused.decision_letter_id)
    stop_the_store(settings, monkeypatch)

    client = client_for(applicant)
    for path in (
        f"/cases/{refused.pk}/materials/{material.pk}/",
        f"/letters/{letter.pk}/pdf",
    ):
        response = client.get(path)
        assert outage_said(response), path
        assert OUTAGE in response.content.decode()
    api = api_for(applicant).get(f"/api/v1/letters/{letter.pk}/pdf/")
    assert outage_said(api) and api.json()["code"] == "storage_unavailable"


def test_a_full_local_disk_is_an_outage_too(client_for, applicant, record, monkeypatch):
    """The embedded default (the local disk under MEDIA_ROOT), out of space."""
    draft = draft_with_materials(applicant, record)
    held = draft.materials.count()

    def full(self, name, content):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(FileSystemStorage, "_save", full)
    response = web_upload(client_for(applicant), draft, "说明.pdf", PDF, "application/pdf")
    assert outage_said(response)
    assert OUTAGE in response.content.decode()
    assert draft.materials.count() == held


@pytest.mark.parametrize(
    "error, outage",
    [
        (OSError(errno.ENOSPC, "full"), True),
        (OSError(errno.EROFS, "read-only"), True),
        (FileNotFoundError(errno.ENOENT, "gone"), False),
        (PermissionError(errno.EACCES, "denied"), False),
        (ClientError({"ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"), True),
        (ClientError({"ResponseMetadata": {"HTTPStatusCode": 404}}, "HeadObject"), False),
        (ClientError({"ResponseMetadata": {"HTTPStatusCode": 403}}, "GetObject"), False),
        (ValueError("a bug"), False),
    ],
)
def test_what_counts_as_an_outage_of_the_storage(error, outage):
    assert storage_unavailable(error) is outage
