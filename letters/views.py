"""Letter pages: 我的文书, the PDF, the commitment to read and sign, the staff
view of a letter's rendering and messages, and public verification.

Views read through the selectors in letters.commitments and write through
the services; the rules live there.
"""

from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from flows.models import CaseStatus
from flows.repair.services import case_commitment_sign, commitment_agent_authorised
from letters.commitments import (
    commitment_case,
    commitment_create,
    commitment_get_for_user,
    commitment_open_for_record,
    commitment_signer,
    letter_get_for_user,
    letters_for_user,
    signer_problem,
)
from letters.links import verify_url
from letters.models import CommitmentStatus, Letter, LetterKind, OutboundMessage, RenderStatus
from letters.outbox import RESEND_MARK, RESEND_ROLES, message_resend
from letters.preview import PreviewUnavailable, letter_page_png
from letters.services import letter_retry_render, letter_verify
from records.selectors import record_get_for_user
from repair_flow.access import purpose_or_redirect
from repair_flow.models import Role
from repair_flow.paging import EstimatedCountPaginator
from repair_flow.roles import role_required

STAFF = (Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMINISTRATOR)
# Who may ask for a failed render to run again now.
RETRY_ROLES = (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR)
# A letter is a few hundred KB; anything this large is not one of ours.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def client_ip(request) -> str | None:
    # The proxy in front (see deploy notes) sets REMOTE_ADDR via its own
    # header handling; never trust a client-supplied X-Forwarded-For here.
    return request.META.get("REMOTE_ADDR") or None


def pdf_response(letter: Letter) -> FileResponse:
    """The stored PDF, streamed, shown in the browser under its number."""
    if letter.status != RenderStatus.RENDERED or not letter.file:
        raise Http404(_("文书正在生成，请稍后再试。"))
    try:
        handle = letter.file.open("rb")
    except OSError:
        raise Http404(_("文书文件暂时无法读取，请联系信用平台。")) from None
    name = letter.number or f"{letter.get_kind_display()}-{_('待签署')}-{letter.pk}"
    response = FileResponse(handle, content_type="application/pdf")
    response["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(name + '.pdf')}"
    return response


# 我的文书 and the staff list


@login_required
def letter_list(request):
    letters = letters_for_user(request.user).select_related("commitment_draft")
    # A draft whose commitment is signed (or void) is superseded by the
    # signed letter; the list shows only what the applicant still needs.
    letters = letters.exclude(
        Q(number__isnull=True)
        & Q(commitment_draft__status__in=[CommitmentStatus.SIGNED, CommitmentStatus.VOID])
    )
    kind = request.GET.get("kind", "")
    if kind in LetterKind.values:
        letters = letters.filter(kind=kind)
    q = request.GET.get("q", "").strip()
    if q:
        # A number by its beginning, as the task queue and the records list
        # search numbers: each column through its own index (issue 18:
        # `icontains` read 250,000 letters of 300,000 to find a case's 3, 378 ms).
        letters = letters.filter(Q(number__startswith=q) | Q(case_label__startswith=q))
    page = EstimatedCountPaginator(letters.order_by("-issued_at", "-id"), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "letters/pages/letter_list.html",
        {
            "page": page,
            "kinds": LetterKind.choices,
            "kind": kind,
            "q": q,
            "query": urlencode({"q": q, "kind": kind}),
            "is_applicant": request.user.role == Role.APPLICANT,
        },
    )


@login_required
def letter_pdf(request, pk: int):
    letter = letter_get_for_user(user=request.user, pk=pk)
    response = purpose_or_redirect(request, letter.subject, f"letter:{letter.pk}:pdf")
    if response is not None:
        return response
    return pdf_response(letter)


@login_required
def letter_page_image(request, pk: int, page: int):
    """Page `page` of a letter as a PNG (same permissions as its PDF)."""
    letter = letter_get_for_user(user=request.user, pk=pk)
    response = purpose_or_redirect(request, letter.subject, f"letter:{letter.pk}:pdf")
    if response is not None:
        return response
    try:
        image = letter_page_png(letter, page)
    except PreviewUnavailable:
        raise Http404(_("文书正在生成，请稍后再试。")) from None
    # A page of a letter is personal data: never cached (the middleware's no-store).
    response = FileResponse(image, content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@role_required(*STAFF)
def letter_detail(request, pk: int):
    letter = letter_get_for_user(user=request.user, pk=pk)
    response = purpose_or_redirect(request, letter.subject, f"letter:{letter.pk}")
    if response is not None:
        return response
    commitment = (
        getattr(letter, "commitment_draft", None) or getattr(letter, "commitment_signed", None)
        if letter.kind == LetterKind.COMMITMENT
        else None
    )
    outbound = list(letter.messages.prefetch_related("events").order_by("created_at", "id"))
    # Only the latest row of each message (a resend is a new row) may be resent.
    latest = {m.idempotency_key.split(RESEND_MARK)[0]: m.pk for m in outbound}
    resendable = set(latest.values()) if request.user.role in RESEND_ROLES else set()
    return render(
        request,
        "letters/pages/letter_detail.html",
        {
            "letter": letter,
            "commitment": commitment,
            "outbound": outbound,
            "resendable": resendable,
            "verify_link": verify_url(letter) if letter.verification_code else "",
            "can_retry": request.user.role in RETRY_ROLES
            and letter.status != RenderStatus.RENDERED,
        },
    )


@require_POST
@role_required(*RETRY_ROLES)
def letter_retry(request, pk: int):
    letter = letter_get_for_user(user=request.user, pk=pk)
    try:
        result = letter_retry_render(letter=letter, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if result.rendered:
            messages.success(request, _("文书已重新生成。"))
        elif result.error:
            messages.error(request, _("重新生成仍未成功：%(error)s") % {"error": result.error})
        else:
            messages.info(request, _("文书正在由其他任务生成，请稍后刷新。"))
    return redirect("letters:detail", pk=letter.pk)


@require_POST
@role_required(*RESEND_ROLES)
def message_resend_view(request, pk: int, message_pk: int):
    """Send a failed message again (a new outbox row), after an officer checked it."""
    letter = letter_get_for_user(user=request.user, pk=pk)
    message = get_object_or_404(OutboundMessage, pk=message_pk, letter=letter)
    try:
        new = message_resend(message=message, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("已重新排队发送至 %(to)s。") % {"to": new.display_to})
    return redirect("letters:detail", pk=letter.pk)


# The commitment


class CommitmentSignForm(forms.Form):
    """Carries the confirmation and the draft's checksum; who signs is the
    account (no name is typed), and the rules are the service's."""

    confirmed = forms.BooleanField(
        label=gettext_lazy(
            "本人已阅读并承诺以上内容真实、准确、完整，如违反承诺，"
            "自愿接受撤销信用修复决定及相应惩戒。"
        ),
        required=False,
    )
    draft_sha256 = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)


def _sign_context(request, commitment, form):
    user = request.user
    signer = commitment_signer(user=user, subject=commitment.subject)
    can_sign = (
        user.role == Role.APPLICANT
        and commitment.status == CommitmentStatus.DRAFT
        and signer is not None
    )
    signed = commitment.signed
    case = commitment_case(commitment)
    problem = ""
    if can_sign:
        # Said before the applicant reads on, not only after they try.
        problem, _code = signer_problem(
            signer,
            commitment.subject,
            agent_authorised=commitment_agent_authorised(commitment),
        )
    return {
        "commitment": commitment,
        "draft": commitment.draft,
        "draft_pages": range(1, (commitment.draft.pages or 1) + 1),
        "signed": signed,
        "facts": commitment.draft.facts,
        "subject": commitment.subject,
        "record": commitment.record,
        "form": form,
        "can_sign": can_sign,
        "signer": signer,
        "signer_problem": problem,
        "signed_block": (signed.facts.get("signature") or {}).get("block", "") if signed else "",
        "case": case,
        "verify_link": verify_url(signed) if signed and signed.verification_code else "",
    }


@login_required
def commitment_detail(request, pk: int):
    commitment = commitment_get_for_user(user=request.user, pk=pk)
    response = purpose_or_redirect(request, commitment.subject, f"commitment:{commitment.pk}")
    if response is not None:
        return response
    status = 200
    if request.method == "POST":
        form = CommitmentSignForm(request.POST)
        if form.is_valid():
            try:
                case_commitment_sign(
                    commitment=commitment,
                    user=request.user,
                    confirmed=form.cleaned_data["confirmed"],
                    draft_sha256=form.cleaned_data["draft_sha256"],
                    ip=client_ip(request),
                    user_agent=request.headers.get("User-Agent", ""),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                case = commitment_case(commitment)
                if case is not None and case.status == CaseStatus.DRAFT:
                    # Signed as part of the filing: back to the filing to submit it.
                    messages.success(request, _("承诺书已签署，请提交申请。"))
                    return redirect("flows:materials", pk=case.pk)
                messages.success(request, _("承诺书已签署。"))
                return redirect("letters:commitment", pk=commitment.pk)
        status = 400
        commitment.refresh_from_db()
    else:
        form = CommitmentSignForm(initial={"draft_sha256": commitment.draft.sha256})
    return render(
        request,
        "letters/pages/commitment.html",
        _sign_context(request, commitment, form),
        status=status,
    )


@role_required(Role.APPLICANT)
def commitment_open(request, record_pk: int):
    """An applicant opens the commitment for one of their records (the repair
    case opens it itself; this is the standalone way in)."""
    record = record_get_for_user(user=request.user, pk=record_pk)
    existing = commitment_open_for_record(record)
    if request.method == "POST":
        commitment = existing or commitment_create(record=record, actor=request.user)
        return redirect("letters:commitment", pk=commitment.pk)
    return render(
        request,
        "letters/pages/commitment_open.html",
        {"record": record, "existing": existing},
    )


# Public verification (no login, no personal data)


class VerifyUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("上传 PDF 文件核对"),
        error_messages={
            "required": gettext_lazy("请选择要核对的 PDF 文件。"),
            "empty": gettext_lazy("上传的文件是空的。"),
        },
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                _("文件超过 %(mb)d MB，不可能是本平台出具的文书。")
                % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)}
            )
        head = upload.read(5)
        upload.seek(0)
        if head != b"%PDF-":
            raise ValidationError(_("上传的文件不是 PDF 文件。"))
        return upload


def normalise_code(code: str) -> str:
    return (code or "").strip().upper().replace("-", "").replace(" ", "")


def verify_form(request):
    code = normalise_code(request.GET.get("code", ""))
    if code:
        return redirect("verify:letter", code=code)
    return render(request, "letters/pages/verify_form.html", {"asked": "code" in request.GET})


def verify_letter(request, code: str):
    upload = None
    form = VerifyUploadForm()
    status = 200
    if request.method == "POST":
        form = VerifyUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"].read()
        else:
            status = 400
    result = letter_verify(code=code, upload=upload)
    if not result.found:
        status = 404
    return render(
        request,
        "letters/pages/verify.html",
        {"code": normalise_code(code), "result": result, "form": form, **public_facts(result)},
        status=status,
    )


def public_facts(result) -> dict:
    """What a stranger may learn about a letter: never who it concerns."""
    letter = result.letter
    if letter is None:
        return {}
    return {
        "number": letter.number,
        "kind_label": letter.get_kind_display(),
        "issued_at": letter.issued_at,
        # Never the subject's own name (a natural person's, perhaps), whoever
        # is recorded as the issuer.
        "issuer": "" if letter.subject and letter.issuer == letter.subject.name else letter.issuer,
        "sha256": letter.sha256,
    }
