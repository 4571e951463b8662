"""Case materials: each upload checked (who may give this kind, size, content
by its first bytes, the case's quota), stored under a name of the server's
(its SHA-256, with the extension of its detected type) and registered.
"""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.cases.common import case_locked, owned_by, require_applicant, require_status
from flows.models import (
    MATERIAL_EXTENSIONS,
    STAFF_ONLY_MATERIALS,
    CaseMaterial,
    CaseStatus,
    MaterialKind,
    RepairCase,
    SupplementRequest,
)
from repair_flow.audit import audit_record

# Content is recognised by its first bytes, never by the name or the browser's
# word. Only these three: a browser would run HTML or SVG (script) and an
# executable has no place in a case file.
MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def content_type_of(head: bytes) -> str | None:
    for magic, content_type in MAGIC:
        if head.startswith(magic):
            return content_type
    return None


def material_download_name(material: CaseMaterial) -> str:
    """The name a material downloads under: the applicant's name without its
    extension, then the extension of the type detected at upload ("x.html"
    holding a PDF downloads as "x.pdf")."""
    stem = material.original_name.rsplit(".", 1)[0].strip() or material.kind
    return f"{stem}.{MATERIAL_EXTENSIONS.get(material.content_type, 'bin')}"


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


def quota_check(case, *, name: str, size: int) -> None:
    """The case's quota (settings CASE_MATERIALS_MAX_COUNT files and
    CASE_MATERIALS_MAX_BYTES in all, whoever uploaded them): one more file
    of `size` must fit."""
    held = case.materials.aggregate(count=Count("id"), total=Sum("size"))
    count, total = held["count"], held["total"] or 0
    if count + 1 > settings.CASE_MATERIALS_MAX_COUNT:
        raise ValidationError(
            _("文件“%(name)s”：本件已有 %(count)d 份材料，达到每件 %(max)d 份的上限。")
            % {"name": name, "count": count, "max": settings.CASE_MATERIALS_MAX_COUNT},
            code="quota",
        )
    if total + size > settings.CASE_MATERIALS_MAX_BYTES:
        raise ValidationError(
            _(
                "文件“%(name)s”：本件材料合计将超过 %(max)s MB 的上限"
                "（已有 %(total)s MB），请压缩后上传或删除不需要的文件。"
            )
            % {
                "name": name,
                "max": megabytes(settings.CASE_MATERIALS_MAX_BYTES),
                "total": f"{total / (1024 * 1024):.1f}",
            },
            code="quota",
        )


def supplement_open(case: RepairCase) -> SupplementRequest | None:
    return case.supplement_requests.filter(answered_at=None).order_by("-requested_at").first()


@transaction.atomic
def case_material_add(*, case: RepairCase, user, kind: str, upload) -> CaseMaterial:
    """Attach one file: while drafting (round 0), or while the case awaits the
    supplement (round 1, only the kinds the notice asked for)."""
    case = case_locked(case)
    require_applicant(case, user)
    require_status(case, CaseStatus.DRAFT, CaseStatus.AWAITING_SUPPLEMENT)
    name = (getattr(upload, "name", "") or "").rsplit("/", 1)[-1][:255] or _("（未命名）")
    if kind not in MaterialKind.values:
        raise ValidationError(_("文件“%(name)s”的材料类型无效。") % {"name": name})
    if kind in STAFF_ONLY_MATERIALS:
        # An officer's evidence of false materials (flows.monitoring) is
        # theirs to give; an applicant's file of that kind would stand as it.
        raise ValidationError(
            _("文件“%(name)s”：“%(kind)s”只能由工作人员提交，申请人不能上传此类材料。")
            % {"name": name, "kind": MaterialKind(kind).label},
            code="staff_only",
        )
    round_ = 0
    if case.status == CaseStatus.AWAITING_SUPPLEMENT:
        round_ = 1
        request = supplement_open(case)
        if request is None or kind not in request.materials:
            raise ValidationError(
                _("文件“%(name)s”：补正告知书没有要求补正“%(kind)s”。")
                % {"name": name, "kind": MaterialKind(kind).label}
            )
    return material_store(case, user=user, kind=kind, upload=upload, name=name, round_=round_)


def material_store(case, *, user, kind: str, upload, name: str, round_: int = 0) -> CaseMaterial:
    """Check one uploaded file (size, content by its first bytes, the case's
    quota), store it with its SHA-256 and register it; the caller has checked
    who and when. The caller holds the case's lock (case_locked), so two
    uploads never both fit the last of the quota."""
    size = upload.size
    limit = settings.MAX_MATERIAL_BYTES
    if size is None or size > limit:
        raise ValidationError(
            _("文件“%(name)s”超过 %(limit)s MB，请压缩或分开上传。")
            % {"name": name, "limit": megabytes(limit)},
            code="too_large",
        )
    if size == 0:
        raise ValidationError(_("文件“%(name)s”是空文件。") % {"name": name}, code="empty")
    upload.seek(0)
    head = upload.read(16)
    content_type = content_type_of(head)
    if content_type is None:
        raise ValidationError(
            _("文件“%(name)s”不是 PDF、JPEG 或 PNG 文件（按文件内容识别），请转换后上传。")
            % {"name": name},
            code="file_type",
        )
    quota_check(case, name=name, size=size)
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in (
        upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 16), b"")
    ):
        digest.update(chunk)
    upload.seek(0)
    material = CaseMaterial(
        **owned_by(case),
        kind=kind,
        original_name=name,
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
        uploaded_by=user,
        uploaded_at=timezone.now(),
        round=round_,
    )
    # Wrapped: an object store would otherwise record the browser's word
    # for the type (an upload's content_type); the stored name's extension,
    # from the detected type, is all the storage goes by.
    material.file.save(name, File(upload), save=False)
    material.save()
    audit_record(
        actor=user,
        action="flows.case_material.add",
        object_type="flows.CaseMaterial",
        object_id=material.pk,
        summary={
            "case": case.label,
            "kind": kind,
            "round": round_,
            "size": size,
            "sha256": material.sha256,
        },
    )
    return material


def materials_removable(case: RepairCase, user) -> set[int]:
    """The files the applicant may still take back: their own uploads not
    yet submitted (a draft's, or those for the open supplement notice).
    Submitted files stay: they are what the office reviewed."""
    if getattr(user, "pk", None) is None or user.pk != case.applicant_id:
        return set()
    mine = case.materials.filter(uploaded_by=user)
    if case.status == CaseStatus.DRAFT:
        return set(mine.filter(round=0).values_list("pk", flat=True))
    request = supplement_open(case) if case.status == CaseStatus.AWAITING_SUPPLEMENT else None
    if request is None:
        return set()
    return set(
        mine.filter(round=1, uploaded_at__gte=request.requested_at).values_list("pk", flat=True)
    )


@transaction.atomic
def case_material_remove(*, case: RepairCase, user, material_pk: int) -> CaseMaterial:
    """Take back a file uploaded by mistake before it is submitted (see
    materials_removable); the removal is audited like the upload, and the
    stored file deleted once the transaction commits."""
    case = case_locked(case)
    require_applicant(case, user)
    material = case.materials.filter(pk=material_pk).first()
    if material is None:
        raise ValidationError(_("没有这份材料。"), code="not_found")
    require_status(case, CaseStatus.DRAFT, CaseStatus.AWAITING_SUPPLEMENT)
    if material.pk not in materials_removable(case, user):
        raise ValidationError(
            _("文件“%(name)s”已随申请提交，不能删除。") % {"name": material.original_name},
            code="submitted",
        )
    audit_record(
        actor=user,
        action="flows.case_material.remove",
        object_type="flows.CaseMaterial",
        object_id=material.pk,
        summary={
            "case": case.label,
            "kind": material.kind,
            "round": material.round,
            "size": material.size,
            "sha256": material.sha256,
        },
    )
    stored, storage = material.file.name, material.file.storage
    material.delete()
    # The file goes once the row is surely gone; a rollback keeps both.
    transaction.on_commit(lambda: storage.delete(stored))
    return material
