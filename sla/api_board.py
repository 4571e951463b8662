"""GET /api/v1/sla/summary/: the supervisors' board figures as JSON."""

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from repair_flow.api_common import local_iso
from repair_flow.models import Role
from repair_flow.roles import role_permission
from sla.board import (
    DEFAULT_PERIOD_DAYS,
    MAX_PERIOD_DAYS,
    board_filters_parse,
    board_monitoring,
    board_summary,
)
from sla.models import Stage


def _rate(name: str, count: str, of: str, **extra):
    return inline_serializer(
        name,
        {
            "count": serializers.IntegerField(help_text=count),
            "of": serializers.IntegerField(help_text=of),
            "rate": serializers.FloatField(
                allow_null=True, help_text="count / of, 0..1 (4 decimals); null when of is 0"
            ),
            **extra,
        },
    )


SlaSummary = inline_serializer(
    "SlaSummary",
    {
        "as_of": serializers.DateTimeField(help_text="when the figures were computed (+08:00)"),
        "filters": inline_serializer(
            "SlaSummaryFilters",
            {
                "department": serializers.CharField(allow_null=True),
                "stage": serializers.CharField(allow_null=True),
                "from": serializers.DateField(),
                "to": serializers.DateField(),
            },
        ),
        "open": inline_serializer(
            "SlaSummaryOpen",
            {
                "total": serializers.IntegerField(help_text="open clocks (not stopped)"),
                "by_stage": inline_serializer(
                    "SlaOpenByStage",
                    {
                        "stage": serializers.CharField(),
                        "label": serializers.CharField(),
                        "count": serializers.IntegerField(),
                    },
                    many=True,
                ),
                "by_department": inline_serializer(
                    "SlaOpenByDepartment",
                    {
                        "department": serializers.CharField(
                            help_text='department code; "none" for the platform\'s own stages'
                        ),
                        "name": serializers.CharField(),
                        "count": serializers.IntegerField(),
                    },
                    many=True,
                ),
                "by_stage_department": inline_serializer(
                    "SlaOpenByStageDepartment",
                    {
                        "stage": serializers.CharField(),
                        "department": serializers.CharField(),
                        "count": serializers.IntegerField(),
                    },
                    many=True,
                ),
            },
        ),
        "due_today": serializers.IntegerField(
            help_text="open, not paused, due between today's midnights in Asia/Shanghai"
        ),
        "at_risk": serializers.IntegerField(
            help_text="open, running, not yet due, past the second warning "
            "(warned_level >= 2 or now >= warn2_at)"
        ),
        "waiting_applicant": serializers.IntegerField(
            help_text="open clocks that wait for the applicant: those of the applicant's "
            "stages (supplement, commitment, statement) and the office clocks paused while "
            "the case waits for the applicant; counted in open, never among the officers "
            "nor as not assigned"
        ),
        "paused_for_applicant": serializers.IntegerField(
            help_text="of waiting_applicant, the office clocks paused for the applicant"
        ),
        "breached": inline_serializer(
            "SlaSummaryBreached",
            {
                "total": serializers.IntegerField(),
                "open": serializers.IntegerField(
                    help_text="open clocks past their deadline (marked breached, or running "
                    "and past due_at)"
                ),
                "stopped_in_period": serializers.IntegerField(
                    help_text="clocks stopped late in the period"
                ),
            },
        ),
        "on_time": _rate(
            "SlaOnTimeRate",
            "clocks stopped in the period on time",
            "clocks stopped in the period on time or late (cancelled excluded)",
        ),
        "same_day_preliminary_review": _rate(
            "SlaSameDayRate",
            "preliminary reviews stopped in the period by their same-day deadline",
            "preliminary reviews stopped in the period (cancelled excluded)",
        ),
        "one_time_notification": _rate(
            "SlaOneTimeRate",
            "cases with exactly one supplement clock",
            "cases with a supplement clock started in the period",
            repeat=serializers.IntegerField(help_text="cases with more than one supplement clock"),
        ),
        "officers": inline_serializer(
            "SlaOfficerLoad",
            {
                "id": serializers.IntegerField(
                    allow_null=True, help_text="null: staff work not assigned"
                ),
                "username": serializers.CharField(allow_null=True),
                "name": serializers.CharField(),
                "open": serializers.IntegerField(),
                "at_risk": serializers.IntegerField(),
                "breached_open": serializers.IntegerField(),
                "on_time": _rate("SlaOfficerOnTime", "met in the period", "met + breached"),
            },
            many=True,
        ),
        "trend": inline_serializer(
            "SlaTrendWeek",
            {
                "week_start": serializers.DateField(help_text="Monday"),
                "week_end": serializers.DateField(help_text="Sunday"),
                "from": serializers.DateField(help_text="the part of the week in the period"),
                "to": serializers.DateField(),
                "count": serializers.IntegerField(help_text="met"),
                "of": serializers.IntegerField(help_text="met + breached"),
                "rate": serializers.FloatField(allow_null=True),
            },
            many=True,
        ),
        "monitoring": inline_serializer(
            "SlaMonitoring",
            {
                "open": serializers.IntegerField(help_text="monitoring windows open now"),
                "closing_this_month": serializers.IntegerField(
                    help_text="open windows ending this calendar month (Asia/Shanghai)"
                ),
                "found": serializers.IntegerField(help_text="breach reviews opened in the period"),
                "confirmed": serializers.IntegerField(
                    help_text="breach reviews confirmed in the period"
                ),
                "dismissed": serializers.IntegerField(
                    help_text="breach reviews dismissed in the period"
                ),
                "pending": serializers.IntegerField(help_text="breach reviews open now"),
                "revoked": serializers.IntegerField(
                    help_text="repairs revoked by the reviews confirmed in the period"
                ),
            },
            help_text="post-repair monitoring (履约监管): windows by the department of the "
            "repaired record, reviews and the repairs they revoked by the reviewing department; "
            "not narrowed by stage",
        ),
    },
)


class SlaSummaryView(APIView):
    permission_classes = [role_permission(Role.SUPERVISOR, Role.ADMINISTRATOR)]

    @extend_schema(
        operation_id="sla_summary",
        summary="SLA figures for supervisors: open, due today, at risk, breached, rates, trend",
        description=(
            "The figures of the supervisors' board at /sla/board/. Open clocks are a snapshot "
            "at the time of the request; rates count clocks stopped in the period "
            f"(default: the last {DEFAULT_PERIOD_DAYS} days up to today, Asia/Shanghai; at most "
            f"{MAX_PERIOD_DAYS} days). `monitoring`: the post-repair monitoring figures (履约监管) "
            "for the same period and department. Supervisors and administrators only."
        ),
        parameters=[
            OpenApiParameter(
                "department", OpenApiTypes.STR, description='department code, or "none"'
            ),
            OpenApiParameter("stage", OpenApiTypes.STR, enum=Stage.values),
            OpenApiParameter(
                "from", OpenApiTypes.DATE, description="first day of the period (YYYY-MM-DD)"
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, description="last day of the period, inclusive"
            ),
        ],
        responses={200: SlaSummary},
        examples=[
            OpenApiExample(
                "Bad parameters",
                response_only=True,
                status_codes=["400"],
                value={
                    "detail": "未知的环节“review”，应为 preliminary_review、supplement、… 之一",
                    "code": "invalid",
                    "stage": ["未知的环节“review”，应为 preliminary_review、supplement、… 之一"],
                    "from": ["无法解析日期“2026-13-01”，应为 YYYY-MM-DD，例如 2026-10-01"],
                },
            )
        ],
        tags=["sla"],
    )
    def get(self, request):
        filters, errors = board_filters_parse(request.query_params, today=timezone.localdate())
        if errors:
            raise ValidationError({field: [message] for field, message in errors.items()})
        now = timezone.now()
        return Response({
            **board_summary(filters=filters, now=now),
            "as_of": local_iso(now),
            "monitoring": board_monitoring(filters=filters, now=now),
        })  # fmt: skip


urlpatterns = [path("sla/summary/", SlaSummaryView.as_view(), name="api_sla_summary")]
