"""Wording per reader, over the whole demo: every page an applicant reaches
from their case list (cases, objections, letters, monitoring, notifications)
is free of staff wording (warning points, policy flags, internal stages) and
of staff usernames; the staff's pages name people, not accounts."""

import html
import re
from urllib.parse import urldefrag, urlsplit

import pytest

from repair_flow.models import User

# What an applicant must never read: the staff's warning points, the policy
# flags, internal stages and ids, and the staff's account names.
INTERNAL_WORDS = (
    "产品默认值",
    "未经核实",
    "合理默认值",
    "法律依据尚未核实",
    "预警",
    "50%",
    "75%",
    "50 %",
    "75 %",
    "结果同步",
    "record:",
)
STAFF_USERNAMES = ("officer", "officer2", "reviewer", "reviewer_zjj", "supervisor", "admin")
# Where an applicant's pages lead that are theirs to read; files are not pages.
APPLICANT_AREAS = ("/cases/", "/letters/", "/notifications/", "/records/")
SKIP = re.compile(r"/(materials/\d+|pdf|download|logout)|\.(pdf|svg|png|jpg)$")
LINK = re.compile(r'href="(/[^"]*)"')
TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S)


def visible_text(page: str) -> str:
    return html.unescape(TAG.sub(" ", page))


def crawl(client, start: str, areas, limit: int = 150) -> dict[str, str]:
    """Every page reachable from `start` inside `areas`: url -> visible text."""
    seen: dict[str, str] = {}
    queue = [start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            seen[url] = ""
            continue
        page = response.content.decode()
        seen[url] = visible_text(page)
        for href in LINK.findall(page):
            href = urldefrag(html.unescape(href))[0]
            path = urlsplit(href).path
            if path.startswith(areas) and not SKIP.search(path) and href not in seen:
                queue.append(href)
    return seen


def offending(text: str, words) -> list[str]:
    found = [w for w in words if w in text]
    found += [
        name
        for name in STAFF_USERNAMES
        if re.search(rf"(?<![A-Za-z_]){name}(?![A-Za-z_0-9])", text)
    ]
    return found


@pytest.mark.parametrize("username", ["qiye", "daili", "geren"])
def test_every_applicant_page_of_the_demo_is_free_of_staff_wording(demo, client, username):
    client.force_login(User.objects.get(username=username))
    pages = crawl(client, "/cases/", APPLICANT_AREAS)
    case_pages = [u for u in pages if re.fullmatch(r"/cases/(objections/)?\d+/", u)]
    assert case_pages, f"{username} reaches no case page from the case list"
    problems = {url: offending(text, INTERNAL_WORDS) for url, text in pages.items()}
    assert {url: words for url, words in problems.items() if words} == {}


@pytest.mark.parametrize("username", ["officer", "reviewer", "supervisor"])
def test_staff_pages_name_people_not_accounts(demo, client, username):
    client.force_login(User.objects.get(username=username))
    start = "/sla/board/" if username == "supervisor" else "/cases/tasks/"
    pages = crawl(client, start, ("/cases/", "/sla/board/"), limit=60)
    assert len([t for t in pages.values() if t]) > 1
    named = {u.username for u in User.objects.exclude(first_name="", last_name="")}
    problems = {
        url: [n for n in STAFF_USERNAMES if n in named and re.search(rf"(?<![\w]){n}(?![\w])", t)]
        for url, t in pages.items()
    }
    assert {url: names for url, names in problems.items() if names} == {}
