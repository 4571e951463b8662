"""Repair and objection cases as viewflow 2.4 flows: who must do what next.

The case's FSM status (flows/models.py) is the truth about where a case
stands; this flow turns it into work: a task in the platform officers' queue,
a task in the issuing department's reviewers' queue, or a wait for the
applicant. Every node's work is done by a service (flows/repair/,
flows/objections/), which completes the node in its own transaction
(flows/engine.py), so the portal, the task pages and the API all move the
flow the same way.
"""

from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from flows.models import CaseStatus, ObjectionProcess, RepairProcess, task_case_bind
from flows.notify import task_queued_notify

# Where viewflow sends someone who opens a human task: the case's work page
# (flows/web/staff.py), found by URL name, so the graph imports no view.
WORK_PAGES = {RepairProcess: "flows:work", ObjectionProcess: "flows:objection_work"}


def task_page(request, process_pk: int, **kwargs):
    for process_class, page in WORK_PAGES.items():
        process = process_class.objects.filter(pk=process_pk).first()
        if process is not None:
            return redirect(page, pk=process.case_id)
    raise Http404


class RepairFlow(flow.Flow):
    """信用修复

    One online filing per penalty record (一网通办), the applicant's signed
    credit commitment part of it (国办发〔2025〕22号); same-day preliminary
    review by the platform; at most one notice of everything to supplement;
    substantive review by the department that issued the penalty
    (谁认定、谁修复); on approval the record's publicity ends, other
    platforms are told, and the commitment is monitored. Every
    step runs against an SLA clock (sla/); warnings and escalations to
    supervisors come from the SLA sweep.
    """

    process_class = RepairProcess

    start = (
        flow.StartHandle(this.start_case)
        .Annotation(title=_("提交申请"))
        .Next(this.preliminary_review)
    )
    preliminary_review = (
        flow.View(task_page)
        .onCreate(this.task_created)
        .Annotation(
            title=_("初审"),
            description=_("平台工作人员当日完成初审：受理、不予受理或一次性告知补正。"),
        )
        .Next(this.after_preliminary_review)
    )
    after_preliminary_review = (
        flow.Switch()
        .Annotation(title=_("初审结论"))
        .Case(this.supplement, this.awaits_supplement)
        .Case(this.department_review, this.is_accepted)
        .Default(this.closed)
    )
    supplement = (
        flow.Handle()
        .Annotation(
            title=_("申请人补正"),
            description=_("申请人在补正期限内一次性补正告知书列明的全部材料，逾期视为撤回。"),
        )
        .Next(this.after_supplement)
    )
    after_supplement = (
        flow.If(this.is_resubmitted)
        .Annotation(title=_("是否按期补正"))
        .Then(this.preliminary_review)
        .Else(this.closed)
    )
    department_review = (
        flow.View(task_page)
        .onCreate(this.task_created)
        .Annotation(
            title=_("认定单位审核"),
            description=_("作出处罚决定的部门审核：准予修复或不予修复，并说明依据。"),
        )
        .Next(this.after_department_review)
    )
    after_department_review = (
        flow.If(this.is_approved)
        .Annotation(title=_("审核结论"))
        .Then(this.repaired)
        .Else(this.closed)
    )
    repaired = flow.End().Annotation(
        title=_("准予修复"),
        description=_(
            "停止公示（自然人：不再作为失信信息共享使用）、向其他平台同步、开始承诺履约监管。"
        ),
    )
    closed = flow.End().Annotation(
        title=_("办结"),
        description=_("不予受理、逾期未补正、撤回或不予修复。"),
    )

    def start_case(self, activation, *, case):
        activation.process.case = case
        return activation.process

    def task_created(self, activation):
        # Every human task is born here, whichever service moved the flow:
        # it is bound to its case (its deadline's join key) and the people
        # who may take it are told (flows.notify.NOTIFY).
        task_case_bind(task=activation.task, case=activation.process.case)
        task_queued_notify(case=activation.process.case, task=activation.task)

    def awaits_supplement(self, activation) -> bool:
        return activation.process.case.status == CaseStatus.AWAITING_SUPPLEMENT

    def is_resubmitted(self, activation) -> bool:
        return activation.process.case.status == CaseStatus.RESUBMITTED

    def is_accepted(self, activation) -> bool:
        return activation.process.case.status == CaseStatus.ACCEPTED

    def is_approved(self, activation) -> bool:
        return activation.process.case.status == CaseStatus.APPROVED


class ObjectionFlow(flow.Flow):
    """异议

    One objection per record at a time. The platform reviews the filing the
    same day, with at most one notice of everything to supplement; on
    acceptance the record shows 异议处理中 and the check goes to the platform
    (its own scope, 3 working days) or to the department that issued the
    penalty (7 working days; Shandong Social Credit Regulation Art. 39; a
    revoked decision: 3 working days, Art. 40). The record is corrected,
    deleted or maintained; the applicant gets the result notice and other
    platforms a sync event.
    """

    process_class = ObjectionProcess

    start = (
        flow.StartHandle(this.start_case)
        .Annotation(title=_("提交异议"))
        .Next(this.preliminary_review)
    )
    preliminary_review = (
        flow.View(task_page)
        .onCreate(this.task_created)
        .Annotation(
            title=_("初审"),
            description=_(
                "平台工作人员当日完成初审：受理并确定核查方式、不予受理或一次性告知补正。"
            ),
        )
        .Next(this.after_preliminary_review)
    )
    after_preliminary_review = (
        flow.Switch()
        .Annotation(title=_("初审结论"))
        .Case(this.supplement, this.awaits_supplement)
        .Case(this.verification, this.is_accepted)
        .Default(this.closed)
    )
    supplement = flow.Handle().Annotation(title=_("申请人补正")).Next(this.after_supplement)
    after_supplement = (
        flow.If(this.is_resubmitted)
        .Annotation(title=_("是否按期补正"))
        .Then(this.preliminary_review)
        .Else(this.closed)
    )
    verification = (
        flow.View(task_page)
        .onCreate(this.task_created)
        .Annotation(
            title=_("异议核查"),
            description=_("平台或认定单位核查：更正、删除或维持，并说明理由。"),
        )
        .Next(this.after_verification)
    )
    after_verification = (
        flow.If(this.is_decided)
        .Annotation(title=_("核查结论"))
        .Then(this.decided)
        .Else(this.closed)
    )
    decided = flow.End().Annotation(
        title=_("异议办结"),
        description=_("更正、删除、维持或无法核实；告知申请人结果并向其他平台同步。"),
    )
    closed = flow.End().Annotation(
        title=_("办结"),
        description=_("不予受理、逾期未补正或撤回。"),
    )

    def start_case(self, activation, *, case):
        activation.process.case = case
        return activation.process

    def task_created(self, activation):
        # Every human task is born here, whichever service moved the flow:
        # it is bound to its case (its deadline's join key) and the people
        # who may take it are told (flows.notify.NOTIFY).
        task_case_bind(task=activation.task, case=activation.process.case)
        task_queued_notify(case=activation.process.case, task=activation.task)

    def awaits_supplement(self, activation) -> bool:
        return activation.process.case.status == CaseStatus.AWAITING_SUPPLEMENT

    def is_resubmitted(self, activation) -> bool:
        return activation.process.case.status == CaseStatus.RESUBMITTED

    def is_accepted(self, activation) -> bool:
        return activation.process.case.status == CaseStatus.ACCEPTED

    def is_decided(self, activation) -> bool:
        return activation.process.case.status in (
            CaseStatus.CORRECTED,
            CaseStatus.DELETED,
            CaseStatus.MAINTAINED,
            CaseStatus.UNVERIFIABLE,
        )
