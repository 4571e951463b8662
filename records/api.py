"""Penalty records over HTTP: ingest for department systems, scoped reads.

POST /api/v1/records/       one record object or a list of them (integration,
                            officer and administrator accounts)
GET  /api/v1/records/       the records the caller may see, paginated
POST /api/v1/records/search/  by subject identifier or name, in the body, with a
                            purpose; registered (an identifier in a GET is refused)
GET  /api/v1/records/{id}/  one of them
POST /api/v1/records/{id}/decision-change/  the issuing department (its reviewer or its
                            department-bound integration account): the decision was
                            revoked or changed (Shandong Social Credit Regulation Art. 40)
GET  /api/v1/sync-events/   publication changes the caller has not acknowledged
                            (integration and administrator accounts)
POST /api/v1/sync-events/ack/  acknowledge them

Reads of a natural person's record by staff or system accounts are entered in
the access register and need a stated `purpose` (shared domain reference
section 8); resident ID numbers are always masked.
"""

import datetime as dt
from collections import defaultdict

from django.urls import path
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
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from flows.cases.eligibility import filing_answers
from records.models import (
    CreditRecord,
    DecisionChange,
    DecisionChangeKind,
    RecordStatus,
    Severity,
    SubjectKind,
    SyncEvent,
    SyncKind,
)
from records.selectors import record_get_for_user, records_visible_to
from records.serializers import (
    CreditRecordSerializer,
    IngestRejectedSerializer,
    IngestResponseSerializer,
    RecordIngestSerializer,
)
from records.services import record_decision_change, records_ingest
from records.sync import MAX_ACK_IDS, SYNC_CONSUMER_ROLES, sync_events_ack, sync_events_pending
from repair_flow.access import REGISTERED_ROLES, search_register, search_what
from repair_flow.api_common import (
    PURPOSE_PARAMETER,
    ApiError,
    ApiModelSerializer,
    ChoiceLabelField,
    local_iso,
    person_reads_register,
    purpose_required,
    query_choices,
    query_int,
    stated_purpose,
)
from repair_flow.encryption import blind_indexes
from repair_flow.masking import looks_like_identifier
from repair_flow.models import AccessChannel, AccessPurpose, Role
from repair_flow.parsers import DepthLimitedJSONParser
from repair_flow.roles import role_permission
from sla.clocks import clocks_for

# One request is one batch: one transaction and one audit event.
MAX_ITEMS_PER_REQUEST = 1000
INGEST_ROLES = (Role.INTEGRATION, Role.OFFICER, Role.ADMINISTRATOR)


def _register_person_reads(request, records: list[CreditRecord]) -> None:
    person_reads_register(request, [(r.subject, f"api:record:{r.pk}") for r in records])


def _serialize(records: list[CreditRecord], *, many: bool):
    # The same answer as the record pages' (flows/cases/eligibility.py).
    answers = {pk: result.as_dict() for pk, result in filing_answers(records).items()}
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
record) or not at all. Penalties the Shandong Social Credit Regulation
(Art. 13) does not collect, `procedure` "simplified" or `minor_remedied` true,
are rejected with code `not_collected`; `conduct_end_date` (default: the
decision date) starts the five years after which the record is no longer
disclosed (Art. 38).

Status: 201 all items saved and at least one created; 200 all items saved, all
updates; 207 some saved, some rejected; 400 every item rejected (the error
shape, `detail` and `code` "rejected", with the same per-item body), or the body
is not an object or a list (the error shape); 401 no credentials;
403 a role other than integration, officer or administrator.

Every answer lists each item by its `index` (0 for a single object) with
`status` created / updated / rejected, the record `id`, and `errors`
(`field`, `code`, `message`) for rejected items.
"""


class RecordCollectionApi(GenericAPIView):
    serializer_class = CreditRecordSerializer
    parser_classes = [DepthLimitedJSONParser]

    def get_permissions(self):
        if self.request is not None and self.request.method == "POST":
            return [IsAuthenticated(), role_permission(*INGEST_ROLES)()]
        return [IsAuthenticated()]

    def get_queryset(self):
        records = records_visible_to(self.request.user).order_by("-decision_date", "-id")
        params = self.request.query_params
        identifier_in_url_refuse(params)
        choices = query_choices(
            params,
            status=RecordStatus.values,
            severity=Severity.values,
            subject_type=SubjectKind.values,
        )
        if params.get("department"):
            records = records.filter(department__code=params["department"])
        if params.get("decision_number"):
            records = records.filter(decision_number=params["decision_number"])
        if "status" in choices:
            records = records.filter(status=choices["status"])
        if "severity" in choices:
            records = records.filter(severity=choices["severity"])
        if "subject_type" in choices:
            records = records.filter(subject__kind=choices["subject_type"])
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
        responses={200: CreditRecordSerializer(many=True)},
    )
    def get(self, request):
        page = list(self.paginate_queryset(self.get_queryset()))
        _register_person_reads(request, page)
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
            400: OpenApiResponse(
                IngestRejectedSerializer,
                description="every item rejected, or the body is not a record or a list",
            ),
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
            raise ParseError(_("请求体应为一条记录（JSON 对象）或记录的列表"), code="not_a_record")
        if not items:
            raise ParseError(_("列表为空，没有要导入的记录"), code="empty")
        if len(items) > MAX_ITEMS_PER_REQUEST:
            raise ParseError(
                _("一次最多提交%(max)d条记录，请分批提交") % {"max": MAX_ITEMS_PER_REQUEST},
                code="too_many",
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
            # The error shape, with the per-item answer beside it.
            raise ApiError(
                _("所有记录均未通过校验，未保存任何记录"),
                code="rejected",
                status_code=status.HTTP_400_BAD_REQUEST,
                **body,
            )
        if errors:
            code = status.HTTP_207_MULTI_STATUS
        elif result.created:
            code = status.HTTP_201_CREATED
        else:
            code = status.HTTP_200_OK
        return Response(body, status=code)


# Search by identifier (POST: the identifier in the body, never in a URL) ---------------------

IDENTIFIER_PARAMETERS = ("subject_identifier", "identifier", "q", "subject_name")
PAGING_PARAMETERS = ("limit", "offset")


def identifier_in_url_refuse(params) -> None:
    """400 for a person's identifier (or name) in a GET's query string: it would
    sit in URLs, proxies' and servers' logs (shared domain reference section 8)."""
    named = [name for name in IDENTIFIER_PARAMETERS if name in params]
    # Paging numbers are checked as numbers (a huge offset is not an identifier).
    looks = [
        name
        for name, value in params.items()
        if name not in PAGING_PARAMETERS and looks_like_identifier(value)
    ]
    if named or looks:
        raise ApiError(
            _(
                "查询参数中不能含有身份证号码或姓名（%(names)s）：按主体查询请使用 "
                "POST /api/v1/records/search/，把号码放在请求体中并说明查询目的 purpose。"
            )
            % {"names": pgettext("list separator", "、").join(sorted(set(named + looks)))},
            code="identifier_in_url",
            status_code=status.HTTP_400_BAD_REQUEST,
        )


class RecordSearchRequestSerializer(serializers.Serializer):
    subject_identifier = serializers.CharField(
        required=False,
        max_length=30,
        help_text=gettext_lazy("统一社会信用代码或身份证号码（精确匹配）"),
    )
    subject_name = serializers.CharField(
        required=False, max_length=100, help_text=gettext_lazy("主体名称（包含）")
    )
    purpose = serializers.ChoiceField(
        choices=AccessPurpose.choices,
        required=False,
        help_text=gettext_lazy(
            "查询目的：平台工作人员、认定单位审核人、监督人员、管理员和系统对接账号必填"
            "（查询本身即为查看个人信息，依法登记，未查到也登记）"
        ),
    )
    status = serializers.ChoiceField(choices=RecordStatus.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    department = serializers.CharField(required=False, max_length=30)

    def validate(self, attrs):
        for name in ("subject_identifier", "subject_name"):
            if name in attrs:
                attrs[name] = attrs[name].strip()
        if not attrs.get("subject_identifier") and not attrs.get("subject_name"):
            raise serializers.ValidationError(
                {"subject_identifier": [_("请填写 subject_identifier 或 subject_name。")]}
            )
        return attrs


class RecordSearchApi(GenericAPIView):
    serializer_class = CreditRecordSerializer
    permission_classes = [IsAuthenticated]
    parser_classes = [DepthLimitedJSONParser]

    @extend_schema(
        operation_id="records_search",
        summary="Search the caller's visible records by subject identifier or name",
        description=(
            "The identifier is in the body, never in a URL. Staff and system accounts state "
            "`purpose`; the search is entered in the access register (one row per natural "
            "person on the page answered, or one row naming the search, masked, when it "
            "found no natural person). `limit` and `offset` page as the list does."
        ),
        request=RecordSearchRequestSerializer,
        responses={200: CreditRecordSerializer(many=True)},
    )
    def post(self, request):
        serializer = RecordSearchRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        purpose = stated_purpose(request, data.get("purpose"))
        staff = request.user.role in REGISTERED_ROLES
        if staff and purpose is None:
            raise purpose_required(None)
        records = records_visible_to(request.user).order_by("-decision_date", "-id")
        if data.get("subject_identifier"):
            # By blind index: the identifier is encrypted at rest.
            records = records.filter(
                subject__identifier_index__in=blind_indexes(data["subject_identifier"])
            )
        if data.get("subject_name"):
            records = records.filter(subject__name__icontains=data["subject_name"])
        for name in ("status", "severity"):
            if data.get(name):
                records = records.filter(**{name: data[name]})
        if data.get("department"):
            records = records.filter(department__code=data["department"])
        page = list(self.paginate_queryset(records))
        if staff:
            term = data.get("subject_identifier") or data.get("subject_name")
            search_register(
                user=request.user,
                what="api:" + search_what("records", term, self.paginator.count),
                records=page,
                purpose=purpose,
                channel=AccessChannel.API,
            )
        return self.get_paginated_response(_serialize(page, many=True) if page else [])


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
        responses={200: CreditRecordSerializer},
    )
    def get(self, request, pk: int):
        record = record_get_for_user(user=request.user, pk=pk)
        _register_person_reads(request, [record])
        return Response(_serialize([record], many=False))


# Revoked or changed decisions (Art. 40) ------------------------------------------------------


class DecisionChangeRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DecisionChangeKind.choices)
    changed_on = serializers.DateField(
        help_text=gettext_lazy("撤销或变更日期（YYYY-MM-DD），不晚于今天、不早于处罚决定日期")
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=300,
        help_text=gettext_lazy("依据文书，例如行政复议决定书文号"),
    )
    changes = serializers.DictField(
        required=False,
        help_text=gettext_lazy(
            "changed 时必填：变更后的内容，字段同导入格式（decision_date、penalty_types、"
            "fine_amount、severity、facts）"
        ),
    )


class DecisionChangeSerializer(ApiModelSerializer):
    kind_label = ChoiceLabelField("kind")
    record_status = serializers.CharField(source="record.status", read_only=True)
    clock = serializers.SerializerMethodField()

    class Meta:
        model = DecisionChange
        fields = [
            "id", "record", "kind", "kind_label", "changed_on", "changes", "note", "source",
            "recorded_at", "record_status", "clock",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(
        inline_serializer(
            "DecisionChangeClock",
            {
                "state": serializers.CharField(help_text="met or breached"),
                "due_at": serializers.CharField(help_text="ISO 8601, +08:00"),
                "provisional": serializers.BooleanField(),
            },
        )
    )
    def get_clock(self, change: DecisionChange) -> dict | None:
        clock = clocks_for(change).order_by("-id").first()
        if clock is None:
            return None
        return {
            "state": clock.state,
            "due_at": local_iso(clock.due_at),
            "provisional": clock.provisional,
        }


class RecordDecisionChangeApi(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [DepthLimitedJSONParser]

    @extend_schema(
        summary="Report the penalty decision revoked or changed (Art. 40)",
        description=(
            "Only the department that issued the penalty: its reviewer, or its own system's "
            "integration account (bound to the department). `revoked` deletes the record; "
            "`changed` corrects it with `changes` (the import format's fields). The record-change "
            "clock runs from `changed_on` (the day after is day 1, 3 working days) to this "
            "report: `clock.state` is met or breached. Other platforms get a `decision_revoked` "
            "or `decision_changed` sync event. The same report again answers the stored one "
            "(200). 404 when the caller may not see the record; 403 for anyone else who is "
            "not the issuing department."
        ),
        request=DecisionChangeRequestSerializer,
        responses={201: DecisionChangeSerializer, 200: DecisionChangeSerializer},
    )
    def post(self, request, pk: int):
        record = record_get_for_user(user=request.user, pk=pk)
        serializer = DecisionChangeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        before = set(record.decision_changes.values_list("pk", flat=True))
        change = record_decision_change(
            actor=request.user,
            record=record,
            kind=data["kind"],
            changed_on=data["changed_on"],
            note=data.get("note", ""),
            changes=data.get("changes"),
            source="api",
        )
        code = status.HTTP_200_OK if change.pk in before else status.HTTP_201_CREATED
        return Response(DecisionChangeSerializer(change).data, status=code)


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
    public = serializers.BooleanField(
        help_text="false for a natural person's record: shared between authorities, never "
        "published (Shandong Social Credit Regulation Art. 20)"
    )
    record_status = serializers.CharField(
        help_text=", ".join(RecordStatus.values)
        + "; a natural person's record in use is `shared`, never `published`"
    )
    reference = serializers.DictField(
        help_text="`source` (e.g. flows.RepairCase:12) and the decision's references "
        "(e.g. case_number, letter_number)"
    )


@extend_schema_field(SyncPayloadSerializer)
class SyncPayloadField(serializers.JSONField):
    def to_representation(self, value):
        # The stored time to the second, as every time the API answers.
        value = super().to_representation(value)
        occurred_at = value.get("occurred_at") if isinstance(value, dict) else None
        if isinstance(occurred_at, str):
            value = {**value, "occurred_at": local_iso(dt.datetime.fromisoformat(occurred_at))}
        return value


class SyncEventSerializer(ApiModelSerializer):
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

SyncAckResponse = inline_serializer(
    "SyncAckResponse",
    {"acknowledged": serializers.IntegerField(help_text="acks newly recorded (0 on a repeat)")},
)
# Event ids are 64-bit: a larger `after` is refused, not sent to the database.
MAX_EVENT_ID = 2**63 - 1
SyncAckRequest = inline_serializer(
    "SyncAckRequest",
    {
        "ids": serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_EVENT_ID),
            max_length=MAX_ACK_IDS,
        )
    },
)


def _sync_feed_params(params) -> tuple[int | None, int]:
    errors = {}
    after = limit = None
    for name, default, low, high in (
        ("after", None, 0, MAX_EVENT_ID),
        ("limit", SYNC_FEED_DEFAULT_LIMIT, 1, SYNC_FEED_MAX_LIMIT),
    ):
        try:
            value = query_int(params, name, default=default, minimum=low, maximum=high)
        except ValidationError as error:
            errors.update(error.detail)
            continue
        if name == "after":
            after = value
        else:
            limit = value
    if errors:
        raise ValidationError(errors)
    return after, limit


def _ack_ids(data) -> list[int]:
    ids = data.get("ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not ids:
        raise ValidationError({"ids": [_('请求体应为 {"ids": [...]}，列出至少一个事件编号')]})
    # bool is an int in Python; true is not an event id. An id beyond 64 bits
    # is refused here: the database driver cannot even bind it (a 500).
    bad = [
        v
        for v in ids
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_EVENT_ID
    ]
    if bad:
        values = pgettext("list separator", "、").join(str(v)[:40] for v in bad[:10])
        raise ValidationError(
            {
                "ids": [
                    _("事件编号应为 1 至 %(max)d 之间的整数：%(values)s")
                    % {"max": MAX_EVENT_ID, "values": values}
                ]
            }
        )
    return ids


SYNC_FEED_DESCRIPTION = """
Changes of a record's publication caused by a decision (a repair approved, an
objection's outcome, a repair revoked) for other credit platforms to post.
Answers the events the calling account has not acknowledged, oldest first;
each integration account has its own acknowledgements.

`after` pages within one poll; begin each poll without it, so that an event
whose transaction committed after a later one is never skipped. Acknowledge
what was posted with POST /api/v1/sync-events/ack/.

A natural person's resident ID is masked in the payload; USCCs are in full.
A page naming a natural person is entered in the access register, one row per
event, with the purpose configured for the account once
(INTEGRATION_ACCESS_PURPOSES) or given as `purpose` (400 `purpose_required`
without either).
400 answers the API's error shape (`detail`, `code`, messages per parameter);
401 no credentials; 403 a role other than integration or administrator.
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
            PURPOSE_PARAMETER,
        ],
        responses={
            200: SyncFeedResponse,
            403: OpenApiResponse(description="this role may not read the sync feed"),
        },
        tags=["sync-events"],
    )
    def get(self, request):
        after, limit = _sync_feed_params(request.query_params)
        events = list(
            sync_events_pending(consumer=request.user, after=after).select_related(
                "record__subject"
            )[: limit + 1]
        )
        page = events[:limit]
        # The payloads name natural persons: the page is registered with the
        # account's purpose (configured once per account, or `purpose`), one INSERT.
        person_reads_register(
            request,
            [(event.record.subject, f"sync_event:{event.pk}") for event in page],
            channel=AccessChannel.FEED,
        )
        return Response(
            {
                "results": SyncEventSerializer(page, many=True).data,
                "next_after": page[-1].pk if page else after,
                "has_more": len(events) > limit,
            }
        )


class SyncEventAckApi(APIView):
    permission_classes = [IsAuthenticated, role_permission(*SYNC_CONSUMER_ROLES)]
    parser_classes = [DepthLimitedJSONParser]

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
            403: OpenApiResponse(description="this role may not acknowledge sync events"),
        },
        tags=["sync-events"],
    )
    def post(self, request):
        count = sync_events_ack(consumer=request.user, ids=_ack_ids(request.data))
        return Response({"acknowledged": count})


urlpatterns = [
    path("records/", RecordCollectionApi.as_view(), name="api_records"),
    path("records/search/", RecordSearchApi.as_view(), name="api_records_search"),
    path("records/<int:pk>/", RecordDetailApi.as_view(), name="api_record_detail"),
    path(
        "records/<int:pk>/decision-change/",
        RecordDecisionChangeApi.as_view(),
        name="api_record_decision_change",
    ),
    path("sync-events/", SyncEventFeedApi.as_view(), name="api_sync_events"),
    path("sync-events/ack/", SyncEventAckApi.as_view(), name="api_sync_events_ack"),
]
