"""A load test of the scale-out stack: applicants, officers and reviewers,
supervisors and the public at once, against a server on this machine only.

Started by `make load` (scripts/load.sh), which brings up gunicorn, a Celery
worker and beat on PostgreSQL and Redis with the demo seeded, runs this file
headless for a bounded number of users and seconds, and prints p50/p95/p99 per
endpoint. The requests carry what the HTTPS proxy would add
(X-Forwarded-Proto: https, X-Forwarded-For): the stack runs with production
settings, so its cookies are Secure and its CSRF check wants an HTTPS Referer.
"""

import http.cookiejar
import ipaddress
import itertools
import os
import random
from urllib.parse import urlsplit

from locust import HttpUser, between, events, task

PASSWORD = os.environ.get("LOAD_PASSWORD", "jinan-demo-2026")
# Letters' verification codes of the seeded demo (scripts/load.sh reads them).
VERIFY_CODES = [c for c in os.environ.get("LOAD_VERIFY_CODES", "").split(",") if c]
MAX_USERS = 200  # more than this is not a load test for a shared 2-core machine

_client_numbers = itertools.count(1)


@events.init.add_listener
def loopback_only(environment, **kwargs):
    """Refuse any target but this machine: the test never loads a real service."""
    host = urlsplit(environment.host or "").hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise SystemExit(f"load test refused: {environment.host!r} is not a loopback address")
    users = getattr(environment.parsed_options, "num_users", 0) or 0
    if users > MAX_USERS:
        raise SystemExit(f"load test refused: {users} users (at most {MAX_USERS})")


def send_secure_cookies_to_the_proxy(policy, cookie, request):
    """The browser talks HTTPS to the proxy, which talks HTTP to gunicorn on
    loopback: send the Secure cookies as the browser would. On the policy
    class, for this process only: requests merges each request's cookies
    into a fresh jar with the default policy, so a jar's own policy is lost."""
    return True


http.cookiejar.DefaultCookiePolicy.return_ok_secure = send_secure_cookies_to_the_proxy


class Person(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    usernames: tuple[str, ...] = ()

    def on_start(self):
        number = next(_client_numbers)
        address = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
        self.origin = "https://" + urlsplit(self.host).netloc
        # Each simulated person has their own address, as real ones do (the
        # login lockout and the API throttles count per address).
        self.client.headers.update(
            {
                "X-Forwarded-Proto": "https",
                "X-Forwarded-For": address,
                "Accept-Language": "zh-hans",
            }
        )
        if self.usernames:
            self.log_in(random.choice(self.usernames))

    def log_in(self, username: str) -> None:
        self.client.get("/accounts/login/", name="login page")
        token = self.client.cookies.get("csrftoken", "")
        with self.client.post(
            "/accounts/login/",
            data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{self.origin}/accounts/login/"},
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login of {username} answered {response.status_code}")


class Applicant(Person):
    weight = 4
    usernames = ("qiye", "daili", "geren")

    @task(3)
    def my_cases(self):
        self.client.get("/cases/", name="/cases/ (applicant)")

    @task(2)
    def my_records(self):
        self.client.get("/records/", name="/records/ (applicant)")

    @task
    def my_letters(self):
        self.client.get("/letters/", name="/letters/ (applicant)")

    @task
    def my_notifications(self):
        self.client.get("/notifications/", name="/notifications/")

    @task
    def my_cases_api(self):
        self.client.get("/api/v1/repair-cases/", name="/api/v1/repair-cases/")


class Officer(Person):
    weight = 3
    usernames = ("officer", "officer2", "reviewer")

    @task(3)
    def queue(self):
        self.client.get("/cases/tasks/", name="/cases/tasks/")

    @task(2)
    def records(self):
        self.client.get("/records/", name="/records/ (staff)")

    @task
    def search(self):
        self.client.get("/records/?q=济南", name="/records/?q=")

    @task
    def tasks_api(self):
        self.client.get("/api/v1/tasks/?limit=50", name="/api/v1/tasks/")

    @task
    def breaches(self):
        self.client.get("/cases/breaches/", name="/cases/breaches/")


class Supervisor(Person):
    weight = 1
    usernames = ("supervisor",)

    @task(3)
    def board(self):
        self.client.get("/sla/board/", name="/sla/board/")

    @task
    def summary(self):
        self.client.get("/api/v1/sla/summary/", name="/api/v1/sla/summary/")

    @task
    def escalations(self):
        self.client.get("/sla/escalations/", name="/sla/escalations/")

    @task
    def access_register(self):
        self.client.get("/access-register/", name="/access-register/")


class Public(Person):
    weight = 2

    @task(3)
    def verify(self):
        if not VERIFY_CODES:
            return
        self.client.get(f"/verify/{random.choice(VERIFY_CODES)}", name="/verify/<code>")

    @task
    def verify_unknown(self):
        # An unknown code is a 404 page, the right answer.
        with self.client.get(
            "/verify/ZZZZZZZZZZZZ", name="/verify/<unknown>", catch_response=True
        ) as response:
            if response.status_code == 404:
                response.success()

    @task(2)
    def login_page(self):
        self.client.get("/accounts/login/", name="login page")

    @task
    def deadlines(self):
        self.client.get(
            "/api/v1/deadlines/?received=2026-09-30T15:00:00%2B08:00&rule=working_days&n=3",
            name="/api/v1/deadlines/",
        )

    @task
    def health(self):
        self.client.get("/healthz", name="/healthz")
