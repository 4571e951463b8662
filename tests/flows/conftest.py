"""Repair case fixtures: a frozen clock, uploads, and `drive` to bring a case
to a given status through the services, as the people on the case would."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.cases.common import case_commitment
from flows.cases.materials import case_material_add
from flows.cases.review import preliminary_review_claim
from flows.models import (
    CaseEvent,
    CaseStatus,
    MaterialKind,
    MonitoringPolicy,
    RepairCase,
    SupplementRequest,
)
from flows.monitoring.services import breach_confirm, breach_notice_issue, breach_statement_submit
from flows.repair.services import (
    department_review_approve,
    department_review_claim,
    preliminary_review_accept,
    repair_case_draft_save,
    repair_case_submit,
)
from letters.models import Commitment, CommitmentStatus, Letter
from records.models import Department, DepartmentMembership, RepeatLimitPolicy, Sector
from repair_flow.models import Role
from tests.conftest import make_user

TZ = ZoneInfo("Asia/Shanghai")
# Monday 16 November 2026, 10:00 in Jinan: before the 16:00 cut-off.
T0 = dt.datetime(2026, 11, 16, 10, 0, tzinfo=TZ)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
# Domain section 3: the proof of performance (and the signed commitment,
# which is not an upload).
FILING = (MaterialKind.PERFORMANCE_PROOF,)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=TZ)


def local(instant: dt.datetime) -> str:
    return dt.datetime.astimezone(instant, TZ).strftime("%Y-%m-%d %H:%M")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def now():
    """Time stands still at T0 unless a test moves it (`now.move_to(...)`)."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def posted(django_capture_on_commit_callbacks):
    """POST and run the after-commit work (letters render), as a real commit would."""

    def run(api, path, data=None, **kwargs):
        kwargs.setdefault("format", "json")
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(path, data or {}, **kwargs)

    return run


@pytest.fixture
def apis(api_for, applicant, officer, reviewer, other_reviewer, supervisor):
    """An API client per persona: the applicant, an officer, the issuing
    department's reviewer, another department's, a supervisor."""

    class Apis:
        mine = api_for(applicant)
        staff = api_for(officer)
        dept = api_for(reviewer)
        other_dept = api_for(other_reviewer)
        boss = api_for(supervisor)

    return Apis


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a call and then its after-commit work (letters render), as a commit would."""

    def run(fn, /, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def upload(name: str = "申请书.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def draft_with_materials(
    applicant, record, *, capacity="legal_representative", kinds=FILING, signed=True
):
    """A draft with its materials and, unless `signed=False`, its commitment
    signed: ready to submit."""
    case = repair_case_draft_save(
        applicant=applicant, record=record, details="罚款已缴清，已整改。", capacity=capacity
    )
    for kind in kinds:
        case_material_add(case=case, user=applicant, kind=kind, upload=upload(f"{kind}.pdf"))
    if signed:
        sign_commitment(case)
    return case


def sign_commitment(case) -> Commitment:
    """The applicant's signature, as letters.commitments.commitment_sign leaves
    it (the signing itself, with its rendered draft, is tested in tests/letters
    and once end to end in test_lifecycle)."""
    commitment = case_commitment(case)
    Commitment.objects.filter(pk=commitment.pk).update(
        status=CommitmentStatus.SIGNED,
        signer_name=case.applicant.get_full_name(),
        signer_capacity=case.filed_by_capacity,
        signed_by_id=case.applicant_id,
        signed_at=timezone.now(),
    )
    commitment.refresh_from_db()
    return commitment


@pytest.fixture
def drive(applicant, record, officer, reviewer):
    """`drive(status)`: a case of `applicant` on `record`, brought to `status`."""
    order = [
        CaseStatus.DRAFT,
        CaseStatus.SUBMITTED,
        CaseStatus.IN_PRELIMINARY_REVIEW,
        CaseStatus.ACCEPTED,
        CaseStatus.IN_DEPARTMENT_REVIEW,
    ]

    def run(status: str):
        case = draft_with_materials(applicant, record)
        steps = [
            lambda c: repair_case_submit(applicant=applicant, case=c),
            lambda c: preliminary_review_claim(officer=officer, case=c),
            lambda c: preliminary_review_accept(officer=officer, case=c),
            lambda c: department_review_claim(reviewer=reviewer, case=c),
        ]
        for step in steps[: order.index(status)]:
            case = step(case)
        case.refresh_from_db()
        assert case.status == status
        return case

    return run


def snapshot():
    """What a refused action must leave as it was: cases, timeline, notices,
    letters and the flow's tasks."""
    return (
        list(RepairCase.objects.values_list("pk", "status", "officer_id", "reviewer_id")),
        CaseEvent.objects.count(),
        SupplementRequest.objects.count(),
        Letter.objects.count(),
        list(Task.objects.values_list("pk", "status", "owner_id")),
    )


def open_task(case) -> tuple[str, str, str | None]:
    """(node, status, owner) of the case's one open task."""
    task = (
        Task.objects.filter(
            process__repairprocess__case=case, status__in=[STATUS.NEW, STATUS.ASSIGNED]
        )
        .select_related("owner")
        .get()
    )
    return task.flow_task.name, task.status, task.owner.username if task.owner else None


@pytest.fixture
def second_record(department, enterprise):
    """Another record of the applicant's enterprise, from the same department."""
    from tests.conftest import make_record

    return make_record(
        department=department, subject=enterprise, decision_number="济市监罚〔2026〕2号"
    )


@pytest.fixture
def second_officer(db):
    from repair_flow.models import Role
    from tests.conftest import make_user

    return make_user("officer2", Role.OFFICER, first_name="周强")


@pytest.fixture
def colleague(reviewer):
    """A second reviewer of the issuing department."""
    from records.models import DepartmentMembership
    from repair_flow.models import Role
    from tests.conftest import make_user

    user = make_user("reviewer2", Role.REVIEWER, first_name="吴军")
    DepartmentMembership.objects.create(
        user=user, department=reviewer.department_membership.department
    )
    return user


# Post-repair monitoring ------------------------------------------------------------

BASIS = "《信用修复管理办法》第十条"


def approve_repair(case, *, officer, reviewer, now=None, on: str | None = None):
    """A filed draft of a repair, through the services, to its approval (at
    `on`, Beijing time, moving `now` there, when given)."""
    applicant = case.applicant
    case = repair_case_submit(applicant=applicant, case=case)
    case = preliminary_review_claim(officer=officer, case=case)
    case = preliminary_review_accept(officer=officer, case=case)
    case = department_review_claim(reviewer=reviewer, case=case)
    if on is not None:
        now.move_to(at(on))
    return department_review_approve(reviewer=reviewer, case=case, basis=BASIS)


@pytest.fixture
def approved(drive, reviewer, committed, now, applicant):
    """A repair approved on Wednesday 18 November 2026 at 15:00 (Beijing):
    monitored until 18 November 2027 15:00."""
    applicant.email = "zhangwei@example.com"
    applicant.save()
    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    now.move_to(at("2026-11-18 15:00"))
    return committed(department_review_approve, reviewer=reviewer, case=case, basis=BASIS)


def penalty_row(enterprise, department, *, number="济市监罚〔2027〕3号", day="2027-03-01"):
    """An import row: a new penalty of `enterprise` decided on `day`."""
    return {
        "decision_number": number,
        "department_code": department.code,
        "subject_type": enterprise.kind,
        "subject_identifier": enterprise.identifier,
        "subject_name": enterprise.name,
        "decision_date": day,
        "fine_amount": "2000",
        "severity": "general",
        "penalty_types": "fine",
        "facts": "",
    }


def import_rows(*rows, actor="import_records"):
    """Rows pushed in as `import_records` and the records API do."""
    from records.services import records_ingest

    return records_ingest(rows=list(enumerate(rows, start=2)), actor=actor, source="test")


def monitored_repair(record, *, applicant, starts: str, ends: str, number: str):
    """An approved repair of `record` put straight into monitoring from
    `starts` until `ends` (Beijing), without its filing and process: for
    tests about the monitoring alone."""
    from flows.models import MonitoringWindow

    case = RepairCase.objects.create(
        record=record,
        subject=record.subject,
        applicant=applicant,
        filed_by_capacity="legal_representative",
        number=number,
    )
    RepairCase.objects.filter(pk=case.pk).update(status=CaseStatus.APPROVED, decided_at=at(starts))
    MonitoringWindow.objects.create(
        case=case,
        subject=record.subject,
        starts_at=at(starts),
        ends_at=at(ends),
        starts_on=at(starts).date(),
        ends_on=at(ends).date(),
    )
    case.refresh_from_db()
    return case


# The repeat limits ship disabled (NDRC Order 36 Art. 2): tests of the limits
# enable the loaded version with a basis, as an administrator would.
LIMITS_BASIS = "《某市信用修复管理规定》（测试用）第十条"


@pytest.fixture
def repeat_limits_enabled(db):
    RepeatLimitPolicy.objects.update(enabled=True, unconfirmed=False, legal_basis=LIMITS_BASIS)


@pytest.fixture
def sister_department(db):
    """Another department of the repaired record's sector (食品药品): its
    penalties are of the kind the commitment covered (the default "same kind")."""
    return Department.objects.create(
        code="YPJ", name="济南市药品监督管理局", sector=Sector.FOOD_DRUG
    )


@pytest.fixture
def sister_reviewer(sister_department):
    """A reviewer of the department that issued the new penalty: informed, never deciding."""
    user = make_user("sister_reviewer", Role.REVIEWER, first_name="孙丽")
    DepartmentMembership.objects.create(user=user, department=sister_department)
    return user


NOTICE_FACTS = "2027年3月1日因同类违法行为再次受到行政处罚。"
STATEMENT = "该处罚所涉行为发生在承诺之前，已提交说明。"
ANSWER = "经核实，违法行为发生在监管期内，申辩理由不成立。"
BAR_BASIS = "《某市信用修复管理规定》（测试用）第十二条"


def hear(review, *, reviewer):
    """The hearing before a revocation: the department's notice of intended
    revocation, then the applicant's statement (陈述申辩)."""
    review = breach_notice_issue(reviewer=reviewer, review=review, facts=NOTICE_FACTS)
    return breach_statement_submit(applicant=review.case.applicant, review=review, text=STATEMENT)


def revoke(*, reviewer, review, reasons, basis):
    """A revocation after the hearing: the department answers the statement."""
    review = hear(review, reviewer=reviewer)
    return breach_confirm(
        reviewer=reviewer, review=review, reasons=reasons, basis=basis, answer=ANSWER
    )


@pytest.fixture
def bar_enabled(db):
    """The bar after a revocation ships disabled; enabled with a basis, as an
    administrator would."""
    MonitoringPolicy.objects.update(bar_enabled=True, unconfirmed=False, bar_basis=BAR_BASIS)
