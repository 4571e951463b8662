"""Where files are kept is chosen by environment variables (issue 18): the
local disk by default, an S3-compatible store with STORAGE_S3_BUCKET; a bad
value stops the start with a message naming the variable."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from repair_flow.env import FILESYSTEM_BACKEND, S3_BACKEND, default_storage_from_env
from tests.repair_flow.test_settings import ROOT

VARIABLES = (
    "STORAGE_S3_BUCKET",
    "STORAGE_S3_ENDPOINT_URL",
    "STORAGE_S3_REGION",
    "STORAGE_S3_ACCESS_KEY_ID",
    "STORAGE_S3_SECRET_ACCESS_KEY",
    "STORAGE_S3_PREFIX",
    "STORAGE_S3_ADDRESSING_STYLE",
    "STORAGE_S3_SPOOL_BYTES",
    "STORAGE_S3_SERVER_SIDE_ENCRYPTION",
    "STORAGE_S3_CONNECT_TIMEOUT",
    "STORAGE_S3_READ_TIMEOUT",
)


@pytest.fixture
def environ(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def set_(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_


def test_the_embedded_default_is_the_local_disk(environ):
    assert default_storage_from_env() == {"BACKEND": FILESYSTEM_BACKEND}


def test_a_bucket_switches_to_a_private_object_store_with_no_signed_urls(environ):
    environ(
        STORAGE_S3_BUCKET="repair-flow",
        STORAGE_S3_ENDPOINT_URL="https://s3.internal.example:9000",
        STORAGE_S3_ACCESS_KEY_ID="AKIA",
        STORAGE_S3_SECRET_ACCESS_KEY="secret",
        STORAGE_S3_PREFIX="/jinan/",
        STORAGE_S3_ADDRESSING_STYLE="path",
        STORAGE_S3_SERVER_SIDE_ENCRYPTION="AES256",
    )
    storage = default_storage_from_env()
    assert storage["BACKEND"] == S3_BACKEND
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "repair-flow"
    assert options["endpoint_url"] == "https://s3.internal.example:9000"
    assert options["location"] == "jinan"
    config = options["client_config"]
    assert config.s3 == {"addressing_style": "path"}
    assert (config.connect_timeout, config.read_timeout) == (5, 30)
    assert config.retries == {"max_attempts": 3, "mode": "standard"}
    assert options["default_acl"] == "private"
    assert options["querystring_auth"] is False
    assert options["file_overwrite"] is False
    assert options["max_memory_size"] == 2 * 1024 * 1024
    assert options["object_parameters"] == {"ServerSideEncryption": "AES256"}


def test_without_keys_boto3_finds_its_own_credentials(environ):
    environ(STORAGE_S3_BUCKET="repair-flow")
    options = default_storage_from_env()["OPTIONS"]
    assert options["access_key"] is None and options["secret_key"] is None
    assert options["endpoint_url"] is None and options["object_parameters"] == {}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"STORAGE_S3_ACCESS_KEY_ID": "AKIA"},
            "STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY go together",
        ),
        (
            {"STORAGE_S3_SECRET_ACCESS_KEY": "secret"},
            "STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY go together",
        ),
        (
            {"STORAGE_S3_ENDPOINT_URL": "s3.internal.example:9000"},
            "STORAGE_S3_ENDPOINT_URL='s3.internal.example:9000' is not an http:// or https:// URL",
        ),
        (
            {"STORAGE_S3_ADDRESSING_STYLE": "dns"},
            "STORAGE_S3_ADDRESSING_STYLE='dns' must be one of",
        ),
        ({"STORAGE_S3_SPOOL_BYTES": "2MB"}, "STORAGE_S3_SPOOL_BYTES='2MB' is not an integer"),
        ({"STORAGE_S3_READ_TIMEOUT": "0"}, "STORAGE_S3_READ_TIMEOUT=0 must be at least 1"),
        ({"STORAGE_S3_SERVER_SIDE_ENCRYPTION": "yes"}, "STORAGE_S3_SERVER_SIDE_ENCRYPTION='yes'"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(environ, values, message):
    environ(STORAGE_S3_BUCKET="repair-flow", **values)
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(")):
        default_storage_from_env()


def test_the_server_starts_on_the_object_store_from_the_environment():
    """The settings module, imported in a fresh interpreter as a server
    would, builds the default storage from the variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STORAGE_S3_")}
    show = (
        "import django; django.setup(); "
        "from django.core.files.storage import default_storage as d; "
        "print(d.__class__.__name__, d.bucket_name, d.default_acl, d.querystring_auth)"
    )
    result = subprocess.run(
        [sys.executable, "-c", show],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "repair_flow.settings",
            "STORAGE_S3_BUCKET": "repair-flow",
            "STORAGE_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "S3Storage repair-flow private False" in result.stdout
