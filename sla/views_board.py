"""Supervisors' pages: the SLA board, the clocks behind each figure (and their
CSV), and the escalation queue. Supervisors and administrators only."""

import math
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import FileResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from records.models import Department
from repair_flow.exports import (
    export_job_download,
    export_job_get_for_user,
    exports_recent_for_user,
)
from repair_flow.models import ExportState, Role, display_name
from repair_flow.roles import role_required
from sla.board import (
    APPLICANT,
    NONE,
    BoardFilters,
    Metric,
    assignee_parse,
    board_clocks,
    board_filters_parse,
    board_monitoring,
    board_summary,
    clock_state_label,
    departments_without_reviewer,
    duration_label,
    late_by,
)
from sla.escalations import (
    EscalationError,
    escalation_reassign,
    escalation_resolve,
    escalations_for_queue,
    officers_active,
)
from sla.exports import EXPORT_KIND, board_export_request, export_is_large, export_stream
from sla.models import APPLICANT_STAGES, Escalation, Stage

SUPERVISORS = (Role.SUPERVISOR, Role.ADMINISTRATOR)
LIST_PAGE_SIZE = 50
LIST_URL = "/sla/board/list/"


def _list_url(filters: BoardFilters, metric: str, **extra) -> str:
    return LIST_URL + "?" + urlencode(filters.params(metric=metric, **extra))


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _filter_context(request, errors=None) -> dict:
    return {
        "departments": Department.objects.all(),
        "stages": Stage.choices,
        "values": {k: request.GET.get(k, "") for k in ("department", "stage", "from", "to")},
        "errors": errors or {},
        "none": NONE,
    }


@role_required(*SUPERVISORS)
def board(request):
    filters, errors = board_filters_parse(request.GET, today=timezone.localdate())
    context = _filter_context(request, errors)
    if errors:
        return render(request, "sla/board.html", context, status=400)
    now = timezone.now()
    summary = board_summary(filters=filters, now=now)
    context["values"].update(filters.params())
    context.update(
        filters=filters,
        as_of=timezone.localtime(now).strftime("%Y-%m-%d %H:%M"),
        summary=summary,
        cards=_cards(filters, summary),
        by_stage=_bars(
            summary["open"]["by_stage"],
            "label",
            lambda row: _list_url(filters, Metric.OPEN, stage=row["stage"]),
            show=len(Stage.values),
        ),
        by_department=_bars(
            summary["open"]["by_department"],
            "name",
            lambda row: _list_url(filters, Metric.OPEN, department=row["department"]),
            show=8,
        ),
        chart=_chart(filters, summary["trend"]),
        officers=_officers(filters, summary["officers"]),
        matrix=_matrix(filters, summary["open"]),
        monitoring=_monitoring(board_monitoring(filters=filters, now=now)),
        waiting_applicant_url=_list_url(filters, Metric.OPEN, assignee=APPLICANT),
        waiting_applicant_stages=summary["waiting_applicant"] - summary["paused_for_applicant"],
        unstaffed=[
            {**row, "url": _list_url(filters, Metric.OPEN, department=row["department"])}
            for row in departments_without_reviewer(filters=filters)
        ],
    )
    return render(request, "sla/board.html", context)


MONITORING_LABELS = {
    "open": (gettext_lazy("监管中"), gettext_lazy("当前在履约监管期内的修复")),
    "closing_this_month": (gettext_lazy("本月期满"), gettext_lazy("监管期在本月结束")),
    "found": (gettext_lazy("发现疑似违诺"), gettext_lazy("期间内开启的履约核查")),
    "confirmed": (gettext_lazy("认定违反承诺"), gettext_lazy("期间内认定")),
    "dismissed": (gettext_lazy("不予认定"), gettext_lazy("期间内不予认定")),
    "pending": (gettext_lazy("核查中"), gettext_lazy("当前未办结的履约核查")),
    "revoked": (gettext_lazy("撤销修复"), gettext_lazy("期间内撤销的信用修复决定")),
}


def _monitoring(figures: dict) -> list[dict]:
    """The 履约监管 figures, each with its title and what it counts."""
    return [
        {
            "key": key,
            "title": title,
            "value": figures[key],
            "note": note,
            "kind": "no" if key in ("confirmed", "revoked") and figures[key] else "",
        }
        for key, (title, note) in MONITORING_LABELS.items()
    ]


def _cards(filters: BoardFilters, s: dict) -> list[dict]:
    def rate_card(title, figure, metric_of, metric_count, note):
        return {
            "metric": metric_of,
            "title": title,
            "value": _pct(figure["rate"]),
            "url": _list_url(filters, metric_of),
            "detail": [
                (
                    _("%(count)s / %(of)s") % {"count": figure["count"], "of": figure["of"]},
                    _list_url(filters, metric_count),
                )
            ],
            "note": note,
            "kind": "rate",
        }

    one_time = s["one_time_notification"]
    one_time_card = rate_card(
        _("一次性告知率"),
        one_time,
        Metric.ONE_TIME,
        Metric.ONE_TIME,
        _("期间内有补正通知的案件中只通知一次的比例"),
    )
    one_time_card["detail"].append(
        (
            _("重复告知（经监督人员批准）%(n)s 件") % {"n": one_time["repeat"]},
            _list_url(filters, Metric.ONE_TIME_REPEAT),
        )
    )
    breached = s["breached"]
    return [
        {
            "metric": Metric.OPEN,
            "title": _("未办结"),
            "value": s["open"]["total"],
            "url": _list_url(filters, Metric.OPEN),
            "note": _("当前计时中、已暂停或已超时"),
        },
        {
            "metric": Metric.DUE_TODAY,
            "title": _("今日到期"),
            "value": s["due_today"],
            "url": _list_url(filters, Metric.DUE_TODAY),
            "note": _("期限在今天（北京时间）"),
            "kind": "wait" if s["due_today"] else "",
        },
        {
            "metric": Metric.AT_RISK,
            "title": _("临近超时"),
            "value": s["at_risk"],
            "url": _list_url(filters, Metric.AT_RISK),
            "note": _("已过第二次预警，尚未超时"),
            "kind": "wait" if s["at_risk"] else "",
        },
        {
            "metric": Metric.BREACHED,
            "title": _("超时"),
            "value": breached["total"],
            "url": _list_url(filters, Metric.BREACHED),
            "detail": [
                (
                    _("未办结 %(n)s") % {"n": breached["open"]},
                    _list_url(filters, Metric.BREACHED_OPEN),
                ),
                (
                    _("期间内超时办结 %(n)s") % {"n": breached["stopped_in_period"]},
                    _list_url(filters, Metric.BREACHED_STOPPED),
                ),
            ],
            "kind": "no" if breached["total"] else "",
        },
        rate_card(
            _("按时办结率"),
            s["on_time"],
            Metric.RATED,
            Metric.MET,
            _("期间内办结的计时（不含取消）"),
        ),
        rate_card(
            _("当日初审率"),
            s["same_day_preliminary_review"],
            Metric.SAME_DAY,
            Metric.SAME_DAY_MET,
            _("期间内办结的初审中当日完成的比例"),
        ),
        one_time_card,
    ]


def _bars(rows: list[dict], label: str, url, *, show: int) -> dict:
    """A panel of horizontal bars: the first `show` rows, widths relative to the largest."""
    top = max((row["count"] for row in rows), default=0)
    return {
        "rows": [
            {
                "label": row[label],
                "count": row["count"],
                "url": url(row),
                "width": round(100 * row["count"] / top, 1) if top else 0,
            }
            for row in rows[:show]
        ],
        "total": len(rows),
        "more": len(rows) > show,
    }


def _officers(filters: BoardFilters, rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        who = NONE if row["id"] is None else row["id"]
        out.append({
            **row,
            "pct": _pct(row["on_time"]["rate"]),
            "open_url": _list_url(filters, Metric.OPEN, assignee=who),
            "at_risk_url": _list_url(filters, Metric.AT_RISK, assignee=who),
            "breached_url": _list_url(filters, Metric.BREACHED_OPEN, assignee=who),
            "rated_url": _list_url(filters, Metric.RATED, assignee=who),
        })  # fmt: skip
    return out


def _matrix(filters: BoardFilters, open_: dict) -> dict:
    """Open clocks, one row per department, one column per stage that has any."""
    stages = [(row["stage"], row["label"]) for row in open_["by_stage"]]
    cells = {(c["department"], c["stage"]): c["count"] for c in open_["by_stage_department"]}
    rows = []
    for dept in open_["by_department"]:
        code = dept["department"]
        rows.append({
            "name": dept["name"],
            "total": dept["count"],
            "url": _list_url(filters, Metric.OPEN, department=code),
            "cells": [
                (cells.get((code, stage), 0),
                 _list_url(filters, Metric.OPEN, department=code, stage=stage))
                for stage, _label in stages
            ],
        })  # fmt: skip
    return {"stages": stages, "rows": rows}


# The trend chart: bars drawn server-side as inline SVG, so the page needs no
# script and no network.
CHART_W, CHART_H = 460, 225
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 40, 6, 22, 44


def _chart(filters: BoardFilters, weeks: list[dict]) -> dict:
    plot_w = CHART_W - PLOT_LEFT - PLOT_RIGHT
    plot_h = CHART_H - PLOT_TOP - PLOT_BOTTOM
    slot = plot_w / max(1, len(weeks))
    bar_w = min(48.0, slot * 0.62)
    every = max(1, math.ceil(44 / slot))  # a "10/26" label needs about 44 units
    bars = []
    for i, week in enumerate(weeks):
        x = PLOT_LEFT + slot * i + (slot - bar_w) / 2
        rate = week["rate"]
        height = 0.0 if rate is None else max(1.0, plot_h * rate)
        start = week["week_start"]
        bars.append({
            "x": round(x, 1),
            "cx": round(x + bar_w / 2, 1),
            "y": round(PLOT_TOP + plot_h - height, 1),
            "w": round(bar_w, 1),
            "h": round(height, 1),
            "pct": _pct(rate),
            "label_y": round(PLOT_TOP + plot_h - height - 5, 1),
            "week": f"{start[5:7]}/{start[8:10]}" if i % every == 0 else "",
            "n": week["of"],
            "empty": rate is None,
            "low": rate is not None and rate < 0.9,
            "title": _("%(from)s 至 %(to)s：按时 %(count)s / 办结 %(of)s")
            % {"from": week["from"], "to": week["to"], "count": week["count"], "of": week["of"]},
            "url": LIST_URL + "?" + urlencode(
                {**filters.params(metric=Metric.RATED), "from": week["from"], "to": week["to"]}
            ),
        })  # fmt: skip
    grid = [
        {"y": round(PLOT_TOP + plot_h * (1 - p / 100), 1), "label": f"{p}%"} for p in (0, 50, 100)
    ]
    return {
        "w": CHART_W,
        "h": CHART_H,
        "left": PLOT_LEFT,
        "right": CHART_W - PLOT_RIGHT,
        "axis_y": PLOT_TOP + plot_h,
        "week_y": PLOT_TOP + plot_h + 16,
        "n_y": PLOT_TOP + plot_h + 32,
        "bars": bars,
        "grid": grid,
        "show_n": slot >= 30,
        "show_pct": slot >= 36,
    }


def _who(user) -> str:
    if user is None:
        return _("未分配")
    return display_name(user)


def _clock_who(clock) -> str:
    """Who the clock waits on: the applicant's stages are nobody's staff work."""
    if clock.stage in APPLICANT_STAGES:
        return _("等待申请人")
    return _who(clock.assignee)


@role_required(*SUPERVISORS)
def board_list(request):
    filters, errors = board_filters_parse(request.GET, today=timezone.localdate())
    metric = request.GET.get("metric") or Metric.OPEN
    if metric not in Metric.ALL:
        errors["metric"] = _("未知的指标“%(value)s”") % {"value": metric}
    assignee = assignee_parse(request.GET.get("assignee", ""), errors)
    if errors:
        context = _filter_context(request, errors)
        return render(request, "sla/board_list.html", context, status=400)
    now = timezone.now()
    clocks = board_clocks(filters=filters, metric=metric, assignee=assignee, now=now)
    params = filters.params(metric=metric)
    if assignee is not None:
        params["assignee"] = str(assignee)
    if request.GET.get("format") == "csv":
        name = f"sla-{metric}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
        if export_is_large(clocks):
            # Too many rows to hold a worker while they stream: a job writes
            # the file and its page shows the progress.
            job = board_export_request(
                params=params,
                title=_list_title(filters, metric, assignee),
                download_name=name,
                now=now,
                requested_by=request.user,
            )
            return redirect("sla_board_export", pk=job.pk)
        response = StreamingHttpResponse(
            export_stream(clocks, now), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    page = Paginator(clocks, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = []
    for clock in page:
        late = late_by(clock, now)
        rows.append({
            "clock": clock,
            "state": clock_state_label(clock, now),
            "late": duration_label(late) if late else "",
            "assignee": _clock_who(clock),
        })  # fmt: skip
    context = _filter_context(request)
    context["values"].update(params)
    context.update(
        ok=True,
        filters=filters,
        stage_label=Stage(filters.stage).label if filters.stage else "",
        metric=metric,
        metric_label=Metric.LABELS[metric],
        metrics=[(m, Metric.LABELS[m]) for m in Metric.ALL],
        assignee_label=_assignee_label(assignee),
        page=page,
        rows=rows,
        query=urlencode(params),
        csv_url=LIST_URL + "?" + urlencode({**params, "format": "csv"}),
        board_url="/sla/board/?" + urlencode(filters.params()),
        exports=exports_recent_for_user(user=request.user, kind=EXPORT_KIND),
    )
    return render(request, "sla/board_list.html", context)


def _list_title(filters: BoardFilters, metric: str, assignee) -> str:
    """What a list holds, in words: its figure, period and filters."""
    parts = [str(Metric.LABELS[metric]), f"{filters.start.isoformat()} – {filters.end.isoformat()}"]
    if filters.department == NONE:
        parts.append(_("市信用平台（平台环节）"))
    elif filters.department is not None:
        parts.append(filters.department.name)
    if filters.stage:
        parts.append(str(Stage(filters.stage).label))
    if assignee is not None:
        parts.append(_assignee_label(assignee))
    return " · ".join(parts)


# While a job is queued or running its page reloads itself this often (a
# <meta> refresh: the CSP allows no inline script).
EXPORT_REFRESH_SECONDS = 3


def export_progress(job) -> str:
    """ "12,000 / 80,000 行"; the total is known once the writer has counted."""
    if job.rows_total is None:
        return _("%(done)s 行") % {"done": f"{job.rows_done:,}"}
    return _("%(done)s / %(total)s 行") % {
        "done": f"{job.rows_done:,}",
        "total": f"{job.rows_total:,}",
    }


@role_required(*SUPERVISORS)
def board_export(request, pk: int):
    job = export_job_get_for_user(user=request.user, pk=pk, kind=EXPORT_KIND)
    return render(
        request,
        "sla/board_export.html",
        {
            "job": job,
            "progress": export_progress(job),
            "refresh": EXPORT_REFRESH_SECONDS if job.is_active else None,
            "done": job.state == ExportState.DONE,
            "board_url": "/sla/board/",
        },
    )


@role_required(*SUPERVISORS)
def board_export_download(request, pk: int):
    job = export_job_get_for_user(user=request.user, pk=pk, kind=EXPORT_KIND)
    handle = export_job_download(job=job, user=request.user)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=job.download_name,
        content_type="text/csv; charset=utf-8",
    )


def _assignee_label(assignee) -> str:
    if assignee is None:
        return ""
    if assignee == NONE:
        return _("未分配")
    if assignee == APPLICANT:
        return _("等待申请人")
    user = get_user_model().objects.filter(pk=assignee).first()
    return _who(user) if user else str(assignee)


@role_required(*SUPERVISORS)
def escalations(request):
    page = Paginator(escalations_for_queue(), LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = []
    for escalation in page:
        clock = escalation.clock
        late = late_by(clock, now)
        rows.append({
            "e": escalation,
            "clock": clock,
            "late": duration_label(late) if late else "",
            "assignee": _who(clock.assignee),
            "state": clock_state_label(clock, now),
            "resolved_by": _who(escalation.resolved_by) if escalation.resolved_by else "",
        })  # fmt: skip
    open_count = Escalation.objects.filter(resolved_at__isnull=True).count()
    return render(
        request,
        "sla/escalations.html",
        {"page": page, "rows": rows, "officers": officers_active(), "open_count": open_count},
    )


@require_POST
@role_required(*SUPERVISORS)
def escalation_resolve_view(request, pk: int):
    escalation = get_object_or_404(Escalation.objects.select_related("clock"), pk=pk)
    try:
        escalation_resolve(escalation=escalation, actor=request.user, note=request.POST.get("note"))
    except EscalationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已处理：%(case)s") % {"case": escalation.clock.case_label})
    return redirect("escalations")


@require_POST
@role_required(*SUPERVISORS)
def escalation_reassign_view(request, pk: int):
    escalation = get_object_or_404(Escalation.objects.select_related("clock"), pk=pk)
    raw = request.POST.get("assignee", "")
    assignee = officers_active().filter(pk=int(raw)).first() if raw.isdigit() else None
    try:
        if assignee is None:
            raise EscalationError(_("请选择在岗的平台工作人员"))
        escalation_reassign(escalation=escalation, assignee=assignee, actor=request.user)
    except EscalationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("已将 %(case)s 改派给 %(who)s")
            % {"case": escalation.clock.case_label, "who": _who(assignee)},
        )
    return redirect("escalations")
