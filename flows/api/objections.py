"""Objections (异议) over HTTP: the applicant's filing and the staff's check.

GET  /api/v1/objections/                          the objections the caller may see, paginated
POST /api/v1/objections/                          applicant: a draft on a record of their subject
GET  /api/v1/objections/{id}/                     one objection: grounds, record, materials,
                                                  clocks, timeline, letters
POST /api/v1/objections/{id}/materials/           applicant: attach evidence (multipart)
POST /api/v1/objections/{id}/submit/              applicant: submit with the signed commitment
                                                  (signed as the caller's account and binding)
POST /api/v1/objections/{id}/supplement-answer/   applicant: the supplement is complete
POST /api/v1/objections/{id}/withdraw/            applicant: withdraw, with a reason
POST /api/v1/objections/{id}/claim/               officer (preliminary review, platform check)
                                                  or issuing department's reviewer (its check)
POST /api/v1/objections/{id}/supplement-request/  officer (or supervisor override): 一次性告知
POST /api/v1/objections/{id}/refuse/              officer: not accepted
POST /api/v1/objections/{id}/accept/              officer: accepted, routed (platform|department)
POST /api/v1/objections/{id}/correct/             verifier: 更正, with the field changes
POST /api/v1/objections/{id}/delete/              verifier: 删除
POST /api/v1/objections/{id}/maintain/            verifier: 维持, with the reasons
POST /api/v1/objections/{id}/unverifiable/        verifier: 无法核实 (the record stays, noted)
POST /api/v1/objections/{id}/release/             holder or supervisor: back to the queue
POST /api/v1/objections/{id}/reassign/            supervisor: give the task to a named person

The repair API's pieces (flows/api/repair.py) with `model = ObjectionCase`: scoping
is flows.selectors' (404 for an objection the caller may not see), every write
is one service call (flows.objections, or the shared flows.services), and a
refusal is answered by the API's exception handler (repair_flow.api_common):
per field, 409 for an objection in the wrong state.
"""

from django.core.exceptions import NON_FIELD_ERRORS
from django.urls import path, reverse
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers

from flows.api.repair import (
    CaseActionApi,
    CaseCollectionApi,
    CaseDetailApi,
    CaseDetailSerializer,
    CaseEventSerializer,
    CaseMaterialApi,
    CaseMaterialSerializer,
    CaseReassignApi,
    CaseRecordSerializer,
    CaseRefuseApi,
    CaseReleaseApi,
    CaseSupplementAnswerApi,
    CaseSupplementRequestApi,
    CaseWithdrawApi,
    FilingSerializer,
    MaterialUploadSerializer,
    ReasonsBasisSerializer,
)
from flows.cases.assignment import case_claim
from flows.models import CaseStatus, ObjectionCase, ObjectionGround, ObjectionScope
from flows.objections.services import (
    attestation_signer,
    objection_accept,
    objection_correct,
    objection_delete,
    objection_draft_save,
    objection_maintain,
    objection_submit,
    objection_unverifiable,
)
from records.models import BindingCapacity, CreditRecord
from records.services import CORRECTABLE_FIELDS
from repair_flow.api_common import (
    PURPOSE_PARAMETER,
    ApiModelSerializer,
    ChoiceLabelField,
    LocalDateTimeField,
    absolute_url,
    service_error_fields,
)
from repair_flow.models import Role

# Serializers


class ObjectionSummarySerializer(ApiModelSerializer):
    """An objection in a list: no personal data, so a list needs no purpose."""

    url = serializers.SerializerMethodField()
    status_label = ChoiceLabelField("status")
    decision_number = serializers.CharField(source="record.decision_number", read_only=True)
    department = serializers.CharField(source="record.department.name", read_only=True)
    grounds = serializers.ListField(
        child=serializers.ChoiceField(choices=ObjectionGround.choices), read_only=True
    )
    scope = serializers.CharField(
        read_only=True, help_text=gettext_lazy("核查方式：platform、department；受理前为空")
    )

    class Meta:
        model = ObjectionCase
        fields = [
            "id", "url", "number", "status", "status_label", "record", "decision_number",
            "department", "filed_by_capacity", "grounds", "scope", "supplement_count",
            "created_at", "submitted_at", "accepted_at", "decided_at", "closed_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, case: ObjectionCase) -> str:
        url = reverse("api_objection_detail", args=[case.pk])
        return absolute_url(self.context.get("request"), url)


class CorrectionSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    old = serializers.CharField(allow_null=True)
    new = serializers.CharField(allow_null=True)


class ObjectionDetailSerializer(ObjectionSummarySerializer):
    record_summary = CaseRecordSerializer(source="record", read_only=True)
    statement = serializers.CharField(source="details", read_only=True)
    # The commitment signed with the filing: the names a repair commitment's signing uses.
    signer_name = serializers.CharField(
        source="attested_name",
        read_only=True,
        help_text=gettext_lazy("承诺人（签署人）姓名：提交异议的登录账号的实名姓名"),
    )
    signer_capacity = serializers.ChoiceField(
        source="attested_capacity",
        choices=BindingCapacity.choices,
        allow_blank=True,
        read_only=True,
        help_text=gettext_lazy(
            "签署身份：self 本人、legal_representative 法定代表人、agent 委托代理人（受托人）；"
            "签署前为空"
        ),
    )
    signer_capacity_label = serializers.SerializerMethodField(
        help_text=gettext_lazy("签署身份名称")
    )
    signature_block = serializers.SerializerMethodField(
        help_text=gettext_lazy("签名栏，如“受托人：王五（代理 某某公司）”；签署前为空")
    )
    signed_at = LocalDateTimeField(
        source="attested_at", read_only=True, allow_null=True, help_text=gettext_lazy("签署时间")
    )
    decision_reasons = serializers.ListField(child=serializers.CharField(), read_only=True)
    decision_basis = serializers.CharField(read_only=True)
    changes = CorrectionSerializer(many=True, read_only=True)
    evidence = serializers.CharField(read_only=True)
    materials = CaseMaterialSerializer(many=True, read_only=True)
    open_supplement_request = serializers.SerializerMethodField()
    open_clocks = serializers.SerializerMethodField()
    timeline = CaseEventSerializer(source="events", many=True, read_only=True)
    letters = serializers.SerializerMethodField()

    class Meta(ObjectionSummarySerializer.Meta):
        fields = [
            *ObjectionSummarySerializer.Meta.fields,
            "record_summary", "statement", "signer_name", "signer_capacity",
            "signer_capacity_label", "signature_block", "signed_at", "decision_reasons",
            "decision_basis", "changes", "evidence", "materials", "open_supplement_request",
            "open_clocks", "timeline", "letters",
        ]  # fmt: skip
        read_only_fields = fields

    def get_signer_capacity_label(self, case: ObjectionCase) -> str:
        signer = attestation_signer(case)
        return signer.capacity_label if signer else ""

    def get_signature_block(self, case: ObjectionCase) -> str:
        signer = attestation_signer(case)
        return signer.block if signer else ""

    # The repair case's readers work on either kind of case.
    get_open_supplement_request = CaseDetailSerializer.get_open_supplement_request
    get_open_clocks = CaseDetailSerializer.get_open_clocks
    get_letters = CaseDetailSerializer.get_letters


class ObjectionCreateSerializer(FilingSerializer):
    record = serializers.PrimaryKeyRelatedField(
        queryset=CreditRecord.objects.none(),
        help_text=gettext_lazy("提出异议的行政处罚信息的 id"),
    )
    grounds = serializers.ListField(
        child=serializers.ChoiceField(choices=ObjectionGround.choices),
        help_text=gettext_lazy("异议理由（至少一项）"),
    )
    statement = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=gettext_lazy("异议说明")
    )


class ObjectionSubmitSerializer(serializers.Serializer):
    """The objection commitment, signed as a repair commitment is (POST
    /api/v1/commitments/{id}/sign/): the caller's confirmation; the signer is
    the caller's account in the capacity of its binding, never a typed name."""

    confirmed = serializers.BooleanField(
        default=False,
        help_text=gettext_lazy(
            "确认承诺：本人承诺所提交的材料真实、准确、完整，如有不实，愿承担相应法律责任。"
        ),
    )


class ObjectionAcceptSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=ObjectionScope.choices,
        help_text=gettext_lazy(
            "核查方式：platform 平台自行核查（3个工作日），department 认定单位核实（7个工作日）"
        ),
    )


class ObjectionDeleteSerializer(ReasonsBasisSerializer):
    evidence = serializers.CharField(max_length=300, help_text=gettext_lazy("核查依据材料"))


class ObjectionCorrectSerializer(ObjectionDeleteSerializer):
    changes = serializers.DictField(
        allow_empty=False,
        help_text=gettext_lazy(
            "更正内容（字段 → 新值）：decision_date、penalty_types、fine_amount、severity、facts"
        ),
    )


# Views


class ObjectionCollectionApi(CaseCollectionApi):
    model = ObjectionCase
    serializer_class = ObjectionSummarySerializer
    error_fields = {
        "not_bound": "record",
        "open_case": "record",
        "grounds": "grounds",
        "capacity": "capacity",
    }

    @extend_schema(
        summary="List the objections the caller may see",
        description=(
            "Applicants: the objections of the subjects they act for (drafts included). "
            "Platform officers, supervisors and administrators: every filed objection; "
            "department reviewers: filed objections on their department's records; others: none."
        ),
        parameters=[
            OpenApiParameter("status", enum=CaseStatus.values, description=gettext_lazy("状态"))
        ],
        responses={200: ObjectionSummarySerializer(many=True)},
    )
    def get(self, request):
        return super().get(request)

    @extend_schema(
        summary="Start an objection (a draft) on a penalty record",
        description=(
            "Applicants only, on any record of a subject they act for, whatever its repair "
            "eligibility (400 under `record` otherwise). At least one ground; `capacity` must be "
            "the caller's binding capacity. 409 when the record already has an open objection. "
            "Saving again updates the draft."
        ),
        request=ObjectionCreateSerializer,
        responses={201: ObjectionSummarySerializer},
        examples=[
            OpenApiExample(
                "Draft",
                request_only=True,
                value={
                    "record": 41,
                    "grounds": ["error"],
                    "statement": "罚款金额登记错误，决定书为 500 元。",
                    "capacity": "legal_representative",
                },
            )
        ],
    )
    def post(self, request):
        serializer = ObjectionCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        case = objection_draft_save(
            applicant=request.user,
            record=data["record"],
            grounds=data["grounds"],
            statement=data["statement"],
            capacity=data["capacity"],
        )
        return self.created(request, case)


class ObjectionDetailApi(CaseDetailApi):
    model = ObjectionCase
    serializer_class = ObjectionDetailSerializer
    purpose = "objection_case"

    @extend_schema(
        summary="One objection",
        description=(
            "Status, grounds and statement, the record (its status shows 异议处理中 from "
            "acceptance until the objection closes), materials, the open supplement notice, the "
            "running clocks (`due_at` in Beijing time), the timeline, the outcome (reasons, "
            "basis, the field changes of a correction) and the letters. 404 when the objection "
            "does not exist or the caller may not see it. A natural person's objection needs "
            "`purpose` for staff; the read is registered."
        ),
        parameters=[PURPOSE_PARAMETER],
        responses={200: ObjectionDetailSerializer},
    )
    def get(self, request, pk: int):
        return super().get(request, pk)


class ObjectionMaterialApi(CaseMaterialApi):
    model = ObjectionCase

    @extend_schema(
        summary="Attach a material to an objection",
        description=(
            "The objection's applicant, while drafting (`evidence`; an agent also "
            "`power_of_attorney`) or while a supplement notice asks for this kind of material. 400 "
            "under `file` for an empty, oversized or non-PDF/JPEG/PNG file (recognised by content)."
        ),
        request={"multipart/form-data": MaterialUploadSerializer},
        responses={201: CaseMaterialSerializer},
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class _ObjectionAction:
    """Mixed in before a repair action: the same service call on an objection."""

    model = ObjectionCase
    serializer_class = ObjectionSummarySerializer


def _action_schema(summary: str, description: str, request=None, examples=None):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        responses={200: ObjectionSummarySerializer},
        examples=examples or [],
    )


@_action_schema(
    "Submit an objection with the signed commitment",
    "The objection's applicant, with the objection commitment (本人承诺所提交的材料真实、准确、"
    "完整，如有不实，愿承担相应法律责任。): `confirmed` true. The signer is the caller: the "
    "name on their account, in the capacity of their binding to the subject (the person "
    "themself, the legal representative, whose name must be the enterprise's registered one, "
    "or an agent, only once a `power_of_attorney` is attached to the objection); the answer's "
    "`signer_name`, `signer_capacity` and `signature_block` record it. `signer_name`, which "
    "earlier versions asked for, is ignored if sent: typing someone's name is not a signature. "
    "Numbers the objection and starts the same-day preliminary review clock. 400 with every "
    "problem (`confirmed`, `statement`; missing materials and why the caller may not sign "
    "under `non_field_errors`); nothing is saved.",
    request=ObjectionSubmitSerializer,
)
class ObjectionSubmitApi(_ObjectionAction, CaseActionApi):
    roles = (Role.APPLICANT,)
    input_serializer = ObjectionSubmitSerializer
    error_fields = {"confirmed": "confirmed", "statement": "statement"}

    def act(self, user, case, data):
        objection_submit(
            applicant=user,
            case=case,
            confirmed=data["confirmed"],
            ip=self.request.META.get("REMOTE_ADDR") or None,
        )


@_action_schema(
    "Answer the supplement notice",
    "The objection's applicant, after uploading every material the notice asked for, before "
    "its deadline. The objection goes back to preliminary review.",
)
class ObjectionSupplementAnswerApi(_ObjectionAction, CaseSupplementAnswerApi):
    pass


@_action_schema(
    "Withdraw an objection",
    "The objection's applicant, with a reason, at any stage before the result. An accepted "
    "objection's record gets its status back.",
    request=CaseWithdrawApi.input_serializer,
)
class ObjectionWithdrawApi(_ObjectionAction, CaseWithdrawApi):
    pass


@_action_schema(
    "Claim an objection",
    "A submitted or resubmitted objection: preliminary review by a platform officer. An "
    "accepted one: the check, by a platform officer (scope `platform`) or by a reviewer of the "
    "department that issued the penalty (scope `department`). 403 for anyone else; 409 when "
    "someone has already claimed it.",
)
class ObjectionClaimApi(_ObjectionAction, CaseActionApi):
    roles = (Role.OFFICER, Role.REVIEWER)

    def act(self, user, case, data):
        case_claim(user=user, case=case)


@_action_schema(
    "Request a supplement (一次性告知)",
    "As for repair cases: the officer reviewing the objection lists every material to "
    "supplement in one notice; a second notice needs a supervisor with `override_reason`.",
    request=CaseSupplementRequestApi.input_serializer,
    examples=[
        OpenApiExample(
            "Notice",
            request_only=True,
            value={"items": [{"material": "evidence", "name": "证明材料", "problem": "模糊"}]},
        )
    ],
)
class ObjectionSupplementRequestApi(_ObjectionAction, CaseSupplementRequestApi):
    pass


@_action_schema(
    "Refuse to accept an objection",
    "The officer reviewing the objection, with reasons and the basis; issues the 不予受理通知书.",
    request=ReasonsBasisSerializer,
)
class ObjectionRefuseApi(_ObjectionAction, CaseRefuseApi):
    pass


@_action_schema(
    "Accept an objection",
    "The officer reviewing the objection, choosing who checks it: `platform` (the platform "
    "itself, 3 working days) or `department` (the issuing department, 7 working days; Shandong "
    "Social Credit Regulation Art. 39), counted from receipt of the objection (the day after "
    "is day 1), not from acceptance, with any supplement round paused. Issues the 受理通知书, "
    "which states the limit and its date; the record shows 异议处理中 until the objection "
    "closes.",
    request=ObjectionAcceptSerializer,
)
class ObjectionAcceptApi(_ObjectionAction, CaseActionApi):
    roles = (Role.OFFICER,)
    input_serializer = ObjectionAcceptSerializer
    error_fields = {"scope": "scope"}

    def act(self, user, case, data):
        objection_accept(officer=user, case=case, scope=data["scope"])


@_action_schema(
    "Correct the record (更正)",
    f"The verifier who claimed the objection: `changes` maps record fields "
    f"({', '.join(CORRECTABLE_FIELDS)}) to new values, validated as an import row is; with the "
    "evidence, reasons and basis. Issues the 异议处理结果告知书 with the diff and queues the "
    "sync. 400 under `changes` names each bad field.",
    request=ObjectionCorrectSerializer,
    examples=[
        OpenApiExample(
            "Correction",
            request_only=True,
            value={
                "changes": {"fine_amount": "500.00"},
                "evidence": "处罚决定书原件",
                "reasons": ["登记金额与决定书不一致"],
                "basis": "《山东省社会信用条例》第三十九条",
            },
        )
    ],
)
class ObjectionCorrectApi(_ObjectionAction, CaseActionApi):
    roles = (Role.OFFICER, Role.REVIEWER)
    input_serializer = ObjectionCorrectSerializer

    def act(self, user, case, data):
        objection_correct(
            verifier=user,
            case=case,
            changes=data["changes"],
            evidence=data["evidence"],
            reasons=data["reasons"],
            basis=data["basis"],
        )

    def service_error_fields(self, error) -> tuple[dict, list[str]]:
        """record_correct names the record's fields: they are keys of `changes`
        (read by the API's exception handler)."""
        if not hasattr(error, "error_dict"):
            return service_error_fields(error, self.error_fields)
        body: dict = {}
        codes = [e.code for errors in error.error_dict.values() for e in errors if e.code]
        for name, messages in error.message_dict.items():
            if name == NON_FIELD_ERRORS:
                body.setdefault("non_field_errors", []).extend(messages)
            elif name == "evidence":
                body.setdefault("evidence", []).extend(messages)
            else:
                body.setdefault("changes", {}).setdefault(name, []).extend(messages)
        return body, codes


@_action_schema(
    "Delete the record (删除)",
    "The verifier who claimed the objection, with the evidence, reasons and basis: the record "
    "is no longer published. Issues the 异议处理结果告知书 and queues the sync.",
    request=ObjectionDeleteSerializer,
)
class ObjectionDeleteApi(_ObjectionAction, CaseActionApi):
    roles = (Role.OFFICER, Role.REVIEWER)
    input_serializer = ObjectionDeleteSerializer

    def act(self, user, case, data):
        objection_delete(
            verifier=user,
            case=case,
            evidence=data["evidence"],
            reasons=data["reasons"],
            basis=data["basis"],
        )


@_action_schema(
    "Maintain the record (维持)",
    "The verifier who claimed the objection, with the reasons told to the applicant and the "
    "basis: the record keeps its status from before the objection.",
    request=ReasonsBasisSerializer,
)
class ObjectionMaintainApi(_ObjectionAction, CaseActionApi):
    roles = (Role.OFFICER, Role.REVIEWER)
    input_serializer = ReasonsBasisSerializer

    def act(self, user, case, data):
        objection_maintain(verifier=user, case=case, reasons=data["reasons"], basis=data["basis"])


@_action_schema(
    "The objection cannot be verified (无法核实)",
    "The verifier who claimed the objection, with the reasons told to the applicant and the "
    "basis: the record keeps its status from before the objection and carries a visible note "
    "(`objection_note` on every record answer); the 异议处理结果告知书 says so, and other "
    "platforms get an `unverifiable` sync event.",
    request=ReasonsBasisSerializer,
)
class ObjectionUnverifiableApi(_ObjectionAction, CaseActionApi):
    roles = (Role.OFFICER, Role.REVIEWER)
    input_serializer = ReasonsBasisSerializer

    def act(self, user, case, data):
        objection_unverifiable(
            verifier=user, case=case, reasons=data["reasons"], basis=data["basis"]
        )


@_action_schema(
    "Release a claimed objection",
    "The officer or reviewer holding the objection puts it back in its queue; a supervisor "
    "may release anyone's, with `reason`. 409 when nobody holds it.",
    request=CaseReleaseApi.input_serializer,
)
class ObjectionReleaseApi(_ObjectionAction, CaseReleaseApi):
    pass


@_action_schema(
    "Assign or reassign an objection",
    "A supervisor gives the objection's task (waiting or held) to a platform officer "
    "(preliminary review, platform check) or a reviewer of the issuing department (department "
    "check), with a reason.",
    request=CaseReassignApi.input_serializer,
)
class ObjectionReassignApi(_ObjectionAction, CaseReassignApi):
    pass


def _action(name: str, view) -> object:
    return path(
        f"objections/<int:pk>/{name}/",
        view.as_view(),
        name=f"api_objection_{name}".replace("-", "_"),
    )


urlpatterns = [
    path("objections/", ObjectionCollectionApi.as_view(), name="api_objections"),
    path("objections/<int:pk>/", ObjectionDetailApi.as_view(), name="api_objection_detail"),
    _action("materials", ObjectionMaterialApi),
    _action("submit", ObjectionSubmitApi),
    _action("supplement-answer", ObjectionSupplementAnswerApi),
    _action("withdraw", ObjectionWithdrawApi),
    _action("claim", ObjectionClaimApi),
    _action("supplement-request", ObjectionSupplementRequestApi),
    _action("refuse", ObjectionRefuseApi),
    _action("accept", ObjectionAcceptApi),
    _action("correct", ObjectionCorrectApi),
    _action("delete", ObjectionDeleteApi),
    _action("maintain", ObjectionMaintainApi),
    _action("unverifiable", ObjectionUnverifiableApi),
    _action("release", ObjectionReleaseApi),
    _action("reassign", ObjectionReassignApi),
]
