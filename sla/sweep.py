"""The sweep: moves running clocks through their warnings and into breach.

    clocks_sweep(now=..., actor=...) -> SweepResult

Run every minute by the embedded scheduler (`manage.py serve`), by Celery
beat in the scale-out set-up (task `sla.sweep`), or by hand (`manage.py
sla_sweep`). Any number may run at once.

It reads only clocks that are due: `state = 'running' AND next_check_at <=
now`, the partial index `sla_clock_due_check`. Each batch is one transaction:

1. take up to `batch_size` due clocks, locking them; on PostgreSQL rows that
   another sweeper holds are skipped (SKIP LOCKED), so sweepers share the
   work instead of queueing for it;
2. claim each transition with a conditional UPDATE ... RETURNING id, in
   order: first warning, second warning, breach. Only rows an UPDATE changed
   are notified, so a transition another sweeper (or an earlier run) already
   made is never notified again; a clock the sweep reached late passes every
   level in this one batch, in order, each once;
3. write the notifications, the escalations and one audit event per
   transition kind, in the same transaction as the claims.

A crash rolls back the batch in hand; the batches before it are committed.
The next run picks up exactly what is left.
"""

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation

from repair_flow.audit import AuditEntry, audit_record_many
from sla.models import (
    ClockState,
    Escalation,
    NotificationKind,
    SlaClock,
    SlaPolicy,
)
from sla.notifications import (
    NewNotification,
    Person,
    Recipients,
    notifications_create,
    people,
    pg_array,
)

log = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 1000

_TABLE = SlaClock._meta.db_table
_DUE_INDEX = "sla_clock_due_check"
_ROW_FIELDS = ("id", "policy_id", "assignee_id", "due_at")


class _Due(NamedTuple):
    """What the sweep reads of a due clock: enough to address its notifications."""

    id: int
    policy_id: int
    assignee_id: int | None
    due_at: dt.datetime

    @classmethod
    def from_db(cls, row) -> "_Due":
        due_at = row[3]
        if isinstance(due_at, str):  # SQLite without its type converters
            due_at = dt.datetime.fromisoformat(due_at)
        if due_at.tzinfo is None:  # SQLite stores naive times in the connection's zone (UTC)
            due_at = due_at.replace(tzinfo=connection.timezone)
        return cls(*row[:3], due_at)


def _due_sql() -> str:
    """Up to %s clocks due by %s, read through the partial index and locked.

    The state is a literal so the planners can match the partial index's
    condition. SQLite without ANALYZE statistics would rather read every
    running clock through (state, stage): INDEXED BY holds it to the partial
    index (and fails loudly if the index is ever gone). On PostgreSQL, rows
    another sweeper has locked are skipped, so sweepers share the backlog.
    """
    qn = connection.ops.quote_name
    hint = f" INDEXED BY {qn(_DUE_INDEX)}" if connection.vendor == "sqlite" else ""
    lock = ""
    if connection.features.has_select_for_update_skip_locked:
        lock = " FOR UPDATE SKIP LOCKED"
    elif connection.features.has_select_for_update:
        lock = " FOR UPDATE"
    return (
        f"SELECT {', '.join(qn(f) for f in _ROW_FIELDS)} FROM {qn(_TABLE)}{hint}"  # noqa: S608
        f" WHERE {qn('state')} = '{ClockState.RUNNING.value}' AND {qn('next_check_at')} <= %s"
        f" ORDER BY {qn('next_check_at')} LIMIT %s{lock}"
    )


# The claims. Each names the state it moves a clock from, so it changes a row
# at most once however many sweepers try; RETURNING says which rows this
# sweeper moved, and only those are notified. `next_check_at` is set as
# sla.clocks._next_check would set it.
_CLAIM_FIRST = (
    "UPDATE {table}{by_id} SET warned_level = 1, next_check_at = COALESCE(warn2_at, due_at)"
    " WHERE id {ids} AND state = %s AND warned_level < 1"
    " AND warn1_at IS NOT NULL AND warn1_at <= %s RETURNING id"
)
_CLAIM_SECOND = (
    "UPDATE {table}{by_id} SET warned_level = 2, next_check_at = due_at"
    " WHERE id {ids} AND state = %s AND warned_level < 2"
    " AND warn2_at IS NOT NULL AND warn2_at <= %s RETURNING id"
)
# A breached clock stays open (stopped_at stays null): the work is still owed.
_CLAIM_BREACH = (
    "UPDATE {table}{by_id} SET state = '{breached}', breached_at = due_at, next_check_at = NULL"
    " WHERE id {ids} AND state = %s AND due_at <= %s RETURNING id"
)
# A due row that none of the claims moved has a next_check_at that disagrees
# with its thresholds (written by hand, or by code outside sla.clocks). Put it
# back on its next threshold, which the claims just made lie in the future,
# so the sweep cannot pick the same row forever.
_RESYNC = (
    "UPDATE {table}{by_id} SET next_check_at = CASE"
    " WHEN warned_level < 1 AND warn1_at IS NOT NULL THEN warn1_at"
    " WHEN warned_level < 2 AND warn2_at IS NOT NULL THEN warn2_at"
    " ELSE due_at END"
    " WHERE id {ids} AND state = %s AND next_check_at <= %s"
)


@dataclass
class SweepResult:
    warned_first: int = 0
    warned_second: int = 0
    breached: int = 0
    escalated: int = 0
    notified: int = 0
    batches: int = 0
    resynced: int = 0
    stuck: bool = False

    def add(self, other: "SweepResult") -> None:
        for name in self.__dataclass_fields__:
            if name != "stuck":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.stuck = self.stuck or other.stuck

    def __str__(self) -> str:
        text = (
            f"warned {self.warned_first} (first), {self.warned_second} (second), "
            f"breached {self.breached}, escalated {self.escalated}, notified {self.notified}"
        )
        if self.resynced:
            text += f", resynced {self.resynced}"
        return text


def _sql(template: str, count: int) -> str:
    qn = connection.ops.quote_name
    return template.format(
        table=qn(_TABLE),
        # SQLite without statistics would take the (state, stage) index and
        # read every running clock for each claim; NOT INDEXED leaves it the
        # primary key, 1,000 lookups. PostgreSQL picks the key by itself.
        by_id=" NOT INDEXED" if connection.vendor == "sqlite" else "",
        ids=_ids_sql(count),
        breached=ClockState.BREACHED.value,
    )


def _ids_sql(count: int) -> str:
    # PostgreSQL: one array parameter. Django binds parameters on the client,
    # so IN (%s, ... 1,000 times) is a long query for psycopg to split and
    # for the server to parse, on every claim.
    if connection.vendor == "postgresql":
        return "= ANY(%s::bigint[])"
    return f"IN ({', '.join(['%s'] * count)})"


def _ids_params(ids: list[int]) -> list:
    if connection.vendor == "postgresql":
        return [pg_array(ids)]
    return list(ids)


def _claim(template: str, ids: list[int], now) -> list[int]:
    """Run one conditional UPDATE over `ids` as of `now` (already adapted for
    the database); the ids it changed."""
    params = [*_ids_params(ids), ClockState.RUNNING.value, now]
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            # SQLite >= 3.35 and PostgreSQL: UPDATE ... RETURNING.
            cursor.execute(_sql(template, len(ids)), params)
            return [row[0] for row in cursor.fetchall()]
        # Older SQLite: no RETURNING. Its transactions take the write lock at
        # BEGIN (transaction_mode IMMEDIATE), so nothing can change the rows
        # between this SELECT and the UPDATE; the row count still must agree.
        update = _sql(template, len(ids)).removesuffix(" RETURNING id")
        where = update[update.index(" WHERE ") :]
        table = update[len("UPDATE ") : update.index(" SET ")]  # with its NOT INDEXED
        cursor.execute(f"SELECT id FROM {table}{where}", params)  # noqa: S608
        changed = [row[0] for row in cursor.fetchall()]
        cursor.execute(update, params)
        if cursor.rowcount != len(changed):
            raise transaction.TransactionManagementError(
                "sla sweep: a claim changed other rows than it selected; the batch is rolled back"
            )
        return changed


def _resync(ids: list[int], now: dt.datetime) -> tuple[int, bool]:
    """Rows the claims left alone although they were due: put next_check_at
    back in step. (resynced, stuck): stuck when some are due even so, which
    would make the sweep pick them forever."""
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_RESYNC, len(ids)),
            [
                *_ids_params(ids),
                ClockState.RUNNING.value,
                connection.ops.adapt_datetimefield_value(now),
            ],
        )
        resynced = cursor.rowcount
    # Rows another sweeper moved since this one read them are no longer due:
    # nothing to put right, nothing to say.
    if resynced:
        log.warning("sla sweep: resynced next_check_at of %d clocks: %s", resynced, ids[:20])
    # By primary key, then in Python: a filter on state could read every running clock.
    stuck = any(
        state == ClockState.RUNNING and next_check is not None and next_check <= now
        for state, next_check in SlaClock.objects.filter(id__in=ids).values_list(
            "state", "next_check_at"
        )
    )
    if stuck:
        log.error("sla sweep: clocks due that no claim moves, stopping this run: %s", ids[:20])
    return resynced, stuck


@dataclass
class _Context:
    now: dt.datetime
    actor: object
    recipients: Recipients = field(default_factory=Recipients)
    policies: dict[int, SlaPolicy] = field(default_factory=dict)

    def policy(self, pk: int) -> SlaPolicy:
        if pk not in self.policies:
            self.policies.update({p.pk: p for p in SlaPolicy.objects.all()})
        return self.policies[pk]


def _notifications(ctx: _Context, rows: dict[int, _Due], first, second, breached):
    """The notifications for this batch's transitions: facts only, no text
    (the headline is written when read, in the reader's language)."""
    assignees = people(rows[i].assignee_id for i in (*first, *second, *breached))
    out: list[NewNotification] = []

    for level, ids in ((1, first), (2, second)):
        for clock_id in ids:
            row = rows[clock_id]
            policy = ctx.policy(row.policy_id)
            thresholds = policy.thresholds
            percent = thresholds[level - 1] if len(thresholds) >= level else None
            assignee: Person | None = assignees.get(row.assignee_id)
            for user_id in ctx.recipients.resolve(policy.warn_to, assignee=assignee):
                out.append(
                    NewNotification(
                        user_id, clock_id, NotificationKind.WARNING, level, percent,
                        row.due_at, row.assignee_id, ctx.now,
                    )
                )  # fmt: skip
    for clock_id in breached:
        row = rows[clock_id]
        policy = ctx.policy(row.policy_id)
        assignee = assignees.get(row.assignee_id)
        # The assignee is always told, whatever escalate_to says; the others
        # receive the escalation.
        for user_id in ctx.recipients.resolve(["assignee", *policy.escalate_to], assignee=assignee):
            kind = (
                NotificationKind.BREACH
                if assignee and user_id == assignee.id
                else NotificationKind.ESCALATION
            )
            out.append(
                NewNotification(
                    user_id, clock_id, kind, 0, None, row.due_at, row.assignee_id, ctx.now
                )
            )
    return out


def _sweep_batch(ctx: _Context, batch_size: int) -> SweepResult | None:
    """One transaction: claim, notify, escalate, audit. None when nothing is due."""
    with transaction.atomic():
        now = connection.ops.adapt_datetimefield_value(ctx.now)
        with connection.cursor() as cursor:
            cursor.execute(_due_sql(), [now, batch_size])
            rows = {row[0]: _Due.from_db(row) for row in cursor.fetchall()}
        if not rows:
            return None
        ids = list(rows)
        # In this order, so a late clock is warned first, then second, then breached.
        first = _claim(_CLAIM_FIRST, ids, now)
        second = _claim(_CLAIM_SECOND, ids, now)
        breached = _claim(_CLAIM_BREACH, ids, now)
        untouched = sorted(set(ids) - set(first) - set(second) - set(breached))
        resynced, stuck = _resync(untouched, ctx.now) if untouched else (0, False)

        notified = notifications_create(
            notifications=_notifications(ctx, rows, first, second, breached)
        )
        Escalation.objects.bulk_create(
            [Escalation(clock_id=i, created_at=ctx.now) for i in breached],
            ignore_conflicts=True,
        )
        as_of = ctx.now.isoformat()
        entries = [
            AuditEntry(action, "sla.SlaClock", "", {"as_of": as_of, **extra, "ids": claimed})
            for action, extra, claimed in (
                ("sla.warn", {"level": 1}, first),
                ("sla.warn", {"level": 2}, second),
                ("sla.breach", {}, breached),
            )
            if claimed
        ]
        if entries:
            audit_record_many(actor=ctx.actor, entries=entries)
        return SweepResult(
            warned_first=len(first),
            warned_second=len(second),
            breached=len(breached),
            escalated=len(breached),
            notified=notified,
            batches=1,
            resynced=resynced,
            stuck=stuck,
        )


def clocks_sweep(
    *,
    now: dt.datetime | None = None,
    actor="sla_sweep",
    batch_size: int = SWEEP_BATCH_SIZE,
    on_batch: Callable[[SweepResult], None] | None = None,
) -> SweepResult:
    """Move every clock due by `now` (default: the current time) through its
    warnings and into breach. `on_batch` receives the running totals after
    each committed batch (the command's progress output)."""
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("now must be timezone-aware")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    ctx = _Context(now=now, actor=actor)
    total = SweepResult()
    # Titles are stored text: write them in the product's language, whatever
    # language the caller (a request, a worker) has active.
    with translation.override(settings.LANGUAGE_CODE):
        while True:
            result = _sweep_batch(ctx, batch_size)
            if result is None:
                return total
            total.add(result)
            if on_batch is not None:
                on_batch(total)
            if result.stuck:
                return total
