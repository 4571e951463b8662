"""Letters over HTTP: what applicants and staff may read, signing the
commitment, and public verification.

GET  /api/v1/letters/                 the letters the caller may see, paginated
GET  /api/v1/letters/{id}/            one of them (staff also see rendering and messages)
GET  /api/v1/letters/{id}/pdf         its PDF
GET  /api/v1/commitments/{id}/        a commitment, with its draft and signed letters
POST /api/v1/commitments/{id}/sign    sign it (the bound applicant)
GET  /api/v1/verify/{code}            public: is this a letter of ours, is the file intact
POST /api/v1/verify/{code}            public: is this uploaded PDF exactly that letter

Scoping is the pages' (letters.commitments selectors): 404 for what the caller
may not see. A staff read of a natural person's letter or commitment needs a
stated `purpose` and is registered (shared domain reference section 8).
"""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
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
from letters.services import letter_verify, verify_url
from letters.views import VerifyUploadForm, client_ip, pdf_response, public_facts
from records.api import PURPOSE_PARAMETER, purpose_error
from repair_flow.access import REGISTERED_ROLES, access_register, purpose_is_valid
from repair_flow.models import STAFF_ROLES, Role
from repair_flow.roles import role_permission

# Serializers


class DeliveryEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryEvent
        fields = ["event_type", "event_id", "occurred_at", "description", "received_at"]


class OutboundMessageSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    events = DeliveryEventSerializer(many=True, read_only=True)

    class Meta:
        model = OutboundMessage
        fields = [
            "id", "channel", "to", "subject", "status", "status_label", "attempts",
            "next_attempt_at", "sent_at", "last_error", "events",
        ]  # fmt: skip


class LetterSummarySerializer(serializers.ModelSerializer):
    """A letter in a list: no personal data, so a list needs no purpose."""

    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    is_draft = serializers.BooleanField(read_only=True)
    verify_url = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Letter
        fields = [
            "id", "url", "kind", "kind_label", "number", "is_draft", "issued_at", "issuer",
            "case_label", "record", "status", "status_label", "sha256", "size", "pages",
            "rendered_at", "verify_url", "pdf_url",
        ]  # fmt: skip

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url

    def get_verify_url(self, letter: Letter) -> str | None:
        return verify_url(letter) if letter.verification_code else None

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
    messages = OutboundMessageSerializer(many=True, read_only=True, required=False)

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


class CommitmentSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    draft = LetterSummarySerializer(read_only=True)
    signed = LetterSummarySerializer(read_only=True, allow_null=True)
    sign_url = serializers.SerializerMethodField()

    class Meta:
        model = Commitment
        fields = [
            "id", "record", "status", "status_label", "draft", "signed", "signer_name",
            "signed_at", "signed_sha256", "signed_ip", "signed_user_agent", "sign_url",
            "created_at",
        ]  # fmt: skip
        extra_kwargs = {"signed_ip": {"required": False}, "signed_user_agent": {"required": False}}

    def get_sign_url(self, commitment: Commitment) -> str:
        url = reverse("api_commitment_sign", args=[commitment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("staff"):
            # The signer sees their own act in the letter; where it came from
            # is for the staff who check it.
            data.pop("signed_ip", None)
            data.pop("signed_user_agent", None)
        return data


class CommitmentSignSerializer(serializers.Serializer):
    signer_name = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text=gettext_lazy("签署人姓名：企业为登记的法定代表人，自然人为本人（空格不计）"),
    )
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


class VerificationSerializer(serializers.Serializer):
    found = serializers.BooleanField()
    kind = serializers.CharField(required=False)
    kind_label = serializers.CharField(required=False)
    number = serializers.CharField(required=False)
    issued_at = serializers.DateTimeField(required=False)
    issuer = serializers.CharField(required=False, allow_blank=True)
    sha256 = serializers.CharField(required=False)
    file_intact = serializers.BooleanField(
        required=False, help_text=gettext_lazy("存档文件仍与出具时的 SHA-256 一致")
    )
    matches = serializers.BooleanField(
        required=False,
        help_text=gettext_lazy("上传的文件是否与这份文书完全相同（仅 POST）"),
    )
    verify_url = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)


# Helpers


def _is_staff(user) -> bool:
    return user.role in STAFF_ROLES


def _person_read_refused(request, subject, what: str) -> Response | None:
    """A staff or system read of a natural person's letter needs a valid
    `purpose` and is registered; 400 otherwise."""
    purpose = request.query_params.get("purpose")
    if purpose is not None and not purpose_is_valid(purpose):
        return purpose_error(purpose)
    if subject is None or not subject.is_person or request.user.role not in REGISTERED_ROLES:
        return None
    if purpose is None:
        return purpose_error(None)
    with transaction.atomic():
        access_register(
            user=request.user, subject=subject, what=what, purpose=purpose, channel="api"
        )
    return None


class FirstRendererNegotiation(BaseContentNegotiation):
    """The PDF endpoint answers a file whatever Accept says (and its errors in JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _errors_by_field(error: DjangoValidationError) -> dict[str, list[str]]:
    body: dict[str, list[str]] = {}
    for field, messages in error.message_dict.items():
        key = "non_field_errors" if field == NON_FIELD_ERRORS else field
        body.setdefault(key, []).extend(messages)
    return body


def _codes(error: DjangoValidationError) -> set[str]:
    return {e.code for errors in error.error_dict.values() for e in errors if e.code}


# Views


class LetterListApi(GenericAPIView):
    serializer_class = LetterSummarySerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        letters = letters_for_user(self.request.user).order_by("-issued_at", "-id")
        params = self.request.query_params
        if params.get("kind") in LetterKind.values:
            letters = letters.filter(kind=params["kind"])
        if params.get("status") in RenderStatus.values:
            letters = letters.filter(status=params["status"])
        return letters

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
        responses={200: LetterSummarySerializer(many=True), 401: OpenApiResponse()},
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
        responses={
            200: LetterSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="purpose missing or invalid"),
            404: OpenApiResponse(description="not found or not visible to the caller"),
        },
    )
    def get(self, request, pk: int):
        letter = letter_get_for_user(user=request.user, pk=pk)
        refused = _person_read_refused(request, letter.subject, f"api:letter:{letter.pk}")
        if refused is not None:
            return refused
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
            404: OpenApiResponse(description="not found or not visible to the caller"),
            409: OpenApiResponse(OpenApiTypes.OBJECT, description="not rendered yet"),
        },
    )
    def get(self, request, pk: int):
        letter = letter_get_for_user(user=request.user, pk=pk)
        refused = _person_read_refused(request, letter.subject, f"api:letter:{letter.pk}:pdf")
        if refused is not None:
            return refused
        if letter.status != RenderStatus.RENDERED:
            return Response(
                {
                    "detail": _("文书正在生成，请稍后再试。"),
                    "status": letter.status,
                    "code": "not_rendered",
                },
                status=status.HTTP_409_CONFLICT,
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
        responses={200: CommitmentSerializer, 404: OpenApiResponse()},
    )
    def get(self, request, pk: int):
        commitment = commitment_get_for_user(user=request.user, pk=pk)
        refused = _person_read_refused(
            request, commitment.subject, f"api:commitment:{commitment.pk}"
        )
        if refused is not None:
            return refused
        context = {"request": request, "staff": _is_staff(request.user)}
        return Response(CommitmentSerializer(commitment, context=context).data)


SIGN_DESCRIPTION = """
Sign the credit commitment: the explicit act of an applicant bound to the
subject. Send the typed full name (the legal representative's for an
enterprise, the person's own for a natural person), `confirmed: true`, and
the `sha256` of the draft the applicant read (from the commitment's `draft`).

Refused with 400 and messages per field (`signer_name`, `confirmed`,
`draft_sha256`, `non_field_errors`) when the name does not match, the box is
not confirmed, the draft changed or is not rendered yet, or the account is
not bound to the subject; 409 when it is already signed. Nothing is saved
then. On success (200) the commitment is returned with the numbered signed
letter, rendered after commit.
"""


class CommitmentSignApi(GenericAPIView):
    serializer_class = CommitmentSignSerializer
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_permissions(self):
        return [IsAuthenticated(), role_permission(Role.APPLICANT)()]

    @extend_schema(
        summary="Sign a credit commitment",
        description=SIGN_DESCRIPTION,
        request=CommitmentSignSerializer,
        responses={
            200: CommitmentSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="refused: messages per field"),
            403: OpenApiResponse(description="only applicants sign"),
            404: OpenApiResponse(description="not found or not visible to the caller"),
            409: OpenApiResponse(OpenApiTypes.OBJECT, description="already signed"),
        },
        examples=[
            OpenApiExample(
                "Sign",
                request_only=True,
                value={"signer_name": "张伟", "confirmed": True, "draft_sha256": "9f2c…"},
            ),
            OpenApiExample(
                "Refused (400)",
                response_only=True,
                status_codes=["400"],
                value={
                    "signer_name": ["签署人姓名应与该企业登记的法定代表人姓名完全一致。"],
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
        try:
            commitment = case_commitment_sign(
                commitment=commitment,
                user=request.user,
                signer_name=data["signer_name"],
                confirmed=data["confirmed"],
                draft_sha256=data["draft_sha256"],
                ip=client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
        except DjangoValidationError as error:
            code = (
                status.HTTP_409_CONFLICT
                if "already_signed" in _codes(error)
                else status.HTTP_400_BAD_REQUEST
            )
            return Response(_errors_by_field(error), status=code)
        return Response(CommitmentSerializer(commitment, context={"request": request}).data)


def _verification_body(result) -> dict:
    if not result.found:
        return {"found": False, "detail": _("没有这个核验码的文书。")}
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
        "verify_url": verify_url(letter),
    }
    if result.matches is not None:
        body["matches"] = result.matches
    return VerificationSerializer(body).data


class VerifyApi(GenericAPIView):
    serializer_class = VerificationSerializer
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Verify a letter by its code (public)",
        description=(
            "No login. Says whether a letter with this code was issued here, its number, kind, "
            "issue date, issuer and SHA-256, and whether the stored file still has that hash. "
            "Never personal data. 404 with `found: false` for an unknown code."
        ),
        auth=[],
        responses={200: VerificationSerializer, 404: VerificationSerializer},
    )
    def get(self, request, code: str):
        result = letter_verify(code=code)
        return Response(
            _verification_body(result),
            status=status.HTTP_200_OK if result.found else status.HTTP_404_NOT_FOUND,
        )

    @extend_schema(
        summary="Check an uploaded PDF against a letter (public)",
        description=(
            "Multipart field `file` (a PDF of at most 10 MB). `matches` says whether it is "
            "exactly this letter, byte for byte. 400 with a message under `file` for a missing, "
            "empty, oversized or non-PDF upload."
        ),
        auth=[],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        responses={
            200: VerificationSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="no usable file"),
            404: VerificationSerializer,
        },
    )
    def post(self, request, code: str):
        form = VerifyUploadForm(data=request.POST, files=request.FILES)
        if not form.is_valid():
            return Response(
                {field: list(errors) for field, errors in form.errors.items()},
                status=status.HTTP_400_BAD_REQUEST,
            )
        result = letter_verify(code=code, upload=form.cleaned_data["file"].read())
        return Response(
            _verification_body(result),
            status=status.HTTP_200_OK if result.found else status.HTTP_404_NOT_FOUND,
        )


urlpatterns = [
    path("letters/", LetterListApi.as_view(), name="api_letters"),
    path("letters/<int:pk>/", LetterDetailApi.as_view(), name="api_letter_detail"),
    path("letters/<int:pk>/pdf", LetterPdfApi.as_view(), name="api_letter_pdf"),
    path("commitments/<int:pk>/", CommitmentDetailApi.as_view(), name="api_commitment_detail"),
    path("commitments/<int:pk>/sign", CommitmentSignApi.as_view(), name="api_commitment_sign"),
    path("verify/<str:code>", VerifyApi.as_view(), name="api_verify"),
]
