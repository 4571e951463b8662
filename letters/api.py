"""Letters over HTTP: what applicants and staff may read, signing the
commitment, and public verification.

GET  /api/v1/letters/                 the letters the caller may see, paginated
GET  /api/v1/letters/{id}/            one of them (staff also see rendering and messages)
GET  /api/v1/letters/{id}/pdf/        its PDF
GET  /api/v1/commitments/{id}/        a commitment, with its draft and signed letters
POST /api/v1/commitments/{id}/sign/   sign it (the bound applicant)
GET  /api/v1/verify/{code}/           public: is this a letter of ours, is the file intact
                                      and its PDF signature valid
POST /api/v1/verify/{code}/           public: the same, and (with a file) is this uploaded
                                      PDF exactly that letter

Scoping is the pages' (letters.commitments selectors): 404 for what the caller
may not see. A staff read of a natural person's letter or commitment needs a
stated `purpose` and is registered (shared domain reference section 8).
"""

from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from flows.repair.services import case_commitment_sign
from letters.commitments import (
    commitment_get_for_user,
    letter_get_for_user,
    letters_for_user,
)
from letters.models import (
    Commitment,
    DeliveryEvent,
    Letter,
    LetterKind,
    OutboundMessage,
    RenderStatus,
)
from letters.services import letter_verify
from letters.signing import CHECKS
from letters.views import VerifyUploadForm, client_ip, pdf_response, public_facts
from repair_flow.api_common import (
    PURPOSE_PARAMETER,
    ApiError,
    ApiModelSerializer,
    ChoiceLabelField,
    Conflict,
    LocalDateTimeField,
    absolute_url,
    person_read_register,
    query_choices,
)
from repair_flow.models import STAFF_ROLES, Role
from repair_flow.parsers import DepthLimitedJSONParser
from repair_flow.roles import role_permission

# Serializers


class DeliveryEventSerializer(ApiModelSerializer):
    class Meta:
        model = DeliveryEvent
        fields = ["event_type", "event_id", "occurred_at", "description", "received_at"]


class OutboundMessageSerializer(ApiModelSerializer):
    status_label = ChoiceLabelField("status")
    events = DeliveryEventSerializer(many=True, read_only=True)

    class Meta:
        model = OutboundMessage
        fields = [
            "id", "channel", "to", "subject", "status", "status_label", "attempts",
            "next_attempt_at", "sent_at", "last_error", "events",
        ]  # fmt: skip


def verify_page_url(request, code: str) -> str:
    """The public verification page of a letter, on the request's host."""
    return absolute_url(request, reverse("verify:letter", args=[code]))


class LetterSummarySerializer(ApiModelSerializer):
    """A letter in a list: no personal data, so a list needs no purpose."""

    kind_label = ChoiceLabelField("kind")
    status_label = ChoiceLabelField("status")
    is_draft = serializers.BooleanField(read_only=True)
    verify_url = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Letter
        fields = [
            "id", "url", "kind", "kind_label", "number", "is_draft", "issued_at", "issuer",
            "case_label", "record", "status", "status_label", "sha256", "size", "pages",
            "rendered_at", "verification_code", "verify_url", "pdf_url",
        ]  # fmt: skip
        extra_kwargs = {
            "verification_code": {
                "help_text": gettext_lazy("核验码：在 verify_url 或 /api/v1/verify/{code}/ 核验"),
            }
        }

    def _absolute(self, url: str) -> str:
        return absolute_url(self.context.get("request"), url)

    def get_verify_url(self, letter: Letter) -> str | None:
        if not letter.verification_code:
            return None
        return verify_page_url(self.context.get("request"), letter.verification_code)

    def get_pdf_url(self, letter: Letter) -> str | None:
        if letter.status != RenderStatus.RENDERED:
            return None
        return self._absolute(reverse("api_letter_pdf", args=[letter.pk]))

    def get_url(self, letter: Letter) -> str:
        return self._absolute(reverse("api_letter_detail", args=[letter.pk]))


class LetterSerializer(LetterSummarySerializer):
    """One letter. `attempts`, `last_error`, `next_attempt_at` and `messages`
    are given to staff only (absent for applicants)."""

    decision_number = serializers.CharField(
        source="record.decision_number", read_only=True, default=None
    )
    commitment = serializers.SerializerMethodField()
    # Not read_only: a read-only field would be documented as always present.
    messages = OutboundMessageSerializer(many=True, required=False)

    STAFF_ONLY = ("attempts", "last_error", "next_attempt_at", "messages")

    class Meta(LetterSummarySerializer.Meta):
        fields = [
            *LetterSummarySerializer.Meta.fields,
            "decision_number", "commitment", "attempts", "last_error", "next_attempt_at",
            "messages",
        ]  # fmt: skip
        extra_kwargs = {
            "attempts": {"required": False},
            "last_error": {"required": False},
            "next_attempt_at": {"required": False},
        }

    def get_commitment(self, letter: Letter) -> int | None:
        if letter.kind != LetterKind.COMMITMENT:
            return None
        commitment = Commitment.objects.filter(draft=letter).first() or (
            Commitment.objects.filter(signed=letter).first()
        )
        return commitment.pk if commitment else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("staff"):
            for name in self.STAFF_ONLY:
                data.pop(name, None)
        return data


class CommitmentSerializer(ApiModelSerializer):
    status_label = ChoiceLabelField("status")
    draft = LetterSummarySerializer(read_only=True)
    signed = LetterSummarySerializer(read_only=True, allow_null=True)
    signer_capacity_label = ChoiceLabelField("signer_capacity")
    sign_url = serializers.SerializerMethodField()

    class Meta:
        model = Commitment
        fields = [
            "id", "record", "status", "status_label", "draft", "signed", "signer_name",
            "signer_capacity", "signer_capacity_label", "signed_at", "signed_sha256",
            "signed_ip", "signed_user_agent", "sign_url", "created_at",
        ]  # fmt: skip
        extra_kwargs = {"signed_ip": {"required": False}, "signed_user_agent": {"required": False}}

    def get_sign_url(self, commitment: Commitment) -> str:
        return absolute_url(
            self.context.get("request"), reverse("api_commitment_sign", args=[commitment.pk])
        )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("staff"):
            # The signer sees their own act in the letter; where it came from
            # is for the staff who check it.
            data.pop("signed_ip", None)
            data.pop("signed_user_agent", None)
        return data


class CommitmentSignSerializer(serializers.Serializer):
    """The signer is the authenticated account, by its registered name, in
    the capacity of its binding to the subject: no name is sent."""

    confirmed = serializers.BooleanField(
        required=False,
        default=False,
        help_text=gettext_lazy("已阅读并确认承诺内容（必须为 true）"),
    )
    draft_sha256 = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text=gettext_lazy("所阅读的待签署稿 PDF 的 SHA-256（即承诺书草稿的 sha256）"),
    )


class SignatureCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text=gettext_lazy("四项核验全部通过"))
    present = serializers.BooleanField(help_text=gettext_lazy("文件带有出具机关的电子签名"))
    intact = serializers.BooleanField(
        help_text=gettext_lazy("签名完好：签名后文件未被改动，签名值正确")
    )
    signer_matches = serializers.BooleanField(
        help_text=gettext_lazy("签名证书就是出具这份文书时使用的证书")
    )
    trusted = serializers.BooleanField(
        help_text=gettext_lazy("签名证书可追溯到本平台配置的信任根证书")
    )
    valid_at_signing = serializers.BooleanField(
        help_text=gettext_lazy("签名时证书在有效期内且未被吊销")
    )
    signer = serializers.CharField(help_text=gettext_lazy("签名证书的通用名称（CN）"))
    organisation = serializers.CharField(help_text=gettext_lazy("签名证书的单位（O）"))
    signed_at = LocalDateTimeField(allow_null=True)
    timestamped = serializers.BooleanField(help_text=gettext_lazy("签名带有可信时间戳（RFC 3161）"))
    failed = serializers.ListField(
        child=serializers.ChoiceField(choices=list(CHECKS)),
        help_text=gettext_lazy("未通过的核验项，按核验顺序"),
    )
    problems = serializers.ListField(
        child=serializers.CharField(), help_text=gettext_lazy("未通过的原因，与 failed 一一对应")
    )


class VerificationSerializer(serializers.Serializer):
    found = serializers.BooleanField()
    kind = serializers.CharField(required=False)
    kind_label = serializers.CharField(required=False)
    number = serializers.CharField(required=False)
    issued_at = LocalDateTimeField(required=False)
    issuer = serializers.CharField(required=False, allow_blank=True)
    sha256 = serializers.CharField(required=False)
    file_intact = serializers.BooleanField(
        required=False, help_text=gettext_lazy("存档文件仍与出具时的 SHA-256 一致")
    )
    matches = serializers.BooleanField(
        required=False,
        help_text=gettext_lazy("上传的文件是否与这份文书完全相同（仅 POST）"),
    )
    signature = SignatureCheckSerializer(
        required=False,
        allow_null=True,
        help_text=gettext_lazy("存档 PDF 的电子签名核验；null 表示文书出具时尚未启用电子签名"),
    )
    verification_code = serializers.CharField(required=False)
    verify_url = serializers.CharField(required=False)


# Helpers


def _is_staff(user) -> bool:
    return user.role in STAFF_ROLES


class FirstRendererNegotiation(BaseContentNegotiation):
    """The PDF endpoint answers a file whatever Accept says (and its errors in JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# Views


class LetterListApi(GenericAPIView):
    serializer_class = LetterSummarySerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        letters = letters_for_user(self.request.user).order_by("-issued_at", "-id")
        filters = query_choices(
            self.request.query_params, kind=LetterKind.values, status=RenderStatus.values
        )
        return letters.filter(**filters)

    @extend_schema(
        summary="List the letters the caller may see",
        description=(
            "Applicants: letters addressed to them or about a subject they act for (including "
            "commitment drafts, which have no number). Platform officers, supervisors and "
            "administrators: all; department reviewers: their department's records' letters; "
            "system accounts: none. "
            "`pdf_url` is null until the PDF is rendered."
        ),
        parameters=[
            OpenApiParameter("kind", enum=LetterKind.values),
            OpenApiParameter(
                "status", enum=RenderStatus.values, description=gettext_lazy("生成状态")
            ),
        ],
        responses={200: LetterSummarySerializer(many=True)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        data = LetterSummarySerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)


class LetterDetailApi(GenericAPIView):
    serializer_class = LetterSerializer
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="One letter",
        description=(
            "404 when the letter does not exist or the caller may not see it. Staff also get "
            "the rendering state (`attempts`, `last_error`, `next_attempt_at`) and every "
            "outbound message of the letter with its delivery events. A natural person's "
            "letter needs `purpose` for staff; the read is registered."
        ),
        parameters=[PURPOSE_PARAMETER],
        responses={200: LetterSerializer},
    )
    def get(self, request, pk: int):
        letter = letter_get_for_user(user=request.user, pk=pk)
        person_read_register(request, letter.subject, f"api:letter:{letter.pk}")
        staff = _is_staff(request.user)
        if staff:
            letter = (
                Letter.objects.select_related("record")
                .prefetch_related("messages__events")
                .get(pk=letter.pk)
            )
        return Response(LetterSerializer(letter, context={"request": request, "staff": staff}).data)


class LetterPdfApi(GenericAPIView):
    permission_classes = [IsAuthenticated]
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        summary="The letter's PDF",
        description=(
            "The stored bytes, whose SHA-256 is the letter's `sha256`. 409 while the PDF is "
            "still being rendered. A natural person's letter needs `purpose` for staff."
        ),
        parameters=[PURPOSE_PARAMETER],
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            409: OpenApiResponse(description="not rendered yet (code `not_rendered`, `status`)"),
        },
    )
    def get(self, request, pk: int):
        letter = letter_get_for_user(user=request.user, pk=pk)
        person_read_register(request, letter.subject, f"api:letter:{letter.pk}:pdf")
        if letter.status != RenderStatus.RENDERED:
            raise Conflict(
                _("文书正在生成，请稍后再试。"), code="not_rendered", status=letter.status
            )
        return pdf_response(letter)


class CommitmentDetailApi(GenericAPIView):
    serializer_class = CommitmentSerializer
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="One credit commitment",
        description=(
            "The draft letter to read (its `sha256` is what signing posts back) and, once "
            "signed, the signer, time, the hash of the draft signed and the signed letter. "
            "`signed_ip` and `signed_user_agent` are given to staff only."
        ),
        parameters=[PURPOSE_PARAMETER],
        responses={200: CommitmentSerializer},
    )
    def get(self, request, pk: int):
        commitment = commitment_get_for_user(user=request.user, pk=pk)
        person_read_register(request, commitment.subject, f"api:commitment:{commitment.pk}")
        context = {"request": request, "staff": _is_staff(request.user)}
        return Response(CommitmentSerializer(commitment, context=context).data)


SIGN_DESCRIPTION = """
Sign the credit commitment: the explicit act of an applicant bound to the
subject, part of the repair filing (sign it before submitting the case). The
signer is the authenticated account by its registered full name, in the
capacity of its binding (`self` 本人, `legal_representative` 法定代表人, or
`agent` 受托人, whose signature block reads "受托人：X（代理 Y）" and who must have
uploaded the power of attorney to the case first); no name is sent, and a
`signer_name` in the body is ignored. Send `confirmed: true` and the `sha256`
of the draft the applicant read (from the commitment's `draft`).

Refused with 400 in the error shape, with messages per field (`confirmed`,
`draft_sha256`, `non_field_errors`) when the account's name does not match the
subject's registered person (legal representative or the person themself), an
agent has no power of attorney on the filing, the box is not confirmed, the
draft changed or is not rendered yet, or the account is not bound to the
subject; 409 when it is already signed. Nothing is saved then. On success
(200) the commitment is returned with the numbered signed letter, rendered
after commit.
"""


class CommitmentSignApi(GenericAPIView):
    serializer_class = CommitmentSignSerializer
    parser_classes = [DepthLimitedJSONParser, FormParser, MultiPartParser]

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(Role.APPLICANT)()]

    @extend_schema(
        summary="Sign a credit commitment",
        description=SIGN_DESCRIPTION,
        request=CommitmentSignSerializer,
        responses={
            200: CommitmentSerializer,
            403: OpenApiResponse(description="only applicants sign"),
            409: OpenApiResponse(description="already signed (code `already_signed`)"),
        },
        examples=[
            OpenApiExample(
                "Sign",
                request_only=True,
                value={"confirmed": True, "draft_sha256": "9f2c…"},
            ),
            OpenApiExample(
                "Refused (400)",
                response_only=True,
                status_codes=["400"],
                value={
                    "detail": "您以委托代理人身份申请，须先在申请中上传授权委托书，"
                    "再以受托人身份签署承诺书。",
                    "code": "non_field_errors",
                    "non_field_errors": [
                        "您以委托代理人身份申请，须先在申请中上传授权委托书，"
                        "再以受托人身份签署承诺书。"
                    ],
                    "confirmed": ["请阅读承诺书并勾选确认后再签署。"],
                },
            ),
        ],
    )
    def post(self, request, pk: int):
        commitment = commitment_get_for_user(user=request.user, pk=pk)
        serializer = CommitmentSignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        commitment = case_commitment_sign(
            commitment=commitment,
            user=request.user,
            confirmed=data["confirmed"],
            draft_sha256=data["draft_sha256"],
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(CommitmentSerializer(commitment, context={"request": request}).data)


def _verification_body(request, result) -> dict:
    if not result.found:
        raise ApiError(
            _("没有这个核验码的文书。"),
            code="not_found",
            status_code=status.HTTP_404_NOT_FOUND,
            found=False,
        )
    letter = result.letter
    facts = public_facts(result)
    body = {
        "found": True,
        "kind": letter.kind,
        "kind_label": facts["kind_label"],
        "number": facts["number"],
        "issued_at": facts["issued_at"],
        "issuer": facts["issuer"],
        "sha256": facts["sha256"],
        "file_intact": result.file_intact,
        "signature": _signature_body(result.signature),
        "verification_code": letter.verification_code,
        "verify_url": verify_page_url(request, letter.verification_code),
    }
    if result.matches is not None:
        body["matches"] = result.matches
    return VerificationSerializer(body).data


def _signature_body(check) -> dict | None:
    if check is None:
        return None
    return {
        "ok": check.ok,
        "present": check.present,
        "intact": check.intact,
        "signer_matches": check.signer_matches,
        "trusted": check.trusted,
        "valid_at_signing": check.valid_at_signing,
        "signer": check.signer,
        "organisation": check.organisation,
        "signed_at": check.signed_at,
        "timestamped": check.timestamped,
        "failed": check.failed,
        "problems": check.problems,
    }


class VerifyApi(GenericAPIView):
    serializer_class = VerificationSerializer
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Verify a letter by its code (public)",
        description=(
            "No login. Says whether a letter with this code was issued here, its number, kind, "
            "issue date, issuer and SHA-256, whether the stored file still has that hash, and "
            "the check of its PDF signature (`signature`: intact, signer, chain to the "
            "configured trust roots, certificate valid at signing time; `failed` names each "
            "check that failed). "
            "Never personal data. 404 in the error shape with `found: false` for an unknown "
            "code."
        ),
        auth=[],
        responses={
            200: VerificationSerializer,
            404: OpenApiResponse(description="no letter with this code (`found: false`)"),
        },
    )
    def get(self, request, code: str):
        return Response(_verification_body(request, letter_verify(code=code)))

    @extend_schema(
        summary="Check an uploaded PDF against a letter (public)",
        description=(
            "The checks of GET (the stored file's hash and PDF signature). With the optional "
            "multipart field `file` (a PDF of at most 10 MB), `matches` says whether it is "
            "exactly this letter, byte for byte. 400 with a message under `file` for an "
            "empty, oversized or non-PDF upload."
        ),
        auth=[],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        responses={
            200: VerificationSerializer,
            400: OpenApiResponse(description="an unusable file (messages under `file`)"),
            404: OpenApiResponse(description="no letter with this code (`found: false`)"),
        },
    )
    def post(self, request, code: str):
        if "file" not in request.FILES:
            return Response(_verification_body(request, letter_verify(code=code)))
        form = VerifyUploadForm(data=request.POST, files=request.FILES)
        if not form.is_valid():
            raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
        result = letter_verify(code=code, upload=form.cleaned_data["file"].read())
        return Response(_verification_body(request, result))


urlpatterns = [
    path("letters/", LetterListApi.as_view(), name="api_letters"),
    path("letters/<int:pk>/", LetterDetailApi.as_view(), name="api_letter_detail"),
    path("letters/<int:pk>/pdf/", LetterPdfApi.as_view(), name="api_letter_pdf"),
    path("commitments/<int:pk>/", CommitmentDetailApi.as_view(), name="api_commitment_detail"),
    path("commitments/<int:pk>/sign/", CommitmentSignApi.as_view(), name="api_commitment_sign"),
    path("verify/<str:code>/", VerifyApi.as_view(), name="api_verify"),
]
