"""Repair cases over HTTP: the applicant's filing and the staff's review.

GET  /api/v1/repair-cases/                          the cases the caller may see, paginated
POST /api/v1/repair-cases/                          applicant: a draft for a record
POST /api/v1/repair-cases/many/                     applicant: drafts for several records at once
GET  /api/v1/repair-cases/{id}/                     one case: materials, clocks, timeline, letters
POST /api/v1/repair-cases/{id}/materials/           applicant: attach a file (multipart)
POST /api/v1/repair-cases/{id}/submit/              applicant: submit the draft (commitment signed)
POST /api/v1/repair-cases/{id}/supplement-answer/   applicant: the supplement is complete
POST /api/v1/repair-cases/{id}/withdraw/            applicant: withdraw, with a reason
POST /api/v1/repair-cases/{id}/claim/               officer or department reviewer: take the case
POST /api/v1/repair-cases/{id}/supplement-request/  officer (or supervisor override): 一次性告知
POST /api/v1/repair-cases/{id}/refuse/              officer: not accepted
POST /api/v1/repair-cases/{id}/accept/              officer: accepted, to the department
POST /api/v1/repair-cases/{id}/approve/             department reviewer: repair the record
POST /api/v1/repair-cases/{id}/reject/              department reviewer: refuse the repair
POST /api/v1/repair-cases/{id}/release/             holder or supervisor: back to the queue
POST /api/v1/repair-cases/{id}/reassign/            supervisor: give the task to a named person
GET  /api/v1/tasks/                                 staff: queue, inbox or archive

Scoping is flows.selectors': 404 for a case the caller may not see. Every
write is one service call (flows.services); the API holds no rules of its own.
"""

from django.contrib.contenttypes.models import ContentType
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from flows.cases.assignment import case_claim, case_reassign, case_release
from flows.cases.common import case_commitment
from flows.cases.materials import case_material_add
from flows.cases.review import (
    preliminary_review_refuse,
    supplement_answer,
    supplement_request,
)
from flows.cases.selectors import (
    BOXES,
    DUE_FILTERS,
    TASK_ROLES,
    case_get_for_user,
    cases_for_user,
    materials_for_user,
    task_case,
    tasks_for_user,
)
from flows.cases.withdrawal import case_withdraw
from flows.engine import HUMAN_NODES
from flows.models import (
    CaseEvent,
    CaseKind,
    CaseMaterial,
    CaseStatus,
    MaterialKind,
    RepairCase,
    SupplementRequest,
)
from flows.repair.services import (
    MAX_RECORDS_PER_FILING,
    department_review_approve,
    department_review_reject,
    preliminary_review_accept,
    repair_case_draft_save,
    repair_case_submit,
    repair_cases_draft_many,
)
from letters.api import LetterSummarySerializer
from letters.models import CommitmentStatus, Letter
from records.models import BindingCapacity, CreditRecord
from records.selectors import records_visible_to
from repair_flow.api_common import (
    PURPOSE_PARAMETER,
    ApiModelSerializer,
    ChoiceLabelField,
    LocalDateTimeField,
    absolute_url,
    person_read_register,
    query_choices,
)
from repair_flow.models import Role, User
from repair_flow.parsers import DepthLimitedJSONParser
from repair_flow.roles import role_permission
from sla.clocks import clocks_for
from sla.models import SlaClock

# Serializers


class CaseSummarySerializer(ApiModelSerializer):
    """A case in a list: no personal data, so a list needs no purpose."""

    url = serializers.SerializerMethodField()
    status_label = ChoiceLabelField("status")
    decision_number = serializers.CharField(source="record.decision_number", read_only=True)
    department = serializers.CharField(source="record.department.name", read_only=True)

    class Meta:
        model = RepairCase
        fields = [
            "id", "url", "number", "status", "status_label", "record", "decision_number",
            "department", "filed_by_capacity", "supplement_count", "created_at", "submitted_at",
            "accepted_at", "decided_at", "closed_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, case: RepairCase) -> str:
        return absolute_url(
            self.context.get("request"), reverse("api_repair_case_detail", args=[case.pk])
        )


class CaseRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    decision_number = serializers.CharField()
    decision_date = serializers.DateField()
    department = serializers.CharField(source="department.name")
    severity = serializers.CharField()
    severity_label = ChoiceLabelField("severity")
    status = serializers.CharField()
    status_label = ChoiceLabelField("status")
    objection_note = serializers.CharField(
        help_text=gettext_lazy("异议无法核实时在记录上的标注；没有则为空")
    )
    subject_kind = serializers.CharField(source="subject.kind")
    subject_name = serializers.CharField(source="subject.name")


class CaseMaterialSerializer(ApiModelSerializer):
    kind_label = ChoiceLabelField("kind")

    class Meta:
        model = CaseMaterial
        fields = [
            "id", "kind", "kind_label", "original_name", "content_type", "size", "sha256",
            "round", "uploaded_at",
        ]  # fmt: skip
        read_only_fields = fields


class SupplementRequestSerializer(ApiModelSerializer):
    letter_number = serializers.CharField(source="letter.number", read_only=True, default=None)
    due_at = LocalDateTimeField(
        source="deadline", read_only=True, help_text=gettext_lazy("补正期限（北京时间）")
    )

    class Meta:
        model = SupplementRequest
        fields = [
            "id", "items", "due_at", "requested_at", "answered_at", "letter", "letter_number",
            "override_reason",
        ]  # fmt: skip
        read_only_fields = fields


class ClockSerializer(ApiModelSerializer):
    stage_label = ChoiceLabelField("stage")
    state_label = ChoiceLabelField("state")
    assignee = serializers.SerializerMethodField()

    class Meta:
        model = SlaClock
        fields = [
            "id", "stage", "stage_label", "state", "state_label", "started_at", "due_at",
            "provisional", "assignee",
        ]  # fmt: skip
        read_only_fields = fields

    def get_assignee(self, clock: SlaClock) -> str | None:
        if clock.assignee is None:
            return None
        return clock.assignee.get_full_name() or clock.assignee.username


class CaseEventSerializer(ApiModelSerializer):
    actor = serializers.SerializerMethodField()
    from_status_label = ChoiceLabelField("from_status")
    to_status_label = ChoiceLabelField("to_status")

    class Meta:
        model = CaseEvent
        fields = [
            "at", "action", "actor", "from_status", "from_status_label", "to_status",
            "to_status_label", "comment",
        ]  # fmt: skip
        read_only_fields = fields

    def get_actor(self, event: CaseEvent) -> str | None:
        if event.actor is None:
            return None
        return event.actor.get_full_name() or event.actor.username


class CaseDetailSerializer(CaseSummarySerializer):
    record_summary = CaseRecordSerializer(source="record", read_only=True)
    details = serializers.CharField(read_only=True)
    decision_reasons = serializers.ListField(child=serializers.CharField(), read_only=True)
    decision_basis = serializers.CharField(read_only=True)
    materials = serializers.SerializerMethodField()
    open_supplement_request = serializers.SerializerMethodField()
    open_clocks = serializers.SerializerMethodField()
    timeline = CaseEventSerializer(source="events", many=True, read_only=True)
    letters = serializers.SerializerMethodField()
    commitment = serializers.SerializerMethodField(
        help_text=gettext_lazy("该记录的信用修复承诺书 id（保存草稿时生成，提交前须签署）")
    )
    commitment_status = serializers.SerializerMethodField(
        help_text=gettext_lazy("承诺书状态：draft 待签署、signed 已签署、void 已作废")
    )
    commitment_sign_url = serializers.SerializerMethodField()

    class Meta(CaseSummarySerializer.Meta):
        fields = [
            *CaseSummarySerializer.Meta.fields,
            "record_summary", "details", "decision_reasons", "decision_basis", "materials",
            "open_supplement_request", "open_clocks", "timeline", "letters", "commitment",
            "commitment_status", "commitment_sign_url",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(CaseMaterialSerializer(many=True))
    def get_materials(self, case) -> list[dict]:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return CaseMaterialSerializer(materials_for_user(case, user), many=True).data

    @extend_schema_field(SupplementRequestSerializer(allow_null=True))
    def get_open_supplement_request(self, case: RepairCase) -> dict | None:
        request = case.supplement_requests.filter(answered_at=None).select_related("letter").last()
        return SupplementRequestSerializer(request).data if request is not None else None

    @extend_schema_field(ClockSerializer(many=True))
    def get_open_clocks(self, case: RepairCase) -> list[dict]:
        clocks = clocks_for(case).filter(stopped_at=None).order_by("due_at", "id")
        return ClockSerializer(clocks, many=True).data

    @extend_schema_field(LetterSummarySerializer(many=True))
    def get_letters(self, case: RepairCase) -> list[dict]:
        letters = Letter.objects.filter(
            case_type=ContentType.objects.get_for_model(case), case_id=case.pk
        ).order_by("issued_at", "id")
        return LetterSummarySerializer(letters, many=True, context=self.context).data

    def get_commitment(self, case: RepairCase) -> int | None:
        commitment = case_commitment(case)
        return commitment.pk if commitment is not None else None

    def get_commitment_status(self, case: RepairCase) -> str | None:
        commitment = case_commitment(case)
        return commitment.status if commitment is not None else None

    def get_commitment_sign_url(self, case: RepairCase) -> str | None:
        """Where the applicant signs it (`POST`), while it waits for the signature."""
        commitment = case_commitment(case)
        if commitment is None or commitment.status != CommitmentStatus.DRAFT:
            return None
        return absolute_url(
            self.context.get("request"), reverse("api_commitment_sign", args=[commitment.pk])
        )


class RecordScopedSerializer(serializers.Serializer):
    """A filing's `record` (or `records`) limited to the records the caller may
    see: one the applicant may not see is as unknown as one that does not exist."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is None:
            return
        visible = records_visible_to(request.user)
        for name in ("record", "records"):
            field = self.fields.get(name)
            if field is not None:
                getattr(field, "child", field).queryset = visible


class FilingSerializer(RecordScopedSerializer):
    """What every filing names: the record and the capacity the applicant acts in."""

    capacity = serializers.ChoiceField(
        choices=BindingCapacity.choices,
        help_text=gettext_lazy("申请人身份（须与绑定身份一致）"),
    )


class CaseCreateSerializer(FilingSerializer):
    record = serializers.PrimaryKeyRelatedField(
        queryset=CreditRecord.objects.none(),
        help_text=gettext_lazy("要修复的行政处罚信息的 id"),
    )
    details = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=gettext_lazy("申请说明")
    )


class CaseCreateManySerializer(RecordScopedSerializer):
    records = serializers.ListField(
        child=serializers.PrimaryKeyRelatedField(queryset=CreditRecord.objects.none()),
        allow_empty=False,
        min_length=1,
        max_length=MAX_RECORDS_PER_FILING,
        help_text=gettext_lazy("要修复的行政处罚信息的 id（每条生成一份申请）"),
    )
    details = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=gettext_lazy("申请说明")
    )


class MaterialUploadSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MaterialKind.choices, help_text=gettext_lazy("材料类型"))
    file = serializers.FileField(
        help_text=gettext_lazy("PDF、JPEG 或 PNG 文件，最大 10 MB（按文件内容识别）")
    )


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text=gettext_lazy("撤回理由"))


class SupplementItemSerializer(serializers.Serializer):
    material = serializers.ChoiceField(
        choices=MaterialKind.choices, help_text=gettext_lazy("需补正的材料类型")
    )
    name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200,
        help_text=gettext_lazy("材料名称（默认为材料类型名称）"),
    )  # fmt: skip
    problem = serializers.CharField(max_length=500, help_text=gettext_lazy("存在的问题"))


class SupplementRequestInputSerializer(serializers.Serializer):
    items = SupplementItemSerializer(many=True, allow_empty=False, min_length=1)
    override_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500,
        help_text=gettext_lazy("再次告知的理由（仅监督人员批准再次告知时填写）"),
    )  # fmt: skip


class ReasonsBasisSerializer(serializers.Serializer):
    reasons = serializers.ListField(
        child=serializers.CharField(max_length=500), allow_empty=False, min_length=1,
        help_text=gettext_lazy("理由（每条一项）"),
    )  # fmt: skip
    basis = serializers.CharField(max_length=300, help_text=gettext_lazy("依据"))


class BasisSerializer(serializers.Serializer):
    basis = serializers.CharField(max_length=300, help_text=gettext_lazy("修复依据"))


# Helpers


def _summary(request, case: RepairCase) -> dict:
    case = case_get_for_user(user=request.user, pk=case.pk)
    return CaseSummarySerializer(case, context={"request": request}).data


# Views


class CaseCollectionApi(GenericAPIView):
    """The cases of one kind the caller may see (GET) and an applicant's new draft (POST)."""

    model: type = RepairCase  # or ObjectionCase (flows/api_objections.py)
    serializer_class = CaseSummarySerializer
    parser_classes = [DepthLimitedJSONParser, FormParser, MultiPartParser]

    def get_permissions(self):
        if self.request is not None and self.request.method == "POST":
            return [IsAuthenticated(), role_permission(Role.APPLICANT)()]
        return [IsAuthenticated()]

    def get_queryset(self):
        cases = cases_for_user(self.request.user, self.model).order_by("-created_at", "-id")
        return cases.filter(**query_choices(self.request.query_params, status=CaseStatus.values))

    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        data = self.serializer_class(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    def created(self, request, case) -> Response:
        """201 with the new draft as the caller may now see it."""
        case = case_get_for_user(user=request.user, pk=case.pk, model=self.model)
        data = self.serializer_class(case, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class CaseDetailApi(GenericAPIView):
    """One case of one kind, its reads of a natural person's case registered."""

    model: type = RepairCase
    serializer_class = CaseDetailSerializer
    permission_classes = [IsAuthenticated]
    purpose = "repair_case"  # the registered read is api:<purpose>:<pk>

    def get(self, request, pk: int):
        case = case_get_for_user(user=request.user, pk=pk, model=self.model)
        person_read_register(request, case.subject, f"api:{self.purpose}:{case.pk}")
        return Response(self.serializer_class(case, context={"request": request}).data)


class RepairCaseCollectionApi(CaseCollectionApi):
    # The input field a service's refusal is about (the rest: non_field_errors).
    error_fields = {"not_bound": "record", "not_eligible": "record", "open_case": "record"}

    @extend_schema(
        summary="List the repair cases the caller may see",
        description=(
            "Applicants: the cases of the subjects they act for (drafts included). Platform "
            "officers, supervisors and administrators: every filed case; department reviewers: "
            "filed cases on their department's records; others: none."
        ),
        parameters=[
            OpenApiParameter("status", enum=CaseStatus.values, description=gettext_lazy("状态"))
        ],
        responses={200: CaseSummarySerializer(many=True)},
    )
    def get(self, request):
        return super().get(request)

    @extend_schema(
        summary="Start a repair case (a draft) for a penalty record",
        description=(
            "Applicants only. The record must be one of the caller's subjects' records (400 "
            "under `record` otherwise), eligible for repair, and have no other open case (409). "
            "`capacity` must be the caller's binding capacity. Saving again updates the draft. "
            "The credit commitment for the record is generated with the draft (one per record, "
            "part of the application): read the case (`commitment`, `commitment_sign_url`), "
            "read the commitment's draft letter and sign it "
            "(`POST /api/v1/commitments/{id}/sign/`) before submitting."
        ),
        request=CaseCreateSerializer,
        responses={201: CaseSummarySerializer},
        examples=[
            OpenApiExample(
                "Draft",
                request_only=True,
                value={
                    "record": 41,
                    "details": "罚款已缴清，已整改。",
                    "capacity": "legal_representative",
                },
            )
        ],
    )
    def post(self, request):
        serializer = CaseCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        case = repair_case_draft_save(
            applicant=request.user,
            record=data["record"],
            details=data["details"],
            capacity=data["capacity"],
        )
        return self.created(request, case)


class RepairCaseManyApi(GenericAPIView):
    serializer_class = CaseCreateManySerializer
    parser_classes = [DepthLimitedJSONParser]
    error_fields = {"records": "records", "no_records": "records"}

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(Role.APPLICANT)()]

    @extend_schema(
        summary="File several records at once (one draft case each)",
        description=(
            "The applicant's drafts for several records of the subjects they act for, each "
            "with the capacity of its binding. All or nothing: when any record is refused, "
            "`records` lists every refusal and no draft is saved. Then, for each case, attach "
            "its proof of performance, sign its record's credit commitment and submit it."
        ),
        request=CaseCreateManySerializer,
        responses={201: CaseSummarySerializer(many=True)},
    )
    def post(self, request):
        serializer = CaseCreateManySerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        cases = repair_cases_draft_many(
            applicant=request.user, records=data["records"], details=data["details"]
        )
        return Response([_summary(request, case) for case in cases], status=status.HTTP_201_CREATED)


class RepairCaseDetailApi(CaseDetailApi):
    @extend_schema(
        summary="One repair case",
        description=(
            "Status, the record, materials, the open supplement notice, the running clocks "
            "(`due_at` in Beijing time), the timeline and the case's letters. 404 when the "
            "case does not exist or the caller may not see it. A natural person's case needs "
            "`purpose` for staff; the read is registered."
        ),
        parameters=[PURPOSE_PARAMETER],
        responses={200: CaseDetailSerializer},
    )
    def get(self, request, pk: int):
        return super().get(request, pk)


class CaseMaterialApi(GenericAPIView):
    serializer_class = MaterialUploadSerializer
    parser_classes = [MultiPartParser, FormParser]
    model: type = RepairCase  # or ObjectionCase (flows/api_objections.py)
    error_fields = {
        "too_large": "file",
        "empty": "file",
        "file_type": "file",
        "quota": "file",
        "staff_only": "kind",
    }

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(Role.APPLICANT)()]

    @extend_schema(
        summary="Attach a material to a case",
        description=(
            "The case's applicant, while drafting or while a supplement notice asks for this "
            "kind of material. 400 under `file` for an empty, oversized or non-PDF/JPEG/PNG "
            "file (recognised by content) or one beyond the case's quota (code `quota`), "
            "under `kind` for an unknown kind or a staff-only one (code `staff_only`). A body "
            "beyond the upload cap is refused with 413 before it is read."
        ),
        request={"multipart/form-data": MaterialUploadSerializer},
        responses={201: CaseMaterialSerializer},
    )
    def post(self, request, pk: int):
        case = case_get_for_user(user=request.user, pk=pk, model=self.model)
        serializer = MaterialUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        material = case_material_add(
            case=case, user=request.user, kind=data["kind"], upload=data["file"]
        )
        return Response(CaseMaterialSerializer(material).data, status=status.HTTP_201_CREATED)


class CaseActionApi(GenericAPIView):
    """One POST, one service call; the answer is the case as it now is. A
    service's refusal goes to the API's exception handler (repair_flow.api_common),
    which answers it under the input field `error_fields` names for its code."""

    roles: tuple[str, ...] = ()
    input_serializer: type[serializers.Serializer] | None = None
    error_fields: dict[str, str] = {}
    serializer_class = CaseSummarySerializer
    parser_classes = [DepthLimitedJSONParser, FormParser, MultiPartParser]
    # The kind of case; an objection action sets ObjectionCase and its own serializer_class.
    model: type = RepairCase

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(*self.roles)()]

    def act(self, user, case: RepairCase, data: dict) -> None:
        raise NotImplementedError

    def summary(self, request, case) -> dict:
        """The case as the caller may now see it."""
        case = case_get_for_user(user=request.user, pk=case.pk, model=self.model)
        return self.serializer_class(case, context={"request": request}).data

    def post(self, request, pk: int):
        case = case_get_for_user(user=request.user, pk=pk, model=self.model)
        data: dict = {}
        if self.input_serializer is not None:
            serializer = self.input_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        self.act(request.user, case, data)
        return Response(self.summary(request, case))


def _action_schema(summary: str, description: str, request=None, examples=None):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses={200: CaseSummarySerializer},
        examples=examples or [],
    )


@_action_schema(
    "Submit a draft",
    "The case's applicant. Numbers the case and starts the preliminary review clock. 400 when "
    "required materials are missing (the proof of performance; the power of attorney when an "
    "agent files), the record's credit commitment is not signed (code "
    "`commitment_not_signed`; every problem is listed at once), or the record is no longer "
    "eligible.",
)
class CaseSubmitApi(CaseActionApi):
    roles = (Role.APPLICANT,)

    def act(self, user, case, data):
        repair_case_submit(applicant=user, case=case)


@_action_schema(
    "Answer the supplement notice",
    "The case's applicant, after uploading every material the notice asked for, before its "
    "deadline. The case goes back to preliminary review.",
)
class CaseSupplementAnswerApi(CaseActionApi):
    roles = (Role.APPLICANT,)

    def act(self, user, case, data):
        supplement_answer(applicant=user, case=case)


@_action_schema(
    "Withdraw a case",
    "The case's applicant, with a reason, at any stage before a decision. Open clocks are "
    "cancelled and an unsigned commitment draft is voided.",
    request=WithdrawSerializer,
)
class CaseWithdrawApi(CaseActionApi):
    roles = (Role.APPLICANT,)
    input_serializer = WithdrawSerializer

    def act(self, user, case, data):
        case_withdraw(applicant=user, case=case, reason=data["reason"])


@_action_schema(
    "Claim a case for review",
    "A submitted or resubmitted case: preliminary review by a platform officer. An accepted "
    "case: department review by a reviewer of the department that issued the penalty "
    "(谁认定、谁修复). 403 for anyone else; 409 when someone has already claimed it.",
)
class CaseClaimApi(CaseActionApi):
    roles = (Role.OFFICER, Role.REVIEWER)

    def act(self, user, case, data):
        case_claim(user=user, case=case)


@_action_schema(
    "Request a supplement (一次性告知)",
    "The officer reviewing the case lists every material to supplement, with its problem, in "
    "one notice. A second notice on a case needs a supervisor: the supervisor posts it, with "
    "`override_reason`, on behalf of the case's officer, and the override is recorded. A "
    "supervisor may not post a first notice (403).",
    request=SupplementRequestInputSerializer,
    examples=[
        OpenApiExample(
            "Notice",
            request_only=True,
            value={
                "items": [
                    {"material": "performance_proof", "name": "罚款缴纳凭证", "problem": "模糊"}
                ]
            },
        )
    ],
)
class CaseSupplementRequestApi(CaseActionApi):
    roles = (Role.OFFICER, Role.SUPERVISOR)
    input_serializer = SupplementRequestInputSerializer
    error_fields = {
        "no_items": "items",
        "second_request": "override_reason",
        "override_reason": "override_reason",
    }

    def act(self, user, case, data):
        if user.role == Role.SUPERVISOR:
            officer, supervisor = case.officer, user
        else:
            officer, supervisor = user, None
        supplement_request(
            officer=officer,
            case=case,
            items=[dict(item) for item in data["items"]],
            override_reason=data["override_reason"],
            supervisor=supervisor,
        )


@_action_schema(
    "Refuse to accept a case",
    "The officer reviewing the case, with reasons and the basis; issues the 不予受理通知书.",
    request=ReasonsBasisSerializer,
)
class CaseRefuseApi(CaseActionApi):
    roles = (Role.OFFICER,)
    input_serializer = ReasonsBasisSerializer

    def act(self, user, case, data):
        preliminary_review_refuse(
            officer=user, case=case, reasons=data["reasons"], basis=data["basis"]
        )


@_action_schema(
    "Accept a case",
    "The officer reviewing the case; issues the 受理通知书 and sends the case to the issuing "
    "department's review (the commitment was signed with the filing).",
)
class CaseAcceptApi(CaseActionApi):
    roles = (Role.OFFICER,)

    def act(self, user, case, data):
        preliminary_review_accept(officer=user, case=case)


@_action_schema(
    "Approve the repair",
    "The department reviewer who claimed the case, with the basis; issues the 信用修复决定书 "
    "and marks the record repaired.",
    request=BasisSerializer,
)
class CaseApproveApi(CaseActionApi):
    roles = (Role.REVIEWER,)
    input_serializer = BasisSerializer

    def act(self, user, case, data):
        department_review_approve(reviewer=user, case=case, basis=data["basis"])


@_action_schema(
    "Reject the repair",
    "The department reviewer who claimed the case, with reasons and the basis; issues the "
    "不予信用修复决定书.",
    request=ReasonsBasisSerializer,
)
class CaseRejectApi(CaseActionApi):
    roles = (Role.REVIEWER,)
    input_serializer = ReasonsBasisSerializer

    def act(self, user, case, data):
        department_review_reject(
            reviewer=user, case=case, reasons=data["reasons"], basis=data["basis"]
        )


class ReleaseSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="",
        help_text=gettext_lazy("退回理由（监督人员退回他人的案件时必填）"),
    )  # fmt: skip


class ReassignSerializer(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), help_text=gettext_lazy("办理人的用户编号")
    )
    reason = serializers.CharField(max_length=500, help_text=gettext_lazy("指派理由"))


@_action_schema(
    "Release a claimed case",
    "The officer or reviewer holding the case puts it back in its queue; a supervisor may "
    "release anyone's case, with `reason`. 409 when nobody holds it.",
    request=ReleaseSerializer,
)
class CaseReleaseApi(CaseActionApi):
    roles = (Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR)
    input_serializer = ReleaseSerializer
    error_fields = {"reason": "reason"}

    def act(self, user, case, data):
        case_release(user=user, case=case, reason=data["reason"])


@_action_schema(
    "Assign or reassign a case",
    "A supervisor gives the case's task (waiting or held) to a platform officer (preliminary "
    "review) or to a reviewer of the issuing department (department review), with a reason.",
    request=ReassignSerializer,
)
class CaseReassignApi(CaseActionApi):
    roles = (Role.SUPERVISOR,)
    input_serializer = ReassignSerializer
    error_fields = {"assignee": "assignee", "same": "assignee", "no_task": "non_field_errors"}

    def act(self, user, case, data):
        case_reassign(supervisor=user, case=case, assignee=data["assignee"], reason=data["reason"])


class TaskCaseSerializer(serializers.Serializer):
    """The case of a task, either kind: the same fields for a repair case and an objection."""

    kind = serializers.ChoiceField(choices=CaseKind.choices)
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    number = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=CaseStatus.choices)
    status_label = ChoiceLabelField("status")
    record = serializers.IntegerField(source="record_id")
    decision_number = serializers.CharField(source="record.decision_number")
    department = serializers.CharField(source="record.department.name")

    def get_url(self, case) -> str:
        name = "api_repair_case_detail" if isinstance(case, RepairCase) else "api_objection_detail"
        return absolute_url(self.context.get("request"), reverse(name, args=[case.pk]))


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=gettext_lazy("任务编号"))
    stage = serializers.CharField(source="flow_task.name", help_text=gettext_lazy("环节"))
    stage_label = serializers.CharField(source="flow_task.task_title")
    status = serializers.CharField(
        help_text=gettext_lazy("任务状态：NEW 待领取，ASSIGNED 办理中，DONE 已办")
    )
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    created = LocalDateTimeField()
    finished = LocalDateTimeField(allow_null=True)
    due_at = LocalDateTimeField(allow_null=True, help_text=gettext_lazy("本环节办理期限"))
    case = serializers.SerializerMethodField()

    @cached_property
    def case_serializer(self) -> TaskCaseSerializer:
        # One for the page: a serializer made per row deep-copies its fields
        # each time (a tenth of the task list's time at 50 rows).
        return TaskCaseSerializer(context=self.context)

    @extend_schema_field(TaskCaseSerializer)
    def get_case(self, task) -> dict:
        return self.case_serializer.to_representation(task_case(task))


class TaskListApi(GenericAPIView):
    serializer_class = TaskSerializer

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(*TASK_ROLES)()]

    @extend_schema(
        summary="Task queues",
        description=(
            "`box=queue` (waiting to be claimed, soonest deadline first), `inbox` (claimed: "
            "the caller's own; a supervisor's shows everyone's) or `archive` (finished). "
            "Officers see preliminary reviews, reviewers their own department's reviews, "
            "supervisors and administrators all. Filters: `stage`, `due` (overdue, today, "
            "week), `q` (case or decision number)."
        ),
        parameters=[
            OpenApiParameter("box", enum=list(BOXES), default="queue"),
            OpenApiParameter("stage", enum=list(HUMAN_NODES), required=False),
            OpenApiParameter("due", enum=list(DUE_FILTERS), required=False),
            OpenApiParameter(
                "q",
                str,
                required=False,
                description="A case number or a decision number, whole or its beginning.",
            ),
        ],
        responses={200: TaskSerializer(many=True)},
    )
    def get(self, request):
        params = request.query_params
        filters = query_choices(params, box=BOXES, stage=HUMAN_NODES, due=DUE_FILTERS)
        tasks = tasks_for_user(
            user=request.user,
            box=filters.get("box", "queue"),
            stage=filters.get("stage", ""),
            due=filters.get("due", ""),
            q=params.get("q", ""),
        )
        page = self.paginate_queryset(tasks)
        data = TaskSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)


def _action(name: str, view) -> object:
    return path(
        f"repair-cases/<int:pk>/{name}/",
        view.as_view(),
        name=f"api_repair_case_{name}".replace("-", "_"),
    )


urlpatterns = [
    path("repair-cases/", RepairCaseCollectionApi.as_view(), name="api_repair_cases"),
    path("repair-cases/many/", RepairCaseManyApi.as_view(), name="api_repair_cases_many"),
    path("repair-cases/<int:pk>/", RepairCaseDetailApi.as_view(), name="api_repair_case_detail"),
    _action("materials", CaseMaterialApi),
    _action("submit", CaseSubmitApi),
    _action("supplement-answer", CaseSupplementAnswerApi),
    _action("withdraw", CaseWithdrawApi),
    _action("claim", CaseClaimApi),
    _action("supplement-request", CaseSupplementRequestApi),
    _action("refuse", CaseRefuseApi),
    _action("accept", CaseAcceptApi),
    _action("approve", CaseApproveApi),
    _action("reject", CaseRejectApi),
    _action("release", CaseReleaseApi),
    _action("reassign", CaseReassignApi),
    path("tasks/", TaskListApi.as_view(), name="api_tasks"),
]
