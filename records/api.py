"""Penalty records over HTTP: ingest for department systems, scoped reads.

POST /api/v1/records/       one record object or a list of them (integration,
                            officer and administrator accounts)
GET  /api/v1/records/       the records the caller may see, paginated
GET  /api/v1/records/{id}/  one of them
GET  /api/v1/sync-events/   publication changes the caller has not acknowledged
                            (integration and administrator accounts)
POST /api/v1/sync-events/ack/  acknowledge them

Reads of a natural person's record by staff or system accounts are entered in
the access register and need a stated `purpose` (shared domain reference
section 8); resident ID numbers are always masked.
"""

from collections import defaultdict

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from records.models import CreditRecord, RecordStatus, Severity, SubjectKind, SyncEvent, SyncKind
from records.publicity import RecordFacts, answer, load_rule_sets
from records.selectors import record_get_for_user, records_visible_to
from records.serializers import (
    CreditRecordSerializer,
    IngestResponseSerializer,
    RecordIngestSerializer,
)
from records.services import records_ingest
from records.sync import MAX_ACK_IDS, SYNC_CONSUMER_ROLES, sync_events_ack, sync_events_pending
from repair_flow.access import REGISTERED_ROLES, access_register, purpose_is_valid
from repair_flow.models import AccessPurpose, Role
from repair_flow.roles import role_permission

# One request is one batch: one transaction and one audit event.
MAX_ITEMS_PER_REQUEST = 1000
INGEST_ROLES = (Role.INTEGRATION, Role.OFFICER, Role.ADMINISTRATOR)

PURPOSE_PARAMETER = OpenApiParameter(
    "purpose",
    enum=AccessPurpose.values,
    required=False,
    description=gettext_lazy(
        "查看自然人记录的目的（个人信息访问登记）。平台工作人员、认定单位审核人、监督人员、"
        "管理员和系统对接账号的响应中含有自然人记录时必填，否则返回 400。"
    ),
)


def purpose_error(purpose: str | None) -> Response:
    """400 for a staff read of natural persons' data without a valid purpose
    (shared by every API that returns such data)."""
    choices = pgettext("list separator", "、").join(AccessPurpose.values)
    if purpose:
        message = _("purpose 参数“%(purpose)s”无效，应为以下之一：%(choices)s") % {
            "purpose": purpose[:40],
            "choices": choices,
        }
    else:
        message = _(
            "响应中含有自然人的信息，须说明查看目的："
            "请在查询参数 purpose 中填写以下之一：%(choices)s（依法登记个人信息访问）"
        ) % {"choices": choices}
    return Response(
        {"detail": message, "code": "purpose_required"}, status=status.HTTP_400_BAD_REQUEST
    )


def _register_person_reads(request, records: list[CreditRecord]) -> Response | None:
    """Enter staff and system reads of natural persons' records in the access
    register, or answer 400 when no valid purpose was stated."""
    purpose = request.query_params.get("purpose")
    if purpose is not None and not purpose_is_valid(purpose):
        return purpose_error(purpose)
    people = [record for record in records if record.subject.is_person]
    if not people or request.user.role not in REGISTERED_ROLES:
        return None
    if purpose is None:
        return purpose_error(None)
    with transaction.atomic():
        for record in people:
            access_register(
                user=request.user,
                subject=record.subject,
                what=f"api:record:{record.pk}",
                purpose=purpose,
                channel="api",
            )
    return None


def _serialize(records: list[CreditRecord], *, many: bool):
    rule_sets = load_rule_sets()
    today = timezone.localdate()
    answers = {
        record.pk: answer(RecordFacts.of(record), rule_sets, today).as_dict() for record in records
    }
    context = {"answers": answers}
    if many:
        return CreditRecordSerializer(records, many=True, context=context).data
    return CreditRecordSerializer(records[0], context=context).data


INGEST_DESCRIPTION = """
Push penalty records from a department system. The body is one record object or
a list of up to 1000. Each item is checked exactly as `import_records` checks a
file row. A record is keyed by (department_code, decision_number): a new key
creates the record, a known key updates it (its status is kept). Valid items
are saved even when others are rejected; each item is saved whole (subject and
record) or not at all.

Status: 201 all items saved and at least one created; 200 all items saved, all
updates; 207 some saved, some rejected; 400 every item rejected (same body), or
the body is not an object or a list (`{"detail": ...}`); 401 no credentials;
403 a role other than integration, officer or administrator.

Every answer lists each item by its `index` (0 for a single object) with
`status` created / updated / rejected, the record `id`, and `errors`
(`field`, `code`, `message`) for rejected items.
"""


class RecordCollectionApi(GenericAPIView):
    serializer_class = CreditRecordSerializer
    parser_classes = [JSONParser]

    def get_permissions(self):
        if self.request is not None and self.request.method == "POST":
            return [IsAuthenticated(), role_permission(*INGEST_ROLES)()]
        return [IsAuthenticated()]

    def get_queryset(self):
        records = records_visible_to(self.request.user).order_by("-decision_date", "-id")
        params = self.request.query_params
        if params.get("department"):
            records = records.filter(department__code=params["department"])
        if params.get("decision_number"):
            records = records.filter(decision_number=params["decision_number"])
        if params.get("status") in RecordStatus.values:
            records = records.filter(status=params["status"])
        if params.get("severity") in Severity.values:
            records = records.filter(severity=params["severity"])
        if params.get("subject_type") in SubjectKind.values:
            records = records.filter(subject__kind=params["subject_type"])
        return records

    @extend_schema(
        summary="List the penalty records the caller may see",
        description=(
            "Applicants see their own subjects' records, department reviewers their "
            "department's, platform staff and system accounts all. Resident ID numbers are "
            "masked. A page that contains a natural person's record needs `purpose` for staff "
            "and system accounts (400 without it); each such record read is registered."
        ),
        parameters=[
            PURPOSE_PARAMETER,
            OpenApiParameter("department", str, description=gettext_lazy("认定单位代码")),
            OpenApiParameter(
                "decision_number", str, description=gettext_lazy("处罚决定书文号（精确匹配）")
            ),
            OpenApiParameter("status", enum=RecordStatus.values),
            OpenApiParameter("severity", enum=Severity.values),
            OpenApiParameter("subject_type", enum=SubjectKind.values),
        ],
        responses={
            200: CreditRecordSerializer(many=True),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="purpose missing or invalid"),
        },
    )
    def get(self, request):
        page = list(self.paginate_queryset(self.get_queryset()))
        refused = _register_person_reads(request, page)
        if refused is not None:
            return refused
        return self.get_paginated_response(_serialize(page, many=True) if page else [])

    @extend_schema(
        summary="Ingest penalty records (one object or a list)",
        description=INGEST_DESCRIPTION,
        request=PolymorphicProxySerializer(
            component_name="RecordIngestBody",
            serializers=[RecordIngestSerializer, RecordIngestSerializer(many=True)],
            resource_type_field_name=None,
            many=False,
        ),
        responses={
            201: IngestResponseSerializer,
            200: IngestResponseSerializer,
            207: OpenApiResponse(IngestResponseSerializer, description="some items rejected"),
            400: OpenApiResponse(IngestResponseSerializer, description="every item rejected"),
            401: OpenApiResponse(description="no or invalid credentials"),
            403: OpenApiResponse(description="this role may not ingest records"),
        },
        examples=[
            OpenApiExample(
                "Partly rejected (207)",
                response_only=True,
                status_codes=["207"],
                value={
                    "created": 1,
                    "updated": 0,
                    "rejected": 1,
                    "results": [
                        {"index": 0, "status": "created", "id": 41, "errors": []},
                        {
                            "index": 1,
                            "status": "rejected",
                            "id": None,
                            "errors": [
                                {
                                    "field": "subject_identifier",
                                    "code": "check_character",
                                    "message": "统一社会信用代码第18位校验码不正确（GB 32100）",
                                },
                            ],
                        },
                    ],
                },
            ),
        ],
    )
    def post(self, request):
        data = request.data
        if isinstance(data, dict):
            items = [data]
        elif isinstance(data, list):
            items = data
        else:
            return Response(
                {"detail": _("请求体应为一条记录（JSON 对象）或记录的列表")},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if not items:
            return Response(
                {"detail": _("列表为空，没有要导入的记录")}, status=status.HTTP_400_BAD_REQUEST
            )
        if len(items) > MAX_ITEMS_PER_REQUEST:
            return Response(
                {
                    "detail": _("一次最多提交%(max)d条记录，请分批提交")
                    % {"max": MAX_ITEMS_PER_REQUEST}
                },
                status=status.HTTP_400_BAD_REQUEST,
            )

        result = records_ingest(
            rows=enumerate(items),
            actor=request.user,
            source="api",
            batch_size=MAX_ITEMS_PER_REQUEST,
        )

        errors = defaultdict(list)
        for error in result.rejected:
            errors[error.line].append(
                {"field": error.field, "code": error.code, "message": error.message}
            )
        saved = {row.line: row for row in result.saved}
        results = []
        for index in range(len(items)):
            if index in errors:
                results.append(
                    {"index": index, "status": "rejected", "id": None, "errors": errors[index]}
                )
            else:
                row = saved[index]
                results.append(
                    {
                        "index": index,
                        "status": "created" if row.created else "updated",
                        "id": row.record_id,
                        "errors": [],
                    }
                )
        body = {
            "created": result.created,
            "updated": result.updated,
            "rejected": len(errors),
            "results": results,
        }
        if len(errors) == len(items):
            code = status.HTTP_400_BAD_REQUEST
        elif errors:
            code = status.HTTP_207_MULTI_STATUS
        elif result.created:
            code = status.HTTP_201_CREATED
        else:
            code = status.HTTP_200_OK
        return Response(body, status=code)


class RecordDetailApi(GenericAPIView):
    serializer_class = CreditRecordSerializer
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="One penalty record with its repair eligibility",
        description=(
            "404 when the record does not exist or the caller may not see it. A natural "
            "person's record needs `purpose` for staff and system accounts; the read is "
            "registered."
        ),
        parameters=[PURPOSE_PARAMETER],
        responses={
            200: CreditRecordSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="purpose missing or invalid"),
            404: OpenApiResponse(description="not found or not visible to the caller"),
        },
    )
    def get(self, request, pk: int):
        record = record_get_for_user(user=request.user, pk=pk)
        refused = _register_person_reads(request, [record])
        if refused is not None:
            return refused
        return Response(_serialize([record], many=False))


# Sync feed ---------------------------------------------------------------------------------

SYNC_FEED_DEFAULT_LIMIT = 100
SYNC_FEED_MAX_LIMIT = 1000


class SyncPayloadSerializer(serializers.Serializer):
    """Documentation only: the stored payload is answered as it is."""

    event_id = serializers.IntegerField()
    kind = serializers.CharField(help_text=", ".join(SyncKind.values))
    occurred_at = serializers.CharField(help_text="ISO 8601 in Asia/Shanghai (+08:00)")
    department_code = serializers.CharField()
    department_name = serializers.CharField()
    decision_number = serializers.CharField()
    decision_date = serializers.CharField(help_text="ISO 8601 date")
    subject_type = serializers.CharField(help_text=", ".join(SubjectKind.values))
    subject_name = serializers.CharField()
    subject_identifier = serializers.CharField(
        help_text="USCC in full; a resident ID masked (first 6 and last 4 characters)"
    )
    record_status = serializers.CharField(help_text=", ".join(RecordStatus.values))
    reference = serializers.DictField(
        help_text="`source` (e.g. flows.RepairCase:12) and the decision's references "
        "(e.g. case_number, letter_number)"
    )


@extend_schema_field(SyncPayloadSerializer)
class SyncPayloadField(serializers.JSONField):
    pass


class SyncEventSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(help_text=", ".join(SyncKind.values))
    payload = SyncPayloadField(read_only=True)

    class Meta:
        model = SyncEvent
        fields = ["id", "kind", "source", "occurred_at", "payload"]
        read_only_fields = fields


SyncFeedResponse = inline_serializer(
    "SyncFeedResponse",
    {
        "results": SyncEventSerializer(many=True),
        "next_after": serializers.IntegerField(
            allow_null=True,
            help_text="pass as `after` for the next page (the last id answered; the "
            "`after` sent when nothing was answered)",
        ),
        "has_more": serializers.BooleanField(),
    },
)
SyncAckRequest = inline_serializer(
    "SyncAckRequest",
    {
        "ids": serializers.ListField(
            child=serializers.IntegerField(min_value=1), max_length=MAX_ACK_IDS
        )
    },
)
SyncAckResponse = inline_serializer(
    "SyncAckResponse",
    {"acknowledged": serializers.IntegerField(help_text="acks newly recorded (0 on a repeat)")},
)
SyncErrors = inline_serializer(
    "SyncErrors",
    {"errors": serializers.DictField(child=serializers.CharField(), help_text="per field")},
)


def _non_negative_int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _sync_feed_params(params) -> tuple[int | None, int, dict[str, str]]:
    errors = {}
    after = None
    if params.get("after") is not None:
        after = _non_negative_int(params["after"])
        if after is None:
            errors["after"] = _("after 参数“%(value)s”无效，应为事件编号（非负整数）") % {
                "value": params["after"][:40]
            }
    limit = SYNC_FEED_DEFAULT_LIMIT
    if params.get("limit") is not None:
        parsed = _non_negative_int(params["limit"])
        if parsed is None or not 1 <= parsed <= SYNC_FEED_MAX_LIMIT:
            errors["limit"] = _("limit 参数“%(value)s”无效，应为 1 至 %(max)d 之间的整数") % {
                "value": params["limit"][:40],
                "max": SYNC_FEED_MAX_LIMIT,
            }
        else:
            limit = parsed
    return after, limit, errors


def _ack_ids(data) -> tuple[list[int], dict[str, str]]:
    ids = data.get("ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not ids:
        return [], {"ids": _('请求体应为 {"ids": [...]}，列出至少一个事件编号')}
    # bool is an int in Python; true is not an event id.
    bad = [v for v in ids if not isinstance(v, int) or isinstance(v, bool) or v < 1]
    if bad:
        return [], {
            "ids": _("事件编号应为正整数：%(values)s")
            % {"values": pgettext("list separator", "、").join(str(v)[:40] for v in bad[:10])}
        }
    return ids, {}


SYNC_FEED_DESCRIPTION = """
Changes of a record's publication caused by a decision (a repair approved, an
objection's outcome, a repair revoked) for other credit platforms to post.
Answers the events the calling account has not acknowledged, oldest first;
each integration account has its own acknowledgements.

`after` pages within one poll; begin each poll without it, so that an event
whose transaction committed after a later one is never skipped. Acknowledge
what was posted with POST /api/v1/sync-events/ack/.

A natural person's resident ID is masked in the payload; USCCs are in full.
400 answers `{"errors": {field: message}}`; 401 no credentials; 403 a role
other than integration or administrator.
"""


class SyncEventFeedApi(APIView):
    permission_classes = [IsAuthenticated, role_permission(*SYNC_CONSUMER_ROLES)]

    @extend_schema(
        operation_id="sync_events_list",
        summary="Publication changes not yet acknowledged by the caller",
        description=SYNC_FEED_DESCRIPTION,
        parameters=[
            OpenApiParameter(
                "after", OpenApiTypes.INT, description=gettext_lazy("只返回编号大于此值的事件")
            ),
            OpenApiParameter(
                "limit",
                OpenApiTypes.INT,
                description=gettext_lazy("每页条数，1 至 1000，默认 100"),
            ),
        ],
        responses={
            200: SyncFeedResponse,
            400: SyncErrors,
            401: OpenApiResponse(description="no or invalid credentials"),
            403: OpenApiResponse(description="this role may not read the sync feed"),
        },
        tags=["sync-events"],
    )
    def get(self, request):
        after, limit, errors = _sync_feed_params(request.query_params)
        if errors:
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        events = list(sync_events_pending(consumer=request.user, after=after)[: limit + 1])
        page = events[:limit]
        return Response(
            {
                "results": SyncEventSerializer(page, many=True).data,
                "next_after": page[-1].pk if page else after,
                "has_more": len(events) > limit,
            }
        )


class SyncEventAckApi(APIView):
    permission_classes = [IsAuthenticated, role_permission(*SYNC_CONSUMER_ROLES)]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="sync_events_ack",
        summary="Acknowledge sync events for the calling account",
        description=(
            "Records that the caller has posted these events; they leave its feed. A repeat "
            "is harmless (`acknowledged` counts new acks only). Any unknown id rejects the "
            "whole request (400, nothing recorded)."
        ),
        request=SyncAckRequest,
        responses={
            200: SyncAckResponse,
            400: SyncErrors,
            401: OpenApiResponse(description="no or invalid credentials"),
            403: OpenApiResponse(description="this role may not acknowledge sync events"),
        },
        tags=["sync-events"],
    )
    def post(self, request):
        ids, errors = _ack_ids(request.data)
        if errors:
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        try:
            count = sync_events_ack(consumer=request.user, ids=ids)
        except DjangoValidationError as error:
            return Response(
                {"errors": {field: " ".join(msgs) for field, msgs in error.message_dict.items()}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"acknowledged": count})


urlpatterns = [
    path("records/", RecordCollectionApi.as_view(), name="api_records"),
    path("records/<int:pk>/", RecordDetailApi.as_view(), name="api_record_detail"),
    path("sync-events/", SyncEventFeedApi.as_view(), name="api_sync_events"),
    path("sync-events/ack/", SyncEventAckApi.as_view(), name="api_sync_events_ack"),
]
