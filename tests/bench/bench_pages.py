"""How fast every page and step answers, with the test client on the demo data.

    .venv/bin/python -m pytest tests/bench/bench_pages.py -s -p no:cacheprovider -o addopts=""
    BENCH_RUNS=20 ...                 # timed GETs per page (default 10)
    BENCH_PAGES=400 ...               # pages crawled per persona at most (default 150)
    BENCH_PER_PATTERN=3 ...           # pages of the same shape (ids aside) per persona (default 3)
    BENCH_EMBEDDED=0 ...              # render letters in the request (eager Celery), as before

`seed_demo` (the demo city: BENCH_RECORDS=3000 records, BENCH_SUBJECTS=300 subjects),
then for each persona: crawl the site from its landing page, following every
link on the site (pages of the same shape, ids aside, at most
BENCH_PER_PATTERN times), and the API's GET endpoints from the OpenAPI
schema; each page is warmed up once then timed BENCH_RUNS times. Then the
steps: every POST form on the staff work pages and the applicant's case and
commitment pages, filled with its defaults (first option, checked boxes, a
short text), submitted once each (uploads aside: forms with a file field are
skipped); steps run in the embedded mode (the render worker thread on, as
`manage.py serve` runs), so a step that issues a letter does not wait for it.

Printed: per page and step its wall time and this thread's CPU time (the
test client answers in the calling thread, so that is the request's own
work, which the load of other processes on a shared machine barely moves;
on PostgreSQL the database server's part is not in it): the 95th
percentile of each, the slowest ten by CPU time, and how many exceed the
target (300 ms). Each step runs once (it changes the case): its p95 is its
one sample. No timed assertions.
"""

import os
import re
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from lxml import html

from repair_flow import background

RUNS = int(os.environ.get("BENCH_RUNS", "10"))
MAX_PAGES = int(os.environ.get("BENCH_PAGES", "150"))
PER_PATTERN = int(os.environ.get("BENCH_PER_PATTERN", "3"))
RECORDS = os.environ.get("BENCH_RECORDS", "3000")
SUBJECTS = os.environ.get("BENCH_SUBJECTS", "300")
EMBEDDED = os.environ.get("BENCH_EMBEDDED", "1") == "1"
TARGET_MS = 300
PERSONAS = ["qiye", "daili", "geren", "officer", "officer2", "reviewer", "supervisor", "admin"]
# Not followed: leaving, switching language, Django's admin, downloads, uploads.
SKIP = re.compile(r"^/(accounts/logout|i18n|admin|static|media|anymail)/|/pdf/?$|\.(pdf|csv|zip)$")
STEP_PAGES = re.compile(r"^/cases/(work|tasks|objections|\d+)|^/letters/commitments/\d+")
SKIP_ACTIONS = re.compile(r"/(withdraw|release|logout)/?$|^/i18n/")


def shape(path: str) -> str:
    return re.sub(r"\d+", "<id>", path)


def p95(samples: list[float]) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


@dataclass(frozen=True)
class Sample:
    wall_ms: float
    cpu_ms: float  # this thread's CPU time


def timed(fn, *args, **kwargs):
    start, cpu = time.perf_counter(), time.thread_time()
    response = fn(*args, **kwargs)
    return response, Sample((time.perf_counter() - start) * 1000, (time.thread_time() - cpu) * 1000)


def links(path: str, content: bytes) -> list[str]:
    try:
        doc = html.fromstring(content)
    except Exception:
        return []
    found = []
    for href in doc.xpath("//a/@href"):
        parts = urlsplit(urljoin(path, href))
        if parts.netloc or not parts.path.startswith("/"):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def forms(path: str, content: bytes) -> list[tuple[str, dict]]:
    """Each POST form of the page: its action and its default values."""
    try:
        doc = html.fromstring(content)
    except Exception:
        return []
    found = []
    for form in doc.xpath("//form"):
        if (form.get("method") or "get").lower() != "post":
            continue
        if form.xpath(".//input[@type='file']"):
            continue  # uploads aside
        data: dict[str, object] = {}
        for field in form.xpath(".//input[@name]|.//select[@name]|.//textarea[@name]"):
            name, tag = field.get("name"), field.tag
            kind = (field.get("type") or "text").lower()
            if tag == "select":
                options = [o.get("value", o.text_content()) for o in field.xpath(".//option")]
                options = [o for o in options if o]
                if options:
                    data[name] = options[0]
            elif tag == "textarea":
                data[name] = field.text_content() or "基准测试：按默认值提交。"
            elif kind in ("checkbox", "radio"):
                if name not in data:
                    data[name] = field.get("value", "on")
            elif kind == "date":
                data[name] = field.get("value") or "2026-12-31"
            elif kind not in ("submit", "button", "reset"):
                data[name] = field.get("value") or "基准测试"
        action = urlsplit(urljoin(path, form.get("action") or path)).path
        found.append((action, data))
    return found


@pytest.mark.django_db(transaction=True)
def test_pages_and_steps(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ALLOWED_HOSTS = ["*"]
    start = time.perf_counter()
    call_command("seed_demo", "--if-empty", "--records", RECORDS, "--subjects", SUBJECTS)
    print(f"\nseed_demo: {time.perf_counter() - start:.0f} s")
    users = {u.username: u for u in get_user_model().objects.filter(username__in=PERSONAS)}

    pages: dict[tuple[str, str], list[Sample]] = {}
    step_pages: dict[str, list[str]] = defaultdict(list)
    for persona in PERSONAS:
        client = Client()
        client.force_login(users[persona])
        seen_shapes: dict[str, int] = defaultdict(int)
        queue, seen, api = ["/"], {"/"}, []
        schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
        if schema.status_code == 200:
            try:
                paths = schema.json().get("paths", {})
            except ValueError:
                paths = {}
            for api_path, methods in paths.items():
                if "get" in methods and "{" not in api_path and api_path not in seen:
                    api.append(api_path)
                    seen.add(api_path)
        crawled = 0
        while (queue or api) and crawled < MAX_PAGES + len(api):
            path = queue.pop(0) if queue else api.pop(0)
            if SKIP.search(path) or seen_shapes[shape(path)] >= PER_PATTERN:
                continue
            response = client.get(path)
            if response.status_code in (301, 302) and response.url not in seen:
                seen.add(response.url)
                queue.append(response.url)
            if response.status_code != 200:
                continue
            seen_shapes[shape(path)] += 1
            crawled += 1
            samples = []
            for _ in range(RUNS):
                _response, sample = timed(client.get, path)
                samples.append(sample)
            pages[(persona, path)] = samples
            if "html" in response.get("Content-Type", ""):
                if STEP_PAGES.search(path):
                    step_pages[persona].append(path)
                for link in links(path, response.content):
                    if link not in seen:
                        seen.add(link)
                        queue.append(link)
        print(f"{persona}: {crawled} pages")

    if EMBEDDED:
        background.start()
    steps: dict[tuple[str, str], Sample] = {}
    statuses: dict[tuple[str, str], int] = {}
    try:
        for persona in PERSONAS:
            client = Client()
            client.force_login(users[persona])
            done_shapes: set[str] = set()
            for page in step_pages[persona]:
                response = client.get(page)
                if response.status_code != 200:
                    continue
                for action, data in forms(page, response.content):
                    key = shape(action)
                    if key in done_shapes or SKIP_ACTIONS.search(action):
                        continue
                    done_shapes.add(key)
                    response, sample = timed(client.post, action, data)
                    steps[(persona, action)] = sample
                    statuses[(persona, action)] = response.status_code
        if EMBEDDED:
            background.worker.join()
    finally:
        if EMBEDDED:
            background.stop(timeout=120)

    # (CPU p95, wall p95, wall median, persona, request, method)
    rows = [
        (
            p95([x.cpu_ms for x in s]),
            p95([x.wall_ms for x in s]),
            statistics.median(x.wall_ms for x in s),
            who,
            path,
            "GET",
        )
        for (who, path), s in pages.items()
    ]
    rows += [
        (x.cpu_ms, x.wall_ms, x.wall_ms, who, path, f"POST {statuses[(who, path)]}")
        for (who, path), x in steps.items()
    ]
    rows.sort(reverse=True)
    print(
        f"\n{len(pages)} pages ({RUNS} runs each), {len(steps)} steps (once each); "
        f"embedded render worker {'on' if EMBEDDED else 'off'}"
    )
    print(
        f"over {TARGET_MS} ms at p95: CPU {sum(1 for r in rows if r[0] > TARGET_MS)}, "
        f"wall {sum(1 for r in rows if r[1] > TARGET_MS)}"
    )
    header = "  CPU p95  wall p95  wall med  persona    request"
    print("\nSlowest ten by CPU time (ms):")
    print(header)
    for cpu, wall, med, who, path, method in rows[:10]:
        print(f"  {cpu:7.1f} {wall:9.1f} {med:9.1f}  {who:<10} {method:<8} {path}")
    if os.environ.get("BENCH_ALL"):
        print("\nAll:")
        print(header)
        for cpu, wall, med, who, path, method in rows:
            print(f"  {cpu:7.1f} {wall:9.1f} {med:9.1f}  {who:<10} {method:<8} {path}")
    assert pages, "the crawl found no page"
