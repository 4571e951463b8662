"""In-app notifications: who is told about a clock, what they read, and marking it read.

A policy names its recipients as "assignee" (the clock's assignee),
"supervisors" (every active supervisor) or "group:<name>" (the active members
of that Django group). The sweep (sla.sweep) resolves them with `Recipients`
and writes the rows with `notifications_create`, in the transaction that
claims the transition, so a notification exists exactly when its transition
does.
"""

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.constants import OnConflict
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from repair_flow.models import Role
from sla.models import Notification

TITLE_MAX_LENGTH = Notification._meta.get_field("title").max_length


@dataclass(frozen=True)
class Person:
    """What the sweep needs to know about an assignee."""

    id: int
    name: str
    active: bool


def display_name(user) -> str:
    return user.get_full_name() or user.get_username()


def people(ids: Iterable[int]) -> dict[int, Person]:
    """One query for a batch of assignees."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {
        u.pk: Person(u.pk, display_name(u), u.is_active)
        for u in get_user_model()
        .objects.filter(pk__in=ids)
        .only("id", "username", "first_name", "last_name", "is_active")
    }


class Recipients:
    """Resolves a policy's targets to active user ids.

    Supervisors and groups are read once per instance: one sweep run uses one
    instance, so a run sees one consistent membership and a long backlog costs
    one query per group, not one per clock.
    """

    def __init__(self) -> None:
        self._supervisors: list[int] | None = None
        self._groups: dict[str, list[int]] = {}

    def supervisors(self) -> list[int]:
        if self._supervisors is None:
            self._supervisors = list(
                get_user_model()
                .objects.filter(is_active=True, role=Role.SUPERVISOR)
                .order_by("id")
                .values_list("id", flat=True)
            )
        return self._supervisors

    def group(self, name: str) -> list[int]:
        if name not in self._groups:
            group = Group.objects.filter(name=name).first()
            self._groups[name] = (
                list(
                    group.user_set.filter(is_active=True)
                    .order_by("id")
                    .values_list("id", flat=True)
                )
                if group
                else []
            )
        return self._groups[name]

    def resolve(self, targets: Iterable[str], *, assignee: Person | None) -> list[int]:
        """Distinct active user ids, in the order the targets name them."""
        found: list[int] = []
        for target in targets or ():
            target = str(target)
            if target == "assignee":
                ids = [assignee.id] if assignee and assignee.active else []
            elif target == "supervisors":
                ids = self.supervisors()
            elif target.startswith("group:"):
                ids = self.group(target.removeprefix("group:"))
            else:
                # SlaPolicy.clean refuses anything else; an unknown target in
                # data edited around the admin notifies no one rather than failing the sweep.
                ids = []
            found.extend(i for i in ids if i not in found)
        return found


def _local(at: dt.datetime) -> str:
    # Titles are stored text: show the office's time (Asia/Shanghai), whatever
    # zone the request that reads them runs in.
    return timezone.localtime(at, timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M")


def _fit(title: str) -> str:
    return title if len(title) <= TITLE_MAX_LENGTH else title[: TITLE_MAX_LENGTH - 1] + "…"


def warning_title(
    *, case_label: str, stage: str, percent: int | None, due_at: dt.datetime, assignee: str = ""
) -> str:
    """预警：济市监罚〔2026〕1号 · 认定单位审核 已用时 50%，期限 2026-10-14 13:00

    `assignee` is named for recipients other than the assignee.
    """
    if percent:
        title = _("预警：%(case)s · %(stage)s 已用时 %(percent)s%%，期限 %(due)s") % {
            "case": case_label,
            "stage": stage,
            "percent": percent,
            "due": _local(due_at),
        }
    else:
        title = _("预警：%(case)s · %(stage)s 临近期限 %(due)s") % {
            "case": case_label,
            "stage": stage,
            "due": _local(due_at),
        }
    if assignee:
        title += _("，承办人 %(assignee)s") % {"assignee": assignee}
    return _fit(title)


def breach_title(*, case_label: str, stage: str, due_at: dt.datetime, assignee: str) -> str:
    """To the assignee: their stage is past its deadline."""
    return _fit(
        _("已超时：%(case)s · %(stage)s 期限 %(due)s 已过，承办人 %(assignee)s")
        % {"case": case_label, "stage": stage, "due": _local(due_at), "assignee": assignee}
    )


def escalation_title(*, case_label: str, stage: str, due_at: dt.datetime, assignee: str) -> str:
    """To the escalation recipients (supervisors): a breach in their queue."""
    return _fit(
        _("超时升级：%(case)s · %(stage)s 期限 %(due)s 已过，承办人 %(assignee)s")
        % {"case": case_label, "stage": stage, "due": _local(due_at), "assignee": assignee}
    )


@dataclass(frozen=True, slots=True)
class NewNotification:
    """One notification to write: the columns, without a model instance."""

    user_id: int
    clock_id: int | None
    kind: str
    level: int
    title: str
    created_at: dt.datetime


_COLUMNS = ("user_id", "clock_id", "kind", "level", "title", "created_at")


def notifications_create(*, notifications: Sequence[NewNotification]) -> int:
    """Write in-app notifications, in the caller's transaction.

    The unique key (clock, kind, level, user) is the backstop: a row that
    already exists is skipped (INSERT OR IGNORE / ON CONFLICT DO NOTHING),
    never written twice. The sweep's claims make that case not arise, so the
    count returned is the count written. Plain INSERTs of prepared values:
    bulk_create's per-field preparation was most of a sweep's time.

    This is the one place notifications are written. Email is not sent yet:
    the letters work adds, here and in the same transaction, one outbox row
    per notification whose recipient has an address, so a crash can neither
    lose nor repeat a message.
    """
    if not notifications:
        return 0
    ops = connection.ops
    qn = ops.quote_name
    adapt = functools.lru_cache(maxsize=256)(ops.adapt_datetimefield_value)
    values = [
        (n.user_id, n.clock_id, n.kind, n.level, _fit(n.title), adapt(n.created_at))
        for n in notifications
    ]
    # Multi-row VALUES, as many rows a statement as the database takes
    # parameters: one round trip per 1,000 rows, not one per row.
    per_statement = min(1000, (connection.features.max_query_params or 6000) // len(_COLUMNS))
    row = f"({', '.join(['%s'] * len(_COLUMNS))})"
    with connection.cursor() as cursor:
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            sql = " ".join(
                part
                for part in (
                    ops.insert_statement(on_conflict=OnConflict.IGNORE),
                    f"{qn(Notification._meta.db_table)} ({', '.join(qn(c) for c in _COLUMNS)})",
                    "VALUES " + ", ".join([row] * len(chunk)),
                    ops.on_conflict_suffix_sql([], OnConflict.IGNORE, None, None),
                )
                if part
            )
            cursor.execute(sql, [value for r in chunk for value in r])
    return len(notifications)


# Reads and the reader's own writes (the notifications page).


def notifications_for_user(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def notifications_unread_count(user) -> int:
    if not (user and user.is_authenticated):
        return 0
    return Notification.objects.filter(user=user, read_at=None).count()


def notification_get_for_user(*, user, pk: int) -> Notification:
    """Someone else's notification is a 404, the same as a missing one."""
    try:
        return Notification.objects.get(pk=pk, user=user)
    except Notification.DoesNotExist:
        raise Http404(_("没有这条通知。")) from None


@transaction.atomic
def notification_mark_read(*, user, pk: int, at: dt.datetime | None = None) -> Notification:
    notification = notification_get_for_user(user=user, pk=pk)
    if notification.read_at is None:
        notification.read_at = at or timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user, at: dt.datetime | None = None) -> int:
    return Notification.objects.filter(user=user, read_at=None).update(read_at=at or timezone.now())
