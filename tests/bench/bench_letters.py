"""How many letters a second this machine renders, with the production fonts.

    .venv/bin/python -m pytest tests/bench/bench_letters.py -s -p no:cacheprovider -o addopts=""
    BENCH_LETTERS=200 ...                        # more letters (default 50)
    BENCH_REPEAT=30 ...                          # more runs for the ratio (default 15)
    BENCH_PROFILE=1 ...                          # cProfile one notice's render
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/repair_flow_letters1 ...

The letters are supplement notices (补正材料一次性告知书) to a natural person
with five items: a full page, QR code and masked resident ID included.

(a) One process: `letter_issue` BENCH_LETTERS letters (number, frozen facts,
    audit event; one transaction each), then `letter_render` each one as the
    after-commit task does (claim, template, QR code, HTML -> PDF, store the
    file and its SHA-256).
(b) A pool of 2 worker processes (this machine has 2 cores), each warmed up
    with one render and holding the production font configuration and parsed
    stylesheet: `render_letter_pdf` on the same letters (template, QR code,
    HTML -> PDF; no database, no storage).
(c) Our one-page notice against a bare WeasyPrint page: `render_letter_pdf`
    on one notice, against `HTML(string=...).write_pdf()` of an A4 page in
    the same font with the same Chinese text (every character of the notice,
    in plain paragraphs under a bold <h1> title), both with one reused
    FontConfiguration; best CPU time of BENCH_REPEAT runs each, taking
    turns (the wall-clock time is printed too). Target: within 1.5x.
    The bare page embeds the regular and bold faces of Noto Serif CJK SC;
    ours only the regular one (its title is a synthetic bold), so it saves a
    subset and adds the stylesheet, the tables, the template and the QR code.
    Signing is measured in bench_signing.py.
No timed assertions: the figures are printed.
"""

import cProfile
import datetime as dt
import multiprocessing
import os
import pstats
import re
import statistics
import time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings

from letters import render, services
from letters.kinds import addressee_facts, record_facts
from letters.links import verify_url
from letters.models import Letter, RenderStatus
from letters.services import letter_issue, letter_render
from tests.bench.conftest import BASE_DIR
from tests.conftest import make_record

LETTERS = int(os.environ.get("BENCH_LETTERS", "50"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "15"))
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
WORKERS = 2
TARGET_RATIO = 1.5
TZ = ZoneInfo("Asia/Shanghai")
ITEMS = [
    {"name": "罚款缴纳凭证", "problem": "未提交；请上传加盖银行印章的罚款缴款书或电子缴款凭证。"},
    {"name": "信用修复承诺书", "problem": "未签署；请在平台上阅读并电子签署。"},
    {"name": "营业执照副本", "problem": "复印件模糊，无法辨认统一社会信用代码，请重新上传。"},
    {"name": "授权委托书", "problem": "缺少委托人签章及委托期限。"},
    {"name": "法定代表人身份证明书", "problem": "身份证号码与登记信息不一致。"},
]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """A database file of its own on SQLite, so this never shares one with
    another benchmark running at the same time."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        (BASE_DIR / "var").mkdir(exist_ok=True)
        database.setdefault("TEST", {})["NAME"] = str(BASE_DIR / "var" / "bench_letters.sqlite3")


def _warm_worker() -> None:
    """Pool initializer: one notice rendered, so that the templates, the
    font configuration, the stylesheet and Pango's fonts are loaded once per
    process before the clock starts, as in a Celery worker that has run."""
    facts = {
        "addressee": {"name": "王芳", "identifier": "370102198506150123", "kind": "person"},
        "record": {
            "decision_number": "济市监罚〔2026〕9号",
            "department": "济南市市场监督管理局",
            "decision_date": "2026-01-15",
            "penalty": "罚款",
        },
        "received_on": "2026-11-20",
        "items": ITEMS,
        "deadline": "2026-12-11T17:00:00+08:00",
        "remedies": "",
    }
    letter = Letter(
        kind="supplement",
        number="济信修补〔2026〕1号",
        verification_code="ABCD2345EFGH",
        issuer="济南市公共信用信息平台",
        issued_at=dt.datetime(2026, 11, 27, 10, tzinfo=TZ),
        facts=facts,
    )
    render.render_letter_pdf(letter)


def _render_in_worker(letter: Letter) -> tuple[int, float]:
    started = time.process_time()
    _, pages = render.render_letter_pdf(letter)
    return pages, time.process_time() - started


def supplement_facts(record) -> dict:
    return {
        "addressee": addressee_facts(record.subject),
        "record": record_facts(record),
        "received_on": "2026-11-20",
        "items": ITEMS,
        "deadline": "2026-12-11T17:00:00+08:00",
    }


def bare_page(letter: Letter) -> str:
    """Every character of the notice as plain paragraphs of the same font."""
    html = render.render_letter_html(letter)
    body = re.sub(r"<svg.*?</svg>", "", html.split("<body", 1)[1], flags=re.S)
    text = re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", body.split(">", 1)[1]))
    paragraphs = "".join(f"<p>{text[i : i + 120]}</p>" for i in range(0, len(text), 120))
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><style>"
        "@page { size: A4; margin: 25mm }"
        " body { font-family: 'Noto Serif CJK SC'; font-size: 12pt; line-height: 1.7 }"
        f"</style></head><body><h1>{letter.get_kind_display()}</h1>{paragraphs}</body></html>"
    )


class Timer:
    """Wall-clock and CPU seconds. Rendering is CPU-bound in one thread, so
    its CPU time is its cost even when other processes share the cores."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def interleaved(runs: int, **fns) -> dict[str, list[Timer]]:
    """Each function `runs` times, taking turns, so that a burst of load
    from elsewhere on the machine falls on all of them alike."""
    for fn in fns.values():
        fn()  # warm-up
    timings = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            with Timer() as timer:
                fn()
            timings[name].append(timer)
    return timings


@pytest.mark.django_db(transaction=True)
def test_letters_rendered_per_second(department, person, officer, monkeypatch, tmp_path):
    # The pool is forked first, before this process has loaded a font, so
    # every worker starts as clean as a Celery worker does.
    pool = multiprocessing.get_context("fork").Pool(WORKERS, initializer=_warm_worker)
    try:
        run(department, person, officer, monkeypatch, tmp_path, pool)
    finally:
        pool.close()
        pool.join()


def run(department, person, officer, monkeypatch, tmp_path, pool) -> None:
    monkeypatch.setattr(settings, "MEDIA_ROOT", tmp_path / "media")
    # Issue and render are timed apart: the render is called below, as the
    # after-commit task would call it.
    monkeypatch.setattr(services, "_render_after_commit", lambda letter_pk: None)
    record = make_record(
        department=department, subject=person, decision_number="济市监罚〔2026〕9号"
    )
    facts = supplement_facts(record)

    # (a) one process: issue, then render
    with Timer() as issued, time_machine.travel(dt.datetime(2026, 11, 27, 10, tzinfo=TZ)):
        ids = [
            letter_issue(kind="supplement", facts=facts, record=record, actor=officer).pk
            for _ in range(LETTERS)
        ]
    with Timer() as first:
        assert letter_render(letter_id=ids[0]).rendered
    with Timer() as rendered:
        assert all(letter_render(letter_id=pk).rendered for pk in ids[1:])
    letters = list(Letter.objects.filter(pk__in=ids).order_by("serial"))
    assert {(x.status, x.pages) for x in letters} == {(RenderStatus.RENDERED, 1)}
    size = statistics.mean(x.size for x in letters)

    # (b) a pool of worker processes: render only
    with Timer() as pooled:
        results = pool.map(_render_in_worker, letters, chunksize=1)
    assert {pages for pages, _ in results} == {1}
    pooled_cpu = sum(cpu for _, cpu in results)

    # (c) our notice against a bare page of the same font and text
    letter = letters[0]
    bare_html = bare_page(letter)
    font_config = render._font_config()

    def bare():
        from weasyprint import HTML

        return HTML(string=bare_html).render(font_config=font_config).write_pdf()

    timings = interleaved(
        REPEAT,
        ours=lambda: render.render_letter_pdf(letter),
        bare=bare,
        template=lambda: render.render_letter_html(letter),
        qr=lambda: render.qr_svg(verify_url(letter)),
    )
    best = {name: min(t.cpu for t in runs) for name, runs in timings.items()}
    best_wall = {name: min(t.wall for t in runs) for name, runs in timings.items()}
    ratio = best["ours"] / best["bare"]

    n = LETTERS - 1
    print()
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(
        f"cores: {os.cpu_count()}, load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"letters: {LETTERS} supplement notices, 1 page each, mean PDF {size / 1024:.0f} KiB")
    print("(a) one process                 wall                    CPU")
    print(
        f"    issue:               {issued.wall:7.3f} s {LETTERS / issued.wall:6.1f}/s"
        f"   {issued.cpu:7.3f} s {LETTERS / issued.cpu:6.1f}/s"
    )
    print(
        f"    first render:        {first.wall:7.3f} s            {first.cpu:7.3f} s"
        "   (loads WeasyPrint, fonts, stylesheet)"
    )
    print(
        f"    render, the rest:    {rendered.wall:7.3f} s {n / rendered.wall:6.1f}/s"
        f"   {rendered.cpu:7.3f} s {n / rendered.cpu:6.1f}/s"
        f"   ({rendered.wall / n * 1000:.0f} ms wall, {rendered.cpu / n * 1000:.0f} ms CPU each)"
    )
    total = issued.wall + first.wall + rendered.wall
    print(f"    issue + render, all: {total:7.3f} s {LETTERS / total:6.1f}/s")
    print(f"(b) pool of {WORKERS} processes, render only")
    print(
        f"    render:              {pooled.wall:7.3f} s {LETTERS / pooled.wall:6.1f}/s"
        f"   {pooled_cpu:7.3f} s in the workers ({pooled_cpu / LETTERS * 1000:.0f} ms CPU each)"
    )
    print(f"(c) one notice against a bare WeasyPrint page, best of {REPEAT}, CPU (wall)")
    for name, label in [
        ("ours", "render_letter_pdf"),
        ("bare", "bare WeasyPrint"),
        ("template", "  of which template"),
        ("qr", "  of which QR code"),
    ]:
        runs = ", ".join(f"{t.cpu * 1000:.0f}" for t in timings[name])
        print(
            f"    {label + ':':21s}{best[name] * 1000:7.1f} ms ({best_wall[name] * 1000:5.1f} ms)"
            f"   runs: {runs}"
        )
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(
        f"    ratio ours/bare: {ratio:.2f} CPU, {best_wall['ours'] / best_wall['bare']:.2f} wall"
        f" (target <= {TARGET_RATIO}: {verdict})"
    )

    if PROFILE:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(REPEAT):
            render.render_letter_pdf(letter)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
