"""The credit commitment (信用修复承诺书): opening it, signing it, and who sees
which letters.

Domain section 3: one commitment per penalty record, part of the filing. The
applicant reads the draft PDF and signs it by an explicit act (ticked
confirmation) as the person their account names, in the capacity their
binding states (本人, 法定代表人, or 受托人 under a power of attorney);
the signature keeps the SHA-256 of the exact draft PDF the page showed, and
the numbered signed letter repeats the draft's frozen facts with the
signature block.
"""

import datetime as dt
import unicodedata
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import FilteredRelation, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from letters.kinds import addressee_facts, record_facts
from letters.models import (
    Commitment,
    CommitmentStatus,
    Letter,
    LetterKind,
    RenderStatus,
)
from letters.services import file_sha256, letter_issue
from records.models import BindingCapacity, SubjectBinding
from records.selectors import reviewer_department_id
from repair_flow.audit import audit_record
from repair_flow.models import Role

# Roles that see every letter and commitment (platform staff).
ALL_LETTERS_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR})


# Selectors


def _bound_subjects(user):
    return SubjectBinding.objects.filter(user=user).values("subject_id")


def letters_for_user(user) -> QuerySet[Letter]:
    """Applicants: letters addressed to them or about a subject they act for;
    platform staff: all; department reviewers: their department's records'
    letters; anyone else: none."""
    letters = Letter.objects.select_related("record__department", "subject")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return letters.none()
    if user.role == Role.APPLICANT:
        # The user's own binding of the letter's subject, joined (one row at
        # most: a user binds a subject once), not a subquery ORed with the
        # recipient: that was a hash of every binding built for each page,
        # 60 ms for an agent of 100,000 subjects; the join is an index probe
        # per letter along the list's order (issue 18).
        letters = letters.annotate(
            own_binding=FilteredRelation(
                "subject__bindings", condition=Q(subject__bindings__user=user)
            )
        )
        return letters.filter(Q(recipient=user) | Q(own_binding__isnull=False))
    if user.role in ALL_LETTERS_ROLES:
        return letters
    if user.role == Role.REVIEWER:
        department_id = reviewer_department_id(user)
        if department_id is None:
            return letters.none()
        return letters.filter(record__department_id=department_id)
    return letters.none()


def letter_get_for_user(*, user, pk: int) -> Letter:
    try:
        return letters_for_user(user).get(pk=pk)
    except Letter.DoesNotExist:
        raise Http404(_("没有这份文书，或您无权查看。")) from None


def commitments_for_user(user) -> QuerySet[Commitment]:
    commitments = Commitment.objects.select_related(
        "record__department", "subject", "draft", "signed", "signed_by"
    )
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return commitments.none()
    if user.role == Role.APPLICANT:
        return commitments.filter(subject_id__in=_bound_subjects(user))
    if user.role in ALL_LETTERS_ROLES:
        return commitments
    if user.role == Role.REVIEWER:
        department_id = reviewer_department_id(user)
        if department_id is None:
            return commitments.none()
        return commitments.filter(record__department_id=department_id)
    return commitments.none()


def commitment_get_for_user(*, user, pk: int) -> Commitment:
    try:
        return commitments_for_user(user).get(pk=pk)
    except Commitment.DoesNotExist:
        raise Http404(_("没有这份承诺书，或您无权查看。")) from None


def commitment_open_for_record(record) -> Commitment | None:
    return (
        Commitment.objects.select_related("draft", "signed")
        .filter(record=record)
        .exclude(status=CommitmentStatus.VOID)
        .first()
    )


# Services


def commitment_case(commitment: Commitment):
    if commitment.case_type_id is None or commitment.case_id is None:
        return None
    model = ContentType.objects.get_for_id(commitment.case_type_id).model_class()
    return model._default_manager.filter(pk=commitment.case_id).first()


def commitment_create(*, record, actor, case=None) -> Commitment:
    """Open the commitment for a record: the draft letter the applicant reads.

    Calling it again (or twice at once) returns the open commitment: the
    database allows one per record, and the loser's draft is rolled back with
    its savepoint.
    """
    existing = commitment_open_for_record(record)
    if existing is not None:
        if case is not None and existing.case_id is None:
            _attach_case(existing, case)
        return existing
    subject = record.subject
    try:
        with transaction.atomic():
            draft = letter_issue(
                kind=LetterKind.COMMITMENT,
                draft=True,
                facts={"addressee": addressee_facts(subject), "record": record_facts(record)},
                actor=actor,
                case=case,
                record=record,
                subject=subject,
                # The issuer is the institution (letters.issuers): the
                # commitment is addressed to it and numbered by it; the
                # subject is the addressee block and the signer.
            )
            link = {}
            if case is not None:
                link = {"case_type": ContentType.objects.get_for_model(case), "case_id": case.pk}
            commitment = Commitment.objects.create(
                record=record, subject=subject, draft=draft, **link
            )
            audit_record(
                actor=actor,
                action="commitment.create",
                object_type="letters.Commitment",
                object_id=commitment.pk,
                summary={"record": record.decision_number, "draft": draft.pk},
            )
    except IntegrityError:
        existing = commitment_open_for_record(record)
        if existing is None:
            raise
        return existing
    return commitment


def _attach_case(commitment: Commitment, case) -> None:
    """A commitment opened before its case (from the record's page) becomes
    part of the case file when the case reaches it; a commitment that already
    belongs to a case is never moved."""
    link = {"case_type": ContentType.objects.get_for_model(case), "case_id": case.pk}
    if Commitment.objects.filter(pk=commitment.pk, case_id=None).update(**link):
        Letter.objects.filter(pk=commitment.draft_id, case_id=None).update(
            **link, case_label=str(getattr(case, "label", "") or case)[:100]
        )
    commitment.refresh_from_db()


def commitment_void(*, commitment: Commitment, actor, reason: str) -> bool:
    """Void an unsigned commitment (its case was withdrawn): the record's next
    case opens a fresh draft. A signed one is never voided here: the subject
    did commit. Returns whether it was voided; call inside the caller's
    transaction."""
    voided = Commitment.objects.filter(pk=commitment.pk, status=CommitmentStatus.DRAFT).update(
        status=CommitmentStatus.VOID
    )
    if voided:
        audit_record(
            actor=actor,
            action="commitment.void",
            object_type="letters.Commitment",
            object_id=commitment.pk,
            summary={"reason": reason},
        )
    return bool(voided)


def normalise_name(name: str) -> str:
    """Compare names as people type them: full-width forms folded (NFKC) and
    every space dropped, so "张 伟" and "张伟　" are "张伟"."""
    return "".join(unicodedata.normalize("NFKC", name or "").split())


def expected_signer(subject) -> str:
    """Whom an objection's attestation names: the legal representative of an
    enterprise, the person themself for a natural person."""
    return subject.name if subject.is_person else subject.legal_representative


@dataclass(frozen=True)
class Signer:
    """Who signs: the logged-in person by the name on their account, in the
    capacity their binding to the subject states; an agent signs as agent
    for the subject (`principal`), never in the subject's or anyone's name."""

    name: str
    capacity: str
    principal: str

    @property
    def capacity_label(self) -> str:
        return str(BindingCapacity(self.capacity).label) if self.capacity else ""

    @property
    def block(self) -> str:
        """The signature line, as the signed letter prints it (the letter is a
        Chinese document whatever the page's language, so no gettext)."""
        if self.capacity == BindingCapacity.AGENT:
            return f"受托人：{self.name}（代理 {self.principal}）"
        if self.capacity == BindingCapacity.LEGAL_REPRESENTATIVE:
            return f"法定代表人：{self.name}"
        return f"承诺人：{self.name}"


def commitment_signer(*, user, subject) -> Signer | None:
    """The signer `user` would be for `subject`, or None when their account
    is not bound to it."""
    binding = SubjectBinding.objects.filter(user=user, subject=subject).first()
    if binding is None:
        return None
    return Signer(
        name=" ".join(display_name_of(user).split()),
        capacity=binding.capacity,
        principal=subject.name,
    )


def display_name_of(user) -> str:
    """The account's registered name; never the username (a login, not a name)."""
    return (user.get_full_name() or "").strip()


def signer_problem(
    signer: Signer | None, subject, *, agent_authorised: bool, what: str | None = None
) -> tuple[str, str]:
    """Why this account cannot sign for the subject ("", "" when it can).
    `what` names what is signed (default 承诺书; an objection's 异议承诺), in
    the "signed document" context: lower case in the English messages."""
    what = what or pgettext("signed document", "承诺书")
    if signer is None:
        return _("您的账号没有绑定该信用主体，不能代其签署%(what)s。") % {"what": what}, "not_bound"
    if not signer.name:
        return (
            _("您的账号没有登记姓名，不能签署%(what)s；请联系信用平台完善账号的实名信息。")
            % {"what": what},
            "no_account_name",
        )
    if signer.capacity == BindingCapacity.AGENT:
        if not agent_authorised:
            return (
                _(
                    "您以委托代理人身份申请，须先在申请中上传授权委托书，"
                    "再以受托人身份签署%(what)s。"
                )
                % {"what": what},
                "no_power_of_attorney",
            )
        return "", ""
    if signer.capacity == BindingCapacity.LEGAL_REPRESENTATIVE:
        if subject.is_person:
            return _("自然人的%(what)s由本人签署。") % {"what": what}, "wrong_capacity"
        if not subject.legal_representative:
            return (
                _("该企业未登记法定代表人，无法核对签署人，请联系信用平台更正主体信息。"),
                "no_legal_representative",
            )
        if normalise_name(signer.name) != normalise_name(subject.legal_representative):
            return (
                _(
                    "您的账号姓名“%(name)s”与该企业登记的法定代表人不一致，不能以法定代表人"
                    "身份签署；他人代为办理的，请以委托代理人身份绑定并上传授权委托书。"
                )
                % {"name": signer.name},
                "name_mismatch",
            )
        return "", ""
    # The person themself (本人).
    if not subject.is_person:
        return _("企业的%(what)s由法定代表人或受托人签署。") % {"what": what}, "wrong_capacity"
    if normalise_name(signer.name) != normalise_name(subject.name):
        return (
            _(
                "您的账号姓名“%(name)s”与该自然人的姓名不一致，不能以本人身份签署；"
                "他人代为办理的，请以委托代理人身份绑定并上传授权委托书。"
            )
            % {"name": signer.name},
            "name_mismatch",
        )
    return "", ""


def _signing_problems(
    commitment: Commitment,
    *,
    signer: Signer | None,
    confirmed: bool,
    draft_sha256: str,
    agent_authorised: bool,
) -> dict[str, list[ValidationError]]:
    """Every reason not to sign, by form field: the signer bound to the
    subject, named by their account and signing in the capacity it holds,
    the text read and confirmed, and the signed draft the one on the page
    and on disk."""
    draft = commitment.draft
    errors: dict[str, list[ValidationError]] = {}

    def refuse(field: str, message: str, code: str) -> None:
        errors.setdefault(field, []).append(ValidationError(message, code=code))

    message, code = signer_problem(signer, commitment.subject, agent_authorised=agent_authorised)
    if message:
        refuse(NON_FIELD_ERRORS, message, code)
    if not confirmed:
        refuse("confirmed", _("请阅读承诺书并勾选确认后再签署。"), "not_confirmed")
    if draft.status != RenderStatus.RENDERED:
        refuse(
            NON_FIELD_ERRORS,
            _("承诺书正在生成，请稍后刷新页面，阅读后再签署。"),
            "draft_not_rendered",
        )
    elif not draft_sha256:
        refuse("draft_sha256", _("缺少所签承诺书的校验值，请刷新页面后重新签署。"), "required")
    elif draft_sha256 != draft.sha256:
        refuse(
            "draft_sha256",
            _("您签署的不是当前版本的承诺书，请刷新页面，重新阅读后再签署。"),
            "stale_draft",
        )
    else:
        try:
            stored = file_sha256(draft)
        except OSError:
            stored = ""
        if stored != draft.sha256:
            # The bytes on disk are not the ones the page showed: sign nothing.
            refuse(
                NON_FIELD_ERRORS,
                _("承诺书文件校验未通过，暂不能签署，请联系信用平台。"),
                "draft_damaged",
            )
    return errors


def _signed_letter_issue(commitment: Commitment, *, user, signer: Signer, ip, at) -> None:
    """The signed commitment as a letter of its own (the draft's text, the
    signature added), linked to the commitment and audited."""
    draft = commitment.draft
    subject = commitment.subject
    facts = {key: value for key, value in draft.facts.items() if key != "remedies"}
    facts["signature"] = {
        "name": signer.name,
        "capacity": signer.capacity,
        "capacity_label": signer.capacity_label,
        "principal": signer.principal,
        "block": signer.block,
        "signed_at": at.isoformat(),
        "draft_sha256": draft.sha256,
    }
    signed = letter_issue(
        kind=LetterKind.COMMITMENT,
        facts=facts,
        actor=user,
        case=commitment_case(commitment),
        record=commitment.record,
        subject=subject,
        recipient=user,
        at=at,
    )
    Commitment.objects.filter(pk=commitment.pk).update(signed=signed)
    audit_record(
        actor=user,
        action="commitment.sign",
        object_type="letters.Commitment",
        object_id=commitment.pk,
        summary={
            "record": commitment.record.decision_number,
            "signed_letter": signed.number,
            "signer": signer.name,
            "capacity": signer.capacity,
            "draft_sha256": draft.sha256,
            "ip": ip or "",
        },
    )


def commitment_sign(
    *,
    commitment: Commitment,
    user,
    confirmed: bool,
    draft_sha256: str,
    ip: str | None,
    user_agent: str,
    agent_authorised: bool = False,
    at: dt.datetime | None = None,
) -> Commitment:
    """Sign the commitment: the explicit act of the bound applicant, by the
    name on their account and in the capacity of their binding (no typed
    name: typing someone else's name is not a signature). An agent signs as
    agent only when the caller found the power of attorney on the filing
    (`agent_authorised`).

    Raises ValidationError with one message per problem (keys confirmed,
    draft_sha256 and __all__); nothing is saved then. The draft -> signed
    UPDATE is conditional, so of two signings at once one wins and the other
    is told the commitment is already signed.
    """
    at = at or timezone.now()
    draft_sha256 = (draft_sha256 or "").strip().lower()
    with transaction.atomic():
        commitment = Commitment.objects.select_related("subject", "record", "draft").get(
            pk=commitment.pk
        )
        if commitment.status != CommitmentStatus.DRAFT:
            raise ValidationError(
                {
                    NON_FIELD_ERRORS: ValidationError(
                        _("这份承诺书已经签署，不能再次签署。")
                        if commitment.status == CommitmentStatus.SIGNED
                        else _("这份承诺书已作废，不能签署。"),
                        code="already_signed",
                    )
                }
            )
        draft = commitment.draft
        signer = commitment_signer(user=user, subject=commitment.subject)
        errors = _signing_problems(
            commitment,
            signer=signer,
            confirmed=confirmed,
            draft_sha256=draft_sha256,
            agent_authorised=agent_authorised,
        )
        if errors:
            raise ValidationError(errors)

        claimed = Commitment.objects.filter(pk=commitment.pk, status=CommitmentStatus.DRAFT).update(
            status=CommitmentStatus.SIGNED,
            signer_name=signer.name,
            signer_capacity=signer.capacity,
            signed_by=user,
            signed_at=at,
            signed_ip=ip or None,
            signed_user_agent=(user_agent or "")[:400],
            signed_sha256=draft.sha256,
        )
        if not claimed:
            raise ValidationError(
                {
                    NON_FIELD_ERRORS: ValidationError(
                        _("这份承诺书已经签署，不能再次签署。"), code="already_signed"
                    )
                }
            )
        _signed_letter_issue(commitment, user=user, signer=signer, ip=ip, at=at)
    return Commitment.objects.select_related("draft", "signed", "subject", "record").get(
        pk=commitment.pk
    )
