"""Shared personas and registry fixtures.

The personas: an applicant and another applicant (each bound to their own
enterprise), a platform officer, a reviewer of the issuing department, a
reviewer of another department, a supervisor, an administrator and an
integration account with an API token.
"""

import contextlib
import datetime as dt
import fcntl
import hashlib
import importlib
import os
import random
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.core.signals import request_finished
from django.db import close_old_connections, connection, transaction
from django.test.utils import override_settings, setup_databases, teardown_databases
from pytest_django.plugin import blocking_manager_key
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from records.identifiers import make_resident_id, make_uscc
from records.models import (
    BindingCapacity,
    CreditRecord,
    Department,
    DepartmentMembership,
    Sector,
    Subject,
    SubjectBinding,
    SubjectKind,
)
from records.publicity import load_rule_sets, publicity_window
from repair_flow.models import Role, User

PASSWORD = "correct-horse-battery-staple"


def pytest_configure(config):
    # Don't spend time on password hashing in tests (Open Zaak's test settings):
    # PBKDF2's 1,000,000 iterations cost ~0.3 s a persona, and most tests make
    # several. Production keeps Django's default hashers; the login page, the
    # browser journeys and seed_demo check passwords with this one instead.
    override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()


# Fixtures through which a test reaches the database.
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "live_server",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
    }
)


def uses_database(item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    return bool(names & DATABASE_FIXTURES) or item.get_closest_marker("django_db") is not None


def pytest_collection_modifyitems(config, items):
    """DATABASE_TESTS_ONLY=1 (CI's second pass, on PostgreSQL): leave out the
    tests that never reach the database (the calendar, identifiers, settings
    read in a subprocess with its own environment...). Their result cannot
    depend on the backend, and the first pass (SQLite) ran them."""
    if os.environ.get("DATABASE_TESTS_ONLY") != "1":
        return
    kept = [item for item in items if uses_database(item)]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if not uses_database(item)])
        items[:] = kept


# The tests' dates run from 2025 to the 2030s.
DEMO_VALID_FROM = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
DEMO_YEARS = 30


@pytest.fixture(scope="session", autouse=True)
def _letter_signing_demo(tmp_path_factory):
    """Letters are signed with a demo CA made once per session (per xdist
    worker) in a temporary folder, whatever the developer's environment
    configures: one EC P-256 key for the CA and one per issuer, not per test.

    A certificate made on first use would start a day before that test's
    (often frozen) clock, and a later test at an earlier date would find it
    not yet valid: which test signs first would decide. The tests' demo
    certificates are valid from DEMO_VALID_FROM for DEMO_YEARS, whatever the
    order the tests run in."""
    from letters import signing

    patch = pytest.MonkeyPatch()
    patch.setattr(signing, "demo_valid_from", lambda: DEMO_VALID_FROM)
    patch.setattr(signing, "DEMO_CERTIFICATE_YEARS", DEMO_YEARS)
    patch.setattr(signing, "DEMO_CA_YEARS", DEMO_YEARS)
    override = override_settings(
        LETTER_SIGNING_DEMO=True,
        LETTER_SIGNING_DEMO_DIR=tmp_path_factory.mktemp("signing"),
        LETTER_SIGNING_KEYS={},
        LETTER_SIGNING_TRUST_ROOTS=[],
        LETTER_SIGNING_TSA_URL="",
    )
    override.enable()
    yield
    override.disable()
    patch.undo()


@pytest.fixture(autouse=True)
def _repeatable_verification_codes(monkeypatch):
    """Each test draws its letters' verification codes from the same
    sequence (production's alphabet and length, a seeded generator in place
    of `secrets`), so the same letter in two tests is the same page and is
    rendered once (below)."""
    from letters import models

    monkeypatch.setattr(models, "secrets", random.Random(0))


@pytest.fixture(scope="session", autouse=True)
def letter_pages_memo():
    """A letter's PDF is a function of its HTML: a worker renders each page
    once, however many tests issue the same letter (fixtures like `approved`
    issue the same decision in hundreds of tests). 533 renders in a run were
    158 different pages; a render is ~0.14 s of CPU. The key includes
    WeasyPrint's HTML.render itself, so a test that breaks it still fails."""
    from weasyprint import HTML

    from letters import render

    pages = {}
    original = render.render_letter_pdf

    def render_letter_pdf(letter):
        html = render.render_letter_html(letter)
        key = (hashlib.sha256(html.encode()).digest(), HTML.render)
        if key not in pages:
            pages[key] = original(letter)
        return pages[key]

    patch = pytest.MonkeyPatch()
    patch.setattr(render, "render_letter_pdf", render_letter_pdf)
    yield pages
    patch.undo()


@pytest.fixture
def letters_rendered_afresh(letter_pages_memo):
    """For a test about WeasyPrint's own run (its log, say): the pages
    rendered so far are forgotten, so this test's letters run WeasyPrint."""
    letter_pages_memo.clear()


# Reference data that migrations load: the publicity rule sets, the official
# calendar, the retention rules, the audit chain's head... A transactional
# test (browser journeys, concurrency) ends with a flush that empties every
# table, so it is loaded again after each (pytest_runtest_teardown below).
REFERENCE_DATA = [
    ("records.PublicityRuleSet", "records.migrations.0003_publicity_rule_sets", "load"),
    ("records.PublicityRuleSet", "records.migrations.0010_records_disclosure_ceiling", "load"),
    ("records.RepeatLimitPolicy", "records.migrations.0005_repeat_limit_policy", "load"),
    ("sla.CalendarYear", "sla.migrations.0002_load_chinese_calendar", "load"),
    ("sla.SlaPolicy", "sla.migrations.0004_default_policies", "load"),
    ("sla.SlaPolicy", "sla.migrations.0008_monitoring_breach_reviews", "load"),
    ("sla.SlaPolicy", "sla.migrations.0010_hearing_statement_period", "load"),
    ("letters.LetterSetting", "letters.migrations.0006_issuers_series_seal", "load"),
    ("letters.Issuer", "letters.migrations.0006_issuers_series_seal", "load"),
    ("letters.LetterSetting", "letters.migrations.0007_repair_info_twobooks", "load"),
    ("flows.MonitoringPolicy", "flows.migrations.0003_monitoring_window", "load"),
    (
        "retention.RetentionRule",
        "retention.migrations.0001_retention_rules_register",
        "add_default_rules",
    ),
    (
        "retention.RetentionRule",
        "retention.migrations.0002_retention_notices_subjects_pending_files",
        "add_rules",
    ),
    ("repair_flow.AuditChainHead", "repair_flow.migrations.0002_audit_chain_head", "create_head"),
]


def ensure_reference_data():
    empty = {
        label
        for label, _migration, _function in REFERENCE_DATA
        if not django_apps.get_model(label).objects.exists()
    }
    for model_label, migration, function in REFERENCE_DATA:
        if model_label in empty:
            getattr(importlib.import_module(migration), function)(django_apps, None)


def transactional(item) -> bool:
    marker = item.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or marker.args[:1] == (True,)):
        return True
    return bool({"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Reference data loaded again as soon as a transactional test's flush
    has emptied the tables, so that whatever test runs next on this worker
    (xdist hands them out in any order) finds it."""
    result = yield
    if nextitem is not None and transactional(item):
        with item.config.stash[blocking_manager_key].unblock():
            ensure_reference_data()
    return result


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete():
    """On PostgreSQL, a transactional test's closing flush empties the tables
    with DELETE instead of one TRUNCATE of all 66: TRUNCATE gives every table
    and index a new file, 0.4-1.9 s a flush on the 2-core CI machine, where
    DELETE of a test's few rows took 0.04-0.15 s; the suite flushes after
    each of its ~180 transactional tests per database. The tables end as
    empty either way (the foreign keys are deferred to the commit). A table
    with a DELETE trigger (the audit trail's append-only guard) is still
    truncated, as before; a sequence reset or a cascade keeps Django's own."""
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        yield
        return
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade or not tables:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        with self.connection.cursor() as cursor:
            # Row triggers that fire on DELETE (tgtype bit 3); TRUNCATE skips them.
            cursor.execute(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal AND t.tgtype & 8 <> 0"
            )
            guarded = {name for (name,) in cursor.fetchall()}
        deleted = [
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
            if table not in guarded
        ]
        return deleted + truncate(self, style, [t for t in tables if t in guarded])

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = truncate


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The API throttles count in the cache (process memory in tests): each
    test starts with none of another test's requests counted."""
    cache.clear()


def make_user(username: str, role: str, **extra) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, role=role, **extra)


@pytest.fixture
def department(db):
    return Department.objects.create(
        code="SCJGJ", name="济南市市场监督管理局", sector=Sector.FOOD_DRUG
    )


@pytest.fixture
def other_department(db):
    return Department.objects.create(
        code="ZJJ", name="济南市住房和城乡建设局", sector=Sector.CONSTRUCTION
    )


@pytest.fixture
def enterprise(db):
    return Subject.objects.create(
        kind=SubjectKind.ENTERPRISE,
        identifier=make_uscc(serial=1001),
        name="济南泉城食品有限公司",
        legal_representative="张伟",
    )


@pytest.fixture
def other_enterprise(db):
    return Subject.objects.create(
        kind=SubjectKind.ENTERPRISE,
        identifier=make_uscc(serial=1002),
        name="济南历下建筑工程有限公司",
        legal_representative="李娜",
    )


@pytest.fixture
def person(db):
    return Subject.objects.create(
        kind=SubjectKind.PERSON,
        identifier=make_resident_id(birth=dt.date(1985, 6, 15), serial=123),
        name="王芳",
    )


def make_record(
    *,
    department,
    subject,
    decision_number="济市监罚〔2026〕1号",
    decision_date=dt.date(2026, 1, 15),
    severity="general",
    penalty_types=("fine",),
    fine_amount="5000.00",
    status="published",
    facts="未按规定标示食品生产日期。",
    conduct_end_date=None,
):
    start, end = publicity_window(
        load_rule_sets(),
        decision_date=decision_date,
        severity=severity,
        conduct_end_date=conduct_end_date,
    )
    return CreditRecord.objects.create(
        department=department,
        subject=subject,
        decision_number=decision_number,
        decision_date=decision_date,
        conduct_end_date=conduct_end_date or decision_date,
        severity=severity,
        penalty_types=list(penalty_types),
        fine_amount=fine_amount,
        status=status,
        facts=facts,
        publicity_starts_on=start,
        publicity_ends_on=end,
    )


@pytest.fixture
def record(department, enterprise):
    return make_record(department=department, subject=enterprise)


@pytest.fixture
def other_record(other_department, other_enterprise):
    return make_record(
        department=other_department, subject=other_enterprise, decision_number="济建罚〔2026〕7号"
    )


@pytest.fixture
def person_record(department, person):
    return make_record(department=department, subject=person, decision_number="济市监罚〔2026〕9号")


@pytest.fixture
def applicant(enterprise):
    user = make_user("applicant", Role.APPLICANT, first_name="张伟")
    SubjectBinding.objects.create(
        user=user, subject=enterprise, capacity=BindingCapacity.LEGAL_REPRESENTATIVE
    )
    return user


@pytest.fixture
def other_applicant(other_enterprise):
    user = make_user("other_applicant", Role.APPLICANT, first_name="李娜")
    SubjectBinding.objects.create(
        user=user, subject=other_enterprise, capacity=BindingCapacity.LEGAL_REPRESENTATIVE
    )
    return user


@pytest.fixture
def officer(db):
    return make_user("officer", Role.OFFICER, first_name="刘洋")


@pytest.fixture
def reviewer(department):
    user = make_user("reviewer", Role.REVIEWER, first_name="陈静")
    DepartmentMembership.objects.create(user=user, department=department)
    return user


@pytest.fixture
def other_reviewer(other_department):
    user = make_user("other_reviewer", Role.REVIEWER, first_name="赵磊")
    DepartmentMembership.objects.create(user=user, department=other_department)
    return user


@pytest.fixture
def supervisor(db):
    return make_user("supervisor", Role.SUPERVISOR, first_name="孙敏")


@pytest.fixture
def administrator(db):
    return make_user("administrator", Role.ADMINISTRATOR, is_staff=True, is_superuser=True)


@pytest.fixture
def integration(db):
    user = make_user("dept_system", Role.INTEGRATION)
    Token.objects.create(user=user)
    return user


@pytest.fixture
def department_system(department):
    """The issuing department's own system: an integration account bound to
    it, which may import that department's records only."""
    user = make_user("scjgj_system", Role.INTEGRATION)
    Token.objects.create(user=user)
    DepartmentMembership.objects.create(user=user, department=department)
    return user


@pytest.fixture
def client_for(client):
    """`client_for(user)`: a Django test client logged in as that user."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def api_for():
    """`api_for(user)`: a DRF client authenticated as that user (token for systems)."""

    def make(user):
        api = APIClient()
        if user is not None:
            api.force_authenticate(user)
        return api

    return make


@pytest.fixture(scope="session")
def django_db_setup(
    request, django_test_environment, django_db_blocker, django_db_modify_db_settings
):
    """One migrated template database per test run, cloned for each xdist
    worker: every migration ran once per worker before (24-29 s each on the
    2-core CI machine), now once per run. On PostgreSQL the clone is CREATE
    DATABASE ... TEMPLATE; on SQLite the template is a file that each worker
    copies into its own in-memory database with SQLite's backup API. A run
    without xdist migrates its one database as pytest-django does."""
    workerinput = getattr(request.config, "workerinput", None)
    with django_db_blocker.unblock():
        if workerinput is None:
            config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        else:
            shared = db_template_dir(workerinput["testrunuid"])
            config = db_template_clone(shared=shared, worker=workerinput["workerid"])
    yield
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            # End connections that the live server's request threads still
            # hold, so the test database can be dropped.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        if workerinput is None:
            teardown_databases(config, verbosity=0)
        else:
            db_template_release(shared=shared, original_name=config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist's controller, per worker: the run's id, whose template folder
    the controller removes once every worker has finished (below)."""
    node.config.stash[TEMPLATE_RUN] = node.workerinput["testrunuid"]


def pytest_unconfigure(config):
    # Every worker has released its copy and the last one the template; the
    # folder holds only the lock and the count then.
    run_id = config.stash.get(TEMPLATE_RUN, None)
    if run_id is not None:
        shutil.rmtree(template_dir_path(run_id), ignore_errors=True)


TEMPLATE_RUN = pytest.StashKey[str]()


def template_dir_path(run_id: str) -> Path:
    return Path(tempfile.gettempdir()) / f"repair_flow_testdb_{run_id}"


def db_template_dir(run_id: str) -> Path:
    # The run's random id names it: the workers of one run find it, another
    # run's never do.
    shared = template_dir_path(run_id)
    shared.mkdir(mode=0o700, exist_ok=True)
    return shared


@contextlib.contextmanager
def db_template_lock(shared: Path):
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def db_template_clone(*, shared: Path, worker: str) -> str:
    """Point this worker's connection at its own copy of the run's template,
    migrating the template first if no worker has yet. Returns the original
    database name, for the release."""
    original_name = connection.settings_dict["NAME"]
    test_settings = connection.settings_dict["TEST"]
    users = shared / "users"
    with db_template_lock(shared):
        ready = (shared / "ready").exists()
        if connection.vendor == "sqlite":
            template = shared / "template.sqlite3"
            if not ready:
                test_settings["NAME"] = str(template)
                connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
                connection.close()
            name = f"file:memorydb_default_{worker}?mode=memory&cache=shared"
            source = sqlite3.connect(f"file:{template}?mode=ro", uri=True)
            # Held open until Django's own connection to the copy is made: an
            # in-memory database lives while one connection to it is open.
            keeper = sqlite3.connect(name, uri=True)
            source.backup(keeper)
            source.close()
            connection.settings_dict["NAME"] = test_settings["NAME"] = name
            connection.connect()
            keeper.close()
        else:
            template = f"test_{original_name}_{shared.name[-10:]}"
            if ready:
                connection.settings_dict["NAME"] = template
            else:
                test_settings["NAME"] = template
                connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
            # CREATE DATABASE ... TEMPLATE needs the template with no session.
            connection.close()
            connection.creation.clone_test_db(suffix=worker, verbosity=0)
            connection.settings_dict.update(connection.creation.get_test_db_clone_settings(worker))
            # A test database need not survive a crash of the server: its
            # commits (browser journeys, transactional tests) need not wait
            # for the WAL to reach the disk. Every later session inherits it.
            with connection.cursor() as cursor:
                cursor.execute(
                    f'ALTER DATABASE "{connection.settings_dict["NAME"]}"'
                    " SET synchronous_commit = off"
                )
            connection.close()
            (shared / "template").write_text(template)
        (shared / "ready").touch()
        users.write_text(str(int(users.read_text() or 0) + 1 if users.exists() else 1))
    return original_name


def db_template_release(*, shared: Path, original_name: str) -> None:
    """Drop this worker's copy; the last worker out drops the template too
    (a worker that starts later makes a new one: "ready" goes with it)."""
    if connection.vendor == "postgresql":
        connection.creation.destroy_test_db(old_database_name=original_name, verbosity=0)
    with db_template_lock(shared):
        users = shared / "users"
        left = int(users.read_text()) - 1
        users.write_text(str(left))
        if left:
            return
        (shared / "ready").unlink()
        if connection.vendor == "sqlite":
            for leftover in shared.glob("template.sqlite3*"):
                leftover.unlink()
        else:
            connection.settings_dict["NAME"] = (shared / "template").read_text()
            connection.creation.destroy_test_db(old_database_name=original_name, verbosity=0)


@pytest.fixture(scope="module")
def small_demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo at a small size (60 records, 12 subjects), seeded once for a
    module's tests inside a transaction that is rolled back after them. Each
    test still runs in its own savepoint of it (pytest-django's `db`), so what
    one test changes the next never sees; seeding it per test cost ~5 s each."""
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("demo-media")),
    ):
        seeded = transaction.atomic()
        seeded.__enter__()
        try:
            call_command("seed_demo", "--if-empty", "--records", "60", "--subjects", "12")
            yield
        finally:
            transaction.set_rollback(True)
            seeded.__exit__(None, None, None)


@pytest.fixture
def demo(small_demo, db):
    """The small demo, for a test that reads it (and may change it)."""


def status_of(response) -> int:
    """The status of a response whose body the test does not read. A streamed
    file (a letter's PDF: FileResponse) is closed here, as the WSGI server
    closes it once sent; unread, it stayed open (ResourceWarning). Closing a
    response sends request_finished, whose close_old_connections would close
    the test's database connection mid-test (as Django's test client avoids
    too): it is held off while the file is closed."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    return response.status_code


@pytest.fixture
def embedded_database(transactional_db, tmp_path):
    """On SQLite, the test runs against a database FILE, as the embedded mode
    does (`manage.py serve`: WAL and a busy timeout, settings.DATABASES), so
    a second thread that writes waits for the lock instead of meeting
    "database table is locked" at once, as it does in the in-memory test
    database (one shared cache). The file starts as a copy of the test
    database as it stands (reference data and the fixtures made so far); the
    in-memory database is kept open aside, untouched, and comes back after.
    On PostgreSQL the test database already is the real thing: nothing to do."""
    from django.db import connection

    if connection.vendor != "sqlite":
        yield None
        return
    path = tmp_path / "embedded.sqlite3"
    connection.ensure_connection()
    copy = sqlite3.connect(path)
    connection.connection.backup(copy)
    copy.close()
    settings_dict = connection.settings_dict  # shared by every thread's connection
    in_memory_name, in_memory = settings_dict["NAME"], connection.connection
    # Closing the in-memory connection would destroy that database: set it aside.
    connection.connection = None
    settings_dict["NAME"] = str(path)
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal", "the embedded database runs in WAL mode"
        yield path
    finally:
        connection.close()
        settings_dict["NAME"] = in_memory_name
        connection.connection = in_memory
