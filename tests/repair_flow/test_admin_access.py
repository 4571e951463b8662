"""The admin's pages showing natural persons go through the access register
(shared domain reference section 8): a purpose per session, lapsing after a
set time, and every person shown registered, one INSERT per page."""

import datetime as dt

import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from letters.models import OutboundMessage
from repair_flow.models import AccessLogEntry, Role, User

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


def test_the_message_and_account_pages_ask_a_purpose_first(client_for, administrator, officer):
    message = OutboundMessage.objects.create(
        idempotency_key="test:1:email", to="officer@example.cn", subject="通知", body="正文"
    )
    c = client_for(administrator)
    for url in (
        "/admin/letters/outboundmessage/",
        f"/admin/letters/outboundmessage/{message.pk}/change/",
        "/admin/repair_flow/user/",
        f"/admin/repair_flow/user/{officer.pk}/change/",
        f"/admin/repair_flow/user/{officer.pk}/history/",
    ):
        response = c.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/access-purpose/?next="), url
    assert AccessLogEntry.objects.count() == 0


def test_each_message_and_account_shown_is_registered(client_for, administrator, officer):
    message = OutboundMessage.objects.create(
        idempotency_key="test:1:email", to="officer@example.cn", subject="通知", body="正文"
    )
    c = client_for(administrator)
    state_purpose(c, "supervision")

    page = c.get("/admin/letters/outboundmessage/")
    assert page.status_code == 200 and "officer@example.cn" in page.content.decode()
    assert c.get(f"/admin/repair_flow/user/{officer.pk}/change/").status_code == 200
    accounts = c.get("/admin/repair_flow/user/")
    assert accounts.status_code == 200

    whats = set(AccessLogEntry.objects.values_list("what", "subject", "purpose", "channel"))
    assert (f"admin:letters.outboundmessage:{message.pk}:list", None, "supervision", "admin") in (
        whats
    )
    assert (f"admin:repair_flow.user:{officer.pk}:view", None, "supervision", "admin") in whats
    listed = {w for w, *_ in whats if w.startswith("admin:repair_flow.user:")}
    assert {f"admin:repair_flow.user:{u.pk}:list" for u in (officer, administrator)} <= listed


def test_staff_other_than_administrators_never_reach_these_pages(client_for, officer):
    c = client_for(officer)
    for url in ("/admin/letters/outboundmessage/", "/admin/repair_flow/user/"):
        response = c.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert AccessLogEntry.objects.count() == 0


def test_the_token_admin_shows_only_the_first_characters_of_a_key(
    client_for, administrator, integration
):
    key = Token.objects.get(user=integration).key
    c = client_for(administrator)
    listed = c.get("/admin/repair_flow/apitoken/").content.decode()
    assert key[:6] in listed and key not in listed
    page = c.get(f"/admin/repair_flow/apitoken/{integration.pk}/change/")
    assert page.status_code == 200 and key not in page.content.decode()
    confirm = c.get(f"/admin/repair_flow/apitoken/{integration.pk}/delete/")
    assert confirm.status_code == 200 and key not in confirm.content.decode()
    system = User.objects.create(username="dept_system_2", role=Role.INTEGRATION)
    added = c.post("/admin/repair_flow/apitoken/add/", {"user": system.pk}, follow=True)
    new_key = Token.objects.get(user=system).key
    assert new_key[:6] in added.content.decode() and new_key not in added.content.decode()
    # DRF's own page, which listed keys in full, is gone.
    assert c.get("/admin/authtoken/tokenproxy/").status_code == 404


def test_the_login_attempt_pages_ask_a_purpose_and_register_each_row(
    client, client_for, administrator, officer
):
    # A wrong password: django-axes keeps the account name and the address.
    client.post("/accounts/login/", {"username": "officer", "password": "wrong"})
    c = client_for(administrator)
    for url in ("/admin/axes/accessattempt/", "/admin/axes/accessfailurelog/"):
        response = c.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/access-purpose/?next="), url
    assert AccessLogEntry.objects.count() == 0
    state_purpose(c)
    page = c.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "officer" in page.content.decode()
    entry = AccessLogEntry.objects.get()
    assert entry.subject is None and entry.purpose == "data_maintenance"
    assert entry.what.startswith("admin:axes.accessattempt:") and entry.what.endswith(":list")
    # An officer is no administrator: no admin page at all.
    refused = client_for(officer).get("/admin/axes/accessattempt/")
    assert refused.status_code == 302 and "/admin/login/" in refused["Location"]
