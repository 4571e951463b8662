"""In-app notifications: who is told about a clock, what they read, and marking it read.

A policy names its recipients as "assignee" (the clock's assignee),
"supervisors" (every active supervisor) or "group:<name>" (the active members
of that Django group). The sweep (sla.sweep) resolves them with `Recipients`
and writes the rows with `notifications_create`, in the transaction that
claims the transition, so a notification exists exactly when its transition
does. A recipient with an email address also gets an email: an outbox row
written with the notification (letters.outbox), sent by the letters sweep.
"""

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from letters.outbox import NewMessage, messages_queue_many
from repair_flow.models import Role, display_name
from sla.models import Notification, NotificationKind, SlaClock, Stage


@dataclass(frozen=True)
class Person:
    """What the sweep needs to know about an assignee."""

    id: int
    name: str
    active: bool


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


class NewNotification(NamedTuple):
    """One notification to write: the columns in order, without a model instance."""

    user_id: int
    clock_id: int | None
    kind: str
    level: int
    percent: int | None
    due_at: dt.datetime | None
    assignee_id: int | None
    created_at: dt.datetime


_COLUMNS = (
    "user_id",
    "clock_id",
    "kind",
    "level",
    "percent",
    "due_at",
    "assignee_id",
    "created_at",
)
_DATETIMES = (5, 7)


def notifications_create(*, notifications: Sequence[NewNotification]) -> int:
    """Write in-app notifications, in the caller's transaction.

    The unique key (clock, kind, level, user) is the backstop: a row that
    already exists is skipped (ON CONFLICT DO NOTHING),
    never written twice. The sweep's claims make that case not arise, so the
    count returned is the count written. Plain INSERTs of prepared values:
    bulk_create's per-field preparation was most of a sweep's time.

    This is the one place notifications are written. Here too, in the same
    transaction, one outbox email per notification whose recipient has an
    address (`_emails_create`), so a crash can neither lose nor repeat one.
    """
    if not notifications:
        return 0
    if connection.vendor == "postgresql":
        _insert_unnest(notifications)
    else:
        _insert_values(notifications)
    _emails_create(notifications)
    return len(notifications)


# The email for a notification: written with it, sent by the letters sweep.

EMAIL_LANGUAGE = "zh-hans"
# The office's time, named as such in the text: 北京时间.
BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")


def email_key(n: NewNotification) -> str:
    return f"sla:{n.clock_id}:{n.kind}:{n.level}:{n.user_id}"


def _emails_create(notifications: Sequence[NewNotification]) -> int:
    """Queue the emails for a batch, set-based: one query for the addresses
    of the batch's users; only if someone has one, one for the clocks' case
    and stage, and one INSERT. No task per message: the letters sweep sends
    them within a minute, and the SLA sweep stays as fast as it was."""
    about_clocks = [n for n in notifications if n.clock_id is not None]
    if not about_clocks:
        return 0
    addresses = _addresses({n.user_id for n in about_clocks})
    mailed = [n for n in about_clocks if n.user_id in addresses]
    if not mailed:
        return 0
    clocks = {
        pk: (case, stage)
        for pk, case, stage in SlaClock.objects.filter(
            pk__in={n.clock_id for n in mailed}
        ).values_list("id", "case_label", "stage")
    }
    base = settings.SITE_URL.rstrip("/")
    messages = []
    for n in mailed:
        case, stage = clocks[n.clock_id]
        email, language = addresses[n.user_id]
        # In the language the recipient chose on their profile page.
        with translation.override(language or EMAIL_LANGUAGE):
            subject, body = _email_text(
                n, case=case, stage=Stage(stage).label, link=f"{base}/sla/clocks/{n.clock_id}/"
            )
        messages.append(NewMessage(email_key(n), email, subject, body, n.user_id, n.created_at))
    return messages_queue_many(messages=messages)


def _addresses(user_ids: set[int]) -> dict[int, tuple[str, str]]:
    """{user id: (email, language)} of those who have an address and keep
    email on (their profile): one query."""
    users = get_user_model()
    if connection.vendor != "postgresql":
        return {
            pk: (email, language)
            for pk, email, language in users.objects.filter(
                pk__in=user_ids, email_notifications=True
            )
            .exclude(email="")
            .values_list("id", "email", "language")
        }
    # One array parameter, not IN (%s, ...) per user: a sweep batch names
    # hundreds of users, and this runs in every batch (see pg_array).
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn('id')}, {qn('email')}, {qn('language')}"  # noqa: S608 - our names
            f" FROM {qn(users._meta.db_table)}"
            f" WHERE {qn('id')} = ANY(%s::bigint[]) AND {qn('email')} <> ''"
            f" AND {qn('email_notifications')}",
            [pg_array(user_ids)],
        )
        return {pk: (email, language) for pk, email, language in cursor.fetchall()}


def _email_text(n: NewNotification, *, case: str, stage: str, link: str) -> tuple[str, str]:
    """(subject, body) in the active language."""
    params = {
        "case": case,
        "stage": stage,
        "due": timezone.localtime(n.due_at, BEIJING).strftime("%Y-%m-%d %H:%M") if n.due_at else "",
        "percent": n.percent,
    }
    if n.kind == NotificationKind.BREACH:
        subject = _("【已超时】%(case)s · %(stage)s") % params
        text = _(
            "您承办的案件 %(case)s 的“%(stage)s”环节已超过期限 %(due)s（北京时间），请尽快办理。"
        )
    elif n.kind == NotificationKind.ESCALATION:
        subject = _("【超时升级】%(case)s · %(stage)s") % params
        text = _("案件 %(case)s 的“%(stage)s”环节已超过期限 %(due)s（北京时间），已升级督办。")
    else:
        subject = _("【时限预警】%(case)s · %(stage)s") % params
        text = (
            _("案件 %(case)s 的“%(stage)s”环节已用时 %(percent)s%%，期限为 %(due)s（北京时间）。")
            if n.percent
            else _("案件 %(case)s 的“%(stage)s”环节临近期限 %(due)s（北京时间）。")
        )
    body = _("您好：\n\n%(text)s\n\n查看详情：%(link)s\n\n本邮件由系统自动发送，请勿直接回复。") % {
        "text": text % params,
        "link": link,
    }
    return subject, body


def pg_array(values: Iterable) -> str:
    """A PostgreSQL array literal of ints, plain words or aware datetimes.

    Django binds parameters on the client: psycopg would quote a list element
    by element in Python, and a 10,000-row write spent most of its time
    there. One string is one quote. Only values that need no escaping are
    accepted.
    """
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, dt.datetime):
            parts.append(f'"{value.isoformat()}"')
        elif isinstance(value, int) or (isinstance(value, str) and value.isidentifier()):
            parts.append(str(value))
        else:
            raise ValueError(f"pg_array: {value!r} would need escaping")
    return "{" + ",".join(parts) + "}"


def _insert_unnest(notifications: Sequence[NewNotification]) -> None:
    """PostgreSQL: one statement, one array a column, whatever the count."""
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(Notification._meta.db_table)} ({', '.join(qn(c) for c in _COLUMNS)})"  # noqa: S608
        " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::smallint[],"
        " %s::smallint[], %s::timestamptz[], %s::bigint[], %s::timestamptz[])"
        " ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [pg_array(c) for c in zip(*notifications, strict=True)])


def _insert_values(notifications: Sequence[NewNotification]) -> None:
    """Other databases: multi-row VALUES, as many rows a statement as the
    database takes parameters (one round trip per 1,000 rows, not per row)."""
    ops = connection.ops
    qn = ops.quote_name
    adapt = functools.lru_cache(maxsize=256)(ops.adapt_datetimefield_value)
    values = [
        tuple(adapt(v) if i in _DATETIMES and v is not None else v for i, v in enumerate(n))
        for n in notifications
    ]
    per_statement = min(1000, (connection.features.max_query_params or 6000) // len(_COLUMNS))
    row = f"({', '.join(['%s'] * len(_COLUMNS))})"
    # ON CONFLICT DO NOTHING, not SQLite's INSERT OR IGNORE: OR IGNORE would
    # also drop a row that breaks NOT NULL or CHECK, silently.
    table = f"{qn(Notification._meta.db_table)} ({', '.join(qn(c) for c in _COLUMNS)})"
    with connection.cursor() as cursor:
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            cursor.execute(
                f"INSERT INTO {table} VALUES {', '.join([row] * len(chunk))}"  # noqa: S608
                " ON CONFLICT DO NOTHING",
                [value for r in chunk for value in r],
            )


# Reads and the reader's own writes (the notifications page).


def notifications_for_user(user) -> QuerySet[Notification]:
    return (
        Notification.objects.filter(user=user)
        .select_related("clock", "assignee")
        .order_by("-created_at", "-id")
    )


# The header's badge counts unread notifications up to this many and then
# says "99+": it is on every page, and a user with thousands unread must not
# cost every page a count of them (issue 18).
UNREAD_SHOWN_MAX = 99


def notifications_unread_count(user) -> int:
    """Unread notifications, counted up to UNREAD_SHOWN_MAX + 1 (which reads
    "more than UNREAD_SHOWN_MAX")."""
    if not (user and user.is_authenticated):
        return 0
    unread = Notification.objects.filter(user=user, read_at=None)
    return unread[: UNREAD_SHOWN_MAX + 1].count()


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
