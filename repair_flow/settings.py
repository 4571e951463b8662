"""One settings module, driven by environment variables (see .env.example)."""

import base64
import datetime as dt
import os
import re
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from repair_flow.env import (
    default_storage_from_env,
    env_bool,
    env_choice,
    env_int,
    env_keys,
    env_list,
    env_mapping,
    env_origins,
    env_str,
    env_time,
    env_url,
    keys_from_text,
    parse_database_url,
)
from repair_flow.jobs import beat_schedule

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# development: `make run` and the tests; production: refuses to start without
# SECRET_KEY and ALLOWED_HOSTS.
ENVIRONMENT = env_choice("DJANGO_ENV", "development", ("development", "production"))
PRODUCTION = ENVIRONMENT == "production"
DEBUG = env_bool("DEBUG", not PRODUCTION)


def _dev_key(filename: str, make) -> str:
    """A development key under VAR_DIR, made once per checkout by `make()`.
    Written whole to a file of this process's own, then linked to its name,
    which fails when the name exists: processes starting together (xdist's
    workers, a second test run) all read the one complete key, never another
    process's, an empty or a half-written file."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / filename
    if not path.exists():
        own = VAR_DIR / f".{filename}.{os.getpid()}"
        own.touch(mode=0o600)
        own.write_text(make())
        try:
            os.link(own, path)
        except FileExistsError:
            pass
        finally:
            own.unlink()
    return path.read_text()


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production")
    # A dev-only key, generated once per checkout and never committed.
    return _dev_key("dev-secret-key", lambda: secrets.token_urlsafe(50)).strip()


SECRET_KEY = _secret_key()


def _audit_key(name: str) -> bytes:
    """A key of the audit chain (repair_flow/audit.py): never in the database.
    From NAME (the key itself) or NAME_FILE (a file holding it); in development
    a key generated once under var/, like the dev secret key; in production
    empty when unset, and the system check repair_flow.E001 refuses to start."""
    key = env_str(name)
    path = env_str(f"{name}_FILE")
    if key:
        return key.encode()
    if path:
        try:
            return Path(path).read_bytes().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r} cannot be read: {exc}") from None
    if PRODUCTION:
        return b""
    key = _dev_key(f"dev-{name.lower().replace('_', '-')}", lambda: secrets.token_urlsafe(48))
    return key.strip().encode()


# Each audit event's link is an HMAC with AUDIT_CHAIN_KEY; the daily anchor of
# the chain's head (a file under AUDIT_ANCHOR_DIR, and an email to
# AUDIT_ANCHOR_EMAIL when set) is signed with AUDIT_ANCHOR_KEY.
AUDIT_CHAIN_KEY = _audit_key("AUDIT_CHAIN_KEY")
AUDIT_ANCHOR_KEY = _audit_key("AUDIT_ANCHOR_KEY")
AUDIT_ANCHOR_DIR = Path(env_str("AUDIT_ANCHOR_DIR") or VAR_DIR / "audit-anchors")
AUDIT_ANCHOR_EMAIL = env_str("AUDIT_ANCHOR_EMAIL", "")


def _field_keys(name: str) -> list[bytes]:
    """A key ring of repair_flow/encryption.py (never in the database): from
    NAME or NAME_FILE; in development a key generated once under var/, like
    the audit keys; in production empty when unset, and the system check
    repair_flow.E005 refuses to start."""
    keys = env_keys(name)
    if keys or PRODUCTION:
        return keys
    key = _dev_key(
        f"dev-{name.lower().replace('_', '-')}",
        lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    )
    return keys_from_text(name, key)


# Personal data at rest (repair_flow/encryption.py): AES-GCM under the first
# of FIELD_ENCRYPTION_KEYS (older ones still read until `rotate_keys`), and
# lookups by an HMAC under the first of FIELD_BLIND_INDEX_KEYS.
FIELD_ENCRYPTION_KEYS = _field_keys("FIELD_ENCRYPTION_KEYS")
FIELD_BLIND_INDEX_KEYS = _field_keys("FIELD_BLIND_INDEX_KEYS")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_ENV=production")
# Behind the HTTPS proxy: the public origin (https://credit.example.gov.cn),
# which Django's CSRF check compares with the browser's Origin header.
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS")
# The public address printed in letters, emails and QR codes.
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "axes",
    "csp",
    "viewflow",
    "viewflow.workflow",
    "repair_flow",
    "records",
    "sla",
    "flows",
    "letters",
    "retention",
]

MIDDLEWARE = [
    "repair_flow.middleware.RequestIdMiddleware",
    # Before anything reads the body: an oversized upload is refused from its
    # Content-Length (413), not read whole and then refused.
    "repair_flow.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "repair_flow.middleware.ResponseHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "repair_flow.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The Content-Security-Policy header (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # A storage outage in a view: 503 with Retry-After, not 500.
    "repair_flow.middleware.StorageOutageMiddleware",
    # Last, as django-axes asks: it answers a locked-out login with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "repair_flow.urls"
WSGI_APPLICATION = "repair_flow.wsgi.application"
ASGI_APPLICATION = "repair_flow.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "repair_flow" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "repair_flow.roles.role_context",
                "sla.context.unread_notifications",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL")
if _database_url:
    DATABASES = {"default": parse_database_url(_database_url)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # PostgreSQL's parallel query, per query of this app's connections:
        # none by default. A page reads 25-50 rows through an index, and
        # starting two parallel workers for them cost ~20 ms of a 29 ms
        # records search at 1,000,000 records (issue 18); under load they
        # take cores from the other requests too. An `options` in the URL
        # comes after, so it can still set its own.
        _options = DATABASES["default"]["OPTIONS"]
        _workers = env_int("DATABASE_PARALLEL_WORKERS", 0, minimum=0)
        _parallel = f"-c max_parallel_workers_per_gather={_workers}"
        _options["options"] = " ".join(filter(None, [_parallel, _options.get("options")]))
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                # WAL and a busy timeout let the scheduler loop and the web
                # server share the embedded database.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "repair_flow.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for
# one user name, or from one address, further logins of that user or from that
# address are refused (429, the lockout page) for LOGIN_LOCKOUT_MINUTES, even
# with the right password. An administrator unlocks earlier: the admin's
# "Access attempts" (delete the row) or `manage.py axes_reset_username <name>`
# / `axes_reset_ip <address>`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("LOGIN_LOCKOUT_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 30, minimum=1))
# Either counts: a user name tried from many addresses, or one address trying many names.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_HTTP_RESPONSE_CODE = 429
# Behind TRUSTED_PROXY_COUNT proxies (production: 1, the web server in front)
# the client's address is the X-Forwarded-For entry the nearest proxy added,
# counted from the right: entries further left are the client's own word.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if PRODUCTION else 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "repair_flow.middleware.client_address"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Chinese first, English one locale away.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "repair_flow" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# Uploads, letters' PDFs and their page images, only ever through Django's
# storage API: the local disk under MEDIA_ROOT, or with STORAGE_S3_BUCKET an
# S3-compatible object store that every server and worker shares.
STORAGES = {
    "default": default_storage_from_env(),
    # viewflow's static files break the manifest storage; the compressed one works.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
# How long a purpose stated for a session's work on many people's data (the
# admin's personal-data pages, record searches) lasts before it is asked again
# (shared domain reference section 8: every view registered with its purpose).
ACCESS_PURPOSE_SESSION_SECONDS = env_int("ACCESS_PURPOSE_SESSION_SECONDS", 2 * 3600, minimum=60)
# At most this many items of each kind per run of destroy_expired (hourly): a
# backlog (the first run, a rule shortened) goes over several runs in bounded
# transactions and statements, never one run holding every row.
RETENTION_MAX_PER_RUN = env_int("RETENTION_MAX_PER_RUN", 5000, minimum=100)
# The purpose each integration account states, once, for its reads of the sync
# feed: `username=purpose,...` with a purpose of repair_flow.models.AccessPurpose
# (checked at start). An account without one passes `purpose` per request.
INTEGRATION_ACCESS_PURPOSES = env_mapping("INTEGRATION_ACCESS_PURPOSES")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
# Production is served over HTTPS only: plain HTTP is redirected, and browsers
# are told (HSTS) never to try HTTP for a year (check --deploy W004, W008).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# The proxy probes the server directly over plain HTTP: /healthz answers it
# instead of redirecting it (it holds no session and no personal data).
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
# The header only allows a submission to the browsers' preload list (W021).
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
# Browser features no page of ours uses, switched off for every page.
PERMISSIONS_POLICY = env_str(
    "PERMISSIONS_POLICY",
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "interest-cohort=(), browsing-topics=()",
)

# Content-Security-Policy (issue 17, finding 12): the browser runs and loads
# only what our own origin serves, so an injected `<script>`, `onclick=` or
# `style=` does nothing. Our pages have no inline script, event handler or
# style: scripts are static files (repair_flow/static/js/), styles are
# static/css/app.css. The Django admin (5.2) is all external scripts too; its
# few `<script>` tags carry data in `data-` attributes, not code.
# - img-src 'self' only, no data:: no page shows a data: image (QR codes and
#   seals are data: URLs inside the letter PDFs, drawn by WeasyPrint, not by
#   the browser; letter pages show page images from our own URLs).
# - object-src 'none', base-uri 'self': no plugins; an injected `<base>` cannot
#   point our relative script URLs elsewhere.
# - frame-ancestors 'none': no site may frame ours (clickjacking; the header
#   supersedes X-Frame-Options: DENY, which stays for old browsers).
# - form-action 'self': an injected form cannot post (a password) elsewhere.
# viewflow: the project uses its engine, admin and chart only (its Material
# frontend, viewflow.urls.Site, is not mounted); the flow chart SVG
# needs its own inline `<style>`, allowed on that one response only
# (flows.web.staff.FLOW_CHART_CSP).
# The DRF browsable API (/api/, a developer's tool) keeps the same policy:
# its scripts are static files; what its templates style inline (a few layout
# `style=` attributes, the code highlighting's <style>) is dropped there,
# which leaves the page usable: not worth 'unsafe-inline' on pages that show
# personal data.
# CSP_REPORT_ONLY=true sends the policy as Content-Security-Policy-Report-Only
# for a rollout: browsers report violations (to CSP_REPORT_URI when set) and
# block nothing. Enforcing is the default.
# (Read into lower-case names: django-csp's check csp.E001 takes any CSP_*
# setting for its 3.x format.)
_csp_report_only = env_bool("CSP_REPORT_ONLY", False)
_csp_report_uri = env_str("CSP_REPORT_URI", "")
_csp_policy = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        **({"report-uri": [_csp_report_uri]} if _csp_report_uri else {}),
    }
}
if _csp_report_only:
    CONTENT_SECURITY_POLICY = None
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp_policy
else:
    CONTENT_SECURITY_POLICY = _csp_policy
    CONTENT_SECURITY_POLICY_REPORT_ONLY = None

# Every API list answers at most API_MAX_LIMIT rows a page (`limit` above it is
# a 400): a page is one bounded query and one bounded response, so no caller can
# hold a worker for seconds with `?limit=20000` (issue 18).
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50, minimum=1)
API_MAX_LIMIT = env_int("API_MAX_LIMIT", 200, minimum=1)
if API_PAGE_SIZE > API_MAX_LIMIT:
    raise ImproperlyConfigured("API_PAGE_SIZE must not exceed API_MAX_LIMIT")

# A name search of the records list matches names from this many characters
# (a Chinese person's name has two); shorter, only decision numbers (by prefix)
# and identifiers. On PostgreSQL a trigram index serves names of 3 or more.
RECORD_NAME_SEARCH_MIN_LENGTH = env_int("RECORD_NAME_SEARCH_MIN_LENGTH", 2, minimum=1)
# A list page counts its rows exactly up to this many; beyond, on PostgreSQL,
# the planner's estimate stands in (an exact COUNT of a million rows is a scan).
# The bound is read every page: counting 10,001 open tasks through their
# deadline join took 26-35 ms of the queue's 100 ms, 1,001 take 3 ms (issue 18).
LIST_EXACT_COUNT_LIMIT = env_int("LIST_EXACT_COUNT_LIMIT", 1000, minimum=0)
# A CSV export of more rows than this is not streamed in the request: it runs
# as a background job (repair_flow/exports.py) whose page shows its progress
# and offers the file, kept EXPORT_KEEP_HOURS in storage, then deleted by the
# periodic exports sweep.
EXPORT_BACKGROUND_ROWS = env_int("EXPORT_BACKGROUND_ROWS", 50000, minimum=0)
EXPORT_KEEP_HOURS = env_int("EXPORT_KEEP_HOURS", 24, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "repair_flow.api_common.ApiPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "EXCEPTION_HANDLER": "repair_flow.api_common.exception_handler",
    # Per caller: anonymous callers by address, people by account, system
    # accounts by token, each at its rate in API_THROTTLE_RATES.
    "DEFAULT_THROTTLE_CLASSES": ["repair_flow.throttles.CallerRateThrottle"],
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    # JSON bodies nested deeper than API_JSON_MAX_DEPTH are a 400, not a
    # RecursionError (a 500) in the parser or the serializers.
    "DEFAULT_PARSER_CLASSES": [
        "repair_flow.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# No request body of this API nests deeper than a few levels; 32 leaves room.
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32, minimum=2)
# Requests per caller; "<n>/<second|minute|hour|day>".
API_THROTTLE_RATES = {
    "anon": env_str("API_THROTTLE_ANON", "60/minute"),
    "user": env_str("API_THROTTLE_USER", "300/minute"),
    "integration": env_str("API_THROTTLE_INTEGRATION", "1200/minute"),
}
for _scope, _rate in API_THROTTLE_RATES.items():
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", _rate):
        raise ImproperlyConfigured(
            f"API_THROTTLE_{_scope.upper()}={_rate!r}: use <requests>/<second|minute|hour|day>"
        )
# The throttles' counters live in the cache: the process's memory by default;
# with several server processes set CACHE_URL (redis://...) so they share one.
_cache_url = env_str("CACHE_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
        if _cache_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Request bodies: refused (413) from their Content-Length before a byte is
# read, by repair_flow.middleware.BodySizeLimitMiddleware: a multipart body
# (files) beyond MAX_UPLOAD_BODY_BYTES, any other beyond MAX_REQUEST_BODY_BYTES;
# REQUEST_BODY_LIMITS sets a path's own cap (first matching pattern). Django
# itself refuses form fields beyond DATA_UPLOAD_MAX_MEMORY_SIZE. The proxy in
# front caps at the largest (nginx: `client_max_body_size 25m;`).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int(
    "DATA_UPLOAD_MAX_MEMORY_SIZE", 2621440, minimum=1024
)  # Django's default, 2.5 MB
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 5 * 1024 * 1024, minimum=1024)
MAX_UPLOAD_BODY_BYTES = env_int("MAX_UPLOAD_BODY_BYTES", 25 * 1024 * 1024, minimum=1024)
# (path regex, bytes): record ingest takes up to 1,000 records a request.
REQUEST_BODY_LIMITS = [(r"^/api/v1/records/$", 10 * 1024 * 1024)]
# One material file, and what one case may hold (materials of the applicant
# and the officers together): the per-case quota.
MAX_MATERIAL_BYTES = env_int("MAX_MATERIAL_BYTES", 10 * 1024 * 1024, minimum=1024)
CASE_MATERIALS_MAX_COUNT = env_int("CASE_MATERIALS_MAX_COUNT", 40, minimum=1)
CASE_MATERIALS_MAX_BYTES = env_int("CASE_MATERIALS_MAX_BYTES", 100 * 1024 * 1024, minimum=1024)
# Stored files readable by the server's user and group only, never the world.
FILE_UPLOAD_PERMISSIONS = 0o640
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
SPECTACULAR_SETTINGS = {
    "TITLE": "Credit repair and objection API",
    "DESCRIPTION": (
        "Record ingest, deadlines, SLA figures, letters and their verification. "
        "Every path ends with `/`. Every 4xx answers the `Error` shape: `detail` and `code`, "
        "and for bad input the messages per field (`non_field_errors` for the rest). Lists "
        "take `limit` (1-1000) and `offset`; an unknown filter value is a 400. Times are "
        "ISO 8601 in Asia/Shanghai (+08:00), to the second."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get their own components, with the input's constraints
    # (required, minLength, minItems) that responses do not have.
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents its 4xx in the API's one error shape.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "repair_flow.api_common.error_responses_hook",
    ],
    # Two "kind"/"status" fields would otherwise get clashing enum names.
    "ENUM_NAME_OVERRIDES": {
        "LetterKindEnum": "letters.models.LetterKind",
        "RenderStatusEnum": "letters.models.RenderStatus",
        "CaseStatusEnum": "flows.models.CaseStatus",
        "EventStatusEnum": "flows.models.EVENT_STATUSES",
        "MaterialKindEnum": "flows.models.MaterialKind",
        "BindingCapacityEnum": "records.models.BindingCapacity",
        "DecisionChangeKindEnum": "records.models.DecisionChangeKind",
        "RecordStatusEnum": "records.models.RecordStatus",
    },
}

# Email: the console in the embedded default; any django-anymail ESP by
# environment, e.g. EMAIL_BACKEND=anymail.backends.mailgun.EmailBackend with
# ANYMAIL_MAILGUN_API_KEY=... Every ANYMAIL_<NAME> variable becomes
# ANYMAIL["<NAME>"]. ANYMAIL_WEBHOOK_SECRET ("user:password") guards the
# tracking webhooks at /anymail/<esp>/tracking/.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# A letter render claimed this long ago is taken over by the letters sweep
# (its worker died): a crash delays a letter by the lease plus one sweep.
# Longer than a render with signing and timestamp takes (a few seconds).
LETTER_RENDER_LEASE_SECONDS = env_int("LETTER_RENDER_LEASE_SECONDS", 30, minimum=5)
# SMS (letters.channels): a class with send(*, phone, text) -> provider id, sent
# through the outbox like email; console by default. A deployment plugs in its
# provider (Alibaba Cloud alibabacloud-dysmsapi20170525, Tencent Cloud tencentcloud-sdk-python).
SMS_BACKEND = env_str("SMS_BACKEND", "letters.channels.ConsoleSmsBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "noreply@credit.jinan.example")
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in os.environ.items()
    if name.startswith("ANYMAIL_") and value
}
# anymail only warns when the secret is missing and then accepts any caller:
# a production ESP without it would let anyone mark messages delivered.
if PRODUCTION and EMAIL_BACKEND.startswith("anymail.") and "WEBHOOK_SECRET" not in ANYMAIL:
    raise ImproperlyConfigured(
        "ANYMAIL_WEBHOOK_SECRET must be set when DJANGO_ENV=production uses an anymail ESP"
    )

# Letter signatures (letters/signing.py): every stored PDF is signed (PAdES)
# with its issuer's certificate. Per issuer code (letters.signing.issuer_code),
# LETTER_SIGNING_<CODE>_P12 names a PKCS#12 file and
# LETTER_SIGNING_<CODE>_PASSPHRASE its passphrase (CODE upper-cased, "-" as
# "_"). LETTER_SIGNING_TRUST_ROOTS lists the CA certificates (PEM or DER
# files) a signature must chain to; LETTER_SIGNING_TSA_URL adds an RFC 3161
# timestamp. Where an issuer has no key, development creates a demo CA and a
# certificate marked 演示/样章 under LETTER_SIGNING_DEMO_DIR; production never
# does (LETTER_SIGNING_DEMO=0): the letter waits, unsigned letters are never stored.
LETTER_SIGNING_KEYS = {
    name.removeprefix("LETTER_SIGNING_").removesuffix("_P12"): {
        "p12": value,
        "passphrase": os.environ.get(name.removesuffix("_P12") + "_PASSPHRASE", ""),
    }
    for name, value in os.environ.items()
    if name.startswith("LETTER_SIGNING_") and name.endswith("_P12") and value
}
LETTER_SIGNING_TRUST_ROOTS = env_list("LETTER_SIGNING_TRUST_ROOTS")
LETTER_SIGNING_TSA_URL = env_str("LETTER_SIGNING_TSA_URL", "")
LETTER_SIGNING_DEMO = env_bool("LETTER_SIGNING_DEMO", not PRODUCTION)
LETTER_SIGNING_DEMO_DIR = Path(env_str("LETTER_SIGNING_DEMO_DIR") or VAR_DIR / "signing")

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
# Celery beat keeps its last-run times in a file: under VAR_DIR (never the
# checkout, where `celery beat` would otherwise write it), or where
# CELERY_BEAT_SCHEDULE_FILENAME says (a directory only beat writes).
CELERY_BEAT_SCHEDULE_FILENAME = env_str("CELERY_BEAT_SCHEDULE_FILENAME") or str(
    VAR_DIR / "celerybeat-schedule"
)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# Without a broker `serve` renders letters after the response: in a child
# process ("process"), so a render never holds the GIL that requests need,
# or on the worker thread itself ("thread"). See repair_flow/background.py.
RENDER_WORKER = env_choice("RENDER_WORKER", "process", ("process", "thread"))

# Office hours for deadlines (shared domain reference section 5): filings
# received on a working day by the cut-off are due at office close that day.
OFFICE_OPEN = env_time("OFFICE_OPEN", "09:00")
OFFICE_CLOSE = env_time("OFFICE_CLOSE", "17:00")
PRELIMINARY_REVIEW_CUTOFF = env_time("PRELIMINARY_REVIEW_CUTOFF", "16:00")
if not OFFICE_OPEN < OFFICE_CLOSE:
    raise ImproperlyConfigured("OFFICE_OPEN must be earlier than OFFICE_CLOSE")
if PRELIMINARY_REVIEW_CUTOFF > OFFICE_CLOSE:
    raise ImproperlyConfigured("PRELIMINARY_REVIEW_CUTOFF must not be later than OFFICE_CLOSE")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "mask_pii": {"()": "repair_flow.masking.MaskingLogFilter"},
        "forbidden_in_one_line": {"()": "repair_flow.logs.ForbiddenInOneLine"},
        "library_warning_in_one_line": {"()": "repair_flow.logs.LibraryWarningInOneLine"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    # Every handler masks identifiers (shared domain reference section 8), as
    # every record is masked where it is made (RepairFlowConfig.ready): the
    # request line of /verify/<resident ID> included.
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["mask_pii", "library_warning_in_one_line"],
            "formatter": "plain",
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "filters": ["mask_pii"],
            "formatter": "django.server",
        },
    },
    "loggers": {
        # Django's own console handler (when DEBUG) would print every line a
        # second time: the root's console is the one.
        "django": {"handlers": [], "propagate": True},
        "django.request": {"filters": ["forbidden_in_one_line"]},
        # runserver's request lines: Django's default handler had no mask.
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # django-axes says INFO at every login; its failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# The periodic jobs (repair_flow/jobs.py; the embedded scheduler runs the same list).
CELERY_BEAT_SCHEDULE = beat_schedule()
CELERY_TIMEZONE = TIME_ZONE
