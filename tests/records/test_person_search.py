"""A search that may find natural persons is a view of their data (shared
domain reference section 8): a POST with a purpose, never an identifier in a
URL, and registered even when it finds nothing."""

import datetime as dt

import time_machine

from records.models import BindingCapacity, SubjectBinding
from repair_flow.models import AccessLogEntry, Role
from tests.conftest import make_user


def search(c, q: str, purpose: str | None = "repair_case", **filters):
    data = {"q": q, **filters}
    if purpose is not None:
        data["purpose"] = purpose
    return c.post("/records/search/", data)


def test_an_officers_search_by_resident_id_is_a_post_with_a_purpose_and_registered(
    client_for, officer, person_record, record
):
    c = client_for(officer)
    person = person_record.subject
    posted = search(c, person.identifier)
    assert posted.status_code == 302
    # The answer's address carries an opaque search id, never the identifier.
    assert person.identifier not in posted["Location"]
    assert posted["Location"].startswith("/records/?search=")
    page = c.get(posted["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert person_record.decision_number in body
    assert record.decision_number not in body
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.subject, entry.purpose, entry.channel) == (
        officer,
        person,
        "repair_case",
        "page",
    )
    # What was searched, masked: first 6 and last 4 characters.
    assert person.identifier not in entry.what
    assert entry.what == f"search:records:{person.display_identifier}:1"
    assert entry.request_id == page["X-Request-ID"]


def test_a_search_that_finds_nothing_is_registered_too(client_for, officer, person_record):
    c = client_for(officer)
    unknown = "11010519491231002X"
    page = c.get(search(c, unknown, purpose="supervision")["Location"])
    assert "没有符合条件的记录" in page.content.decode()
    entry = AccessLogEntry.objects.get()
    assert entry.subject is None and entry.purpose == "supervision"
    assert entry.what == "search:records:110105********002X:0"
    supervisor_page = c.get("/access-register/")
    assert supervisor_page.status_code == 403  # officers do not read the register


def test_the_register_page_names_the_search_masked(client_for, officer, supervisor, person_record):
    c = client_for(officer)
    c.get(search(c, person_record.subject.identifier)["Location"])
    html = client_for(supervisor).get("/access-register/").content.decode()
    masked = person_record.subject.display_identifier
    assert f"查询“{masked}”（1 条结果）" in html
    assert person_record.subject.identifier not in html


def test_every_page_of_the_results_seen_is_registered(client_for, officer, person_record):
    c = client_for(officer)
    url = search(c, person_record.subject.name)["Location"]
    c.get(url)
    c.get(url)
    assert AccessLogEntry.objects.filter(subject=person_record.subject).count() == 2


def test_a_search_without_a_purpose_is_refused_and_registers_nothing(
    client_for, officer, person_record
):
    c = client_for(officer)
    for purpose in (None, "curiosity"):
        response = search(c, person_record.subject.identifier, purpose=purpose)
        assert response.status_code == 400
        body = response.content.decode()
        assert "请选择查询目的" in body
        assert person_record.decision_number not in body
    assert AccessLogEntry.objects.count() == 0


def test_an_identifier_in_the_url_is_refused_without_searching(
    client_for, officer, reviewer, person_record
):
    for user in (officer, reviewer):
        c = client_for(user)
        response = c.get("/records/", {"q": person_record.subject.identifier})
        assert response.status_code == 400
        body = response.content.decode()
        assert "不能出现在网址中" in body
        assert person_record.decision_number not in body
    assert AccessLogEntry.objects.count() == 0


def test_a_name_search_in_the_url_finds_organisations_only(
    client_for, officer, person_record, record
):
    c = client_for(officer)
    body = c.get("/records/", {"q": person_record.subject.name}).content.decode()
    assert person_record.decision_number not in body
    assert "查找自然人请使用" in body
    body = c.get("/records/", {"q": record.subject.name}).content.decode()
    assert record.decision_number in body
    assert AccessLogEntry.objects.count() == 0


def test_a_stored_search_lapses_and_another_sessions_id_answers_nothing(
    client_for, officer, supervisor, person_record, settings
):
    settings.ACCESS_PURPOSE_SESSION_SECONDS = 3600
    start = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        c = client_for(officer)
        url = search(c, person_record.subject.identifier)["Location"]
    with time_machine.travel(start + dt.timedelta(seconds=3599), tick=False):
        assert c.get(url).status_code == 200
    with time_machine.travel(start + dt.timedelta(seconds=3600), tick=False):
        lapsed = c.get(url)
        assert lapsed.status_code == 302 and lapsed["Location"] == "/records/"
    assert AccessLogEntry.objects.count() == 1
    other = client_for(supervisor)
    assert other.get(url).status_code == 302


def test_an_applicant_searches_their_own_records_without_a_purpose(
    client_for, applicant, record, other_record
):
    c = client_for(applicant)
    page = c.get(search(c, record.decision_number, purpose=None)["Location"])
    body = page.content.decode()
    assert record.decision_number in body and other_record.decision_number not in body
    assert AccessLogEntry.objects.count() == 0


def test_the_plain_list_shows_staff_organisations_and_only_a_count_of_persons(
    client_for, officer, reviewer, person_record, record
):
    person = person_record.subject
    for user in (officer, reviewer):
        body = client_for(user).get("/records/").content.decode()
        assert record.decision_number in body
        assert person_record.decision_number not in body
        assert person.name not in body and person.display_identifier not in body
        assert "另有 1 条自然人的记录未列出" in body
    # The count follows the filters: a department with no person's record.
    body = client_for(officer).get("/records/", {"severity": "serious"}).content.decode()
    assert "自然人的记录未列出" not in body
    # Nothing was shown of anyone: nothing to register.
    assert AccessLogEntry.objects.count() == 0


def test_persons_are_listed_after_a_purpose_and_each_is_registered(
    client_for, officer, person_record, record
):
    c = client_for(officer)
    # An empty term with a purpose lists every record, persons included.
    page = c.get(search(c, "", purpose="supervision", severity="general")["Location"])
    body = page.content.decode()
    assert person_record.decision_number in body and record.decision_number in body
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.subject, entry.purpose, entry.what) == (
        officer,
        person_record.subject,
        "supervision",
        "search:records::2",
    )


def test_the_applicant_still_sees_their_own_persons_records(client_for, person_record):
    geren = make_user("geren", Role.APPLICANT)
    SubjectBinding.objects.create(
        user=geren, subject=person_record.subject, capacity=BindingCapacity.SELF
    )
    body = client_for(geren).get("/records/").content.decode()
    assert person_record.decision_number in body
    assert "自然人的记录未列出" not in body
