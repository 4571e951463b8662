"""Post-repair monitoring (信用修复承诺履约监管) over HTTP.

GET  /api/v1/breach-reviews/                     staff: the breach reviews the caller may see
GET  /api/v1/breach-reviews/{id}/                one review: the penalty or the report, the
                                                 deadline, the hearing, the decision
POST /api/v1/breach-reviews/{id}/notice/         the repair-deciding department's reviewer:
                                                 notice of intended revocation
POST /api/v1/breach-reviews/{id}/confirm/        the same, after the hearing: breach, the
                                                 repair revoked
POST /api/v1/breach-reviews/{id}/dismiss/        the same: no breach
POST /api/v1/breach-reviews/{id}/statement/      applicant: their statement (陈述申辩)
POST /api/v1/repair-cases/{id}/false-materials/  officer or supervisor: report false materials
GET  /api/v1/monitoring/                         applicant: their repairs under monitoring,
                                                 with the hearings they are called to

Scoping is flows.monitoring's `reviews_for_user` (404 for a review the caller
may not see, as for cases); every write is one service call of
flows.monitoring, and a refusal is answered by the API's exception handler
(repair_flow.api_common) as for cases (400 with the messages, 403, 409 for a
review or case in the wrong state).
"""

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
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

from flows.cases.guards import may_decide_breach
from flows.cases.selectors import case_get_for_user
from flows.models import (
    PENDING_BREACH_STATUSES,
    BreachReview,
    BreachSource,
    BreachStatus,
    MonitoringStatus,
    MonitoringWindow,
)
from flows.monitoring.services import (
    CONFIRM_REASONS,
    DISMISS_REASONS,
    REPORT_ROLES,
    breach_confirm,
    breach_dismiss,
    breach_notice_issue,
    breach_statement_submit,
    false_materials_report,
    hearing_over,
    hearings_for_applicant,
    review_deadlines_fill,
    reviews_for_user,
    statement_clock,
    statement_may_be_made,
    windows_for_applicant,
)
from records.serializers import DepartmentBriefSerializer, SubjectBriefSerializer
from repair_flow.api_common import (
    PURPOSE_PARAMETER,
    ApiModelSerializer,
    ChoiceLabelField,
    LocalDateTimeField,
    absolute_url,
    person_read_register,
    query_choices,
)
from repair_flow.models import STAFF_ROLES, Role
from repair_flow.parsers import DepthLimitedJSONParser
from repair_flow.roles import role_permission

# The service's upload errors are about the evidence file.
EVIDENCE_ERRORS = {
    "no_evidence": "evidence",
    "too_large": "evidence",
    "empty": "evidence",
    "file_type": "evidence",
    "quota": "evidence",
}


def _usual(reasons) -> str:
    return "；".join(str(label) for _code, label in reasons)


# Serializers


def _person_name(user) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.username


class BreachSummarySerializer(ApiModelSerializer):
    """A review in a list: no personal data, so a list needs no purpose."""

    url = serializers.SerializerMethodField()
    # A plain string: as an enum shared by the summary and the detail, drf-spectacular
    # could name it only by a hash (ENUM_NAME_OVERRIDES has no BreachStatus).
    status = serializers.CharField(read_only=True, help_text=", ".join(BreachStatus.values))
    status_label = ChoiceLabelField("status")
    source_label = ChoiceLabelField("source")
    found_via_label = ChoiceLabelField("found_via")
    case_number = serializers.CharField(source="case.number", read_only=True)
    department = DepartmentBriefSerializer(read_only=True)
    decision_number = serializers.CharField(
        source="record.decision_number", read_only=True, default=None, allow_null=True
    )
    due_at = LocalDateTimeField(
        read_only=True, allow_null=True, help_text=gettext_lazy("核查办理期限（北京时间）")
    )

    class Meta:
        model = BreachReview
        fields = [
            "id", "url", "status", "status_label", "source", "source_label", "found_via",
            "found_via_label", "case", "case_number", "department", "decision_number",
            "opened_at", "due_at", "decided_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, review: BreachReview) -> str:
        url = reverse("api_breach_review_detail", args=[review.pk])
        return absolute_url(self.context.get("request"), url)


class BreachRecordSerializer(serializers.Serializer):
    """The new penalty found during the monitoring."""

    id = serializers.IntegerField()
    decision_number = serializers.CharField()
    department = serializers.CharField(source="department.name")
    decision_date = serializers.DateField()


class BreachEvidenceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="original_name")
    sha256 = serializers.CharField()


class BreachHearingSerializer(serializers.Serializer):
    """The notice of intended revocation and the applicant's statement (陈述申辩)."""

    notice_facts = serializers.CharField(help_text=gettext_lazy("拟撤销的事实和理由"))
    notice_letter = serializers.IntegerField(
        source="notice_letter_id", help_text=gettext_lazy("拟撤销信用修复告知书的 id")
    )
    notice_letter_number = serializers.CharField(source="notice_letter.number")
    noticed_at = LocalDateTimeField()
    statement_due_at = serializers.SerializerMethodField(
        help_text=gettext_lazy("陈述申辩期限（北京时间，含该时刻）")
    )
    statement = serializers.CharField(
        source="representation", help_text=gettext_lazy("申请人的陈述申辩；未提交时为空")
    )
    stated_at = LocalDateTimeField(source="representation_at", allow_null=True)
    statement_evidence = BreachEvidenceSerializer(source="representation_evidence", allow_null=True)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_statement_due_at(self, review: BreachReview) -> str | None:
        clock = statement_clock(review)
        return LocalDateTimeField().to_representation(clock.due_at) if clock else None


class BreachDecisionSerializer(serializers.Serializer):
    reasons = serializers.ListField(child=serializers.CharField())
    basis = serializers.CharField()
    answer = serializers.CharField(help_text=gettext_lazy("对陈述申辩的答复（撤销时）"))
    decided_by = serializers.SerializerMethodField()
    decided_at = LocalDateTimeField()
    letter = serializers.IntegerField(
        source="letter_id", allow_null=True, help_text=gettext_lazy("撤销信用修复决定书的 id")
    )
    letter_number = serializers.CharField(
        source="letter.number", allow_null=True, default=None, help_text=gettext_lazy("文号")
    )
    barred_until = serializers.DateField(
        allow_null=True, help_text=gettext_lazy("该日（含）前不得再申请信用修复")
    )

    def get_decided_by(self, review: BreachReview) -> str | None:
        return _person_name(review.decided_by)


class BreachDetailSerializer(BreachSummarySerializer):
    case_status = serializers.CharField(source="case.status", read_only=True)
    subject = SubjectBriefSerializer(read_only=True)
    record = BreachRecordSerializer(read_only=True, allow_null=True)
    statement = serializers.CharField(
        read_only=True, help_text=gettext_lazy("材料不实报告的情况说明")
    )
    evidence = BreachEvidenceSerializer(read_only=True, allow_null=True)
    reported_by = serializers.SerializerMethodField()
    informed_department = serializers.SerializerMethodField(
        help_text=gettext_lazy("新增处罚的认定单位（知会，可查看，不作决定）")
    )
    hearing = serializers.SerializerMethodField()
    decision = serializers.SerializerMethodField()
    may_decide = serializers.SerializerMethodField()
    may_notice = serializers.SerializerMethodField()
    may_revoke = serializers.SerializerMethodField()

    class Meta(BreachSummarySerializer.Meta):
        fields = [
            *BreachSummarySerializer.Meta.fields,
            "case_status", "subject", "record", "informed_department", "statement", "evidence",
            "reported_by", "hearing", "decision", "may_decide", "may_notice", "may_revoke",
        ]  # fmt: skip
        read_only_fields = fields

    def get_reported_by(self, review: BreachReview) -> str | None:
        return _person_name(review.reported_by)

    @extend_schema_field(DepartmentBriefSerializer(allow_null=True))
    def get_informed_department(self, review: BreachReview) -> dict | None:
        if review.record is None or review.record.department_id == review.department_id:
            return None
        return DepartmentBriefSerializer(review.record.department).data

    @extend_schema_field(BreachHearingSerializer(allow_null=True))
    def get_hearing(self, review: BreachReview) -> dict | None:
        if review.noticed_at is None:
            return None
        return BreachHearingSerializer(review).data

    @extend_schema_field(BreachDecisionSerializer(allow_null=True))
    def get_decision(self, review: BreachReview) -> dict | None:
        if review.status in PENDING_BREACH_STATUSES:
            return None
        return BreachDecisionSerializer(review).data

    def _decider(self, review: BreachReview) -> bool:
        request = self.context.get("request")
        user = request.user if request is not None else None
        return review.status in PENDING_BREACH_STATUSES and may_decide_breach(user, review)

    def get_may_decide(self, review: BreachReview) -> bool:
        """May dismiss now (and notice or revoke, as the next two say)."""
        return self._decider(review)

    def get_may_notice(self, review: BreachReview) -> bool:
        return self._decider(review) and review.status == BreachStatus.OPEN

    def get_may_revoke(self, review: BreachReview) -> bool:
        return self._decider(review) and hearing_over(review, at=timezone.now())


class DecisionInputSerializer(serializers.Serializer):
    reasons = serializers.ListField(
        child=serializers.CharField(max_length=500, allow_blank=True),
        help_text=gettext_lazy("理由（每条一项，至少一项）"),
    )
    basis = serializers.CharField(
        max_length=300, allow_blank=True, default="", help_text=gettext_lazy("依据")
    )
    answer = serializers.CharField(
        max_length=2000,
        allow_blank=True,
        default="",
        help_text=gettext_lazy("对陈述申辩的答复：申请人提出陈述申辩的，撤销时必填"),
    )


class NoticeInputSerializer(serializers.Serializer):
    facts = serializers.CharField(max_length=2000, help_text=gettext_lazy("拟撤销的事实和理由"))


class StatementInputSerializer(serializers.Serializer):
    statement = serializers.CharField(max_length=5000, help_text=gettext_lazy("陈述申辩的内容"))
    evidence = serializers.FileField(
        required=False,
        help_text=gettext_lazy("证据材料（可不传）：PDF、JPEG 或 PNG 文件，最大 10 MB"),
    )


class FalseMaterialsSerializer(serializers.Serializer):
    statement = serializers.CharField(max_length=2000, help_text=gettext_lazy("材料不实的情况说明"))
    evidence = serializers.FileField(
        required=False,
        help_text=gettext_lazy("证明材料不实的证据：PDF、JPEG 或 PNG 文件，最大 10 MB"),
    )


class ApplicantHearingSerializer(serializers.Serializer):
    """What the applicant is heard on: the notice, the period, their statement."""

    review = serializers.IntegerField(source="pk")
    status = serializers.CharField(help_text=", ".join(BreachStatus.values))
    department = serializers.CharField(source="department.name")
    new_penalty = BreachRecordSerializer(source="record", allow_null=True)
    notice_letter = serializers.IntegerField(source="notice_letter_id")
    notice_letter_number = serializers.CharField(source="notice_letter.number")
    notice_facts = serializers.CharField()
    statement_due_at = serializers.SerializerMethodField()
    stated_at = LocalDateTimeField(source="representation_at", allow_null=True)
    may_state = serializers.SerializerMethodField(
        help_text=gettext_lazy("现在是否可以提交陈述申辩")
    )
    statement_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_statement_due_at(self, review: BreachReview) -> str | None:
        clock = statement_clock(review)
        return LocalDateTimeField().to_representation(clock.due_at) if clock else None

    def get_may_state(self, review: BreachReview) -> bool:
        return statement_may_be_made(review, at=timezone.now())

    def get_statement_url(self, review: BreachReview) -> str:
        url = reverse("api_breach_review_statement", args=[review.pk])
        return absolute_url(self.context.get("request"), url)


class MonitoringWindowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    case_number = serializers.CharField(source="case.number")
    case_status = serializers.CharField(source="case.status")
    decision_number = serializers.CharField(source="case.record.decision_number")
    department = serializers.CharField(source="case.record.department.name")
    starts_at = LocalDateTimeField()
    ends_at = LocalDateTimeField(help_text=gettext_lazy("监管期结束时间（北京时间）"))
    status = serializers.ChoiceField(choices=MonitoringStatus.choices)
    status_label = ChoiceLabelField("status")
    days_left = serializers.SerializerMethodField(
        help_text=gettext_lazy("距监管期结束的天数（0 为今日结束）；监管已结束时为空")
    )
    review_open = serializers.BooleanField(help_text=gettext_lazy("是否有正在进行的履约核查"))
    hearings = serializers.SerializerMethodField(
        help_text=gettext_lazy("已发出拟撤销信用修复告知书的履约核查（陈述申辩）")
    )

    @extend_schema_field(ApplicantHearingSerializer(many=True))
    def get_hearings(self, window: MonitoringWindow) -> list:
        reviews = self.context.get("hearings", {}).get(window.pk, [])
        return ApplicantHearingSerializer(reviews, many=True, context=self.context).data

    def get_days_left(self, window: MonitoringWindow) -> int | None:
        if window.status != MonitoringStatus.OPEN:
            return None
        days = (timezone.localtime(window.ends_at).date() - timezone.localdate()).days
        return max(days, 0)


# Helpers


def review_get_for_user(*, user, pk: int) -> BreachReview:
    try:
        review = (
            reviews_for_user(user)
            .select_related("evidence", "letter", "decided_by", "reported_by")
            .get(pk=pk)
        )
    except BreachReview.DoesNotExist:
        raise Http404(_("没有这个履约核查，或您无权查看。")) from None
    return review_deadlines_fill([review])[0]


def _detail(request, pk: int) -> dict:
    review = review_get_for_user(user=request.user, pk=pk)
    return BreachDetailSerializer(review, context={"request": request}).data


def _what(pk: int) -> str:
    return f"api:breach_review:{pk}"


# Views


class BreachReviewListApi(GenericAPIView):
    serializer_class = BreachSummarySerializer

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(*STAFF_ROLES)()]

    @extend_schema(
        summary="List the breach reviews the caller may see (履约核查)",
        description=(
            "Platform officers, supervisors and administrators: every review; department "
            "reviewers: those their department decides (on a repair it decided) and those it "
            "is informed of (a new penalty it issued). Applicants: 403. Newest first. Filters: "
            "`status`, `source`, `department` (the deciding department's code)."
        ),
        parameters=[
            OpenApiParameter(
                "status", enum=BreachStatus.values, required=False, description=gettext_lazy("状态")
            ),
            OpenApiParameter(
                "source", enum=BreachSource.values, required=False, description=gettext_lazy("来源")
            ),
            OpenApiParameter(
                "department", str, required=False, description=gettext_lazy("核查单位代码")
            ),
        ],
        responses={200: BreachSummarySerializer(many=True)},
    )
    def get(self, request):
        params = request.query_params
        filters = query_choices(params, status=BreachStatus.values, source=BreachSource.values)
        # Newest first, read backwards by flows_breach_opened; each row's
        # deadline read for the page's rows at once.
        reviews = reviews_for_user(request.user).order_by("-opened_at", "-id")
        reviews = reviews.filter(**filters)
        if params.get("department"):
            reviews = reviews.filter(department__code=params["department"])
        page = review_deadlines_fill(self.paginate_queryset(reviews))
        data = BreachSummarySerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)


class BreachReviewDetailApi(GenericAPIView):
    serializer_class = BreachDetailSerializer

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(*STAFF_ROLES)()]

    @extend_schema(
        summary="One breach review",
        description=(
            "The repair case, the subject (a resident ID masked), the department that reviews, "
            "the new penalty (`record`) or the officer's report (`statement`, `evidence`), the "
            "deadline (`due_at`, Beijing time), the decision once made (reasons, basis, who and "
            "when; a confirmation's 撤销信用修复决定书 and the day until which the subject may "
            "not apply again) and `may_decide`: whether the caller may confirm or dismiss it "
            "now. 403 for applicants; 404 when the review does not exist or the caller may not "
            "see it. A natural "
            "person's review needs `purpose` for staff; the read is registered."
        ),
        parameters=[PURPOSE_PARAMETER],
        responses={200: BreachDetailSerializer},
    )
    def get(self, request, pk: int):
        review = review_get_for_user(user=request.user, pk=pk)
        person_read_register(request, review.subject, _what(review.pk))
        return Response(BreachDetailSerializer(review, context={"request": request}).data)


class _BreachDecideApi(GenericAPIView):
    """One POST, one decision service; the answer is the review as it now is."""

    serializer_class = DecisionInputSerializer
    parser_classes = [DepthLimitedJSONParser, FormParser, MultiPartParser]

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(Role.REVIEWER)()]

    conflict_codes = ("notice_first", "statement_pending")

    def decide(self, *, reviewer, review, data: dict) -> None:
        raise NotImplementedError

    def post(self, request, pk: int):
        review = review_get_for_user(user=request.user, pk=pk)
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The answer shows the subject: a natural person's read is registered
        # with the decision, or not at all.
        with transaction.atomic():
            person_read_register(request, review.subject, _what(review.pk))
            self.decide(reviewer=request.user, review=review, data=serializer.validated_data)
        return Response(_detail(request, review.pk))


def _decide_schema(summary: str, description: str, example: dict, request=DecisionInputSerializer):
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[PURPOSE_PARAMETER],
        request=request,
        responses={200: BreachDetailSerializer},
        examples=[OpenApiExample("Decision", request_only=True, value=example)],
    )


@_decide_schema(
    "Notice of intended revocation (拟撤销信用修复告知书)",
    "A reviewer of the department that made the repair decision, with the facts found. Issues "
    "the notice (in `hearing`: its number, the facts, and `statement_due_at`, the end of the "
    "applicant's statement period, 5 working days by default, an SLA policy); the review "
    "waits for the applicant's statement (陈述申辩) and the department's own clock is paused. "
    "403 for other roles and for the department that issued the new penalty (informed only), "
    "404 for a review the caller may not see, 400 without facts, 409 when a notice was "
    "already sent or the review is decided.",
    {"facts": "2027年3月1日因同类违法行为再次受到行政处罚（济市监罚〔2027〕3号）。"},
    request=NoticeInputSerializer,
)
class BreachNoticeApi(_BreachDecideApi):
    serializer_class = NoticeInputSerializer

    def decide(self, *, reviewer, review, data):
        breach_notice_issue(reviewer=reviewer, review=review, facts=data["facts"])


@_decide_schema(
    "Confirm a breach (认定违反承诺), after the hearing",
    "A reviewer of the department that made the repair decision, with reasons and the basis, "
    "once the notice of intended revocation was sent and the applicant's statement arrived "
    "(then `answer`, the reply to it, is required) or its period ended (`may_revoke`). The "
    "repair is revoked with a 撤销信用修复决定书 naming the new penalty and answering the "
    "statement (its number in `decision.letter_number`), the record disclosed again for the "
    "rest of its period (or expired), a bar on new repairs only where the monitoring policy "
    "enables one with its legal basis (`decision.barred_until`, else null), and the window's "
    f"other open reviews superseded. Usual reasons: {_usual(CONFIRM_REASONS)}. 403 for other "
    "roles and the informed department, 404 for a review the caller may not see, 400 without "
    "reasons, basis or a required answer, 409 `notice_first` before the notice, "
    "`statement_pending` while the statement period runs, `wrong_status` once decided.",
    {
        "reasons": [str(CONFIRM_REASONS[0][1])],
        "basis": "《信用修复管理办法》第十五条",
        "answer": "",
    },
)
class BreachConfirmApi(_BreachDecideApi):
    def decide(self, *, reviewer, review, data):
        breach_confirm(
            reviewer=reviewer,
            review=review,
            reasons=data["reasons"],
            basis=data["basis"],
            answer=data["answer"],
        )


@_decide_schema(
    "Dismiss a breach review (不予认定)",
    "A reviewer of the department that made the repair decision, with reasons (the basis is "
    "optional), before or after the notice of intended revocation. The repair stands and the "
    "monitoring goes on (or completes now, if it ended while the review was open); the "
    f"applicant is told. Usual reasons: {_usual(DISMISS_REASONS)}. 403 for other roles and the "
    "informed department, 404 for a review the caller may not see, 400 without reasons, 409 "
    "when the review is already decided.",
    {"reasons": [str(DISMISS_REASONS[0][1])], "basis": ""},
)
class BreachDismissApi(_BreachDecideApi):
    def decide(self, *, reviewer, review, data):
        breach_dismiss(
            reviewer=reviewer, review=review, reasons=data["reasons"], basis=data["basis"]
        )


class BreachStatementApi(GenericAPIView):
    serializer_class = StatementInputSerializer
    parser_classes = [MultiPartParser, FormParser, DepthLimitedJSONParser]
    error_fields = EVIDENCE_ERRORS
    conflict_codes = ("already_stated", "statement_late")

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(Role.APPLICANT)()]

    @extend_schema(
        summary="State one's case (陈述申辩) on a notice of intended revocation",
        description=(
            "An applicant acting for the subject, once, until `statement_due_at` (inclusive), "
            "with the statement and optional evidence (PDF, JPEG or PNG). The department may "
            "then decide. 403 for other roles, 404 for a review the caller was not notified "
            "of, 400 without a statement or with a bad file (under `evidence`), 409 "
            "`already_stated`, `statement_late` after the period, `wrong_status` once decided."
        ),
        request={"multipart/form-data": StatementInputSerializer},
        responses={200: ApplicantHearingSerializer},
    )
    def post(self, request, pk: int):
        review = hearings_for_applicant(request.user).filter(pk=pk).first()
        if review is None:
            raise Http404(_("没有这个履约核查，或您无权查看。"))
        serializer = StatementInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        breach_statement_submit(
            applicant=request.user,
            review=review,
            text=data["statement"],
            evidence=data.get("evidence"),
        )
        review = hearings_for_applicant(request.user).get(pk=pk)
        return Response(ApplicantHearingSerializer(review, context={"request": request}).data)


class FalseMaterialsReportApi(GenericAPIView):
    serializer_class = FalseMaterialsSerializer
    parser_classes = [MultiPartParser, FormParser]
    error_fields = EVIDENCE_ERRORS

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(*REPORT_ROLES)()]

    @extend_schema(
        summary="Report that a repair rested on false materials (申请材料不实)",
        description=(
            "A platform officer or supervisor, on an approved (or completed) repair, with a "
            "statement and the evidence (PDF, JPEG or PNG, recognised by content): a breach "
            "review for the department that decided the repair. 400 under `evidence` when it is "
            "missing or not an accepted file; 409 when the case is not approved or a report on "
            "it is already being reviewed."
        ),
        parameters=[PURPOSE_PARAMETER],
        request={"multipart/form-data": FalseMaterialsSerializer},
        responses={201: BreachDetailSerializer},
    )
    def post(self, request, pk: int):
        case = case_get_for_user(user=request.user, pk=pk)
        serializer = FalseMaterialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            person_read_register(request, case.subject, f"api:repair_case:{case.pk}")
            review = false_materials_report(
                officer=request.user,
                case=case,
                statement=data["statement"],
                evidence=data.get("evidence"),
            )
        return Response(_detail(request, review.pk), status=status.HTTP_201_CREATED)


class MonitoringListApi(GenericAPIView):
    serializer_class = MonitoringWindowSerializer

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(Role.APPLICANT)()]

    @extend_schema(
        summary="The caller's repairs under monitoring (信用承诺履约监管)",
        description=(
            "Applicants only: the monitoring window of each approved repair of the subjects "
            "they act for, soonest end first: its dates (Beijing time), status, the days left, "
            "whether a breach review is open, and `hearings`: the reviews in which a notice of "
            "intended revocation was sent (the new penalty, the notice, the statement period "
            "and whether a statement may be made now, at `statement_url`). 403 for other roles."
        ),
        responses={200: MonitoringWindowSerializer(many=True)},
    )
    def get(self, request):
        open_reviews = BreachReview.objects.filter(
            window_id=OuterRef("pk"), status__in=PENDING_BREACH_STATUSES
        )
        windows = (
            windows_for_applicant(request.user)
            .annotate(review_open=Exists(open_reviews))
            .order_by("ends_at", "id")
        )
        page = self.paginate_queryset(windows)
        hearings: dict[int, list] = {}
        reviews = hearings_for_applicant(request.user).filter(window__in=[w.pk for w in page])
        for review in reviews.order_by("noticed_at", "id"):
            hearings.setdefault(review.window_id, []).append(review)
        context = {"request": request, "hearings": hearings}
        data = MonitoringWindowSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)


urlpatterns = [
    path("breach-reviews/", BreachReviewListApi.as_view(), name="api_breach_reviews"),
    path(
        "breach-reviews/<int:pk>/", BreachReviewDetailApi.as_view(), name="api_breach_review_detail"
    ),
    path(
        "breach-reviews/<int:pk>/notice/",
        BreachNoticeApi.as_view(),
        name="api_breach_review_notice",
    ),
    path(
        "breach-reviews/<int:pk>/statement/",
        BreachStatementApi.as_view(),
        name="api_breach_review_statement",
    ),
    path(
        "breach-reviews/<int:pk>/confirm/",
        BreachConfirmApi.as_view(),
        name="api_breach_review_confirm",
    ),
    path(
        "breach-reviews/<int:pk>/dismiss/",
        BreachDismissApi.as_view(),
        name="api_breach_review_dismiss",
    ),
    path(
        "repair-cases/<int:pk>/false-materials/",
        FalseMaterialsReportApi.as_view(),
        name="api_repair_case_false_materials",
    ),
    path("monitoring/", MonitoringListApi.as_view(), name="api_monitoring"),
]
