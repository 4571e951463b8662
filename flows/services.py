"""Repair case services: each one transaction that fires the transition, moves
the SLA clocks, writes the timeline row and the audit event, and issues the
letters (rendered and mailed after commit by letters/).

Every service that changes a case locks its row first (select_for_update), so
two people acting on one case at once queue, and the second sees the first's
result and is refused with a clear message instead of acting twice.
"""

import datetime as dt
import hashlib

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows import work
from flows.models import (
    CLOSED_STATUSES,
    WITHDRAWABLE,
    CaseEvent,
    CaseKind,
    CaseMaterial,
    CaseSequence,
    CaseStatus,
    MaterialKind,
    ObjectionCase,
    ObjectionGround,
    ObjectionScope,
    RepairCase,
    SupplementRequest,
)
from letters.commitments import commitment_create, commitment_open_for_record, commitment_void
from letters.kinds import addressee_facts, record_facts
from letters.models import Commitment, CommitmentStatus, LetterKind
from letters.services import letter_issue
from records.models import BindingCapacity, CreditRecord, RecordStatus, SubjectBinding, SyncKind
from records.publicity import Eligibility, RecordFacts, answer, load_rule_sets
from records.services import record_status_set
from records.sync import sync_event_queue
from repair_flow.audit import audit_record
from repair_flow.models import Role
from sla.clocks import clock_assign, clock_start, clock_stop, clocks_for
from sla.models import SlaClock, Stage

CASE_NUMBER_PREFIX = "济信修申"
CASE_NUMBER_PREFIXES = {CaseKind.REPAIR: CASE_NUMBER_PREFIX, CaseKind.OBJECTION: "济信异申"}
MAX_MATERIAL_BYTES = 10 * 1024 * 1024  # 10 MB per file
# Content is recognised by its first bytes, never by the name or the browser's word.
MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
# The usual reasons, offered as a list on the task page (plus free text).
REFUSAL_REASONS = (
    ("scope", gettext_lazy("不属于信用修复受理范围")),
    ("period", gettext_lazy("该行政处罚信息未届满最短公示期限")),
    ("not_repairable", gettext_lazy("该行政处罚信息属于不可提前修复的情形")),
    ("not_applicant", gettext_lazy("申请人不是信用主体或其授权代理人")),
    ("repeat", gettext_lazy("不符合信用修复次数或间隔的限制")),
)
REJECTION_REASONS = (
    ("obligations", gettext_lazy("未履行行政处罚决定规定的义务")),
    ("not_corrected", gettext_lazy("违法行为未整改到位")),
    ("false_materials", gettext_lazy("提交的材料不真实")),
    ("forbidden", gettext_lazy("法律、法规规定不得修复")),
)
REQUIRED_MATERIALS = (
    MaterialKind.APPLICATION_FORM,
    MaterialKind.PERFORMANCE_PROOF,
    MaterialKind.IDENTITY_DOCUMENT,
)


# Helpers ------------------------------------------------------------------------


def _now(at: dt.datetime | None) -> dt.datetime:
    return at or timezone.now()


def _local_date(at: dt.datetime) -> dt.date:
    return timezone.localtime(at).date()


def _locked(case):
    """The case row (repair case or objection), locked for this transaction, as it is now."""
    return (
        type(case)
        .objects.select_for_update(of=("self",))
        .select_related("record__department", "record__subject", "subject", "applicant")
        .get(pk=case.pk)
    )


def _owned_by(case) -> dict:
    """The link from a material, notice or timeline row to its case."""
    return {"objection": case} if isinstance(case, ObjectionCase) else {"case": case}


def _next_case_serial(year: int, kind: str = CaseKind.REPAIR) -> int:
    """Same technique as letters.services._next_serial: one upsert that
    returns the new value and holds the row lock until commit, so a rolled
    back submission gives its number back."""
    table = connection.ops.quote_name(CaseSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, year, last) VALUES (%s, %s, 1)"  # noqa: S608
            f" ON CONFLICT (kind, year) DO UPDATE SET last = {table}.last + 1 RETURNING last",
            [kind, year],
        )
        return cursor.fetchone()[0]


def case_number(*, year: int, serial: int, kind: str = CaseKind.REPAIR) -> str:
    """济信修申〔2026〕1号; an objection 济信异申〔2026〕1号"""
    return f"{CASE_NUMBER_PREFIXES[kind]}〔{year}〕{serial}号"


def _fire(
    case: RepairCase,
    name: str,
    *,
    actor,
    at: dt.datetime,
    comment: str = "",
    params: dict | None = None,
    summary: dict | None = None,
) -> RepairCase:
    """Fire one transition (with `params`), save the case, and write its
    timeline row and audit event."""
    before = case.status
    fields = [f for f in case._meta.concrete_fields if not f.primary_key]
    values = {f.attname: f.value_from_object(case) for f in fields}
    getattr(case, name)(**(params or {}))
    # Save exactly what the transition changed (always the status).
    changed = [f.name for f in fields if f.value_from_object(case) != values[f.attname]]
    case.save(update_fields=sorted({"status", *changed}))
    return _note(case, name, actor=actor, at=at, before=before, comment=comment, summary=summary)


def _note(
    case: RepairCase,
    action: str,
    *,
    actor,
    at: dt.datetime,
    before: str | None = None,
    comment: str = "",
    summary: dict | None = None,
) -> RepairCase:
    """The timeline row and the audit event of one action on the case."""
    before = before or case.status
    CaseEvent.objects.create(
        **_owned_by(case),
        at=at,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        from_status=before,
        to_status=case.status,
        comment=comment,
    )
    audit_record(
        actor=actor,
        action=f"flows.{case.kind}_case.{action}",
        object_type=case._meta.label,
        object_id=case.pk,
        summary={
            "case": case.label,
            "record": case.record.decision_number,
            "before": before,
            "after": case.status,
            **({"comment": comment} if comment else {}),
            **(summary or {}),
        },
    )
    return case


def _require_status(case: RepairCase, *statuses: str) -> None:
    if case.status not in statuses:
        raise ValidationError(
            _("案件 %(case)s 当前状态为“%(status)s”，不能办理此操作。")
            % {"case": case.label, "status": CaseStatus(case.status).label},
            code="wrong_status",
        )


def _binding(applicant, subject) -> SubjectBinding | None:
    return SubjectBinding.objects.filter(user=applicant, subject=subject).first()


def _require_applicant(case: RepairCase, user) -> None:
    if getattr(user, "pk", None) != case.applicant_id:
        raise PermissionDenied(_("只有本案申请人可以办理此操作。"))


def _require_officer(case: RepairCase, officer) -> None:
    if getattr(officer, "role", None) != Role.OFFICER:
        raise PermissionDenied(_("只有平台工作人员可以办理初审。"))
    if case.officer_id is not None and case.officer_id != officer.pk:
        raise PermissionDenied(
            _("案件 %(case)s 由 %(officer)s 初审，其他人员不能办理。")
            % {"case": case.label, "officer": case.officer.get_full_name() or case.officer}
        )


def _is_department_reviewer(user, record: CreditRecord) -> bool:
    if getattr(user, "role", None) != Role.REVIEWER:
        return False
    membership = getattr(user, "department_membership", None)
    return membership is not None and membership.department_id == record.department_id


def _require_reviewer(case: RepairCase, reviewer) -> None:
    if not _is_department_reviewer(reviewer, case.record):
        raise PermissionDenied(
            _("按“谁认定、谁修复”，只有%(department)s的审核人员可以审核本案。")
            % {"department": case.record.department.name}
        )
    if case.reviewer_id is not None and case.reviewer_id != reviewer.pk:
        raise PermissionDenied(
            _("案件 %(case)s 由 %(reviewer)s 审核，其他人员不能办理。")
            % {"case": case.label, "reviewer": case.reviewer.get_full_name() or case.reviewer}
        )


def _eligibility_problem(record: CreditRecord, at: dt.datetime) -> str | None:
    """Why the record cannot be repaired on that day, or None when it can:
    the publicity rules, then the repeat limits (flows/limits.py)."""
    from flows.limits import record_repeat_limit

    result = answer(RecordFacts.of(record), load_rule_sets(), _local_date(at))
    limit = record_repeat_limit(record=record, answer=result)
    if result.eligibility == Eligibility.ELIGIBLE:
        if limit is None:
            return None
        return _("该记录目前不能申请信用修复：%(reason)s") % {"reason": limit}
    message = _("该记录目前不能申请信用修复：%(reason)s") % {"reason": result.reason}
    if result.eligibility == Eligibility.NOT_YET and result.eligible_from:
        message += _("（可申请日期：%(day)s）") % {"day": result.eligible_from.isoformat()}
    if limit is not None:
        message += _("另：%(limit)s") % {"limit": limit}
    return message


def _other_open_case(record: CreditRecord, case: RepairCase | None = None) -> RepairCase | None:
    cases = RepairCase.objects.filter(record=record).exclude(status__in=CLOSED_STATUSES)
    if case is not None:
        cases = cases.exclude(pk=case.pk)
    return cases.first()


def _check_filing(*, applicant, record: CreditRecord, at: dt.datetime, case=None) -> SubjectBinding:
    """The checks at drafting and again at submission; returns the binding."""
    binding = _binding(applicant, record.subject)
    if binding is None:
        raise ValidationError(
            _("您的账号没有绑定信用主体“%(subject)s”，不能为其申请信用修复。")
            % {"subject": record.subject.name},
            code="not_bound",
        )
    problem = _eligibility_problem(record, at)
    if problem:
        raise ValidationError(problem, code="not_eligible")
    objection = (
        ObjectionCase.objects.filter(record=record)
        .exclude(status__in=(*CLOSED_STATUSES, CaseStatus.DRAFT))
        .first()
    )
    if objection is not None:
        raise ValidationError(
            _("该记录有正在处理的异议（%(case)s），异议办结后方可申请信用修复。")
            % {"case": objection.number},
            code="objection_open",
        )
    other = _other_open_case(record, case)
    if other is not None:
        raise ValidationError(
            _("该记录已有正在办理的信用修复申请（%(case)s），不能重复申请。")
            % {"case": other.number or _("草稿")},
            code="open_case",
        )
    return binding


def _letter_facts(case, **facts) -> dict:
    if isinstance(case, ObjectionCase):
        facts.setdefault("matter", "异议申请")
    return {
        "addressee": addressee_facts(case.subject),
        "record": record_facts(case.record),
        "received_on": _local_date(case.submitted_at).isoformat(),
        **facts,
    }


def _issue(case: RepairCase, kind: str, *, actor, at: dt.datetime, **facts):
    return letter_issue(
        kind=kind,
        facts=_letter_facts(case, **facts),
        actor=actor,
        case=case,
        record=case.record,
        recipient=case.applicant,
        at=at,
    )


def _open_stages(case: RepairCase) -> list[str]:
    return list(clocks_for(case).filter(stopped_at=None).values_list("stage", flat=True))


def _stop_all(case: RepairCase, *, actor, at: dt.datetime, cancel: bool = False) -> None:
    for stage in _open_stages(case):
        clock_stop(case=case, stage=stage, actor=actor, at=at, cancel=cancel)


def _start_acceptance(case, *, actor, at: dt.datetime) -> None:
    # Domain section 5: the acceptance decision is due 2 working days after the
    # materials are complete (UNCONFIRMED, a policy): from submission, and again
    # from a complete supplement. The same-day preliminary review runs beside it.
    if case.kind != CaseKind.REPAIR:
        return
    clock_start(case=case, stage=Stage.ACCEPTANCE, actor=actor, at=at, label=case.label)


def _clean_list(values, what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    cleaned = [" ".join(str(v).split()) for v in values or [] if str(v).strip()]
    if not cleaned:
        raise ValidationError(_("请填写%(what)s。") % {"what": what})
    return cleaned


def _clean_text(value: str, what: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ValidationError(_("请填写%(what)s。") % {"what": what})
    return value


# Filing ---------------------------------------------------------------------------


@transaction.atomic
def repair_case_draft_save(*, applicant, record: CreditRecord, details: str, capacity: str):
    """Create the applicant's draft for a record, or update the draft they have."""
    at = timezone.now()
    record = CreditRecord.objects.select_related("department", "subject").get(pk=record.pk)
    draft = (
        RepairCase.objects.select_for_update()
        .filter(record=record, applicant=applicant, status=CaseStatus.DRAFT)
        .first()
    )
    binding = _check_filing(applicant=applicant, record=record, at=at, case=draft)
    if capacity not in BindingCapacity.values:
        raise ValidationError(_("申请人身份无效：%(capacity)s") % {"capacity": capacity})
    if capacity != binding.capacity:
        raise ValidationError(
            _("您绑定该主体的身份是“%(bound)s”，不能以“%(capacity)s”身份申请。")
            % {
                "bound": BindingCapacity(binding.capacity).label,
                "capacity": BindingCapacity(capacity).label,
            }
        )
    details = (details or "").strip()
    if draft is None:
        try:
            with transaction.atomic():
                draft = RepairCase.objects.create(
                    record=record,
                    subject=record.subject,
                    applicant=applicant,
                    filed_by_capacity=capacity,
                    details=details,
                )
        except IntegrityError:
            # Someone else opened a case on the record a moment ago.
            raise ValidationError(
                _("该记录已有正在办理的信用修复申请，不能重复申请。"), code="open_case"
            ) from None
        action = "flows.repair_case.draft_create"
    else:
        draft.details, draft.filed_by_capacity = details, capacity
        draft.save(update_fields=["details", "filed_by_capacity"])
        action = "flows.repair_case.draft_save"
    audit_record(
        actor=applicant,
        action=action,
        object_type="flows.RepairCase",
        object_id=draft.pk,
        summary={"record": record.decision_number, "capacity": capacity},
    )
    return draft


# Materials that are the same for every record of one filing: uploaded once,
# stored with each case (each case file stays complete on its own).
SHARED_MATERIALS = (
    MaterialKind.APPLICATION_FORM,
    MaterialKind.IDENTITY_DOCUMENT,
    MaterialKind.POWER_OF_ATTORNEY,
    MaterialKind.LEGAL_REP_PROOF,
)
MAX_RECORDS_PER_FILING = 50


@transaction.atomic
def repair_cases_draft_many(
    *, applicant, records: list[CreditRecord], details: str, shared: dict | None = None
) -> list[RepairCase]:
    """一网通办: one filing for several records, one draft case each, with the
    shared materials attached to every one. All or nothing: when any record
    or file is refused, every problem is named and nothing is saved."""
    records = list(dict.fromkeys(records))
    if not records:
        raise ValidationError(_("请至少选择一条行政处罚信息。"), code="no_records")
    if len(records) > MAX_RECORDS_PER_FILING:
        raise ValidationError(
            _("一次最多申请 %(n)d 条记录。") % {"n": MAX_RECORDS_PER_FILING}, code="too_many"
        )
    shared = shared or {}
    unknown = [kind for kind in shared if kind not in SHARED_MATERIALS]
    if unknown:
        labels = [str(MaterialKind(k).label) if k in MaterialKind.values else k for k in unknown]
        raise ValidationError(
            _("这些材料须按每条记录分别上传：%(kinds)s。") % {"kinds": "、".join(labels)},
            code="not_shared",
        )
    cases, problems = [], []
    for record in records:
        binding = _binding(applicant, record.subject)
        try:
            with transaction.atomic():
                case = repair_case_draft_save(
                    applicant=applicant,
                    record=record,
                    details=details,
                    capacity=binding.capacity if binding else "",
                )
                for kind, upload in shared.items():
                    case_material_add(case=case, user=applicant, kind=kind, upload=upload)
        except (ValidationError, PermissionDenied) as error:
            messages = error.messages if isinstance(error, ValidationError) else [str(error)]
            problems.extend(
                ValidationError(
                    _("%(decision)s：%(problem)s")
                    % {"decision": record.decision_number, "problem": message},
                    code="records",
                )
                for message in messages
            )
        else:
            cases.append(case)
    if problems:
        raise ValidationError(problems)
    return cases


def required_materials(case: RepairCase) -> list[str]:
    kinds = list(REQUIRED_MATERIALS)
    if case.filed_by_capacity == BindingCapacity.AGENT:
        kinds.append(MaterialKind.POWER_OF_ATTORNEY)
    return kinds


@transaction.atomic
def repair_case_submit(*, applicant, case: RepairCase, at: dt.datetime | None = None):
    """Submit a draft: number it and start the same-day preliminary review clock."""
    at = _now(at)
    case = _locked(case)
    _require_applicant(case, applicant)
    _require_status(case, CaseStatus.DRAFT)
    binding = _check_filing(applicant=applicant, record=case.record, at=at, case=case)
    if binding.capacity != case.filed_by_capacity:
        raise ValidationError(
            _("您绑定该主体的身份已变更为“%(bound)s”，请重新保存申请后提交。")
            % {"bound": BindingCapacity(binding.capacity).label}
        )
    have = set(case.materials.filter(round=0).values_list("kind", flat=True))
    missing = [
        str(MaterialKind(kind).label) for kind in required_materials(case) if kind not in have
    ]
    if missing:
        raise ValidationError(
            _("申请材料不齐全，请上传：%(missing)s。") % {"missing": "、".join(missing)},
            code="missing_materials",
        )
    return _submit(case, applicant=applicant, at=at)


def _submit(case, *, applicant, at: dt.datetime):
    """Number the filing, start its flow and the same-day preliminary review clock."""
    year = timezone.localtime(at).year
    serial = _next_case_serial(year, case.kind)
    number = case_number(year=year, serial=serial, kind=case.kind)
    _fire(case, "submit", actor=applicant, at=at, params={"number": number, "at": at})
    work.process_start(case)
    clock_start(case=case, stage=Stage.PRELIMINARY_REVIEW, actor=applicant, at=at, label=number)
    _start_acceptance(case, actor=applicant, at=at)
    return case


# Materials -----------------------------------------------------------------------


def _detect(head: bytes) -> str | None:
    for magic, content_type in MAGIC:
        if head.startswith(magic):
            return content_type
    return None


def _open_supplement(case: RepairCase) -> SupplementRequest | None:
    return case.supplement_requests.filter(answered_at=None).order_by("-requested_at").first()


@transaction.atomic
def case_material_add(*, case: RepairCase, user, kind: str, upload) -> CaseMaterial:
    """Attach one file: while drafting (round 0), or while the case awaits the
    supplement (round 1, only the kinds the notice asked for)."""
    case = _locked(case)
    _require_applicant(case, user)
    _require_status(case, CaseStatus.DRAFT, CaseStatus.AWAITING_SUPPLEMENT)
    name = (getattr(upload, "name", "") or "").rsplit("/", 1)[-1][:255] or _("（未命名）")
    if kind not in MaterialKind.values:
        raise ValidationError(_("文件“%(name)s”的材料类型无效。") % {"name": name})
    round_ = 0
    if case.status == CaseStatus.AWAITING_SUPPLEMENT:
        round_ = 1
        request = _open_supplement(case)
        if request is None or kind not in request.materials:
            raise ValidationError(
                _("文件“%(name)s”：补正告知书没有要求补正“%(kind)s”。")
                % {"name": name, "kind": MaterialKind(kind).label}
            )
    return _material_store(case, user=user, kind=kind, upload=upload, name=name, round_=round_)


def _material_store(case, *, user, kind: str, upload, name: str, round_: int = 0) -> CaseMaterial:
    """Check one uploaded file (size, content by its first bytes), store it
    with its SHA-256 and register it; the caller has checked who and when."""
    size = upload.size
    if size is None or size > MAX_MATERIAL_BYTES:
        raise ValidationError(
            _("文件“%(name)s”超过 %(limit)d MB，请压缩或分开上传。")
            % {"name": name, "limit": MAX_MATERIAL_BYTES // (1024 * 1024)},
            code="too_large",
        )
    if size == 0:
        raise ValidationError(_("文件“%(name)s”是空文件。") % {"name": name}, code="empty")
    upload.seek(0)
    head = upload.read(16)
    content_type = _detect(head)
    if content_type is None:
        raise ValidationError(
            _("文件“%(name)s”不是 PDF、JPEG 或 PNG 文件（按文件内容识别），请转换后上传。")
            % {"name": name},
            code="file_type",
        )
    upload.seek(0)
    digest = hashlib.sha256()
    for chunk in (
        upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 16), b"")
    ):
        digest.update(chunk)
    upload.seek(0)
    material = CaseMaterial(
        **_owned_by(case),
        kind=kind,
        original_name=name,
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
        uploaded_by=user,
        uploaded_at=timezone.now(),
        round=round_,
    )
    material.file.save(name, upload, save=False)
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


# Preliminary review --------------------------------------------------------------


@transaction.atomic
def preliminary_review_claim(*, officer, case: RepairCase) -> RepairCase:
    """Take a submitted (or resubmitted) case for preliminary review. Of two
    officers claiming at once, the row lock makes the second wait and then
    find the case taken."""
    if getattr(officer, "role", None) != Role.OFFICER:
        raise PermissionDenied(_("只有平台工作人员可以办理初审。"))
    case = _locked(case)
    if case.status == CaseStatus.IN_PRELIMINARY_REVIEW:
        raise ValidationError(
            _("案件 %(case)s 已由 %(officer)s 领取初审。")
            % {"case": case.label, "officer": case.officer.get_full_name() or case.officer},
            code="taken",
        )
    _require_status(case, CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED)
    at = timezone.now()
    _fire(case, "claim_preliminary_review", actor=officer, at=at, params={"officer": officer})
    clock_assign(case=case, stage=Stage.PRELIMINARY_REVIEW, assignee=officer, actor=officer)
    work.task_assign(case, "preliminary_review", officer)
    return case


def _clean_items(items) -> list[dict]:
    if not items:
        raise ValidationError(_("请列明需要补正的全部材料及其问题。"), code="no_items")
    cleaned, errors = [], []
    for n, item in enumerate(items, start=1):
        material = (item or {}).get("material")
        problem = " ".join(str((item or {}).get("problem") or "").split())
        if material not in MaterialKind.values:
            errors.append(_("第 %(n)d 项没有写明补正哪种材料。") % {"n": n})
            continue
        if not problem:
            errors.append(_("第 %(n)d 项没有写明问题。") % {"n": n})
            continue
        name = " ".join(str(item.get("name") or "").split()) or str(MaterialKind(material).label)
        cleaned.append({"material": material, "name": name, "problem": problem})
    if errors:
        raise ValidationError(errors, code="bad_items")
    return cleaned


@transaction.atomic
def supplement_request(
    *,
    officer,
    case: RepairCase,
    items: list[dict],
    at: dt.datetime | None = None,
    override_reason: str = "",
    supervisor=None,
) -> SupplementRequest:
    """The one-time notice (一次性告知, Jinan plan): every item in one letter,
    with the applicant's 10-working-day window from the supplement policy."""
    at = _now(at)
    case = _locked(case)
    _require_officer(case, officer)
    _require_status(case, CaseStatus.IN_PRELIMINARY_REVIEW)
    items = _clean_items(items)
    override_reason = " ".join((override_reason or "").split())
    if case.supplement_requests.exists():
        # Jinan plan: one notice per case; a second one breaks the promise
        # unless a supervisor overrides it, and every override is recorded.
        if supervisor is None or getattr(supervisor, "role", None) != Role.SUPERVISOR:
            raise ValidationError(
                _("本案已一次性告知过补正材料，再次告知须经监督人员批准并说明理由。"),
                code="second_request",
            )
        if not override_reason:
            raise ValidationError(_("请填写再次告知补正的理由。"), code="override_reason")
    elif supervisor is not None:
        # The supervisor only overrides; a first notice is the officer's own
        # act (and would otherwise be recorded as the officer's without them).
        raise PermissionDenied(_("首次补正告知由初审人员办理，监督人员只能批准再次告知。"))
    _stop_all(case, actor=officer, at=at)
    clock = clock_start(case=case, stage=Stage.SUPPLEMENT, actor=officer, at=at, label=case.label)
    letter = _issue(
        case,
        LetterKind.SUPPLEMENT,
        actor=officer,
        at=at,
        items=[{"name": i["name"], "problem": i["problem"]} for i in items],
        deadline=timezone.localtime(clock.due_at).isoformat(),
    )
    request = SupplementRequest.objects.create(
        **_owned_by(case),
        items=items,
        deadline=clock.due_at,
        requested_by=officer,
        requested_at=at,
        letter=letter,
        override_reason=override_reason,
        override_by=supervisor,
    )
    _fire(
        case,
        "request_supplement",
        actor=officer,
        at=at,
        comment=override_reason,
        summary={"items": len(items), "letter": letter.number},
    )
    work.task_done(case, "preliminary_review", officer)
    if supervisor is not None:
        audit_record(
            actor=supervisor,
            action="flows.supplement.override",
            object_type="flows.SupplementRequest",
            object_id=request.pk,
            summary={
                "case": case.label,
                "reason": override_reason,
                "officer": officer.pk,
                "round": case.supplement_count,
            },
        )
    return request


@transaction.atomic
def supplement_answer(*, applicant, case: RepairCase, at: dt.datetime | None = None) -> RepairCase:
    """The applicant has uploaded everything the notice asked for: back to
    preliminary review, on a new same-day clock."""
    at = _now(at)
    case = _locked(case)
    _require_applicant(case, applicant)
    _require_status(case, CaseStatus.AWAITING_SUPPLEMENT)
    request = _open_supplement(case)
    if at > request.deadline:
        raise ValidationError(
            _("补正期限已于 %(deadline)s 届满，申请已逾期。")
            % {"deadline": timezone.localtime(request.deadline).strftime("%Y-%m-%d %H:%M")},
            code="late",
        )
    have = set(
        case.materials.filter(round=1, uploaded_at__gte=request.requested_at).values_list(
            "kind", flat=True
        )
    )
    missing = [i["name"] for i in request.items if i["material"] not in have]
    if missing:
        raise ValidationError(
            _("还有补正材料未上传：%(missing)s。") % {"missing": "、".join(missing)},
            code="missing_materials",
        )
    request.answered_at = at
    request.save(update_fields=["answered_at"])
    clock_stop(case=case, stage=Stage.SUPPLEMENT, actor=applicant, at=at)
    _fire(case, "resubmit", actor=applicant, at=at)
    work.task_done(case, "supplement")
    clock_start(case=case, stage=Stage.PRELIMINARY_REVIEW, actor=applicant, at=at, label=case.label)
    _start_acceptance(case, actor=applicant, at=at)
    return case


def _tell_applicant_lapsed(case, due_at: dt.datetime) -> None:
    """The notice of the lapse: an email through the outbox (in this
    transaction), when the applicant has an address; the case page shows it too."""
    from letters.outbox import message_queue

    if not case.applicant.email:
        return
    with translation.override("zh-hans"):
        facts = {
            "number": case.number,
            "decision": case.record.decision_number,
            "deadline": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M"),
        }
        if case.kind == CaseKind.OBJECTION:
            subject = _("【异议】%(number)s 逾期未补正，异议申请已终止") % facts
            body = (
                _(
                    "您好：\n\n您的异议申请 %(number)s（行政处罚决定书 %(decision)s）"
                    "未在补正期限 %(deadline)s 前补正材料，视为撤回申请，本案已终止。"
                    "如仍有异议，可以重新提出。\n\n本邮件由系统自动发送，请勿直接回复。"
                )
                % facts
            )
        else:
            subject = _("【信用修复】%(number)s 逾期未补正，申请已终止") % facts
            body = (
                _(
                    "您好：\n\n您的信用修复申请 %(number)s（行政处罚决定书 %(decision)s）"
                    "未在补正期限 %(deadline)s 前补正材料，视为撤回申请，本案已终止。"
                    "如仍需修复，可以重新提出申请。\n\n本邮件由系统自动发送，请勿直接回复。"
                )
                % facts
            )
    message_queue(
        # Per kind: a repair case and an objection may share a primary key.
        key=f"{case.kind}_case:{case.pk}:lapsed",
        to=case.applicant.email,
        subject=subject,
        body=body,
        user=case.applicant,
    )


def cases_lapse_due(*, now: dt.datetime) -> int:
    """Close, as lapsed, the cases whose supplement window ended before `now`
    (a deadline is met up to and including its instant). Each case in its own
    transaction; a case answered or withdrawn meanwhile is left alone, so two
    sweeps never lapse one case twice."""
    lapsed = 0
    for model in (RepairCase, ObjectionCase):
        lapsed += _lapse_due(model, now=now)
    return lapsed


def _lapse_due(model, *, now: dt.datetime) -> int:
    due = SlaClock.objects.filter(
        case_type=ContentType.objects.get_for_model(model),
        stage=Stage.SUPPLEMENT,
        stopped_at=None,
        due_at__lt=now,
    ).values_list("case_id", flat=True)
    lapsed = 0
    for case_id in list(due):
        with transaction.atomic():
            case = (
                model.objects.select_for_update(of=("self",))
                .select_related("record")
                .filter(pk=case_id, status=CaseStatus.AWAITING_SUPPLEMENT)
                .first()
            )
            if case is None:
                continue
            clock = clocks_for(case).filter(stage=Stage.SUPPLEMENT, stopped_at=None).first()
            if clock is None or clock.due_at >= now:
                continue
            _stop_all(case, actor="system", at=now)
            _fire(
                case,
                "lapse",
                actor="system",
                at=now,
                params={"at": now},
                comment=_("逾期未补正，视为撤回申请。"),
            )
            work.task_done(case, "supplement")
            _tell_applicant_lapsed(case, clock.due_at)
            lapsed += 1
    return lapsed


@transaction.atomic
def preliminary_review_refuse(
    *, officer, case: RepairCase, reasons: list[str], basis: str
) -> RepairCase:
    at = timezone.now()
    case = _locked(case)
    _require_officer(case, officer)
    _require_status(case, CaseStatus.IN_PRELIMINARY_REVIEW)
    reasons = _clean_list(reasons, _("不予受理的理由"))
    basis = _clean_text(basis, _("不予受理的依据"))
    return _close_refused(
        case, "refuse", LetterKind.REFUSAL_TO_ACCEPT, actor=officer, at=at, reasons=reasons,
        basis=basis, task="preliminary_review",
    )  # fmt: skip


def _close_refused(
    case: RepairCase,
    transition: str,
    kind: str,
    *,
    actor,
    at,
    reasons: list[str],
    basis: str,
    task: str,
) -> RepairCase:
    """A refusal (to accept, or to repair): its letter with the reasons and the
    rule, every clock stopped, the transition."""
    letter = _issue(case, kind, actor=actor, at=at, reasons=reasons, basis=basis)
    _stop_all(case, actor=actor, at=at)
    _fire(
        case,
        transition,
        actor=actor,
        at=at,
        comment="；".join(reasons),
        params={"reasons": reasons, "basis": basis, "letter": letter, "at": at},
        summary={"letter": letter.number},
    )
    work.task_done(case, task, actor)
    return case


@transaction.atomic
def preliminary_review_accept(*, officer, case: RepairCase) -> RepairCase:
    """Accept: the 受理通知书, the commitment draft to sign, and the clocks
    for the commitment and for the whole decision (10 working days)."""
    at = timezone.now()
    case = _locked(case)
    _require_officer(case, officer)
    _require_status(case, CaseStatus.IN_PRELIMINARY_REVIEW)
    problem = _eligibility_problem(case.record, at)
    if problem:
        raise ValidationError(problem, code="not_eligible")
    letter = _issue(case, LetterKind.ACCEPTANCE, actor=officer, at=at)
    commitment_create(record=case.record, actor=officer, case=case)
    clock_stop(case=case, stage=Stage.PRELIMINARY_REVIEW, actor=officer, at=at)
    clock_stop(case=case, stage=Stage.ACCEPTANCE, actor=officer, at=at)
    _fire(
        case,
        "accept",
        actor=officer,
        at=at,
        params={"at": at},
        summary={"letter": letter.number},
    )
    work.task_done(case, "preliminary_review", officer)
    clock_start(case=case, stage=Stage.COMMITMENT, actor=officer, at=at, label=case.label)
    clock_start(case=case, stage=Stage.WHOLE_DECISION, actor=officer, at=at, label=case.label)
    return case


def case_commitment(case: RepairCase) -> Commitment | None:
    """The record's open commitment (one per record, domain section 3)."""
    return commitment_open_for_record(case.record)


def _commitment_void_draft(case: RepairCase, *, actor) -> int | None:
    """A withdrawn case leaves no unsigned commitment behind."""
    commitment = case_commitment(case)
    if commitment is None:
        return None
    reason = f"case {case.label} withdrawn"
    return (
        commitment.pk
        if commitment_void(commitment=commitment, actor=actor, reason=reason)
        else None
    )


@transaction.atomic
def case_commitment_signed(*, case: RepairCase, actor) -> RepairCase:
    """After the applicant signed the commitment (letters.commitments.commitment_sign):
    the case is accepted and goes to the issuing department ("谁认定、谁修复")."""
    case = _locked(case)
    _require_status(case, CaseStatus.AWAITING_COMMITMENT)
    commitment = case_commitment(case)
    if commitment is None or commitment.status != CommitmentStatus.SIGNED:
        raise ValidationError(_("信用修复承诺书尚未签署。"), code="not_signed")
    at = commitment.signed_at or timezone.now()
    clock_stop(case=case, stage=Stage.COMMITMENT, actor=actor, at=at)
    _fire(case, "commitment_signed", actor=actor, at=at, summary={"commitment": commitment.pk})
    work.task_done(case, "commitment")
    clock_start(
        case=case,
        stage=Stage.DEPARTMENT_REVIEW,
        actor=actor,
        at=at,
        department=case.record.department,
        label=case.label,
    )
    return case


# Department review ---------------------------------------------------------------


@transaction.atomic
def department_review_claim(*, reviewer, case: RepairCase) -> RepairCase:
    case = _locked(case)
    if not _is_department_reviewer(reviewer, case.record):
        raise PermissionDenied(
            _("按“谁认定、谁修复”，只有%(department)s的审核人员可以审核本案。")
            % {"department": case.record.department.name}
        )
    if case.status == CaseStatus.IN_DEPARTMENT_REVIEW:
        raise ValidationError(
            _("案件 %(case)s 已由 %(reviewer)s 领取审核。")
            % {"case": case.label, "reviewer": case.reviewer.get_full_name() or case.reviewer},
            code="taken",
        )
    _require_status(case, CaseStatus.ACCEPTED)
    at = timezone.now()
    _fire(case, "claim_department_review", actor=reviewer, at=at, params={"reviewer": reviewer})
    clock_assign(case=case, stage=Stage.DEPARTMENT_REVIEW, assignee=reviewer, actor=reviewer)
    work.task_assign(case, "department_review", reviewer)
    return case


@transaction.atomic
def department_review_approve(*, reviewer, case: RepairCase, basis: str) -> RepairCase:
    """Repair the record: the 信用修复决定书, the record marked repaired, and
    the sync clock (3 working days to pass the result on)."""
    at = timezone.now()
    case = _locked(case)
    _require_reviewer(case, reviewer)
    _require_status(case, CaseStatus.IN_DEPARTMENT_REVIEW)
    basis = _clean_text(basis, _("修复依据"))
    record = CreditRecord.objects.select_related("department", "subject").get(pk=case.record_id)
    # The record may have changed since filing (an objection, a correction).
    problem = _eligibility_problem(record, at)
    if problem:
        raise ValidationError(problem, code="not_eligible")
    day = _local_date(at)
    decision = _("准予信用修复，自 %(day)s 起停止公示该条行政处罚信息。") % {"day": day.isoformat()}
    letter = _issue(
        case,
        LetterKind.REPAIR_DECISION,
        actor=reviewer,
        at=at,
        decision=decision,
        basis=basis,
        effective_on=day.isoformat(),
    )
    record_status_set(
        actor=reviewer,
        record=record,
        status=RecordStatus.REPAIRED,
        reason=_("信用修复申请 %(case)s 准予修复（%(letter)s）")
        % {"case": case.label, "letter": letter.number},
    )
    _stop_all(case, actor=reviewer, at=at)
    _fire(
        case,
        "approve",
        actor=reviewer,
        at=at,
        params={"basis": basis, "letter": letter, "at": at},
        summary={"letter": letter.number},
    )
    work.task_done(case, "department_review", reviewer)
    from flows.monitoring import monitoring_open

    monitoring_open(case, at=at)
    # Other platforms learn of the repair through the sync feed (records/sync.py).
    sync_event_queue(
        record=record,
        kind=SyncKind.REPAIRED,
        source=f"flows.RepairCase:{case.pk}",
        key=f"repair_case:{case.pk}:approved",
        actor=reviewer,
        facts={"case_number": case.number, "letter_number": letter.number},
        at=at,
    )
    clock_start(case=case, stage=Stage.SYNC, actor=reviewer, at=at, label=case.label)
    return case


@transaction.atomic
def department_review_reject(
    *, reviewer, case: RepairCase, reasons: list[str], basis: str
) -> RepairCase:
    at = timezone.now()
    case = _locked(case)
    _require_reviewer(case, reviewer)
    _require_status(case, CaseStatus.IN_DEPARTMENT_REVIEW)
    reasons = _clean_list(reasons, _("不予修复的理由"))
    basis = _clean_text(basis, _("不予修复的依据"))
    return _close_refused(
        case, "reject", LetterKind.REPAIR_REFUSAL, actor=reviewer, at=at, reasons=reasons,
        basis=basis, task="department_review",
    )  # fmt: skip


# Task assignment -------------------------------------------------------------------

# Per human task: the statuses of a case waiting in its queue and being worked,
# the claim and release transitions, and the SLA stage.
TASKS = {
    "preliminary_review": {
        "queued": (CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED),
        "working": CaseStatus.IN_PRELIMINARY_REVIEW,
        "claim": "claim_preliminary_review",
        "release": "release_preliminary_review",
        "holder": "officer",
        "stage": Stage.PRELIMINARY_REVIEW,
    },
    "department_review": {
        "queued": (CaseStatus.ACCEPTED,),
        "working": CaseStatus.IN_DEPARTMENT_REVIEW,
        "claim": "claim_department_review",
        "release": "release_department_review",
        "holder": "reviewer",
        "stage": Stage.DEPARTMENT_REVIEW,
    },
    "verification": {
        "queued": (CaseStatus.ACCEPTED,),
        "working": CaseStatus.IN_VERIFICATION,
        "claim": "claim_verification",
        "release": "release_verification",
        "holder": "verifier",
        "stage": None,  # chosen by the routing: task_stage()
    },
}
KIND_TASKS = {
    CaseKind.REPAIR: ("preliminary_review", "department_review"),
    CaseKind.OBJECTION: ("preliminary_review", "verification"),
}


def case_task(case) -> str | None:
    """The human task the case waits for or is in, if any."""
    for name in KIND_TASKS[case.kind]:
        task = TASKS[name]
        if case.status in task["queued"] or case.status == task["working"]:
            return name
    return None


def verification_stage(case: ObjectionCase) -> str:
    """Shandong Social Credit Regulation Art. 40: a record whose decision was
    revoked or changed is changed within 3 working days; otherwise Art. 39:
    3 working days in the platform's own scope, 7 when the department checks."""
    if ObjectionGround.DECISION_REVOKED in case.grounds:
        return Stage.RECORD_CHANGE
    if case.scope == ObjectionScope.PLATFORM:
        return Stage.OBJECTION_OWN
    return Stage.OBJECTION_OTHER


def task_stage(case, task: str) -> str:
    return TASKS[task]["stage"] or verification_stage(case)


def _may_hold_role(case, task: str) -> str:
    """Who works the task: platform officers, or the issuing department's reviewers."""
    if task == "preliminary_review" or (
        task == "verification" and case.scope == ObjectionScope.PLATFORM
    ):
        return Role.OFFICER
    return Role.REVIEWER


def _may_hold(user, case, task: str) -> bool:
    if not getattr(user, "is_active", False):
        return False
    if _may_hold_role(case, task) == Role.OFFICER:
        return getattr(user, "role", None) == Role.OFFICER
    return _is_department_reviewer(user, case.record)


@transaction.atomic
def case_release(*, user, case: RepairCase, reason: str = "") -> RepairCase:
    """Put a claimed case back in its queue: by the person holding it, or by a
    supervisor (who must say why)."""
    at = timezone.now()
    case = _locked(case)
    task = case_task(case)
    if task is None or case.status != TASKS[task]["working"]:
        raise ValidationError(
            _("案件 %(case)s 当前没有人在办理，无需退回。") % {"case": case.label},
            code="not_claimed",
        )
    spec = TASKS[task]
    holder_id = getattr(case, f"{spec['holder']}_id")
    is_supervisor = getattr(user, "role", None) == Role.SUPERVISOR
    if getattr(user, "pk", None) != holder_id and not is_supervisor:
        raise PermissionDenied(_("只有办理人或监督人员可以把案件退回待办队列。"))
    reason = " ".join((reason or "").split())
    if is_supervisor and getattr(user, "pk", None) != holder_id and not reason:
        raise ValidationError(_("请填写退回的理由。"), code="reason")
    _fire(case, spec["release"], actor=user, at=at, comment=reason, summary={"holder": holder_id})
    clock_assign(case=case, stage=task_stage(case, task), assignee=None, actor=user)
    work.task_release(case, task)
    return case


@transaction.atomic
def case_reassign(*, supervisor, case: RepairCase, assignee, reason: str) -> RepairCase:
    """A supervisor gives the case's task to a named officer (preliminary
    review) or reviewer of the issuing department (department review),
    whether it waits in the queue or someone holds it."""
    if getattr(supervisor, "role", None) != Role.SUPERVISOR:
        raise PermissionDenied(_("只有监督人员可以指派或改派案件。"))
    at = timezone.now()
    case = _locked(case)
    reason = _clean_text(reason, _("指派理由"))
    task = case_task(case)
    if task is None:
        raise ValidationError(
            _("案件 %(case)s 当前状态为“%(status)s”，没有可指派的办理任务。")
            % {"case": case.label, "status": CaseStatus(case.status).label},
            code="no_task",
        )
    spec = TASKS[task]
    if assignee is None or not _may_hold(assignee, case, task):
        raise ValidationError(
            _("只能指派给平台工作人员。")
            if _may_hold_role(case, task) == Role.OFFICER
            else _("只能指派给%(department)s的审核人员。")
            % {"department": case.record.department.name},
            code="assignee",
        )
    before_holder = getattr(case, f"{spec['holder']}_id")
    if before_holder == assignee.pk:
        raise ValidationError(
            _("案件 %(case)s 已由该人员办理。") % {"case": case.label}, code="same"
        )
    summary = {"from": before_holder, "to": assignee.pk}
    if case.status in spec["queued"]:
        _fire(
            case,
            spec["claim"],
            actor=supervisor,
            at=at,
            comment=reason,
            params={spec["holder"]: assignee},
            summary=summary,
        )
    else:
        setattr(case, spec["holder"], assignee)
        case.save(update_fields=[spec["holder"]])
        _note(case, "reassign", actor=supervisor, at=at, comment=reason, summary=summary)
    clock_assign(case=case, stage=task_stage(case, task), assignee=assignee, actor=supervisor)
    work.task_assign(case, task, assignee)
    return case


# Withdrawal ------------------------------------------------------------------------


@transaction.atomic
def case_withdraw(*, applicant, case, reason: str):
    """The applicant withdraws a repair case or an objection before its decision."""
    at = timezone.now()
    case = _locked(case)
    _require_applicant(case, applicant)
    _require_status(case, *WITHDRAWABLE)
    reason = _clean_text(reason, _("撤回理由"))
    # Nothing of the case is owed any more: its open clocks are cancelled, not met.
    _stop_all(case, actor=applicant, at=at, cancel=True)
    voided = None
    if isinstance(case, ObjectionCase):
        from flows.objections import objection_release_record

        objection_release_record(case, actor=applicant)
    else:
        voided = _commitment_void_draft(case, actor=applicant)
    _fire(
        case,
        "withdraw",
        actor=applicant,
        at=at,
        comment=reason,
        params={"at": at},
        summary={"voided_commitment": voided},
    )
    work.process_cancel(case)
    return case


repair_case_withdraw = case_withdraw
