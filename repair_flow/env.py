"""Typed readers for environment variables that fail loudly on a bad value.

Every variable the product reads is listed in `.env.example`.
"""

import base64
import binascii
import datetime as dt
import os
from urllib.parse import parse_qsl, unquote, urlsplit

from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use one of 1/0, true/false")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_time(name: str, default: str) -> dt.time:
    raw = os.environ.get(name, default)
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a time of day like 17:00") from None


def env_list(name: str, default: str = "") -> list[str]:
    raw = os.environ.get(name, default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_mapping(name: str, default: str = "") -> dict[str, str]:
    """`key=value,key=value` as a dict; an item without `=` is refused."""
    mapping = {}
    for item in env_list(name, default):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImproperlyConfigured(f"{name}: {item!r} is not key=value")
        mapping[key.strip()] = value.strip()
    return mapping


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name, default)
    if raw not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r} must be one of {', '.join(choices)}")
    return raw


def is_http_url(value: str, *, origin_only: bool = False) -> bool:
    """An absolute http(s) URL with a host, no credentials, query or fragment;
    `origin_only`: scheme, host and port only (no path)."""
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return (
        port_ok
        and parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.username or parts.password or parts.query or parts.fragment)
        and not any(ch.isspace() for ch in value)
        and not (origin_only and parts.path not in ("", "/"))
    )


def env_url(name: str, default: str) -> str:
    """An absolute http(s) URL such as `https://credit.example.gov.cn`: links
    in letters and emails are built on it, so a typo (no scheme, a space, a
    query) must stop the start, not print a dead link on every notice."""
    raw = os.environ.get(name, default)
    if not is_http_url(raw.strip()):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a URL like https://host[:port][/path]")
    return raw.strip()


def env_origins(name: str, default: str = "") -> list[str]:
    """Comma-separated origins (CSRF_TRUSTED_ORIGINS): scheme and host, no path."""
    origins = env_list(name, default)
    for origin in origins:
        # Django accepts a leading wildcard label: https://*.example.gov.cn
        if not is_http_url(origin.replace("://*.", "://wildcard.", 1), origin_only=True):
            raise ImproperlyConfigured(
                f"{name}: {origin!r} is not an origin like https://host[:port]"
            )
    return origins


def env_keys(name: str, *, size: int = 32) -> list[bytes]:
    """A key ring: base64 keys of `size` bytes, comma-separated, from NAME or
    from the file NAME_FILE; the first is the current one."""
    raw = os.environ.get(name, "")
    path = os.environ.get(f"{name}_FILE")
    if not raw.strip() and path:
        try:
            with open(path) as handle:
                raw = handle.read()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from None
    return keys_from_text(name, raw, size=size)


def keys_from_text(name: str, raw: str, *, size: int = 32) -> list[bytes]:
    keys = []
    for text in (item.strip() for item in raw.split(",")):
        if not text:
            continue
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"{name}: a key is not base64") from None
        if len(key) != size:
            raise ImproperlyConfigured(
                f"{name}: each key must be {size} random bytes in base64, not {len(key)} bytes"
            )
        keys.append(key)
    return keys


_ENGINES = {
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "sqlite": "django.db.backends.sqlite3",
}


def parse_database_url(url: str) -> dict:
    """Turn `postgres://user:pass@host:port/name?opt=v` or `sqlite:///path` into a
    Django DATABASES entry."""
    parts = urlsplit(url)
    engine = _ENGINES.get(parts.scheme)
    if engine is None:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported; use postgres:// or sqlite:///"
        )
    if engine.endswith("sqlite3"):
        # sqlite:///relative/path or sqlite:////absolute/path
        path = unquote(parts.path)[1:]
        if not path:
            raise ImproperlyConfigured("DATABASE_URL for sqlite needs a file path: sqlite:///path")
        return {"ENGINE": engine, "NAME": path}
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL for postgres needs a database name")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("DATABASE_URL has a port that is not a number") from None
    return {
        "ENGINE": engine,
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


S3_BACKEND = "storages.backends.s3.S3Storage"
FILESYSTEM_BACKEND = "django.core.files.storage.FileSystemStorage"


def default_storage_from_env() -> dict:
    """The STORAGES["default"] entry: where uploads, letters' PDFs and their
    page images are kept. The local disk (MEDIA_ROOT) unless
    STORAGE_S3_BUCKET is set; then an S3-compatible object store, so that
    every web server and worker of a scale-out reads and writes the same files.

    The objects are private and served only through the app's views (the
    access checks and the access register stay in Django), so no URL is
    signed: a URL the storage makes is refused by the store."""
    bucket = (env_str("STORAGE_S3_BUCKET", "") or "").strip()
    if not bucket:
        return {"BACKEND": FILESYSTEM_BACKEND}
    endpoint = (env_str("STORAGE_S3_ENDPOINT_URL", "") or "").strip()
    if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ImproperlyConfigured(
            f"STORAGE_S3_ENDPOINT_URL={endpoint!r} is not an http:// or https:// URL"
        )
    access_key = (env_str("STORAGE_S3_ACCESS_KEY_ID", "") or "").strip()
    secret_key = (env_str("STORAGE_S3_SECRET_ACCESS_KEY", "") or "").strip()
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured(
            "STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY go together; "
            "set both, or neither for boto3's own credentials (an instance role, AWS_* variables)"
        )
    encryption = env_choice("STORAGE_S3_SERVER_SIDE_ENCRYPTION", "", ("", "AES256", "aws:kms"))
    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint or None,
        "region_name": (env_str("STORAGE_S3_REGION", "") or "").strip() or None,
        "access_key": access_key or None,
        "secret_key": secret_key or None,
        "location": (env_str("STORAGE_S3_PREFIX", "") or "").strip().strip("/"),
        "client_config": Config(
            # Most self-hosted stores (MinIO, Ceph) need path-style addressing.
            s3={
                "addressing_style": env_choice(
                    "STORAGE_S3_ADDRESSING_STYLE", "auto", ("auto", "path", "virtual")
                )
            },
            # botocore waits 60 s to connect and to read, five times over: a
            # store that is down would hold every sync web worker for minutes.
            connect_timeout=env_int("STORAGE_S3_CONNECT_TIMEOUT", 5, minimum=1),
            read_timeout=env_int("STORAGE_S3_READ_TIMEOUT", 30, minimum=1),
            retries={"max_attempts": 3, "mode": "standard"},
        ),
        "default_acl": "private",
        "querystring_auth": False,
        # Two materials with the same content have the same name (their
        # SHA-256): the second gets a name of its own, as on the local disk,
        # so deleting one never deletes the other's object.
        "file_overwrite": False,
        # A file read for download is held in memory up to this size, then
        # spooled to a temporary file: a 10 MB upload never sits in memory.
        "max_memory_size": env_int("STORAGE_S3_SPOOL_BYTES", 2 * 1024 * 1024, minimum=0),
        "object_parameters": {"ServerSideEncryption": encryption} if encryption else {},
    }
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}
