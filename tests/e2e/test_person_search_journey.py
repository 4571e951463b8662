"""An officer finds a natural person by resident ID through the purpose form
(issue 17 findings 1 and 5): the ID never reaches a URL, the search is
registered, and the whole log of the journey holds no full identifier."""

import logging

import pytest

from repair_flow.models import AccessLogEntry
from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_officer_searches_a_person_by_id_and_no_log_holds_it(
    page, officer, person_record, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    full_id = person_record.subject.identifier
    urls = []
    page.on("request", lambda request: urls.append(request.url))
    login(page, "officer", PASSWORD)
    page.wait_for_url("**/cases/tasks/")
    page.goto(f"{page.base}/records/")
    search = page.locator("form.person-search")
    search.get_by_label("身份证号码、姓名或文号").fill(full_id)
    search.get_by_label("办理信用修复").check()
    search.get_by_role("button", name="查询并登记").click()
    page.wait_for_url("**/records/?search=*")
    assert page.get_by_text(person_record.decision_number).is_visible()
    assert all(full_id not in url for url in urls), urls
    # A 404 with the ID in its path: Django's "Not Found" line.
    page.goto(f"{page.base}/verify/{full_id}/nothing/")
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.subject, entry.purpose) == (
        officer,
        person_record.subject,
        "repair_case",
    )
    assert full_id not in entry.what
    out, err = capfd.readouterr()
    whole_log = caplog.text + out + err
    assert "Not Found" in whole_log
    assert full_id not in whole_log and full_id.lower() not in whole_log
