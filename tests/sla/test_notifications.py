"""The notifications page, marking read, and the header's unread badge."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from sla.clocks import clock_start
from sla.models import Notification, NotificationKind
from sla.sweep import clocks_sweep

TZ = ZoneInfo("Asia/Shanghai")
STARTED = dt.datetime(2026, 11, 2, 10, 0, tzinfo=TZ)
DUE = dt.datetime(2026, 11, 9, 17, 0, tzinfo=TZ)


@pytest.fixture
def clock(record, officer):
    return clock_start(
        case=record, stage="department_review", actor="test", at=STARTED, assignee=officer
    )


def notify(user, title, *, clock=None, minutes=0, read=False, kind=NotificationKind.WARNING):
    at = STARTED + dt.timedelta(minutes=minutes)
    return Notification.objects.create(
        user=user,
        clock=clock,
        kind=kind,
        level=minutes,
        title=title,
        created_at=at,
        read_at=at if read else None,
    )


def test_a_user_sees_only_their_own_notifications_newest_first(client_for, officer, reviewer):
    notify(officer, "第一条", minutes=1)
    notify(officer, "第二条", minutes=2, read=True)
    notify(reviewer, "别人的通知", minutes=3)
    html = client_for(officer).get("/notifications/").content.decode()
    assert html.index("第二条") < html.index("第一条")
    assert "别人的通知" not in html


def test_unread_ones_are_highlighted_and_offer_mark_read(client_for, officer):
    unread = notify(officer, "未读的", minutes=1)
    read = notify(officer, "已读的", minutes=2, read=True)
    html = client_for(officer).get("/notifications/").content.decode()
    assert html.count('class="unread"') == 1
    assert html.count('class="read"') == 1
    assert f'action="/notifications/{unread.pk}/read/"' in html
    assert f'action="/notifications/{read.pk}/read/"' not in html


def test_a_notification_links_to_its_clock(client_for, officer, clock):
    notify(officer, "有计时的", clock=clock)
    notify(officer, "没有计时的", minutes=1)
    html = client_for(officer).get("/notifications/").content.decode()
    try:
        url = reverse("sla_clock_detail", args=[clock.pk])
    except NoReverseMatch:  # the clock page is built separately; without it, no link
        url = None
    if url:
        assert f'<a href="{url}">有计时的</a>' in html
        assert url == f"/sla/clocks/{clock.pk}/"
    assert "<td>没有计时的</td>" in html


def test_marking_one_read(client_for, officer):
    first = notify(officer, "一", minutes=1)
    second = notify(officer, "二", minutes=2)
    response = client_for(officer).post(f"/notifications/{first.pk}/read/")
    assert response.status_code == 302
    assert response["Location"] == "/notifications/"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None


def test_marking_read_twice_keeps_the_first_time(client_for, officer):
    n = notify(officer, "一", minutes=1, read=True)
    before = n.read_at
    client_for(officer).post(f"/notifications/{n.pk}/read/")
    n.refresh_from_db()
    assert n.read_at == before


def test_nobody_marks_someone_elses_notification(client_for, officer, reviewer):
    theirs = notify(officer, "承办人的通知")
    response = client_for(reviewer).post(f"/notifications/{theirs.pk}/read/")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_read_needs_a_post(client_for, officer):
    n = notify(officer, "一")
    assert client_for(officer).get(f"/notifications/{n.pk}/read/").status_code == 405
    assert client_for(officer).get("/notifications/read-all/").status_code == 405
    n.refresh_from_db()
    assert n.read_at is None


def test_marking_read_needs_the_csrf_token(officer):
    n = notify(officer, "一")
    client = Client(enforce_csrf_checks=True)
    client.force_login(officer)
    assert client.post(f"/notifications/{n.pk}/read/").status_code == 403
    assert client.post("/notifications/read-all/").status_code == 403
    n.refresh_from_db()
    assert n.read_at is None


def test_marking_all_read_touches_only_ones_own(client_for, officer, reviewer):
    for i in range(3):
        notify(officer, f"承办人{i}", minutes=i)
    other = notify(reviewer, "审核人的")
    response = client_for(officer).post("/notifications/read-all/")
    assert response.status_code == 302
    assert not Notification.objects.filter(user=officer, read_at=None).exists()
    other.refresh_from_db()
    assert other.read_at is None


def test_anonymous_visitors_are_sent_to_log_in(client, officer):
    n = notify(officer, "一")
    for method, url in [
        ("get", "/notifications/"),
        ("post", f"/notifications/{n.pk}/read/"),
        ("post", "/notifications/read-all/"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    n.refresh_from_db()
    assert n.read_at is None


def test_the_header_counts_unread_notifications_on_every_page(client_for, officer):
    notify(officer, "一", minutes=1)
    notify(officer, "二", minutes=2)
    notify(officer, "三", minutes=3, read=True)
    client = client_for(officer)
    for url in ["/deadlines/", "/notifications/", "/records/"]:
        response = client.get(url)
        assert response.context["unread_notifications"] == 2
        assert '<span class="nav-count">2</span>' in response.content.decode()
    client.post("/notifications/read-all/")
    response = client.get("/deadlines/")
    assert response.context["unread_notifications"] == 0
    assert 'class="nav-count"' not in response.content.decode()


def test_anonymous_pages_have_no_badge(client, db):
    response = client.get("/deadlines/")
    assert "unread_notifications" not in response.context
    assert 'class="nav-count"' not in response.content.decode()


def test_the_page_pages(client_for, officer):
    for i in range(35):
        notify(officer, f"通知{i:02d}", minutes=i)
    client = client_for(officer)
    first = client.get("/notifications/").content.decode()
    assert "通知34" in first and "通知05" in first and "通知04" not in first
    second = client.get("/notifications/?page=2").content.decode()
    assert "通知04" in second and "通知00" in second


def test_a_sweep_puts_its_warnings_and_escalations_on_the_page(
    client_for, clock, officer, supervisor
):
    clocks_sweep(now=DUE)
    officer_page = client_for(officer).get("/notifications/").content.decode()
    assert (
        "预警：济市监罚〔2026〕1号 · 认定单位审核 已用时 50%，期限 2026-11-09 17:00" in officer_page
    )
    assert "已超时：济市监罚〔2026〕1号" in officer_page
    assert '<span class="nav-count">3</span>' in officer_page
    supervisor_page = client_for(supervisor).get("/notifications/").content.decode()
    assert (
        "超时升级：济市监罚〔2026〕1号 · 认定单位审核 期限 2026-11-09 17:00 已过，承办人 刘洋"
        in (supervisor_page)
    )
    assert "预警" not in supervisor_page


def test_pg_array_writes_literals_and_refuses_what_would_need_escaping():
    from sla.notifications import pg_array

    at = dt.datetime(2026, 11, 9, 9, 0, tzinfo=dt.UTC)
    assert pg_array([1, None, 3]) == "{1,NULL,3}"
    assert pg_array(["warning", at]) == '{warning,"2026-11-09T09:00:00+00:00"}'
    for bad in ('a"b', "a,b", "{x}", 1.5):
        with pytest.raises(ValueError, match="would need escaping"):
            pg_array([bad])


def unread_many(user, n: int) -> None:
    Notification.objects.bulk_create(
        Notification(
            user=user,
            kind=NotificationKind.EVENT,
            title=f"通知 {i}",
            event_key=f"bulk:{i}",
            created_at=STARTED,
        )
        for i in range(n)
    )


@pytest.mark.parametrize(("unread", "badge", "line"), [
    (98, "98", "98 条未读"),
    (99, "99", "99 条未读"),
    (100, "99+", "超过 99 条未读"),
])  # fmt: skip
def test_the_unread_badge_counts_to_99_and_then_says_more(client_for, officer, unread, badge, line):
    # Thousands unread must not cost every page a count of them (issue 18).
    unread_many(officer, unread)
    body = client_for(officer).get("/notifications/").content.decode()
    assert f'<span class="nav-count">{badge}</span>' in body
    assert line in body
    # Read ones are not counted; the badge is on every page.
    notify(officer, "已读", read=True)
    assert (
        f'<span class="nav-count">{badge}</span>'
        in client_for(officer).get("/records/").content.decode()
    )
