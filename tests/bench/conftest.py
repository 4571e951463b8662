"""Benchmarks: `make bench` (pytest tests/bench -s). Not part of the normal suite."""

from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]


def pytest_collect_file(file_path, parent):
    # The project collects test_*.py; benchmarks are bench_*.py so that a
    # plain `pytest` never runs them, even without the --ignore in addopts.
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """On SQLite, benchmark a database file (as `make run` uses), not the
    in-memory database Django gives tests."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        (BASE_DIR / "var").mkdir(exist_ok=True)
        database.setdefault("TEST", {})["NAME"] = str(BASE_DIR / "var" / "bench.sqlite3")
