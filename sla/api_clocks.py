"""GET /api/v1/sla/clocks/{id}/explain/: a deadline explains itself.

Officers, supervisors and administrators see every clock; a department
reviewer only the clocks of their department (others answer 404). Applicants
and integration accounts are refused (403) until the case API exposes clocks
of their own cases.
"""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from repair_flow.api_common import LocalDateTimeField, local_iso
from repair_flow.roles import role_permission
from sla.clocks import CLOCK_READER_ROLES, Explanation, clock_explain, clock_get_for_user
from sla.models import ClockState, Rule, Stage


class ClockPolicySerializer(serializers.Serializer):
    rule = serializers.ChoiceField(choices=Rule.choices)
    n = serializers.IntegerField(allow_null=True, help_text=_("天数；当日办结规则为 null"))
    description = serializers.CharField(help_text=_("规则的文字说明，例如“5 个工作日”"))
    legal_basis = serializers.CharField(help_text=_("依据"))
    unconfirmed = serializers.BooleanField(help_text=_("合理默认值，法律依据尚未核实"))
    thresholds = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("预警时点，用时百分比")
    )


class ClockCaseSerializer(serializers.Serializer):
    type = serializers.CharField(help_text=_("案件模型，例如 records.creditrecord"))
    id = serializers.IntegerField()
    label = serializers.CharField(help_text=_("案件名称或编号"))


class ClockExplanationClockSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = ClockCaseSerializer()
    stage = serializers.ChoiceField(choices=Stage.choices)
    stage_label = serializers.CharField()
    state = serializers.ChoiceField(choices=ClockState.choices)
    state_label = serializers.CharField()
    department = serializers.CharField(allow_null=True, help_text=_("认定单位代码"))
    started_at = LocalDateTimeField(help_text=_("ISO 8601，北京时间（+08:00）"))
    due_at = LocalDateTimeField(
        help_text=_("期限，ISO 8601，北京时间（+08:00）；暂停中为暂停前的期限")
    )
    warn_at = serializers.ListField(
        child=LocalDateTimeField(), help_text=_("各预警时点，暂停已计入")
    )
    stopped_at = LocalDateTimeField(allow_null=True)
    breached_at = LocalDateTimeField(allow_null=True)
    provisional = serializers.BooleanField(
        help_text=_("期限跨入尚未载入工作日历的年度，该年已计入法定节假日，调休安排尚未公布")
    )
    remaining_seconds = serializers.IntegerField(
        allow_null=True, help_text=_("暂停中：暂停时剩余的计时（秒）")
    )
    policy = ClockPolicySerializer()


class ClockExplanationLineSerializer(serializers.Serializer):
    text = serializers.CharField()
    tone = serializers.ChoiceField(
        choices=["skip", "count", "makeup", "due", "note"],
        help_text=_("skip 不计，count 计入，makeup 调休上班，due 期限或结果，note 说明"),
    )


class ClockPauseSerializer(serializers.Serializer):
    started_at = LocalDateTimeField()
    ended_at = LocalDateTimeField(allow_null=True, help_text=_("仍在暂停中为 null"))
    reason = serializers.CharField()
    paused_seconds = serializers.IntegerField(
        allow_null=True, help_text=_("暂停期间的计时（工作日规则为工作时间），秒")
    )


class ClockDeadlineChangeSerializer(serializers.Serializer):
    at = LocalDateTimeField()
    old_due_at = LocalDateTimeField()
    new_due_at = LocalDateTimeField()
    reason = serializers.CharField()


class ClockExplanationSerializer(serializers.Serializer):
    clock = ClockExplanationClockSerializer()
    lines = ClockExplanationLineSerializer(many=True)
    pauses = ClockPauseSerializer(many=True)
    changes = ClockDeadlineChangeSerializer(many=True)


def explanation_data(explanation: Explanation) -> dict:
    clock, policy = explanation.clock, explanation.clock.policy
    return {
        "clock": {
            "id": clock.pk,
            "case": {
                "type": f"{clock.case_type.app_label}.{clock.case_type.model}",
                "id": clock.case_id,
                "label": clock.case_label,
            },
            "stage": clock.stage,
            "stage_label": clock.get_stage_display(),
            "state": clock.state,
            "state_label": clock.get_state_display(),
            "department": clock.department.code if clock.department else None,
            "started_at": local_iso(clock.started_at),
            "due_at": local_iso(clock.due_at),
            "warn_at": [local_iso(at) for at in (clock.warn1_at, clock.warn2_at) if at],
            "stopped_at": local_iso(clock.stopped_at),
            "breached_at": local_iso(clock.breached_at),
            "provisional": clock.provisional,
            "remaining_seconds": clock.remaining_seconds,
            "policy": {
                "rule": policy.rule,
                "n": policy.n,
                "description": policy.describe(),
                "legal_basis": policy.legal_basis,
                "unconfirmed": policy.unconfirmed,
                "thresholds": policy.thresholds,
            },
        },
        "lines": [{"text": line.text, "tone": line.tone} for line in explanation.lines],
        "pauses": [
            {
                "started_at": local_iso(pause.started_at),
                "ended_at": local_iso(pause.ended_at),
                "reason": pause.reason,
                "paused_seconds": pause.paused_seconds,
            }
            for pause in explanation.pauses
        ],
        "changes": [
            {
                "at": local_iso(change.at),
                "old_due_at": local_iso(change.old_due_at),
                "new_due_at": local_iso(change.new_due_at),
                "reason": change.reason,
            }
            for change in explanation.changes
        ],
    }


EXAMPLE = {
    "clock": {
        "id": 7,
        "case": {"type": "records.creditrecord", "id": 12, "label": "济市监罚〔2026〕1号"},
        "stage": "department_review",
        "stage_label": "认定单位审核",
        "state": "running",
        "state_label": "计时中",
        "department": "SCJGJ",
        "started_at": "2026-09-28T10:00:00+08:00",
        "due_at": "2026-10-14T13:00:00+08:00",
        "warn_at": ["2026-10-10T17:00:00+08:00", "2026-10-13T11:00:00+08:00"],
        "stopped_at": None,
        "breached_at": None,
        "provisional": False,
        "remaining_seconds": None,
        "policy": {
            "rule": "working_days",
            "n": 5,
            "description": "5 个工作日",
            "legal_basis": "产品默认值：认定单位 5 个工作日内完成审核",
            "unconfirmed": False,
            "thresholds": [50, 75],
        },
    },
    "lines": [
        {"text": "开始计时：2026-09-28 周一 10:00；规则：5 个工作日（…）", "tone": "note"},
        {"text": "收件日 2026-09-28 不计入期限", "tone": "skip"},
        {"text": "2026-09-29 周二 工作日，计第1个工作日", "tone": "count"},
        {"text": "2026-10-01 周四 国庆节（法定节假日），不计", "tone": "skip"},
        {"text": "2026-10-10 周六 调休上班，计第5个工作日", "tone": "makeup"},
        {"text": "未计暂停时的期限：2026-10-10 周六 17:00", "tone": "note"},
        {
            "text": "暂停：2026-09-29 周二 14:00 至 2026-10-09 周五 10:00（等待补正），"
            "其间计时 20.0 小时，期限顺延至 2026-10-14 周三 13:00",
            "tone": "skip",
        },
        {"text": "2026-10-11 周日 周末，不计", "tone": "skip"},
        {"text": "2026-10-12 周一 工作日，顺延计入", "tone": "count"},
        {"text": "期限：2026-10-14 周三 13:00", "tone": "due"},
    ],
    "pauses": [
        {
            "started_at": "2026-09-29T14:00:00+08:00",
            "ended_at": "2026-10-09T10:00:00+08:00",
            "reason": "等待补正",
            "paused_seconds": 72000,
        }
    ],
    "changes": [],
}


class ClockExplainView(APIView):
    permission_classes = [role_permission(*CLOCK_READER_ROLES)]

    @extend_schema(
        operation_id="sla_clock_explain",
        summary="Explain one SLA clock's deadline",
        description=(
            "How the deadline of one stage of one case was computed: the start, each counted "
            "and skipped day (weekends, public holidays, make-up working days), each pause "
            "and how far it pushed the deadline, deadline changes after a calendar year was "
            "loaded, the warning instants and the result. Times are ISO 8601 in Asia/Shanghai "
            "(+08:00). Officers, supervisors and administrators see every clock; a department "
            "reviewer only the clocks of their department (404 otherwise); applicants and "
            "integration accounts get 403."
        ),
        responses={200: ClockExplanationSerializer},
        examples=[OpenApiExample("A paused clock across National Day", value=EXAMPLE)],
        tags=["sla"],
    )
    def get(self, request, pk: int):
        clock = clock_get_for_user(user=request.user, pk=pk)
        return Response(explanation_data(clock_explain(clock)))


urlpatterns = [
    path("sla/clocks/<int:pk>/explain/", ClockExplainView.as_view(), name="api_sla_clock_explain"),
]
