"""Administrators correct the calendar in the Django admin; edits take effect at once."""

import datetime as dt

import pytest

from repair_flow.models import AuditEvent
from sla.models import CalendarDay, CalendarYear
from sla.services import deadline_working_days, work_calendar

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 3, 16)


def inline(*days):
    data = {
        "days-TOTAL_FORMS": str(len(days)),
        "days-INITIAL_FORMS": "0",
        "days-MIN_NUM_FORMS": "0",
        "days-MAX_NUM_FORMS": "1000",
    }
    for i, (date, kind, name) in enumerate(days):
        data |= {f"days-{i}-date": date, f"days-{i}-kind": kind, f"days-{i}-name": name}
    return data


def test_an_administrator_adds_a_year_with_its_days(client_for, administrator):
    assert not work_calendar().is_loaded(2027)
    response = client_for(administrator).post(
        "/admin/sla/calendaryear/add/",
        {
            "year": "2027",
            "source": "国办发明电〔2026〕99号（测试）",
            **inline(("2027-01-01", "holiday", "元旦"), ("2027-02-06", "workday", "春节")),
        },
    )
    assert response.status_code == 302, response.content.decode()
    calendar = work_calendar()
    assert calendar.is_loaded(2027)
    assert not calendar.is_working_day(dt.date(2027, 1, 1))
    assert calendar.is_working_day(dt.date(2027, 2, 6))
    event = AuditEvent.objects.get(action="calendar.add_year")
    assert event.actor == administrator
    assert event.object_id == "2027"
    assert event.summary["added"] == ["2027-01-01 holiday 元旦", "2027-02-06 workday 春节"]


def test_an_edited_day_takes_effect_at_once(client_for, administrator):
    warm = work_calendar()
    assert warm.is_working_day(MONDAY)
    year = CalendarYear.objects.get(year=2026)
    response = client_for(administrator).post(
        "/admin/sla/calendarday/add/",
        {
            "calendar_year": year.pk,
            "date": "2026-03-16",
            "kind": "holiday",
            "name": "临时放假（测试）",
        },
    )
    assert response.status_code == 302, response.content.decode()
    assert not work_calendar().is_working_day(MONDAY)
    deadline = deadline_working_days(dt.datetime.fromisoformat("2026-03-13T10:00+08:00"), 1)
    assert deadline.due_at.isoformat() == "2026-03-17T17:00:00+08:00"
    assert "2026-03-16 周一 临时放假（测试）（法定节假日），不计" in deadline.explanation
    event = AuditEvent.objects.get(action="calendar.edit_day")
    assert event.summary["added"] == ["2026-03-16 holiday 临时放假（测试）"]

    day = CalendarDay.objects.get(date=MONDAY)
    response = client_for(administrator).post(
        f"/admin/sla/calendarday/{day.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert work_calendar().is_working_day(MONDAY)
    assert AuditEvent.objects.filter(action="calendar.edit_day").count() == 2


def test_editing_an_existing_day_in_the_year_page(client_for, administrator):
    year = CalendarYear.objects.get(year=2026)
    national_day = list(year.days.order_by("date"))
    data = {
        "year": "2026",
        "source": year.source,
        "days-TOTAL_FORMS": str(len(national_day)),
        "days-INITIAL_FORMS": str(len(national_day)),
        "days-MIN_NUM_FORMS": "0",
        "days-MAX_NUM_FORMS": "1000",
    }
    for i, day in enumerate(national_day):
        data |= {
            f"days-{i}-id": day.pk,
            f"days-{i}-calendar_year": year.pk,
            f"days-{i}-date": day.date.isoformat(),
            f"days-{i}-kind": day.kind,
            f"days-{i}-name": day.name,
        }
        if day.date == dt.date(2026, 10, 10):
            data[f"days-{i}-DELETE"] = "on"
    work_calendar()
    response = client_for(administrator).post(f"/admin/sla/calendaryear/{year.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()
    assert not work_calendar().is_working_day(dt.date(2026, 10, 10))
    event = AuditEvent.objects.get(action="calendar.edit_year")
    assert event.summary["removed"] == ["2026-10-10 workday 国庆节"]


@pytest.mark.parametrize(
    ("date", "kind", "name", "message"),
    [
        ("2026-03-16", "workday", "x", "2026-03-16 是周一，本来就是工作日，不能登记为调休上班"),
        ("2027-03-16", "holiday", "x", "日期须在 2026 年内"),
        ("2026-03-16", "holiday", "", "放假日须写明节日名称"),
        ("2026-10-01", "holiday", "国庆节", "日期"),  # already there: unique
    ],
)
def test_the_admin_refuses_an_impossible_day(client_for, administrator, date, kind, name, message):
    year = CalendarYear.objects.get(year=2026)
    before = CalendarDay.objects.count()
    response = client_for(administrator).post(
        "/admin/sla/calendarday/add/",
        {
            "calendar_year": year.pk,
            "date": date,
            "kind": kind,
            "name": name,
        },
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert CalendarDay.objects.count() == before
    assert not AuditEvent.objects.exists()


def test_deleting_a_year_makes_its_deadlines_provisional(client_for, administrator):
    received = dt.datetime.fromisoformat("2026-09-30T10:00+08:00")
    assert deadline_working_days(received, 3).provisional is False
    year = CalendarYear.objects.get(year=2026)
    response = client_for(administrator).post(
        f"/admin/sla/calendaryear/{year.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    deadline = deadline_working_days(received, 3)
    assert deadline.provisional is True
    # Weekends and the statutory holidays (1-3 October), no 调休: not the official 10-10.
    assert deadline.due_at.isoformat() == "2026-10-07T17:00:00+08:00"
    assert not CalendarDay.objects.filter(date__year=2026).exists()
    event = AuditEvent.objects.get(action="calendar.delete_year")
    assert (event.object_id, event.summary) == ("2026", {"days_removed": 39})


def test_the_admin_pages_render(client_for, administrator):
    client = client_for(administrator)
    year = CalendarYear.objects.get(year=2026)
    for url in (
        "/admin/sla/calendaryear/",
        f"/admin/sla/calendaryear/{year.pk}/change/",
        "/admin/sla/calendaryear/add/",
        "/admin/sla/calendarday/",
        "/admin/sla/calendarday/?kind=workday",
        "/admin/sla/calendarday/add/",
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("persona", ["officer", "supervisor", "applicant"])
def test_other_personas_cannot_edit_the_calendar(request, client, persona):
    client.force_login(request.getfixturevalue(persona))
    for url in ("/admin/sla/calendaryear/", "/admin/sla/calendarday/add/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
