"""The admin's pages showing natural persons go through the access register
(shared domain reference section 8): a purpose per session, lapsing after a
set time, and every person shown registered, one INSERT per page."""

import datetime as dt

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from repair_flow.models import AccessLogEntry

START = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)


def state_purpose(client, purpose="data_maintenance"):
    return client.post("/access-purpose/", {"purpose": purpose, "next": "/admin/"})


def test_the_admins_person_pages_ask_a_purpose_first(client_for, administrator, person):
    c = client_for(administrator)
    for url in (
        "/admin/records/subject/",
        f"/admin/records/subject/{person.pk}/change/",
        "/admin/records/creditrecord/",
        "/admin/letters/commitment/",
        "/admin/letters/letter/",
        "/admin/records/syncevent/",
        "/admin/records/subjectbinding/",
    ):
        response = c.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/access-purpose/?next="), url
    assert AccessLogEntry.objects.count() == 0
    form = c.get("/access-purpose/", {"next": "/admin/records/subject/"})
    assert "请说明查询目的" in form.content.decode()
    refused = c.post("/access-purpose/", {"purpose": "curiosity"})
    assert refused.status_code == 400


def test_a_changelist_registers_each_person_shown_in_one_insert(
    client_for, administrator, person, enterprise, person_record, record
):
    c = client_for(administrator)
    done = state_purpose(c)
    assert done.status_code == 302 and done["Location"] == "/admin/"
    with CaptureQueriesContext(connection) as queries:
        page = c.get("/admin/records/subject/")
    assert page.status_code == 200
    body = page.content.decode()
    assert person.name in body and person.identifier not in body
    entries = list(AccessLogEntry.objects.all())
    assert [(e.subject, e.what, e.purpose, e.channel) for e in entries] == [
        (person, f"admin:records.subject:{person.pk}:list", "data_maintenance", "admin")
    ]
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len([q for q in inserts if "accesslogentry" in q]) == 1

    c.get("/admin/records/creditrecord/")
    assert AccessLogEntry.objects.filter(
        what=f"admin:records.creditrecord:{person_record.pk}:list"
    ).exists()
    # The enterprise's record is not a person's: not registered.
    assert not AccessLogEntry.objects.filter(
        what=f"admin:records.creditrecord:{record.pk}:list"
    ).exists()


def test_an_object_page_registers_the_person(client_for, administrator, person, enterprise):
    c = client_for(administrator)
    state_purpose(c, "supervision")
    assert c.get(f"/admin/records/subject/{person.pk}/change/").status_code == 200
    assert c.get(f"/admin/records/subject/{enterprise.pk}/change/").status_code == 200
    entry = AccessLogEntry.objects.get()
    assert (entry.subject, entry.what, entry.purpose) == (
        person,
        f"admin:records.subject:{person.pk}:view",
        "supervision",
    )


def test_the_stated_purpose_lapses_after_the_set_time(client_for, administrator, person, settings):
    settings.ACCESS_PURPOSE_SESSION_SECONDS = 1800
    with time_machine.travel(START, tick=False):
        c = client_for(administrator)
        state_purpose(c)
    with time_machine.travel(START + dt.timedelta(seconds=1799), tick=False):
        assert c.get("/admin/records/subject/").status_code == 200
    for after in (1800, 1801):
        with time_machine.travel(START + dt.timedelta(seconds=after), tick=False):
            response = c.get("/admin/records/subject/")
            assert response.status_code == 302
            assert response["Location"].startswith("/access-purpose/")
    assert AccessLogEntry.objects.count() == 1


def test_a_resident_id_in_the_admins_search_is_refused(client_for, administrator, person):
    c = client_for(administrator)
    state_purpose(c)
    response = c.get("/admin/records/subject/", {"q": person.identifier})
    assert response.status_code == 302 and response["Location"] == "/admin/records/subject/"
    assert AccessLogEntry.objects.count() == 0
    page = c.get(response["Location"]).content.decode()
    assert "按自然人查询" in page


def test_people_without_staff_duties_are_refused_the_purpose_form(client_for, applicant):
    assert client_for(applicant).get("/access-purpose/").status_code == 403
