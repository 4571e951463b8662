from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe

from records.selectors import subject_get_for_user
from repair_flow.access import (
    general_purpose_set,
    purpose_is_valid,
    registered,
    session_purpose_set,
)
from repair_flow.accounts import profile_notifications_set
from repair_flow.health import health
from repair_flow.models import AccessLogEntry, AccessPurpose, Role
from repair_flow.roles import role_required

# Where each role starts (after login and at /): their own work.
LANDING = {
    Role.APPLICANT: "flows:list",
    Role.OFFICER: "flows:tasks",
    Role.REVIEWER: "flows:tasks",
    Role.SUPERVISOR: "sla_board",
    Role.ADMINISTRATOR: "flows:tasks",
}


@require_safe
def healthz(request):
    """For the proxy and the orchestrator: 200 when the database, the broker
    (when configured) and the storage answer, else 503. No login, no personal
    data, no detail of a failure (that goes to the log)."""
    well, checks = health()
    return JsonResponse(
        {"status": "ok" if well else "fail", "checks": checks}, status=200 if well else 503
    )


def home(request):
    if not request.user.is_authenticated:
        return redirect("deadline_calculator") if request.GET.get("public") else redirect("login")
    return redirect(LANDING.get(request.user.role, "record_list"))


def _purpose_form(request, *, subject, remember):
    """The purpose form: on a valid purpose, `remember(purpose)` and go on to `next`."""
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    error = ""
    if request.method == "POST":
        purpose = request.POST.get("purpose")
        if purpose_is_valid(purpose):
            remember(purpose)
            return redirect(next_url)
        error = _("请从列表中选择查询目的。")
    return render(
        request,
        "access_purpose.html",
        {
            "subject": subject,
            "purposes": AccessPurpose.choices,
            "next": next_url,
            "error": error,
            "minutes": settings.ACCESS_PURPOSE_SESSION_SECONDS // 60,
        },
        status=400 if error else 200,
    )


@role_required(Role.OFFICER, Role.REVIEWER, Role.SUPERVISOR, Role.ADMINISTRATOR)
def access_purpose(request, subject_id: int):
    """Asks the purpose of viewing a natural person's data, once per session."""
    subject = subject_get_for_user(user=request.user, pk=subject_id)
    return _purpose_form(
        request,
        subject=subject,
        remember=lambda purpose: session_purpose_set(request, subject, purpose),
    )


@login_required
def access_purpose_general(request):
    """Asks the purpose of a session's work on many people's data (the admin's
    personal-data pages); it lapses after ACCESS_PURPOSE_SESSION_SECONDS."""
    if not (request.user.is_staff or registered(request.user)):
        raise PermissionDenied
    return _purpose_form(
        request, subject=None, remember=lambda purpose: general_purpose_set(request, purpose)
    )


@role_required(Role.SUPERVISOR, Role.ADMINISTRATOR)
def access_register(request):
    entries = AccessLogEntry.objects.select_related("user", "subject")
    user_filter = request.GET.get("user", "").strip()
    if user_filter:
        entries = entries.filter(user__username=user_filter)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    entries = list(page)
    labels = what_labels([e.what for e in entries])
    rows = [{"entry": e, "what": label} for e, label in zip(entries, labels, strict=True)]
    return render(
        request,
        "access_register.html",
        {"page": page, "rows": rows, "user_filter": user_filter},
    )


# What an access register entry's `what` ("record:3001", "api:letter:7:pdf")
# names: the kind of data read, and the model whose row gives its label.
WHAT_KINDS = {
    "record": (gettext_lazy("行政处罚信息"), "records.CreditRecord", "decision_number"),
    "subject": (gettext_lazy("信用主体信息"), None, None),
    "repair_case": (gettext_lazy("信用修复申请"), "flows.RepairCase", "number"),
    "objection_case": (gettext_lazy("异议申请"), "flows.ObjectionCase", "number"),
    "breach_review": (gettext_lazy("履约核查"), "flows.BreachReview", "label"),
    "monitoring": (gettext_lazy("履约监管"), "flows.RepairCase", "number"),
    "letter": (gettext_lazy("文书"), "letters.Letter", "number"),
    "commitment": (gettext_lazy("信用承诺书"), None, None),
}


def _what_parts(what: str) -> list[str]:
    parts = what.split(":")
    if parts and parts[0] == "api":
        parts = parts[1:]
    return parts


def _what_text(what: str, labels: dict[tuple[str, int], str]) -> str:
    parts = _what_parts(what)
    if parts[:1] == ["search"] and len(parts) >= 4:
        # "search:records:<masked term>:<found>"; the term never holds a ":".
        return _("查询“%(term)s”（%(found)s 条结果）") % {
            "term": ":".join(parts[2:-1]),
            "found": parts[-1],
        }
    if parts[:1] == ["sync_event"] and len(parts) == 2:
        return _("同步事件 #%(id)s") % {"id": parts[1]}
    if parts[:1] == ["admin"] and len(parts) == 4:
        try:
            name = apps.get_model(parts[1])._meta.verbose_name
        except (LookupError, ValueError):
            name = parts[1]
        return _("管理后台：%(model)s #%(id)s") % {"model": name, "id": parts[2]}
    if len(parts) < 2 or parts[0] not in WHAT_KINDS:
        return what
    title, model, _field = WHAT_KINDS[parts[0]]
    label = labels.get((model, int(parts[1])), "") if model and parts[1].isdigit() else ""
    text = f"{title} {label}".strip()
    if parts[2:] == ["pdf"]:
        text = _("%(what)s（PDF）") % {"what": text}
    return text


def what_labels(whats: list[str]) -> list[str]:
    """The register's "what"s as a person reads them: "行政处罚信息 济市监罚〔2026〕1号"
    rather than "record:3001"; one query per kind of row named, whatever the
    number of entries (issue 18: the register page asked one per entry)."""
    ids: dict[str, set[int]] = {}
    for what in whats:
        parts = _what_parts(what)
        if len(parts) >= 2 and parts[0] in WHAT_KINDS and parts[1].isdigit():
            _title, model, _field = WHAT_KINDS[parts[0]]
            if model:
                ids.setdefault(model, set()).add(int(parts[1]))
    labels: dict[tuple[str, int], str] = {}
    fields = {model: field for _title, model, field in WHAT_KINDS.values() if model}
    for model, pks in ids.items():
        rows = apps.get_model(model).objects.filter(pk__in=pks)
        # A row's label may read a related row or an annotation its model
        # names (a breach review: its repair's number and which review it is).
        related, annotations = getattr(rows.model, "label_reads", ((), {}))
        rows = rows.select_related(*related).annotate(**{k: f() for k, f in annotations.items()})
        for row in rows:
            labels[(model, row.pk)] = str(getattr(row, fields[model], "") or "")
    return [_what_text(what, labels) for what in whats]


def what_label(what: str) -> str:
    return what_labels([what])[0]


@login_required
def profile(request):
    """The signed-in person's own settings: only ever request.user's."""
    error = None
    if request.method == "POST":
        try:
            profile_notifications_set(
                user=request.user,
                email_notifications=request.POST.get("email_notifications") == "on",
                language=request.POST.get("language", request.user.language),
            )
        except ValidationError as invalid:
            error = invalid.message_dict["language"][0]
            request.user.refresh_from_db()
        else:
            messages.success(request, _("通知设置已保存。"))
            return redirect("profile")
    return render(
        request,
        "profile.html",
        {"person": request.user, "languages": settings.LANGUAGES, "error": error},
        status=400 if error else 200,
    )
