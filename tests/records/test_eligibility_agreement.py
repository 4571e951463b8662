"""The record list, the subject page and the record page give one answer to
"may this record be filed for repair now" (flows/cases/eligibility.py), for
every record of the demo and every persona who sees it."""

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from rest_framework.test import APIClient

from records.models import CreditRecord
from repair_flow.models import User

ROW = re.compile(r'href="/records/(\d+)/".*?data-eligibility="([a-z_]+)"', re.S)
BADGE = re.compile(r'<section class="card answer[^"]*">.*?data-eligibility="([a-z_]+)"', re.S)


def list_answers(client, user) -> dict[int, str]:
    """Every row of the records list. Staff see natural persons' records only
    after stating a purpose (an empty search term lists every record)."""
    params = {}
    if user.is_platform_staff:
        posted = client.post("/records/search/", {"q": "", "purpose": "repair_case"})
        assert posted.status_code == 302, posted.content
        params = dict(parse_qsl(urlsplit(posted["Location"]).query))
    answers, page = {}, 1
    while True:
        response = client.get("/records/", {**params, "page": page})
        assert response.status_code == 200
        html = response.content.decode()
        for row in html.split("<tr>")[1:]:
            match = ROW.search(row)
            if match:
                answers[int(match[1])] = match[2]
        if f"page={page + 1}" not in html:
            return answers
        page += 1


@pytest.mark.parametrize("username", ["officer", "qiye", "daili", "geren", "reviewer"])
def test_list_subject_page_and_record_page_agree_for_every_demo_record(demo, client, username):
    user = User.objects.get(username=username)
    client.force_login(user)
    listed = list_answers(client, user)
    assert listed, f"{username} sees no records"
    kinds = set()
    for record in CreditRecord.objects.filter(pk__in=listed).select_related("subject"):
        response = client.get(f"/records/{record.pk}/", follow=True)
        html = response.content.decode()
        # Staff viewing a natural person's record state a purpose first.
        if "access-purpose" in response.request["PATH_INFO"]:
            response = client.post(
                response.request["PATH_INFO"],
                {"purpose": "repair_case", "next": f"/records/{record.pk}/"},
                follow=True,
            )
            html = response.content.decode()
        page_answer = BADGE.search(html)
        assert page_answer, f"no eligibility on the page of {record.decision_number}"
        assert page_answer[1] == listed[record.pk], record.decision_number
        kinds.add(listed[record.pk])
        subject_page = client.get(f"/records/subjects/{record.subject_id}/", follow=True)
        subject_rows = {
            int(m[1]): m[2]
            for row in subject_page.content.decode().split("<tr>")[1:]
            if (m := ROW.search(row))
        }
        if record.pk in subject_rows:
            assert subject_rows[record.pk] == listed[record.pk], record.decision_number
    if username == "officer":
        # The demo's records give several kinds of answer, a blocked one included.
        assert {"not_yet", "blocked", "never"} <= kinds, kinds


@pytest.mark.parametrize("username", ["officer", "daili"])
def test_the_api_gives_the_pages_answer_for_every_demo_record(demo, client, username):
    user = User.objects.get(username=username)
    client.force_login(user)
    listed = list_answers(client, user)
    api = APIClient()
    api.force_authenticate(user)
    answered, offset = {}, 0
    while True:
        response = api.get(
            "/api/v1/records/", {"limit": 100, "offset": offset, "purpose": "repair_case"}
        )
        assert response.status_code == 200, response.content
        for item in response.json()["results"]:
            answered[item["id"]] = item["eligibility"]
        if not response.json().get("next"):
            break
        offset += 100
    assert {pk: answer["eligibility"] for pk, answer in answered.items()} == listed
    for answer in answered.values():
        assert answer["may_file"] == (answer["eligibility"] == "eligible")
        assert bool(answer["blocked_by"]) == (answer["eligibility"] == "blocked") or (
            answer["eligibility"] == "not_yet"
        )
