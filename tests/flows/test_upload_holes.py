"""Uploads (issue 17, findings 7, 8 and 10): kinds checked per role, files
named and served by their detected type, never world-readable, a per-case
quota, and an oversized body refused before it is read."""

import io
import os
import stat

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from flows.models import CaseMaterial
from repair_flow.models import AuditEvent
from tests.flows.conftest import PDF, PNG, draft_with_materials

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><script>alert(document.cookie)</script>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


@pytest.fixture
def draft(applicant, record):
    return draft_with_materials(applicant, record)


def web_upload(client, case, kind, name, content):
    return client.post(
        f"/cases/{case.pk}/materials/",
        {f"file_{kind}": SimpleUploadedFile(name, content, "application/octet-stream")},
    )


def api_upload(api, case, kind, name, content):
    return api.post(
        f"/api/v1/repair-cases/{case.pk}/materials/",
        {"kind": kind, "file": SimpleUploadedFile(name, content, "application/pdf")},
        format="multipart",
    )


# Finding 7: staff-only kinds


def test_an_applicant_cannot_upload_false_material_evidence_on_the_web(
    client_for, applicant, draft
):
    before = CaseMaterial.objects.count()
    response = web_upload(client_for(applicant), draft, "false_material_evidence", "证据.pdf", PDF)
    assert response.status_code == 400
    assert "“材料不实的证据”只能由工作人员提交" in response.content.decode()
    assert CaseMaterial.objects.count() == before


def test_an_applicant_cannot_upload_false_material_evidence_over_the_api(api_for, applicant, draft):
    before = CaseMaterial.objects.count()
    response = api_upload(api_for(applicant), draft, "false_material_evidence", "证据.pdf", PDF)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "staff_only"
    assert "只能由工作人员提交" in body["kind"][0]
    assert CaseMaterial.objects.count() == before


def test_the_applicant_still_uploads_their_own_kinds(api_for, applicant, draft):
    response = api_upload(api_for(applicant), draft, "other", "说明.pdf", PDF)
    assert response.status_code == 201


# Finding 8: names and types from the content


@pytest.mark.parametrize(
    ("name", "content"),
    [("x.html", HTML), ("b.svg", SVG), ("poly.exe", EXE), ("page.pdf", HTML)],
)
def test_html_svg_and_executables_are_refused_with_a_clear_message(
    api_for, applicant, draft, name, content
):
    response = api_upload(api_for(applicant), draft, "other", name, content)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "file_type"
    assert body["file"] == [
        f"文件“{name}”不是 PDF、JPEG 或 PNG 文件（按文件内容识别），请转换后上传。"
    ]


def test_a_file_is_stored_and_served_by_its_detected_type(client_for, applicant, draft):
    client = client_for(applicant)
    # A PNG under an .html name (a polyglot's disguise): stored and served as a PNG.
    assert web_upload(client, draft, "other", "x.html", PNG).status_code == 302
    material = CaseMaterial.objects.get(original_name="x.html")
    assert material.content_type == "image/png"
    assert material.file.name == f"cases/{draft.pk}/{material.sha256}.png"

    response = client.get(f"/cases/{draft.pk}/materials/{material.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'attachment; filename="x.png"'
    assert b"".join(response.streaming_content) == PNG


def test_a_file_is_not_world_readable(client_for, applicant, draft):
    assert web_upload(client_for(applicant), draft, "other", "说明.pdf", PDF).status_code == 302
    material = CaseMaterial.objects.get(original_name="说明.pdf")
    path = material.file.path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o750


# Finding 10: the quota and the body cap


def test_the_case_quota_counts_files(settings, api_for, applicant, draft):
    held = draft.materials.count()
    settings.CASE_MATERIALS_MAX_COUNT = held + 1
    api = api_for(applicant)
    assert api_upload(api, draft, "other", "一.pdf", PDF + b"1").status_code == 201
    response = api_upload(api, draft, "other", "二.pdf", PDF + b"2")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "quota"
    assert body["file"] == [
        f"文件“二.pdf”：本件已有 {held + 1} 份材料，达到每件 {held + 1} 份的上限。"
    ]
    assert draft.materials.count() == held + 1


def test_the_case_quota_counts_bytes(settings, client_for, applicant, draft):
    held = sum(draft.materials.values_list("size", flat=True))
    big = PDF + b"\x00" * 4096
    settings.CASE_MATERIALS_MAX_BYTES = held + len(big) + 10
    client = client_for(applicant)
    assert web_upload(client, draft, "other", "一.pdf", big).status_code == 302
    response = web_upload(client, draft, "other", "二.pdf", big + b"x")
    assert response.status_code == 400
    assert "文件“二.pdf”：本件材料合计将超过" in response.content.decode()
    assert not draft.materials.filter(original_name="二.pdf").exists()
    assert not AuditEvent.objects.filter(
        action="flows.case_material.add", summary__size=len(big) + 1
    ).exists()


class Unreadable(io.BytesIO):
    """A body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def test_a_50_mb_body_is_refused_with_413_before_it_is_read(applicant, draft):
    client = Client()
    client.force_login(applicant)
    for path in (f"/cases/{draft.pk}/materials/", f"/api/v1/repair-cases/{draft.pk}/materials/"):
        response = client.generic(
            "POST",
            path,
            b"",
            CONTENT_TYPE="multipart/form-data; boundary=x",
            CONTENT_LENGTH=str(50 * 1024 * 1024),
            **{"wsgi.input": Unreadable()},
        )
        assert response.status_code == 413
    body = response.json()
    assert body["code"] == "too_large"
    assert "超过 25 MB 的上限" in body["detail"]


def test_a_json_body_has_its_own_smaller_cap(settings, api_for, officer):
    settings.MAX_REQUEST_BODY_BYTES = 4096
    response = api_for(officer).post("/api/v1/repair-cases/", {"note": "x" * 5000}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
