"""GET /api/v1/deadlines/: the deadline calculator for integrations and the public."""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from repair_flow.api_common import local_iso
from sla.calendar import RULE_SAME_DAY, RULE_WORKING_DAYS
from sla.forms import N_MAX, N_MIN, DeadlineQueryForm
from sla.services import deadline_for

DeadlineAnswer = inline_serializer(
    "DeadlineAnswer",
    {
        "due_at": serializers.DateTimeField(help_text="ISO 8601 in Asia/Shanghai (+08:00)"),
        "provisional": serializers.BooleanField(
            help_text="true when the span reaches a year whose official calendar is not "
            "loaded; weekends alone were assumed for that year"
        ),
        "explanation": serializers.ListField(
            child=serializers.CharField(),
            help_text="one line per skipped or counted day, naming holidays and make-up days",
        ),
    },
)


class DeadlineView(APIView):
    # Public: no login, and no authentication at all, so a stale session or a
    # bad token never turns this read into a 401/403.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="deadlines_compute",
        summary="Compute a deadline on the official working-day calendar",
        description=(
            "`same_day`: received on a working day by the cut-off (16:00, inclusive), due at "
            "office close (17:00) that day, else at office close of the next working day. "
            "`working_days`: the nth working day after the day of receipt (not counted), at "
            "office close. Open to everyone; no authentication."
        ),
        auth=[],
        parameters=[
            OpenApiParameter(
                "received",
                OpenApiTypes.DATETIME,
                required=True,
                description="When the filing was received: ISO 8601 with a UTC offset "
                "(e.g. 2026-09-30T15:30:00+08:00 or 2026-09-30T07:30:00Z; encode + as %2B).",
            ),
            OpenApiParameter(
                "rule", OpenApiTypes.STR, required=True, enum=[RULE_SAME_DAY, RULE_WORKING_DAYS]
            ),
            OpenApiParameter(
                "n",
                OpenApiTypes.INT,
                description=f"Working days, {N_MIN}..{N_MAX}; required for rule=working_days.",
            ),
        ],
        responses={200: DeadlineAnswer},
        examples=[
            OpenApiExample(
                "Three working days over National Day 2026",
                response_only=True,
                status_codes=["200"],
                value={
                    "due_at": "2026-10-10T17:00:00+08:00",
                    "provisional": False,
                    "explanation": [
                        "收件日 2026-09-30 不计入期限",
                        "2026-10-01 周四 国庆节（法定节假日），不计",
                        "...",
                        "2026-10-10 周六 调休上班，计第3个工作日",
                        "期限届满：2026-10-10 周六 17:00",
                    ],
                },
            ),
            OpenApiExample(
                "Bad parameters",
                response_only=True,
                status_codes=["400"],
                value={
                    "detail": "收件时间“2026-09-30T15:30”缺少时区偏移，请写明例如 +08:00 或 Z",
                    "code": "invalid",
                    "received": ["收件时间“2026-09-30T15:30”缺少时区偏移，请写明例如 +08:00 或 Z"],
                    "n": ["天数 n 须在 1 至 365 之间，收到 0"],
                },
            ),
        ],
        tags=["deadlines"],
    )
    def get(self, request):
        form = DeadlineQueryForm(request.query_params)
        if not form.is_valid():
            raise ValidationError(
                {field: [message] for field, message in form.error_messages_by_field().items()}
            )
        data = form.cleaned_data
        deadline = deadline_for(received_at=data["received"], rule=data["rule"], n=data["n"])
        return Response(
            {
                "due_at": local_iso(deadline.due_at),
                "provisional": deadline.provisional,
                "explanation": deadline.explanation,
            }
        )


urlpatterns = [path("deadlines/", DeadlineView.as_view(), name="api_deadlines")]
