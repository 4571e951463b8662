"""Post-repair monitoring of the credit commitment (Jinan plan: 信用修复承诺履约监管).

Each approved repair opens a window on its subject (`monitoring_open`). A
penalty decided inside a window's dates and of the same kind of conduct as
the repaired record (the commitment's reach: `MonitoringPolicy.same_kind`,
by default the same sector) is a possible breach: a review opens for the
department that made the repair decision, informed by the penalty's issuer,
as the import saves the record (`breaches_match`, called by the import's
records-saved hook, records.hooks) and again from the sweep, which catches what the
event path missed (a record changed by another path, a window opened after
the record arrived). Other new penalties are shown on the monitoring panel
for information only (`window_other_penalties`). An officer may also report
that a repair rested on false materials (`false_materials_report`).

The department dismisses, or first hears the applicant (domain section 3):
a notice of intended revocation (拟撤销信用修复告知书, `breach_notice_issue`)
opens the statement period (SLA stage `statement`, 5 working days by
default, UNCONFIRMED) during which the department's own clock waits; the
applicant states their case online (`breach_statement_submit`). Only once
the statement is in or the period has ended may the department revoke
(`breach_confirm`: a 撤销信用修复决定书 naming the new penalty and answering
the statement, the record disclosed again for the rest of its period, a bar
only where the policy enables one with its legal basis, a sync event); or it
dismisses (the applicant is told either way). Windows that end with no
review pending complete, and so do their cases (`monitoring_sweep`).

Set-based where volume is: matching is one INSERT ... SELECT ... ON CONFLICT
DO NOTHING RETURNING (the unique (window, record) pair makes a second sweeper
or a re-import a no-op), completion one UPDATE ... RETURNING per batch, and
what follows each (clocks, timeline, audit, mail) one bulk insert each.
"""

import datetime as dt
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Q
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.cases.common import (
    case_locked,
    case_note,
    clean_list,
    clean_text,
    letter_facts,
    local_date,
    transition_fire,
)
from flows.cases.guards import require_acts_for_subject, require_breach_decider
from flows.cases.limits import add_years
from flows.cases.materials import material_store
from flows.models import (
    PENDING_BREACH_STATUSES,
    BreachFoundVia,
    BreachReview,
    BreachSource,
    BreachStatus,
    CaseEvent,
    CaseStatus,
    MaterialKind,
    MonitoringPolicy,
    MonitoringStatus,
    MonitoringWindow,
    RepairCase,
    SameKind,
    breach_review_ordinal,
)
from flows.notify import Event, notify, notify_letter
from letters.kinds import record_facts
from letters.models import Commitment, CommitmentStatus, LetterKind
from letters.outbox import NewMessage, messages_queue_many
from letters.services import letter_issue
from records.models import (
    CreditRecord,
    Department,
    RecordStatus,
    Sector,
    SubjectBinding,
    SyncKind,
)
from records.publicity import add_months
from records.selectors import reviewer_department_id
from records.services import record_status_set
from records.sync import sync_event_queue
from repair_flow.audit import AuditEntry, audit_record, audit_record_many
from repair_flow.models import Role
from repair_flow.paging import QuerysetChain
from sla.clocks import (
    clock_pause,
    clock_resume,
    clock_start,
    clock_stop,
    clocks_for,
    clocks_start_many,
)
from sla.models import SlaClock, Stage

# A penalty decided in a window's last days may reach the platform after the
# window completed: the sweep still matches windows completed this recently
# (the import's event path matches completed windows whatever their age).
LATE_ARRIVAL_DAYS = 31
SWEEP_BATCH = 5000
REPORT_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR})
MESSAGE_LANGUAGE = "zh-hans"
# The usual reasons, offered as a list on the review page (plus free text).
DISMISS_REASONS = (
    ("before_commitment", gettext_lazy("违法行为发生在作出信用承诺之前")),
    ("not_same_subject", gettext_lazy("新增处罚信息与该信用主体无关")),
    ("record_error", gettext_lazy("新增处罚信息有误，已更正或删除")),
    ("materials_true", gettext_lazy("经核实，申请材料真实")),
)
CONFIRM_REASONS = (
    ("new_penalty", gettext_lazy("在信用修复承诺履约监管期内再次因同类失信行为受到行政处罚")),
    ("false_materials", gettext_lazy("申请信用修复时提交的材料不真实")),
    ("commitment_broken", gettext_lazy("未履行信用修复承诺")),
)


def _add_months(instant: dt.datetime, months: int) -> dt.datetime:
    """The same Beijing wall-clock time `months` later (31 Jan + 1 month is 28/29 Feb)."""
    local = timezone.localtime(instant)
    day = add_months(local.date(), months)
    return local.replace(year=day.year, month=day.month, day=day.day)


def policy_on(day: dt.date) -> MonitoringPolicy | None:
    policies = MonitoringPolicy.objects.filter(effective_from__lte=day)
    return policies.order_by("-effective_from").first()


# Opening ------------------------------------------------------------------------


def monitoring_open(case: RepairCase, *, at: dt.datetime) -> MonitoringWindow:
    """Jinan plan (信用修复承诺履约监管): the repaired subject's commitment is
    watched for the months the policy in force on the approval day sets.
    Called in the approval's transaction."""
    policy = policy_on(local_date(at))
    if policy is None:
        raise ValidationError(_("没有生效的履约监管期限设置，请管理员先设置。"), code="no_policy")
    commitment = Commitment.objects.filter(
        case_type=ContentType.objects.get_for_model(RepairCase),
        case_id=case.pk,
        status=CommitmentStatus.SIGNED,
    ).first()
    ends_at = _add_months(at, policy.months)
    window = MonitoringWindow.objects.create(
        case=case,
        subject=case.subject,
        commitment=commitment,
        starts_at=at,
        ends_at=ends_at,
        starts_on=local_date(at),
        ends_on=local_date(ends_at),
        same_kind=policy.same_kind,
    )
    audit_record(
        actor="system",
        action="flows.monitoring.open",
        object_type="flows.MonitoringWindow",
        object_id=window.pk,
        summary={
            "case": case.label,
            "months": policy.months,
            "ends_at": ends_at.isoformat(),
            "same_kind": policy.same_kind,
        },
    )
    # A penalty decided today may have arrived before the approval.
    breaches_match(found_via=BreachFoundVia.APPROVAL, at=at, actor="system", window_ids=[window.pk])
    return window


# Matching -----------------------------------------------------------------------


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _matching_sql(scope: str) -> str:
    """One INSERT of every (window, penalty) pair in `scope` not reviewed yet:
    a penalty of the window's subject, decided on a day inside the window,
    not deleted, not the repaired record itself, and of the same kind as the
    repaired record under the window's rule (the same department always; the
    same sector unless it is 其他; any penalty). The review belongs to the
    repaired record's department, the one that made the repair decision."""
    return (
        f"INSERT INTO {_table(BreachReview)} (window_id, case_id, subject_id, source,"  # noqa: S608
        " found_via, record_id, department_id, reported_by_id, statement, evidence_id,"
        " status, opened_at, decided_at, decided_by_id, reasons, basis, letter_id, barred_until,"
        " notice_facts, representation, answer)"
        " SELECT w.id, w.case_id, w.subject_id, %s, %s, r.id, rr.department_id, NULL, '', NULL,"
        " %s, %s, NULL, NULL, '[]', '', NULL, NULL, '', '', ''"
        f" FROM {_table(MonitoringWindow)} w"
        f" JOIN {_table(CreditRecord)} r ON r.subject_id = w.subject_id"
        f" JOIN {_table(RepairCase)} c ON c.id = w.case_id"
        f" JOIN {_table(CreditRecord)} rr ON rr.id = c.record_id"
        f" JOIN {_table(Department)} dn ON dn.id = r.department_id"
        f" JOIN {_table(Department)} dr ON dr.id = rr.department_id"
        f" WHERE {scope}"
        " AND r.decision_date >= w.starts_on AND r.decision_date <= w.ends_on"
        " AND r.status <> %s AND r.id <> c.record_id"
        " AND (w.same_kind = %s OR r.department_id = rr.department_id"
        " OR (w.same_kind = %s AND dn.sector = dr.sector AND dr.sector <> %s))"
        " ON CONFLICT (window_id, record_id) DO NOTHING RETURNING id"
    )


def _placeholders(values: list) -> str:
    return ", ".join(["%s"] * len(values))


def _id_in(column: str, ids: list[int]) -> tuple[str, list]:
    """`column` among `ids`: one array parameter on PostgreSQL (a statement
    the driver need not re-parse for each list), placeholders elsewhere."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({_placeholders(ids)})", list(ids)


def breaches_match(
    *,
    found_via: str,
    at: dt.datetime,
    actor,
    record_ids: list[int] | None = None,
    window_ids: list[int] | None = None,
    late_since: dt.datetime | None = None,
) -> list[BreachReview]:
    """Open a breach review for every new penalty of a monitored subject, in
    the caller's transaction: for these records (the import's event path;
    windows open or completed), these windows (a window just opened), or
    else every open window and those completed since `late_since` (the
    sweep). Returns the reviews opened now; pairs already reviewed are
    skipped by the unique constraint, so running it twice opens nothing."""
    params: list = [BreachSource.NEW_PENALTY, found_via, BreachStatus.OPEN, at]
    statuses = [MonitoringStatus.OPEN, MonitoringStatus.COMPLETED]
    if record_ids is not None:
        if not record_ids:
            return []
        scope, ids = _id_in("r.id", record_ids)
        scope += f" AND w.status IN ({_placeholders(statuses)})"
        params += [*ids, *statuses]
    elif window_ids is not None:
        if not window_ids:
            return []
        scope = f"w.id IN ({_placeholders(window_ids)})"
        params += window_ids
    else:
        scope = "(w.status = %s OR (w.status = %s AND w.closed_at >= %s))"
        params += [MonitoringStatus.OPEN, MonitoringStatus.COMPLETED, late_since or at]
    params += [RecordStatus.DELETED, SameKind.ANY, SameKind.SECTOR, Sector.OTHER]
    # In the caller's transaction (the import's batch, an approval, the sweep's
    # own): no savepoint, a failure fails it whole.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(_matching_sql(scope), params)
        ids = [row[0] for row in cursor.fetchall()]
        return _opened(ids, actor=actor, at=at)


def _opened(ids: list[int], *, actor, at: dt.datetime) -> list[BreachReview]:
    """What follows new reviews, in bulk: the SLA clock of each (the
    department's review), a row on the repair case's timeline, an audit event."""
    if not ids:
        return []
    reviews = list(
        BreachReview.objects.filter(pk__in=ids)
        .select_related("case", "record__department", "department")
        .order_by("id")
    )
    CaseEvent.objects.bulk_create(
        [
            CaseEvent(
                case_id=review.case_id,
                at=at,
                actor=actor if getattr(actor, "pk", None) else None,
                action="breach_review_opened",
                from_status=review.case.status,
                to_status=review.case.status,
                comment=_review_comment(review),
            )
            for review in reviews
        ],
        batch_size=1000,
    )
    # The reviews' audit events and their clocks' in one step of the chain.
    clocks_start_many(
        cases=reviews,
        stage=Stage.BREACH_REVIEW,
        actor=actor,
        at=at,
        audit_also=[
            AuditEntry(
                "flows.breach_review.open",
                "flows.BreachReview",
                str(review.pk),
                {
                    "case": review.case.label,
                    "source": review.source,
                    "found_via": review.found_via,
                    "record": review.record.decision_number if review.record else None,
                    "department": review.department.code,
                },
            )
            for review in reviews
        ],
    )
    # Work routed to the deciding department's queue: its reviewers are told.
    for review in reviews:
        notify(
            Event.BREACH_REVIEW,
            case=review.case,
            key=f"breach:{review.pk}",
            department_id=review.department_id,
        )
    return reviews


def _review_comment(review: BreachReview) -> str:
    if review.source == BreachSource.NEW_PENALTY:
        return _(
            "监管期内新增同类行政处罚 %(number)s（%(issuer)s，%(day)s），"
            "由作出信用修复决定的%(department)s核查"
        ) % {
            "number": review.record.decision_number,
            "issuer": review.record.department.name,
            "day": review.record.decision_date.isoformat(),
            "department": review.department.name,
        }
    return _("报告申请材料不实：%(statement)s") % {"statement": review.statement}


def on_records_saved(*, record_ids: list[int], actor, at: dt.datetime) -> None:
    """The import's event path (records.hooks, registered in flows.apps)."""
    breaches_match(found_via=BreachFoundVia.IMPORT, at=at, actor=actor, record_ids=record_ids)


# False materials ----------------------------------------------------------------


@transaction.atomic
def false_materials_report(*, officer, case: RepairCase, statement: str, evidence) -> BreachReview:
    """An officer's finding that a repair rested on false materials, with the
    evidence: a review for the department that decided the repair."""
    if getattr(officer, "role", None) not in REPORT_ROLES:
        raise PermissionDenied(_("只有平台工作人员可以报告申请材料不实。"))
    case = case_locked(case)
    if case.status not in (CaseStatus.APPROVED, CaseStatus.COMPLETED):
        raise ValidationError(
            _("案件 %(case)s 当前状态为“%(status)s”，只有已准予修复的案件可以报告材料不实。")
            % {"case": case.label, "status": case.get_status_display()},
            code="wrong_status",
        )
    statement = clean_text(statement, _("材料不实的情况说明"))
    if evidence is None:
        raise ValidationError(_("请上传证明材料不实的证据。"), code="no_evidence")
    window = MonitoringWindow.objects.select_for_update().filter(case=case).first()
    if window is None:
        # Repairs approved before monitoring existed have no window to review in.
        raise ValidationError(
            _("案件 %(case)s 没有履约监管记录，不能在此报告材料不实。") % {"case": case.label},
            code="not_monitored",
        )
    if window.breach_reviews.filter(
        source=BreachSource.FALSE_MATERIALS, status__in=PENDING_BREACH_STATUSES
    ).exists():
        raise ValidationError(
            _("案件 %(case)s 已有正在核查的材料不实报告，请在该核查中补充。")
            % {"case": case.label},
            code="already_reported",
        )
    name = (getattr(evidence, "name", "") or "").rsplit("/", 1)[-1][:255] or _("（未命名）")
    material = material_store(
        case, user=officer, kind=MaterialKind.FALSE_MATERIAL_EVIDENCE, upload=evidence, name=name
    )
    at = timezone.now()
    review = BreachReview.objects.create(
        window=window,
        case=case,
        subject_id=case.subject_id,
        source=BreachSource.FALSE_MATERIALS,
        found_via=BreachFoundVia.REPORT,
        department_id=case.record.department_id,
        reported_by=officer,
        statement=statement,
        evidence=material,
        opened_at=at,
    )
    return _opened([review.pk], actor=officer, at=at)[0]


# Deciding -----------------------------------------------------------------------


def window_other_penalties(window: MonitoringWindow):
    """The window's new penalties that opened no review (not of the kind the
    commitment covered): shown on the monitoring panel for information."""
    reviewed = BreachReview.objects.filter(window_id=window.pk, record_id=OuterRef("pk"))
    return (
        CreditRecord.objects.filter(
            subject_id=window.subject_id,
            decision_date__gte=window.starts_on,
            decision_date__lte=window.ends_on,
        )
        .exclude(status=RecordStatus.DELETED)
        .exclude(pk=window.case.record_id)
        .exclude(Exists(reviewed))
        .select_related("department")
        .order_by("decision_date", "id")
    )


def reviews_for_user(user):
    """Platform staff see every review; a department's reviewers those their
    department decides (it made the repair decision) and those it is informed
    of (it issued the new penalty); nobody else any."""
    reviews = BreachReview.objects.select_related(
        "case__record__department", "subject", "record__department", "department", "window"
    ).annotate(ordinal_in_case=breach_review_ordinal())
    role = getattr(user, "role", None)
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return reviews.none()
    if role in (Role.OFFICER, Role.SUPERVISOR, Role.ADMINISTRATOR):
        return reviews
    if role == Role.REVIEWER:
        department_id = reviewer_department_id(user)
        if department_id is None:
            return reviews.none()
        return reviews.filter(
            Q(department_id=department_id) | Q(record__department_id=department_id)
        )
    return reviews.none()


def reviews_by_deadline(reviews, *, status: str = "") -> QuerysetChain:
    """`reviews` (reviews_for_user's, filtered) in the staff's order: the
    pending ones first, soonest deadline first (then by id), each with its
    `due_at`; then the decided ones, newest first (their `due_at` by
    review_deadlines_fill, for a page's rows). Two parts, each read in an
    index's order and stopped after a page's rows (issue 18: one query
    sorting every review by a subquery per row took 720 ms at 100,000):
    the pending reviews through their open breach_review clock
    (sla_clock_breach_due), the decided ones by flows_breach_decided_opened.
    `status`, when the caller filtered by one, leaves out the part that
    cannot hold it (that part would be read to its end to find nothing)."""
    parts = []
    if not status or status in PENDING_BREACH_STATUSES:
        # An inner join: a pending review always has its open clock, started
        # with the review (_opened) and stopped only by its decision, in the
        # same transaction; at most one (one_open_clock_per_case_stage).
        parts.append(
            reviews.filter(status__in=PENDING_BREACH_STATUSES)
            .annotate(
                open_clock=FilteredRelation(
                    "sla_clock",
                    condition=Q(
                        sla_clock__stage=Stage.BREACH_REVIEW, sla_clock__stopped_at__isnull=True
                    ),
                ),
                due_at=F("open_clock__due_at"),
            )
            .filter(open_clock__isnull=False)
            .order_by("due_at", "id")
        )
    if status not in PENDING_BREACH_STATUSES:
        parts.append(
            reviews.exclude(status__in=PENDING_BREACH_STATUSES).order_by("-opened_at", "-id")
        )
    # Together the parts are `reviews` (a pending review has its one open
    # clock): counted as one, without the clock join the planner misjudges.
    return QuerysetChain(*parts, whole=reviews)


def review_deadlines_fill(reviews: list[BreachReview]) -> list[BreachReview]:
    """Set `due_at`, the deadline of the review's breach_review clock (its
    latest, should it have several), on the reviews that came without it:
    one query for a page's rows, not a subquery per row."""
    missing = {review.pk: review for review in reviews if getattr(review, "due_at", None) is None}
    due = {}
    if missing:
        clocks = SlaClock.objects.filter(
            case_type=ContentType.objects.get_for_model(BreachReview),
            case_id__in=list(missing),
            stage=Stage.BREACH_REVIEW,
        ).order_by("case_id", "started_at", "id")
        # The latest clock of each review is the last of its rows.
        due = dict(clocks.values_list("case_id", "due_at"))
    for pk, review in missing.items():
        review.due_at = due.get(pk)
    return reviews


def _locked_review(review: BreachReview, reviewer, *statuses: str) -> BreachReview:
    review = (
        BreachReview.objects.select_for_update(of=("self",))
        .select_related("department", "record__department", "case")
        .get(pk=review.pk)
    )
    require_breach_decider(reviewer, review)
    if review.status in statuses:
        return review
    if review.status == BreachStatus.OPEN:
        # Domain section 3: no revocation without the notice and the hearing.
        raise ValidationError(
            _("撤销信用修复前，须先发出拟撤销信用修复告知书，听取申请人的陈述申辩。"),
            code="notice_first",
        )
    if review.status == BreachStatus.NOTIFIED:
        raise ValidationError(_("已发出拟撤销信用修复告知书，不能再次告知。"), code="wrong_status")
    raise ValidationError(
        _("该履约核查已办结（%(status)s），不能再次决定。")
        % {"status": review.get_status_display()},
        code="wrong_status",
    )


def _save_review(review: BreachReview, name: str, **params) -> None:
    getattr(review, name)(**params)
    review.save()


# The hearing (陈述申辩) ------------------------------------------------------------


def statement_clock(review: BreachReview) -> SlaClock | None:
    """The applicant's statement period of the review (SLA stage `statement`)."""
    if review.pk is None:
        return None
    return clocks_for(review).filter(stage=Stage.STATEMENT).order_by("-started_at", "-id").first()


def statement_may_be_made(review: BreachReview, *, at: dt.datetime) -> bool:
    """The notice is out, no statement yet, and its period has not ended (a
    deadline is met up to and including its instant)."""
    if review.status != BreachStatus.NOTIFIED or review.representation_at is not None:
        return False
    clock = statement_clock(review)
    return clock is not None and at <= clock.due_at


def hearing_over(review: BreachReview, *, at: dt.datetime) -> bool:
    """May the department revoke now: the statement is in, or its period ended."""
    if review.status != BreachStatus.NOTIFIED:
        return False
    if review.representation_at is not None:
        return True
    clock = statement_clock(review)
    return clock is not None and at > clock.due_at


def _revocation_facts(review: BreachReview, case: RepairCase) -> dict:
    """What the notice and the decision say about the repair and the breach."""
    trigger = {"source": review.source}
    if review.record_id:
        # The new penalty: decision number, department, date.
        trigger["penalty"] = record_facts(review.record)
    return {
        "repaired_on": local_date(case.decided_at).isoformat(),
        "repair_number": case.decision_letter.number if case.decision_letter_id else "",
        "trigger": trigger,
    }


def _require_revocable(case: RepairCase) -> None:
    if case.status not in (CaseStatus.APPROVED, CaseStatus.COMPLETED):
        raise ValidationError(
            _("案件 %(case)s 当前状态为“%(status)s”，不能撤销修复。")
            % {"case": case.label, "status": case.get_status_display()},
            code="wrong_status",
        )


@transaction.atomic
def breach_notice_issue(*, reviewer, review: BreachReview, facts: str) -> BreachReview:
    """The department's notice of intended revocation (拟撤销信用修复告知书):
    the facts and the new penalty, and the period in which the applicant may
    state their case (陈述申辩) online. The department's own clock waits
    for the statement or the period's end (the applicant's time)."""
    review = _locked_review(review, reviewer, BreachStatus.OPEN)
    facts = clean_text(facts, _("拟撤销的事实和理由"))
    at = timezone.now()
    case = case_locked(review.case)
    _require_revocable(case)
    clock = clock_start(case=review, stage=Stage.STATEMENT, actor=reviewer, at=at)
    clock_pause(
        case=review,
        stage=Stage.BREACH_REVIEW,
        reason=_("等待申请人陈述申辩"),
        actor=reviewer,
        at=at,
    )
    letter = letter_issue(
        kind=LetterKind.REVOCATION_NOTICE,
        facts=letter_facts(
            case,
            **_revocation_facts(review, case),
            facts=facts,
            statement_due=timezone.localtime(clock.due_at).isoformat(),
            statement_days=clock.policy.n,
        ),
        actor=reviewer,
        case=case,
        record=case.record,
        recipient=case.applicant,
        at=at,
        # Domain section 9: the department that decides issues it.
        department=review.department,
    )
    notify_letter(letter, case=case, deadline=clock.due_at)
    _save_review(review, "notify", by=reviewer, at=at, facts=facts, letter=letter)
    case_note(
        case,
        "breach_notice",
        actor=reviewer,
        at=at,
        comment=_("%(department)s发出拟撤销信用修复告知书（%(letter)s），陈述申辩期限至 %(due)s")
        % {
            "department": review.department.name,
            "letter": letter.number,
            "due": timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M"),
        },
        summary={"review": review.pk, "letter": letter.number},
    )
    return review


@transaction.atomic
def breach_statement_submit(
    *, applicant, review: BreachReview, text: str, evidence=None
) -> BreachReview:
    """The applicant states their case (陈述申辩) with optional evidence, once,
    within the period: the period ends and the department's clock runs again."""
    require_acts_for_subject(applicant, review)
    review = (
        BreachReview.objects.select_for_update(of=("self",))
        .select_related("case", "department")
        .get(pk=review.pk)
    )
    at = timezone.now()
    if review.status != BreachStatus.NOTIFIED:
        raise ValidationError(
            _("该履约核查当前为“%(status)s”，不在陈述申辩期间。")
            % {"status": review.get_status_display()},
            code="wrong_status",
        )
    if review.representation_at is not None:
        raise ValidationError(
            _("已于 %(at)s 提交陈述申辩，不能重复提交。")
            % {"at": timezone.localtime(review.representation_at).strftime("%Y-%m-%d %H:%M")},
            code="already_stated",
        )
    clock = statement_clock(review)
    if clock is None or at > clock.due_at:
        raise ValidationError(
            _("陈述申辩期限已于 %(due)s 届满，不能再提交。")
            % {"due": timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M") if clock else ""},
            code="statement_late",
        )
    text = clean_text(text, _("陈述申辩的内容"))
    material = None
    if evidence is not None:
        name = (getattr(evidence, "name", "") or "").rsplit("/", 1)[-1][:255] or _("（未命名）")
        material = material_store(
            review.case,
            user=applicant,
            kind=MaterialKind.STATEMENT_EVIDENCE,
            upload=evidence,
            name=name,
        )
    review.representation, review.representation_at = text, at
    review.representation_by, review.representation_evidence = applicant, material
    review.save(
        update_fields=[
            "representation",
            "representation_at",
            "representation_by",
            "representation_evidence",
        ]
    )
    clock_stop(case=review, stage=Stage.STATEMENT, actor=applicant, at=at)
    clock_resume(case=review, stage=Stage.BREACH_REVIEW, actor=applicant, at=at)
    case_note(
        review.case,
        "breach_statement",
        actor=applicant,
        at=at,
        comment=_("申请人提交陈述申辩"),
        summary={"review": review.pk, "evidence": material.pk if material else None},
    )
    return review


def _statement_period_close(review: BreachReview, *, actor, at: dt.datetime) -> bool:
    """A period that ended with no statement: its clock ends (cancelled, the
    applicant's time is no office's deadline) and the department's clock
    runs again from the period's end. True if it closed one now."""
    clock = statement_clock(review)
    if clock is None or clock.stopped_at is not None or at <= clock.due_at:
        return False
    due = clock.due_at
    clock_stop(case=review, stage=Stage.STATEMENT, actor=actor, at=due, cancel=True)
    clock_resume(case=review, stage=Stage.BREACH_REVIEW, actor=actor, at=due)
    return True


def statement_periods_close(*, now: dt.datetime, actor) -> int:
    """The sweep's step: every statement period that ended unanswered."""
    due = SlaClock.objects.filter(
        case_type=ContentType.objects.get_for_model(BreachReview),
        stage=Stage.STATEMENT,
        stopped_at=None,
        due_at__lt=now,
    ).values_list("case_id", flat=True)
    closed = 0
    for review_id in list(due):
        with transaction.atomic():
            review = (
                BreachReview.objects.select_for_update()
                .filter(pk=review_id, status=BreachStatus.NOTIFIED, representation_at=None)
                .first()
            )
            if review is not None and _statement_period_close(review, actor=actor, at=now):
                closed += 1
    return closed


BASIS_MAX = 300  # BreachReview.basis


def _clean_reasons(reasons) -> list[str]:
    return clean_list(reasons, _("理由"))


def _clean_basis(basis: str, *, required: bool) -> str:
    basis = clean_text(basis, _("撤销依据")) if required else " ".join((basis or "").split())
    if len(basis) > BASIS_MAX:
        raise ValidationError(
            _("依据不能超过 %(max)d 个字（现为 %(n)d 个字）。")
            % {"max": BASIS_MAX, "n": len(basis)},
            code="too_long",
        )
    return basis


@transaction.atomic
def breach_confirm(
    *, reviewer, review: BreachReview, reasons, basis: str, answer: str = ""
) -> BreachReview:
    """After the hearing, the commitment was broken (or the materials were
    false): the repair is revoked with a decision that names the new penalty
    and answers the statement (or says none came in time), the record is
    disclosed again, a bar only where the policy enables one, others told."""
    review = _locked_review(review, reviewer, BreachStatus.NOTIFIED)
    reasons = _clean_reasons(reasons)
    basis = _clean_basis(basis, required=True)
    at = timezone.now()
    today = local_date(at)
    clock = statement_clock(review)
    if not hearing_over(review, at=at):
        raise ValidationError(
            _(
                "陈述申辩期限至 %(due)s 届满，申请人尚未陈述申辩：期限届满或收到陈述申辩前，"
                "不能撤销信用修复。"
            )
            % {"due": timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")},
            code="statement_pending",
        )
    stated = review.representation_at is not None
    if stated:
        answer = clean_text(answer, _("对陈述申辩的答复"))
    else:
        answer = " ".join((answer or "").split())
        _statement_period_close(review, actor=reviewer, at=at)
    case = case_locked(review.case)
    _require_revocable(case)
    policy = policy_on(today)
    if policy is None:
        raise ValidationError(_("没有生效的履约监管期限设置，请管理员先设置。"), code="no_policy")
    barred_until = None
    bar = {}
    if policy.bar_enabled:
        # Barred for the policy's years from today: until the day before the anniversary.
        barred_until = add_years(today, policy.bar_years) - dt.timedelta(days=1)
        bar = {"barred_until": barred_until.isoformat(), "bar_basis": policy.bar_basis}
    record = CreditRecord.objects.select_for_update().get(pk=case.record_id)
    republish = (
        RecordStatus.PUBLISHED if record.publicity_ends_on >= today else RecordStatus.EXPIRED
    )
    hearing = {
        "notice_number": review.notice_letter.number if review.notice_letter_id else "",
        "noticed_on": local_date(review.noticed_at).isoformat(),
        "statement_due": timezone.localtime(clock.due_at).isoformat(),
        "stated_on": local_date(review.representation_at).isoformat() if stated else "",
        "answer": answer,
    }
    letter = letter_issue(
        kind=LetterKind.REVOCATION,
        facts=letter_facts(
            case,
            **_revocation_facts(review, case),
            reasons=reasons,
            basis=basis,
            hearing=hearing,
            **bar,
        ),
        actor=reviewer,
        case=case,
        record=case.record,
        recipient=case.applicant,
        at=at,
        department=review.department,
    )
    notify_letter(letter, case=case)
    _save_review(
        review,
        "confirm",
        by=reviewer,
        at=at,
        reasons=reasons,
        basis=basis,
        answer=answer,
        letter=letter,
        barred_until=barred_until,
    )
    clock_stop(case=review, stage=Stage.BREACH_REVIEW, actor=reviewer, at=at)
    if record.status == RecordStatus.REPAIRED:
        record_status_set(
            actor=reviewer,
            record=record,
            status=republish,
            reason=_("信用修复决定已撤销（%(letter)s）") % {"letter": letter.number},
        )
        sync_event_queue(
            record=record,
            kind=SyncKind.REPUBLISHED,
            source=f"flows.BreachReview:{review.pk}",
            key=f"breach_review:{review.pk}:confirmed",
            actor=reviewer,
            facts={
                "case_number": case.number,
                "letter_number": letter.number,
                "barred_until": barred_until.isoformat() if barred_until else None,
            },
            at=at,
        )
    transition_fire(
        case,
        "revoke",
        actor=reviewer,
        at=at,
        comment="；".join(reasons),
        summary={"letter": letter.number, "review": review.pk},
    )
    MonitoringWindow.objects.filter(pk=review.window_id).update(
        status=MonitoringStatus.BREACHED, closed_at=at
    )
    # The repair is revoked: the window's other reviews have nothing left to decide.
    others = list(
        BreachReview.objects.select_for_update()
        .filter(window_id=review.window_id, status__in=PENDING_BREACH_STATUSES)
        .exclude(pk=review.pk)
    )
    for other in others:
        _save_review(other, "supersede", at=at)
        _clocks_cancel(other, actor=reviewer, at=at)
    audit_record(
        actor=reviewer,
        action="flows.breach_review.confirm",
        object_type="flows.BreachReview",
        object_id=review.pk,
        summary={
            "case": case.label,
            "letter": letter.number,
            "reasons": reasons,
            "basis": basis,
            "stated": stated,
            "barred_until": barred_until.isoformat() if barred_until else None,
            "record_status": republish if record.status == RecordStatus.REPAIRED else record.status,
            "superseded": [o.pk for o in others],
        },
    )
    return review


def _clocks_cancel(review: BreachReview, *, actor, at: dt.datetime) -> None:
    for stage in (Stage.STATEMENT, Stage.BREACH_REVIEW):
        if clocks_for(review).filter(stage=stage, stopped_at=None).exists():
            clock_stop(case=review, stage=stage, actor=actor, at=at, cancel=True)


@transaction.atomic
def breach_dismiss(*, reviewer, review: BreachReview, reasons, basis: str = "") -> BreachReview:
    """Not a breach, before or after the notice: the monitoring goes on (or
    completes now, if it ended while the review was open); the applicant is
    told. A statement period still running ends with it."""
    review = _locked_review(review, reviewer, *PENDING_BREACH_STATUSES)
    reasons = _clean_reasons(reasons)
    basis = _clean_basis(basis, required=False)
    at = timezone.now()
    _save_review(review, "dismiss", by=reviewer, at=at, reasons=reasons, basis=basis)
    if clocks_for(review).filter(stage=Stage.STATEMENT, stopped_at=None).exists():
        clock_stop(case=review, stage=Stage.STATEMENT, actor=reviewer, at=at, cancel=True)
    clock_stop(case=review, stage=Stage.BREACH_REVIEW, actor=reviewer, at=at)
    case = review.case
    case_note(case, "breach_dismissed", actor=reviewer, at=at, comment="；".join(reasons))
    audit_record(
        actor=reviewer,
        action="flows.breach_review.dismiss",
        object_type="flows.BreachReview",
        object_id=review.pk,
        summary={"case": case.label, "reasons": reasons, "basis": basis},
    )
    applicant = case.applicant
    if applicant.email:
        with translation.override(MESSAGE_LANGUAGE):
            facts = {"number": case.number, "reasons": "；".join(reasons)}
            messages_queue_many(
                messages=[
                    NewMessage(
                        key=f"breach_review:{review.pk}:dismissed",
                        to=applicant.email,
                        subject=_("【信用修复】%(number)s 履约核查结果：不予认定") % facts,
                        body=_(
                            "您好：\n\n对您的信用修复 %(number)s 开展的履约核查已办结，"
                            "认定单位未认定违反信用承诺（理由：%(reasons)s），"
                            "信用修复决定继续有效，履约监管照常进行。"
                            "\n\n本邮件由系统自动发送，请勿直接回复。"
                        )
                        % facts,
                        user_id=applicant.pk,
                        at=at,
                    )
                ]
            )
    windows_complete(now=at, actor=reviewer, window_ids=[review.window_id])
    return review


# Completing ---------------------------------------------------------------------


def _instant(value) -> dt.datetime:
    """A timestamp from a raw cursor: PostgreSQL gives an aware datetime,
    SQLite the stored text (UTC, as Django writes it)."""
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)
    return parse_datetime(value).replace(tzinfo=dt.UTC)


def _completion_sql(scope: str) -> str:
    window, review = _table(MonitoringWindow), _table(BreachReview)
    return (
        f"UPDATE {window} SET status = %s, closed_at = %s WHERE id IN ("  # noqa: S608
        f" SELECT w.id FROM {window} w WHERE w.status = %s AND w.ends_at <= %s{scope}"
        f" AND NOT EXISTS (SELECT 1 FROM {review} b WHERE b.window_id = w.id"
        " AND b.status IN (%s, %s))"
        " ORDER BY w.ends_at, w.id LIMIT %s"
        ") AND status = %s RETURNING id, case_id, ends_at"
    )


def windows_complete(
    *, now: dt.datetime, actor, window_ids: list[int] | None = None, limit: int = SWEEP_BATCH
) -> int:
    """Complete up to `limit` windows that ended by `now` with no review
    pending (these windows only, if given), with their cases, in one
    transaction: one UPDATE ... RETURNING claims them (the outer status test
    is re-checked on the locked row, so a second sweeper gets none of them),
    then the cases, timeline rows, audit events and the applicants' emails."""
    open_ = MonitoringStatus.OPEN
    scope, scope_params = "", []
    if window_ids is not None:
        scope = f" AND w.id IN ({_placeholders(window_ids)})"
        scope_params = list(window_ids)
    params = [
        MonitoringStatus.COMPLETED,
        now,
        open_,
        now,
        *scope_params,
        *PENDING_BREACH_STATUSES,
        limit,
        open_,
    ]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_completion_sql(scope), params)
            rows = cursor.fetchall()
        if not rows:
            return 0
        claimed = {window_id: case_id for window_id, case_id, _ends in rows}
        ends = {case_id: _instant(ends_at) for _window, case_id, ends_at in rows}
        case_ids = list(claimed.values())
        # The cases complete with their windows (RepairCase.complete: same
        # source and target, in one UPDATE).
        RepairCase.objects.filter(pk__in=case_ids, status=CaseStatus.APPROVED).update(
            status=CaseStatus.COMPLETED
        )
        cases = list(
            RepairCase.objects.filter(pk__in=case_ids)
            .select_related("applicant", "record")
            .order_by("id")
        )
        CaseEvent.objects.bulk_create(
            [
                CaseEvent(
                    case_id=case.pk,
                    at=now,
                    actor=actor if getattr(actor, "pk", None) else None,
                    action="complete",
                    from_status=CaseStatus.APPROVED,
                    to_status=case.status,
                )
                for case in cases
            ],
            batch_size=1000,
        )
        audit_record_many(
            actor=actor,
            entries=[
                AuditEntry(
                    "flows.monitoring.complete",
                    "flows.MonitoringWindow",
                    str(window_id),
                    {"case_id": case_id},
                )
                for window_id, case_id in claimed.items()
            ],
        )
        messages = []
        with translation.override(MESSAGE_LANGUAGE):
            for case in cases:
                if not case.applicant.email:
                    continue
                facts = {
                    "number": case.number,
                    "decision": case.record.decision_number,
                    "day": local_date(ends[case.pk]).isoformat(),
                }
                messages.append(
                    NewMessage(
                        key=f"monitoring:{case.pk}:completed",
                        to=case.applicant.email,
                        subject=_("【信用修复】%(number)s 信用承诺履约监管期满") % facts,
                        body=_(
                            "您好：\n\n您的信用修复 %(number)s（行政处罚决定书 %(decision)s）"
                            "的信用承诺履约监管已于 %(day)s 期满，监管期内未发现违反承诺的情形，"
                            "本案办结。\n\n本邮件由系统自动发送，请勿直接回复。"
                        )
                        % facts,
                        user_id=case.applicant_id,
                        at=now,
                    )
                )
        messages_queue_many(messages=messages)
        return len(claimed)


# The sweep ----------------------------------------------------------------------


@dataclass
class MonitoringSweep:
    breaches_found: int = 0
    windows_completed: int = 0
    statement_periods_ended: int = 0

    def __str__(self) -> str:
        text = (
            f"{self.breaches_found} breach reviews opened, "
            f"{self.windows_completed} monitoring windows completed"
        )
        if self.statement_periods_ended:
            text += f", {self.statement_periods_ended} statement periods ended unanswered"
        return text


def monitoring_sweep(
    *, now: dt.datetime | None = None, actor="monitor_commitments", batch_size: int = SWEEP_BATCH
) -> MonitoringSweep:
    """The daily sweep: the statement periods that ended unanswered (the
    department's clock runs again), every breach the event path missed (so a window
    ending now with a penalty inside it is reviewed, not completed), then the
    windows that ended with no review pending, in batches. Idempotent."""
    now = now or timezone.now()
    result = MonitoringSweep()
    result.statement_periods_ended = statement_periods_close(now=now, actor=actor)
    result.breaches_found = len(
        breaches_match(
            found_via=BreachFoundVia.SWEEP,
            at=now,
            actor=actor,
            late_since=now - dt.timedelta(days=LATE_ARRIVAL_DAYS),
        )
    )
    while done := windows_complete(now=now, actor=actor, limit=batch_size):
        result.windows_completed += done
        if done < batch_size:
            break
    return result


# Reading ------------------------------------------------------------------------


def hearings_for_applicant(user):
    """The breach reviews of the subjects `user` acts for in which a notice of
    intended revocation was sent: what the applicant is heard on. Before
    the notice a review is the department's business."""
    if (
        not getattr(user, "is_authenticated", False)
        or not user.is_active
        or user.role != Role.APPLICANT
    ):
        return BreachReview.objects.none()
    bound = SubjectBinding.objects.filter(user=user).values("subject_id")
    return BreachReview.objects.filter(
        subject_id__in=bound, noticed_at__isnull=False
    ).select_related(
        "case", "department", "record__department", "notice_letter", "representation_evidence"
    )


def windows_for_applicant(user):
    """The monitoring of the repairs of the subjects `user` acts for."""
    if (
        not getattr(user, "is_authenticated", False)
        or not user.is_active
        or user.role != Role.APPLICANT
    ):
        return MonitoringWindow.objects.none()
    bound = SubjectBinding.objects.filter(user=user).values("subject_id")
    return MonitoringWindow.objects.filter(subject_id__in=bound).select_related(
        "case__record__department", "subject"
    )


def monitoring_figures(
    *, now: dt.datetime, since: dt.datetime, until: dt.datetime, department_id=None
) -> dict:
    """The board's monitoring figures, in two queries: windows open now and,
    of them, ending this calendar month (Beijing); breach reviews opened in
    [since, until), confirmed and dismissed in it, open now, and the repairs
    revoked in it (the cases of the confirmed ones). With a department, the
    windows are those of its repaired records and the reviews those it
    decides (it made the repair decision)."""
    local = timezone.localtime(now)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = _add_months(month_start, 1)
    windows = MonitoringWindow.objects.filter(status=MonitoringStatus.OPEN)
    reviews = BreachReview.objects.all()
    if department_id is not None:
        windows = windows.filter(case__record__department_id=department_id)
        reviews = reviews.filter(department_id=department_id)
    opened = Q(opened_at__gte=since, opened_at__lt=until)
    decided = Q(decided_at__gte=since, decided_at__lt=until)
    confirmed = decided & Q(status=BreachStatus.CONFIRMED)
    return {
        **windows.aggregate(
            open=Count("id"),
            closing_this_month=Count(
                "id", filter=Q(ends_at__gte=month_start, ends_at__lt=next_month)
            ),
        ),
        **reviews.aggregate(
            found=Count("id", filter=opened),
            confirmed=Count("id", filter=confirmed),
            dismissed=Count("id", filter=decided & Q(status=BreachStatus.DISMISSED)),
            pending=Count("id", filter=Q(status__in=PENDING_BREACH_STATUSES)),
            revoked=Count("case", filter=confirmed, distinct=True),
        ),
    }
