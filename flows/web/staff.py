"""Staff pages: the task queues (queue, inbox, archive) and the case's work
page with each step's form (claim, release, reassign, preliminary review with
the one-time supplement notice, acceptance, refusal, department review; for
an objection, acceptance with its routing and the verification outcomes:
correct, delete, maintain). One page and one dispatcher serve both kinds.

Reads go through flows.cases.selectors, writes through the services; a refusal a
service raises is shown on the page as it was worded, nothing is half-saved.
"""

from csp.constants import NONE, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST
from viewflow.workflow import chart

from flows.cases.assignment import TASKS, case_claim, case_reassign, case_release, case_task
from flows.cases.guards import unstaffed_problem
from flows.cases.review import (
    REFUSAL_REASONS,
    preliminary_review_refuse,
    supplement_kinds,
    supplement_request,
)
from flows.cases.selectors import (
    BOXES,
    DUE_FILTERS,
    OVERSIGHT_ROLES,
    TASK_ROLES,
    case_get_for_user,
    task_case,
    tasks_for_user,
)
from flows.engine import HUMAN_NODES, objection_flow, repair_flow
from flows.holders import assignees_for, holder_role, may_hold
from flows.models import (
    PENDING_BREACH_STATUSES,
    REPAIRED_STATUSES,
    BreachReview,
    CaseKind,
    CaseStatus,
    MonitoringWindow,
    ObjectionCase,
    ObjectionGround,
    ObjectionScope,
    RepairCase,
)
from flows.monitoring.services import REPORT_ROLES, reviews_for_user, window_other_penalties
from flows.objections.services import (
    MAINTAIN_REASONS,
    OBJECTION_REFUSAL_REASONS,
    UNVERIFIABLE_REASONS,
    attestation_signer,
    objection_accept,
    objection_correct,
    objection_delete,
    objection_maintain,
    objection_unverifiable,
)
from flows.repair.services import (
    REJECTION_REASONS,
    department_review_approve,
    department_review_reject,
    preliminary_review_accept,
)
from flows.web.applicant import commitment_slot, material_file
from flows.web.common import objection_ground_labels, refusal_messages
from letters.models import Letter
from records.models import CreditRecord, PenaltyType, Severity
from records.services import CORRECTABLE_FIELDS
from repair_flow.access import purpose_or_redirect
from repair_flow.models import Role, User
from repair_flow.paging import EstimatedCountPaginator
from repair_flow.roles import role_required
from sla.clocks import clock_explain, clocks_for

staff_required = role_required(*TASK_ROLES)

BOX_TITLES = {
    "queue": gettext_lazy("待领取"),
    "inbox": gettext_lazy("我的待办"),
    "archive": gettext_lazy("已办"),
}
DUE_TITLES = {
    "overdue": gettext_lazy("已超期"),
    # Both include the overdue: what must be done by then.
    "today": gettext_lazy("今日及之前到期"),
    "week": gettext_lazy("7 日内及之前到期"),
}
STAGE_TITLES = {
    "preliminary_review": gettext_lazy("初审"),
    "department_review": gettext_lazy("认定单位审核"),
    "verification": gettext_lazy("异议核查"),
}
DEFAULT_BASIS = gettext_lazy("《信用修复管理办法》（国家发展改革委令2025年第36号）")
OBJECTION_BASIS = gettext_lazy("《山东省社会信用条例》第三十九条、第四十条")
# Which work page a case of each kind is handled on, and its actions' URL names.
WORK_URLS = {CaseKind.REPAIR: "flows:work", CaseKind.OBJECTION: "flows:objection_work"}
ACTION_URLS = {CaseKind.REPAIR: "flows:%s", CaseKind.OBJECTION: "flows:objection_%s"}


def work_url(case) -> str:
    return reverse(WORK_URLS[case.kind], args=[case.pk])


@staff_required
def task_list(request, box: str = "queue"):
    if box not in BOXES:
        raise Http404
    stage = request.GET.get("stage", "")
    # The archive offers no deadline filter, so it applies none.
    due = request.GET.get("due", "") if box != "archive" else ""
    q = request.GET.get("q", "")
    now = timezone.now()
    tasks = tasks_for_user(
        user=request.user,
        box=box,
        stage=stage if stage in HUMAN_NODES else "",
        due=due if due in DUE_FILTERS else "",
        q=q,
        now=now,
    )
    # The queue's count is estimated past LIST_EXACT_COUNT_LIMIT: counting
    # 100,000 open tasks exactly cost 150-200 ms a page (issue 18).
    page = EstimatedCountPaginator(tasks, 50).get_page(request.GET.get("page"))
    rows = []
    for task in page:
        case = task_case(task)
        rows.append(
            {
                "task": task,
                "case": case,
                "stage": STAGE_TITLES.get(task.flow_task.name, task.flow_task.name),
                "kind": CaseKind(case.kind).label,
                "url": work_url(case),
                "claim_url": reverse(ACTION_URLS[case.kind] % "claim", args=[case.pk]),
                "overdue": task.due_at is not None and task.due_at < now and box != "archive",
            }
        )
    filters = {"stage": stage, "due": due, "q": q}
    query = urlencode({k: v for k, v in filters.items() if v})
    boxes = []
    for name in BOXES:
        url = reverse("flows:tasks") if name == "queue" else reverse("flows:tasks_box", args=[name])
        # Switching tabs keeps the filters (the archive has no deadline one).
        kept = {k: v for k, v in filters.items() if v and not (k == "due" and name == "archive")}
        boxes.append((name, BOX_TITLES[name], f"{url}?{urlencode(kept)}" if kept else url))
    return render(
        request,
        "flows/task_list.html",
        {
            "box": box,
            "boxes": boxes,
            "title": BOX_TITLES[box],
            "rows": rows,
            "page_obj": page,
            "stage": stage,
            "due": due,
            "q": q,
            "query": query,
            "stages": list(STAGE_TITLES.items()),
            "dues": list(DUE_TITLES.items()),
            "oversight": request.user.role in OVERSIGHT_ROLES,
            "open_breaches": reviews_for_user(request.user)
            .filter(status__in=PENDING_BREACH_STATUSES)
            .count(),
        },
    )


def _assignees(case) -> list[User]:
    """Who a supervisor may give the case's task to: everyone eligible but
    the person working on it now (a queued case has nobody, even when a
    resubmitted case still names its first officer)."""
    task = case_task(case)
    if task is None:
        return []
    holder = _holder(case)
    return [u for u in assignees_for(case, task) if holder is None or u.pk != holder.pk]


def _no_assignee_reason(case, assignees) -> str:
    """Why the reassign list is empty, so the supervisor knows what to fix."""
    task = case_task(case)
    if assignees or task is None:
        return ""
    if holder_role(case, task) == Role.OFFICER:
        if _holder(case) is not None:
            return gettext("没有其他在岗的平台工作人员可以改派。")
        return gettext("没有在岗的平台工作人员：请先请系统管理员启用或添加平台工作人员账号。")
    department = case.record.department
    if _holder(case) is not None:
        return gettext("%(department)s没有其他在岗的审核人可以改派。") % {
            "department": department.name
        }
    if case.kind == CaseKind.OBJECTION:
        return unstaffed_problem(department, platform_may_check=False)
    return unstaffed_problem(department)


def _routing_warning(case) -> str:
    """Said where the case is routed: a repair's review goes to the issuing
    department (谁认定、谁修复), an objection's check may; say so when nobody
    works there, with the way out."""
    task = case_task(case)
    if task is None:
        return ""
    if case.kind == CaseKind.REPAIR:
        return unstaffed_problem(case.record.department)
    if task == "preliminary_review":
        return unstaffed_problem(case.record.department, platform_may_check=True)
    return ""


def _supplement_rows(case, post=None) -> list[dict]:
    """One row per material the applicant can supplement: tick it and say
    what is wrong (the commitment is signed with the filing, not uploaded; a
    power of attorney only when an agent filed)."""
    return [
        {
            "material": kind,
            "label": label,
            "checked": bool(post and post.get(f"item_{kind}")),
            "problem": (post or {}).get(f"problem_{kind}", ""),
        }
        for kind, label in supplement_kinds(case)
    ]


def _refusal_reasons(case):
    """Objection pages offer objection reasons, not the repair's."""
    return OBJECTION_REFUSAL_REASONS if case.kind == CaseKind.OBJECTION else REFUSAL_REASONS


def reason_rows(choices, post=None) -> list[dict]:
    """The reason checkboxes, ticked as they were when a refused POST comes back."""
    return [
        {"value": value, "label": label, "checked": bool(post and post.get(f"reason_{value}"))}
        for value, label in choices
    ]


def _actions(user, case) -> dict:
    """What this user may do on this case now (the services check again)."""
    role = user.role
    task = case_task(case)
    spec = TASKS.get(task) if task else None
    queued = spec is not None and case.status in spec["queued"]
    working = spec is not None and case.status == spec["working"]
    holder_id = getattr(case, f"{spec['holder']}_id") if spec else None
    # Officers for preliminary review and platform-scope checks; the issuing
    # department's reviewers for its repair reviews and department-scope checks.
    eligible = task is not None and may_hold(user, case, task)
    holds = working and eligible and holder_id == user.pk
    supervisor = role == Role.SUPERVISOR
    return {
        "claim": queued and eligible,
        "release": working and (holds or supervisor),
        "reassign": spec is not None and supervisor,
        "preliminary": holds and task == "preliminary_review",
        "department": holds and task == "department_review",
        "verification": holds and task == "verification",
        # Jinan plan: a second notice only with a supervisor's recorded reason.
        "override": supervisor
        and case.status == CaseStatus.IN_PRELIMINARY_REVIEW
        and case.supplement_requests.exists(),
        "supplement_used": case.supplement_requests.exists(),
        # Officers and supervisors may report that a repair rested on false materials.
        "report_false": case.kind == CaseKind.REPAIR
        and role in REPORT_ROLES
        and case.status in (CaseStatus.APPROVED, CaseStatus.COMPLETED),
    }


def _queued(case) -> bool:
    task = case_task(case)
    return task is not None and case.status in TASKS[task]["queued"]


def _holder(case):
    """Who works on the case now; once no task is open, who handled it last.
    A case waiting in a queue has nobody (a resubmitted case keeps its first
    officer on the row until someone claims it)."""
    task = case_task(case)
    if task is None:
        return case.reviewer or case.officer
    if case.status != TASKS[task]["working"]:
        return None
    return getattr(case, TASKS[task]["holder"])


def work_page(request, case, *, errors=None, form=None, status=200):
    errors = errors or {}
    form = form or {}
    explanations = [
        clock_explain(clock)
        for clock in clocks_for(case).filter(stopped_at=None).order_by("due_at")
    ]
    actions = _actions(request.user, case)
    shown = {
        "claim": actions["claim"],
        "accept": actions["preliminary"],
        "refuse": actions["preliminary"],
        "supplement": (actions["preliminary"] and not actions["supplement_used"])
        or actions["override"],
        "approve": actions["department"],
        "reject": actions["department"],
        "correct": actions["verification"],
        "delete": actions["verification"],
        "maintain": actions["verification"],
        "unverifiable": actions["verification"],
        "release": actions["release"],
        "reassign": actions["reassign"],
        "report_false": actions["report_false"],
    }
    objection = case.kind == CaseKind.OBJECTION
    assignees = _assignees(case)
    context = {
        "case": case,
        "objection": objection,
        "urls": _action_urls(case),
        "actions": actions,
        # A refusal whose form is not on the page (the wrong persona, a case
        # taken meanwhile) is shown at the top instead of being lost.
        "stray_errors": [m for a, msgs in errors.items() if not shown.get(a) for m in msgs],
        "explanations": explanations,
        "events": case.events.select_related("actor"),
        "materials": list(case.materials.select_related("uploaded_by")),
        "supplements": list(case.supplement_requests.select_related("requested_by", "override_by")),
        "letters": Letter.objects.filter(
            case_type=ContentType.objects.get_for_model(case), case_id=case.pk
        ).order_by("issued_at", "id"),
        "assignees": assignees,
        "no_assignee_reason": _no_assignee_reason(case, assignees),
        "routing_warning": _routing_warning(case),
        "refusal_reasons": reason_rows(_refusal_reasons(case), form.get("refuse")),
        "rejection_reasons": reason_rows(REJECTION_REASONS, form.get("reject")),
        "supplement_rows": _supplement_rows(case, form.get("supplement")),
        "default_basis": OBJECTION_BASIS if objection else DEFAULT_BASIS,
        "errors": errors,
        "form": form,
        "holder": _holder(case),
        "queued": _queued(case),
    }
    if objection:
        context.update(_objection_context(case, form))
    else:
        context.update(_monitoring_context(request.user, case))
        context["commitment_slot"] = commitment_slot(case)
    return render(request, "flows/task_detail.html", context, status=status)


def _monitoring_context(user, case: RepairCase) -> dict:
    """The repair's monitoring (履约监管) once it is approved: the window, its
    breach reviews (linked where the user may open them) and, for
    information, the new penalties not of the kind the commitment covered."""
    if case.status not in REPAIRED_STATUSES:
        return {}
    window = MonitoringWindow.objects.filter(case=case).first()
    reviews = list(
        BreachReview.objects.filter(case=case).select_related("record", "department").order_by("id")
    )
    visible = set(reviews_for_user(user).filter(case=case).values_list("pk", flat=True))
    return {
        "monitoring": {
            "window": window,
            "reviews": [{"review": r, "visible": r.pk in visible} for r in reviews],
            "other_penalties": list(window_other_penalties(window)) if window else [],
        }
    }


def _action_urls(case) -> dict[str, str]:
    names = ["claim", "release", "reassign", "accept", "refuse", "supplement", "flow_chart"]
    names += (
        ["correct", "delete", "maintain", "unverifiable"] if case.kind == CaseKind.OBJECTION else []
    )
    names += ["approve", "reject", "report_false"] if case.kind == CaseKind.REPAIR else []
    urls = {name: reverse(ACTION_URLS[case.kind] % name, args=[case.pk]) for name in names}
    urls["work"] = work_url(case)
    return urls


def _plain(value) -> str:
    if isinstance(value, list | tuple):
        return ",".join(value)
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _correction_rows(record: CreditRecord, post=None) -> list[dict]:
    """One row per correctable field: its current value and the new value
    typed (or, for the penalty types, ticked) in a refused POST."""
    rows = []
    for name in CORRECTABLE_FIELDS:
        field = CreditRecord._meta.get_field(name)
        current = getattr(record, name)
        row = {"name": name, "label": field.verbose_name, "current": _plain(current)}
        if name == "penalty_types":
            picked = post.getlist("new_penalty_types") if post is not None else list(current)
            row["current_display"] = "、".join(map(str, record.penalty_type_labels()))
            row["choices"] = [
                {"value": v, "label": label, "checked": v in picked}
                for v, label in PenaltyType.choices
            ]
        elif name == "severity":
            row["current_display"] = record.get_severity_display()
            row["choices"] = Severity.choices
            row["value"] = (post or {}).get("new_severity", "")
        else:
            row["current_display"] = _plain(current) or "—"
            row["value"] = (post or {}).get(f"new_{name}", "")
        rows.append(row)
    return rows


def _correction_changes(record: CreditRecord, post) -> dict:
    """Only the fields whose new value differs from the current one."""
    changes = {}
    for name in CORRECTABLE_FIELDS:
        current = getattr(record, name)
        if name == "penalty_types":
            picked = [v for v in post.getlist("new_penalty_types") if v]
            if sorted(picked) != sorted(current):
                changes[name] = picked
            continue
        value = post.get(f"new_{name}", "").strip()
        if value and value != _plain(current):
            changes[name] = value
    return changes


def _objection_context(case: ObjectionCase, form: dict) -> dict:
    revoked = ObjectionGround.DECISION_REVOKED in case.grounds
    return {
        "grounds": objection_ground_labels(case.grounds, case.subject),
        "attestation": attestation_signer(case),
        "revoked": revoked,
        "scopes": [
            {
                "value": value,
                "label": label,
                "checked": (form.get("accept") or {}).get("scope") == value,
            }
            for value, label in ObjectionScope.choices
        ],
        "correction_rows": _correction_rows(
            case.record, form.get("correct") if form.get("correct") is not None else None
        ),
        "maintain_reasons": reason_rows(MAINTAIN_REASONS, form.get("maintain")),
        "unverifiable_reasons": reason_rows(UNVERIFIABLE_REASONS, form.get("unverifiable")),
    }


def staff_case(request, pk: int, model=RepairCase):
    case = case_get_for_user(user=request.user, pk=pk, model=model)
    if case.status == CaseStatus.DRAFT:
        raise Http404
    return case


@staff_required
def task_detail(request, pk: int | None = None, **kwargs):
    """The case's work page. viewflow's View nodes (flows/flows.py) point
    here: every human task of a case is worked on this one page."""
    case = staff_case(request, pk)
    response = purpose_or_redirect(request, case.subject, f"repair_case:{case.pk}")
    if response is not None:
        return response
    return work_page(request, case)


@staff_required
def objection_work(request, pk: int):
    """An objection's work page: the same page, with the objection's facts and forms."""
    case = staff_case(request, pk, ObjectionCase)
    response = purpose_or_redirect(request, case.subject, f"objection_case:{case.pk}")
    if response is not None:
        return response
    return work_page(request, case)


def reasons_picked(post, choices) -> list[str]:
    picked = [str(label) for value, label in choices if post.get(f"reason_{value}")]
    other = " ".join(post.get("reason_other", "").split())
    if other:
        picked.append(other)
    return picked


def _claim(request, case):
    case_claim(user=request.user, case=case)


def _release(request, case):
    case_release(user=request.user, case=case, reason=request.POST.get("reason", ""))


def _reassign(request, case):
    pk = request.POST.get("assignee", "")
    assignee = User.objects.filter(pk=pk).first() if pk.isdigit() else None
    case_reassign(
        supervisor=request.user,
        case=case,
        assignee=assignee,
        reason=request.POST.get("reason", ""),
    )


def _accept(request, case):
    if case.kind == CaseKind.OBJECTION:
        objection_accept(officer=request.user, case=case, scope=request.POST.get("scope", ""))
    else:
        preliminary_review_accept(officer=request.user, case=case)


def _refuse(request, case):
    preliminary_review_refuse(
        officer=request.user,
        case=case,
        reasons=reasons_picked(request.POST, _refusal_reasons(case)),
        basis=request.POST.get("basis", ""),
    )


def _supplement(request, case):
    items = [
        {"material": row["material"], "name": str(row["label"]), "problem": row["problem"]}
        for row in _supplement_rows(case, request.POST)
        if row["checked"]
    ]
    if request.user.role == Role.SUPERVISOR:
        # The override: the supervisor issues the second notice on the
        # officer's case, with the reason recorded and counted.
        supplement_request(
            officer=case.officer,
            case=case,
            items=items,
            supervisor=request.user,
            override_reason=request.POST.get("override_reason", ""),
        )
    else:
        supplement_request(officer=request.user, case=case, items=items)


def _approve(request, case):
    department_review_approve(reviewer=request.user, case=case, basis=request.POST.get("basis", ""))


def _reject(request, case):
    department_review_reject(
        reviewer=request.user,
        case=case,
        reasons=reasons_picked(request.POST, REJECTION_REASONS),
        basis=request.POST.get("basis", ""),
    )


def _correct(request, case):
    objection_correct(
        verifier=request.user,
        case=case,
        changes=_correction_changes(case.record, request.POST),
        evidence=request.POST.get("evidence", ""),
        reasons=reasons_picked(request.POST, ()),
        basis=request.POST.get("basis", ""),
    )


def _delete(request, case):
    objection_delete(
        verifier=request.user,
        case=case,
        evidence=request.POST.get("evidence", ""),
        reasons=reasons_picked(request.POST, ()),
        basis=request.POST.get("basis", ""),
    )


def _maintain(request, case):
    objection_maintain(
        verifier=request.user,
        case=case,
        reasons=reasons_picked(request.POST, MAINTAIN_REASONS),
        basis=request.POST.get("basis", ""),
    )


def _unverifiable(request, case):
    objection_unverifiable(
        verifier=request.user,
        case=case,
        reasons=reasons_picked(request.POST, UNVERIFIABLE_REASONS),
        basis=request.POST.get("basis", ""),
    )


# Each action of the work page: the service it calls and what the page says after.
ACTIONS = {
    "claim": (_claim, gettext_lazy("已领取，请在期限内办理。")),
    "release": (_release, gettext_lazy("已退回待领取队列。")),
    "reassign": (_reassign, gettext_lazy("已改派。")),
    "accept": (_accept, gettext_lazy("已受理，受理通知书已发出，案件转认定单位审核。")),
    "refuse": (_refuse, gettext_lazy("已作出不予受理决定，通知书已发出。")),
    "supplement": (_supplement, gettext_lazy("一次性补正告知书已发出，补正期间暂停计时。")),
    "approve": (_approve, gettext_lazy("已准予修复，信用修复决定书已发出。")),
    "reject": (_reject, gettext_lazy("已作出不予修复决定，决定书已发出。")),
    "correct": (_correct, gettext_lazy("已更正该记录，异议处理结果告知书已发出。")),
    "delete": (_delete, gettext_lazy("已删除该记录，异议处理结果告知书已发出。")),
    "maintain": (_maintain, gettext_lazy("已维持该记录，异议处理结果告知书已发出。")),
    "unverifiable": (
        _unverifiable,
        gettext_lazy("已认定无法核实，记录保留并加注标注，异议处理结果告知书已发出。"),
    ),
}
OBJECTION_ACCEPTED = gettext_lazy("已受理，受理通知书已发出，该记录标注“异议处理中”。")


def _act(request, pk: int, action: str, model=RepairCase):
    """One POST of the work page: the service, then the page again with its
    refusal (403 or 400, the form kept) or a redirect with what was done."""
    case = staff_case(request, pk, model)
    service, done = ACTIONS[action]
    if action == "accept" and case.kind == CaseKind.OBJECTION:
        done = OBJECTION_ACCEPTED
    try:
        service(request, case)
    except (PermissionDenied, ValidationError) as error:
        case.refresh_from_db()
        case.record.refresh_from_db()
        return work_page(
            request,
            case,
            errors={action: refusal_messages(error)},
            form={action: request.POST},
            status=403 if isinstance(error, PermissionDenied) else 400,
        )
    messages.success(request, done)
    if action == "accept" and case.kind == CaseKind.REPAIR and (warning := _routing_warning(case)):
        messages.warning(request, warning)
    if action == "release" and request.user.role != Role.SUPERVISOR:
        return redirect("flows:tasks")
    return redirect(work_url(case))


def _action_view(action: str, model=RepairCase):
    @staff_required
    @require_POST
    def view(request, pk: int):
        return _act(request, pk, action, model)

    prefix = "objection" if model is ObjectionCase else "task"
    view.__name__ = f"{prefix}_{action}"
    return view


task_claim = _action_view("claim")
task_release = _action_view("release")
task_reassign = _action_view("reassign")
task_accept = _action_view("accept")
task_refuse = _action_view("refuse")
task_supplement = _action_view("supplement")
task_approve = _action_view("approve")
task_reject = _action_view("reject")
objection_claim = _action_view("claim", ObjectionCase)
objection_release = _action_view("release", ObjectionCase)
objection_reassign = _action_view("reassign", ObjectionCase)
objection_accept_view = _action_view("accept", ObjectionCase)
objection_refuse = _action_view("refuse", ObjectionCase)
objection_supplement = _action_view("supplement", ObjectionCase)
objection_correct_view = _action_view("correct", ObjectionCase)
objection_delete_view = _action_view("delete", ObjectionCase)
objection_maintain_view = _action_view("maintain", ObjectionCase)
objection_unverifiable_view = _action_view("unverifiable", ObjectionCase)


# The flow chart's branch labels in the page's language.
CHART_LABELS = {"yes": gettext_lazy("是"), "no": gettext_lazy("否")}


# viewflow's chart (viewflow/workflow/graph.svg) styles itself with an inline
# <style> and one style="": shown through <img> no policy applies, but opened
# as a page of its own the site's policy would strip its styling. This one
# response may use inline styles and nothing else: no script, no loads.
FLOW_CHART_CSP = {
    "default-src": [NONE],
    "script-src": [NONE],
    "style-src": [UNSAFE_INLINE],
    "img-src": [NONE],
    "font-src": [NONE],
    "connect-src": [NONE],
}


@csp_replace(FLOW_CHART_CSP)
@staff_required
def case_flow_chart(request, pk: int, model=RepairCase):
    """The flow as a graph with the case's passed and current nodes marked."""
    case = staff_case(request, pk, model)
    flow_class = objection_flow() if model is ObjectionCase else repair_flow()
    grid = chart.calc_layout_data(flow_class)
    for edge in grid.edges:
        # viewflow labels an If gate's branches in English.
        edge.label = CHART_LABELS.get(edge.label, edge.label)
    process = getattr(case, "process", None)
    if process is not None:
        chart.calc_cell_status(flow_class, grid, process.pk)
    return HttpResponse(chart.grid_to_svg(grid), content_type="image/svg+xml")


def material_download(request, pk: int, material_pk: int, model=RepairCase):
    """A case material: for the applicant and for the staff who may see the
    case (natural persons' files registered with a stated purpose)."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}")
    case = case_get_for_user(user=request.user, pk=pk, model=model)
    return material_file(request, case, material_pk, "case_material")


@staff_required
def objection_flow_chart(request, pk: int):
    return case_flow_chart(request, pk, model=ObjectionCase)


def objection_material_download(request, pk: int, material_pk: int):
    return material_download(request, pk, material_pk, model=ObjectionCase)
