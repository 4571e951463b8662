"""API shapes of penalty records.

The ingest serializers describe the request and response for the OpenAPI
schema only: rows are validated by records.ingest.validate_row, the same check
the file import uses, so the two doors never disagree.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from records.disclosure import record_status_label
from records.models import CreditRecord, PenaltyType, Severity, SubjectKind
from repair_flow.api_common import ApiModelSerializer


class RecordIngestSerializer(serializers.Serializer):
    """One penalty record as a department system sends it."""

    decision_number = serializers.CharField(max_length=100, help_text=_("处罚决定书文号"))
    department_code = serializers.CharField(help_text=_("认定单位代码（须已登记）"))
    subject_type = serializers.ChoiceField(choices=SubjectKind.choices)
    subject_identifier = serializers.CharField(
        help_text=_("enterprise：统一社会信用代码（GB 32100）；person：居民身份证号码（GB 11643）")
    )
    subject_name = serializers.CharField(max_length=200)
    subject_email = serializers.EmailField(
        required=False,
        allow_blank=True,
        help_text=_("可选：主体的联系邮箱，用于发送信用修复告知书（两书同送）；留空不改变已有的"),
    )
    subject_phone = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=_(
            "可选：主体的中国大陆手机号码（1[3-9]开头的11位），用于短信告知；留空不改变已有的"
        ),
    )
    decision_date = serializers.DateField(help_text=_("YYYY-MM-DD，不晚于今天"))
    fine_amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=0,
        help_text=_("元，最多两位小数；处罚类型含 fine 时必填且大于0，不含时不填"),
    )
    severity = serializers.ChoiceField(choices=Severity.choices)
    penalty_types = serializers.ListField(
        child=serializers.ChoiceField(choices=PenaltyType.choices),
        min_length=1,
        help_text=_("处罚类型代码（行政处罚法第九条），不重复；也可为以分号分隔的文本"),
    )
    facts = serializers.CharField(required=False, allow_blank=True, help_text=_("违法事实"))
    conduct_end_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text=_(
            "失信行为终止日期，YYYY-MM-DD，不晚于今天；不填的，以处罚决定日期为准。"
            "自该日起满5年（公示规则的数据）不再披露（《山东省社会信用条例》第三十八条）"
        ),
    )
    procedure = serializers.ChoiceField(
        choices=[("general", _("普通程序")), ("simplified", _("简易程序"))],
        required=False,
        help_text=_(
            "作出处罚所适用的程序，默认 general；simplified 的不予归集"
            "（《山东省社会信用条例》第十三条）"
        ),
    )
    minor_remedied = serializers.BooleanField(
        required=False,
        help_text=_(
            "违法行为轻微且主动消除、减轻危害后果的为 true，默认 false；true 的不予归集"
            "（《山东省社会信用条例》第十三条）"
        ),
    )
    decision_change = serializers.ChoiceField(
        choices=["", "revoked", "changed"],
        required=False,
        allow_blank=True,
        help_text=_(
            "可选，默认留空（处罚决定有效）。revoked：处罚决定已撤销（记录删除）；changed："
            "处罚决定已变更（本项即变更后的内容）。《山东省社会信用条例》第四十条；"
            "须为已登记的记录，且只能由作出决定的认定单位的系统对接账号报送"
        ),
    )
    decision_change_date = serializers.DateField(
        required=False,
        allow_null=True,
        help_text=_("填写 decision_change 时必填：撤销或变更日期，不晚于今天、不早于处罚决定日期"),
    )
    decision_change_basis = serializers.CharField(
        required=False, allow_blank=True, max_length=300, help_text=_("可选：撤销或变更的依据文书")
    )


class RowErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text=_("出错的字段；json 表示该项不是对象"))
    code = serializers.CharField(help_text=_("稳定的原因代码，例如 required、check_character"))
    message = serializers.CharField()


class IngestItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("该项在提交列表中的位置（从0起；单个对象为0）"))
    status = serializers.ChoiceField(choices=["created", "updated", "rejected"])
    id = serializers.IntegerField(allow_null=True, help_text=_("记录 ID；被拒绝的项为 null"))
    errors = RowErrorSerializer(many=True)


class IngestResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = IngestItemSerializer(many=True)


class IngestRejectedSerializer(IngestResponseSerializer):
    """400: the API's error shape with the per-item answer beside it; a body
    that is not a record or a list has `detail` and `code` only."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text=_("rejected：所有记录均被拒绝"))
    created = serializers.IntegerField(required=False)
    updated = serializers.IntegerField(required=False)
    rejected = serializers.IntegerField(required=False)
    results = IngestItemSerializer(many=True, required=False)


class EligibilitySerializer(serializers.Serializer):
    as_of = serializers.DateField()
    published = serializers.BooleanField(
        help_text="publicly disclosed; always false for a natural person's record "
        "(Shandong Social Credit Regulation Art. 20)"
    )
    shared = serializers.BooleanField(
        help_text="in use as a negative record (published, or for a natural person shared "
        "between authorities); false from the disclosure ceiling on"
    )
    publicity_ends_on = serializers.DateField()
    disclosure_ends_on = serializers.DateField(
        allow_null=True,
        help_text="first day the record is no longer disclosed or used at all: the end of "
        "the conduct plus the rule set's ceiling (Shandong Art. 38: 5 years)",
    )
    eligibility = serializers.ChoiceField(
        choices=["eligible", "not_yet", "never", "not_needed", "blocked"],
        help_text="blocked: repairable by its period, but a limit, an open repair case or an "
        "open objection stands in the way now (see blocked_by)",
    )
    may_file = serializers.BooleanField()
    blocked_by = serializers.ListField(child=serializers.CharField())
    eligible_from = serializers.DateField(allow_null=True)
    rule_set = serializers.CharField()
    rule_set_name = serializers.CharField()
    rule_set_choice = serializers.CharField(
        help_text="when the rule sets of the decision date and of today differ: which one "
        "applied and why (从旧兼从轻, the one more favourable to the applicant); else empty"
    )
    reason = serializers.CharField()
    legal_basis = serializers.CharField()


class DepartmentBriefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


@extend_schema_field({"type": "string", "enum": SubjectKind.values})
class SubjectKindField(serializers.CharField):
    """Documented inline, so the schema keeps one named enum (SubjectTypeEnum) for it."""


class SubjectBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = SubjectKindField()
    # Resident IDs are masked (first 6 and last 4 shown); USCCs are public.
    identifier = serializers.CharField(source="display_identifier")
    name = serializers.CharField()


class CreditRecordSerializer(ApiModelSerializer):
    department = DepartmentBriefSerializer()
    subject = SubjectBriefSerializer()
    penalty_types = serializers.ListField(
        child=serializers.ChoiceField(choices=PenaltyType.choices)
    )
    # 异议处理中 while an accepted objection is open (flows/objections.py).
    # A natural person's record is never 公示中 (Shandong Art. 20; records.disclosure).
    status_label = serializers.SerializerMethodField()
    # 无法核实: the note an objection that could not be verified left on the record.
    objection_note = serializers.CharField(
        read_only=True, help_text=_("异议无法核实时在记录上的标注；没有则为空")
    )
    eligibility = serializers.SerializerMethodField()

    class Meta:
        model = CreditRecord
        fields = [
            "id",
            "decision_number",
            "department",
            "subject",
            "decision_date",
            "conduct_end_date",
            "penalty_types",
            "fine_amount",
            "severity",
            "facts",
            "status",
            "status_label",
            "objection_note",
            "publicity_starts_on",
            "publicity_ends_on",
            "eligibility",
            "created_at",
            "updated_at",
        ]

    def get_status_label(self, record) -> str:
        return record_status_label(record)

    @extend_schema_field(EligibilitySerializer)
    def get_eligibility(self, record) -> dict:
        return self.context["answers"][record.pk]
