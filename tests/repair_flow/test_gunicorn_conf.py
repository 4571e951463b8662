"""The checked-in gunicorn.conf.py: what gunicorn reads at start, from the
environment, refusing a bad value."""

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from gunicorn.config import Config

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def load(monkeypatch, **env) -> Config:
    """gunicorn's own Config, filled from the file as `gunicorn` does."""
    for name in ("WEB_CONCURRENCY", "GUNICORN_TIMEOUT", "GUNICORN_BIND", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Config()
    for key, value in runpy.run_path(str(CONF)).items():
        if key in config.settings:
            config.set(key, value)
    return config


def test_the_defaults_bind_loopback_trust_only_the_local_proxy(monkeypatch):
    config = load(monkeypatch)
    assert config.bind == ["127.0.0.1:8000"]
    assert config.workers >= 3
    assert config.timeout == 60
    assert config.forwarded_allow_ips == ["127.0.0.1"]
    assert config.secure_scheme_headers["X-FORWARDED-PROTO"] == "https"


def test_the_environment_sets_workers_timeout_and_proxy(monkeypatch):
    config = load(
        monkeypatch,
        WEB_CONCURRENCY="4",
        GUNICORN_TIMEOUT="90",
        GUNICORN_BIND="0.0.0.0:8001",
        FORWARDED_ALLOW_IPS="10.0.0.5",
    )
    assert (config.workers, config.timeout, config.bind) == (4, 90, ["0.0.0.0:8001"])
    assert config.forwarded_allow_ips == ["10.0.0.5"]


def test_a_bad_worker_count_stops_the_start(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="WEB_CONCURRENCY=0 must be at least 1"):
        load(monkeypatch, WEB_CONCURRENCY="0")
