"""Browser journeys in Debian's headless Chromium, driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium.
"""

import contextlib
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# axe-core from the npm registry (package.json, installed by `make install`).
AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# GB/T 37668-2019 is at WCAG 2.x level; these are the rule sets axe checks.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
AXE_FAIL_IMPACTS = {"serious", "critical"}

# Every top-level page a browser test loads is checked: the axe script is added
# to each context and runs once the page has loaded, reporting back to Python
# through `__axeReport`; the context's fixture fails the test on teardown if any
# page had a serious or critical violation. `axe_check(page)` checks on demand.
_AXE_ON_LOAD = """
(() => {
  if (window.top !== window || !window.axe) return;
  window.addEventListener("load", () => {
    window.__axeDone = window.axe.run(document, %s)
      .then((r) => window.__axeReport && window.__axeReport(location.href, r.violations))
      .catch(() => {});
  });
})();
"""


def _axe_failures(violations):
    """The serious and critical violations, one line each with their targets."""
    lines = []
    for v in violations:
        if v.get("impact") not in AXE_FAIL_IMPACTS:
            continue
        targets = [" ".join(map(str, n.get("target", []))) for n in v.get("nodes", [])]
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} -> {', '.join(targets[:8])}")
    return lines


def axe_check(page):
    """Run axe-core on the page as it is now; fail listing every serious or
    critical violation with the elements it concerns."""
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE_JS))
    # axe runs one check at a time: let the on-load check finish first.
    violations = page.evaluate(
        "(opts) => Promise.resolve(window.__axeDone)"
        ".then(() => axe.run(document, opts)).then((r) => r.violations)",
        AXE_OPTIONS,
    )
    failures = _axe_failures(violations)
    assert not failures, f"axe-core on {page.url}:\n" + "\n".join(failures)


# Every page a browser test loads also reports each Content-Security-Policy
# violation (issue 17, finding 12): the browser fires `securitypolicyviolation`
# for whatever the policy refused (an inline script or handler, a style="",
# a load from another origin) and logs it to the console; either fails the
# test on teardown, so every journey checks that the policy breaks nothing.
_CSP_ON_LOAD = """
(() => {
  document.addEventListener("securitypolicyviolation", (e) => {
    // The report's promise: a test can wait until Python has recorded it.
    window.__cspReported = window.__cspReport && window.__cspReport(location.href, [
      e.effectiveDirective, e.disposition, e.blockedURI || "inline",
      `${e.sourceFile || ""}:${e.lineNumber}`, e.sample || "",
    ].join(" "));
  }, true);
})();
"""


def watch_csp(context, found):
    """Add every CSP violation of a page the context loads to `found`."""

    def report(source, url, violation):
        found.append(f"Content-Security-Policy violation on {url}: {violation}")

    def console(message):
        if "Content Security Policy" in message.text:
            found.append(f"console on {message.page.url if message.page else '?'}: {message.text}")

    context.expose_binding("__cspReport", report)
    context.add_init_script(script=_CSP_ON_LOAD)
    context.on("console", console)
    return found


def watch_axe(context):
    """Check every page the context loads (axe-core, and the CSP through
    watch_csp); returns the list of failures found."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing; `make install` installs axe-core with npm")
    found = []
    watch_csp(context, found)

    def report(source, url, violations):
        failures = _axe_failures(violations)
        if failures:
            found.append(f"axe-core on {url}:\n" + "\n".join(failures))

    context.expose_binding("__axeReport", report)
    context.add_init_script(path=str(AXE_JS))
    context.add_init_script(script=_AXE_ON_LOAD % json.dumps(AXE_OPTIONS))
    return found


def _settle(context):
    """Wait for the check of the page each tab shows last."""
    for open_page in context.pages:
        # A page closed or navigating away has nothing left to check.
        with contextlib.suppress(Exception):
            open_page.evaluate("() => window.__axeDone")


def close_checked(context, found):
    """Close the context, then fail on every violation found in it."""
    _settle(context)
    context.close()
    if found:
        pytest.fail("\n".join(dict.fromkeys(found)), pytrace=False)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make install` installs Debian's chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 800}
    )
    found = watch_axe(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.base = live_server.url
    yield page
    close_checked(context, found)


@contextlib.contextmanager
def phone(browser, live_server, *, width: int, height: int):
    """A page in a phone-sized context, checked by axe when it closes."""
    context = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": width, "height": height},
        is_mobile=True,
    )
    found = watch_axe(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.base = live_server.url
    yield page
    close_checked(context, found)


@pytest.fixture
def phone_page(browser, live_server):
    with phone(browser, live_server, width=390, height=844) as page:
        yield page


def login(page, username, password):
    page.goto(page.base + "/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button.primary")


def nav(page):
    """The site's navigation; on a phone it opens from the header's menu button."""
    button = page.locator("button.menu-button")
    if button.is_visible() and not page.locator("#site-menu").is_visible():
        button.click()
    return page.get_by_role("navigation")


DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser_as(browser, live_server):
    """`browser_as(username, phone=False)`: a page in a browser context of its own,
    logged in as that user, as if on their own computer (or phone)."""
    contexts = []

    def open_as(username, *, phone=False):
        context = browser.new_context(
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport=PHONE if phone else DESKTOP,
            is_mobile=phone,
        )
        contexts.append((context, watch_axe(context)))
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.base = live_server.url
        login(page, username, PASSWORD)
        # Each role lands on its own work (repair_flow.views.LANDING).
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    yield open_as
    found = []
    for context, context_found in contexts:
        _settle(context)
        context.close()
        found += context_found
    if found:
        pytest.fail("\n".join(dict.fromkeys(found)), pytrace=False)


# Being told: the 通知 link's badge, the 通知 page, the email ------------------------


def unread(page) -> int:
    """The number on the 通知 link's badge as the page shows it now (0: no badge)."""
    badge = nav(page).get_by_role("link", name="通知").locator(".nav-count")
    return int(badge.inner_text()) if badge.count() else 0


def notices(page) -> list[str]:
    """The person's notices as the 通知 page lists them, opened from the site's
    navigation (axe checks the page as it loads)."""
    nav(page).get_by_role("link", name="通知").click()
    page.wait_for_url("**/notifications/")
    return page.locator("table.notifications tbody tr td:nth-child(3)").all_inner_texts()


def told(page, text: str, *, unread_now: int) -> str:
    """Assert the badge reads `unread_now` and one notice on the 通知 page says
    `text`; return that notice."""
    listed = notices(page)
    assert unread(page) == unread_now, listed
    matching = [n for n in listed if text in n]
    assert len(matching) == 1, (text, listed)
    return matching[0]


@pytest.fixture
def mailbox(settings):
    """`mailbox(*users)`: give the users addresses (as the demo's have) and
    return a function listing the subjects and bodies mailed to one of them.
    The live server runs in this process, its tasks eagerly after commit, so
    what it sends is in Django's locmem outbox by the time a page has loaded."""
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    def give(*users):
        for user in users:
            user.email = f"{user.username}@example.com"
            user.save(update_fields=["email"])

        def mails_to(user) -> list[str]:
            return [f"{m.subject}\n{m.body}" for m in mail.outbox if user.email in m.to]

        return mails_to

    return give
