"""When the file storage (the local disk or the S3-compatible object store)
cannot be reached or written, as opposed to a file that is not there.

A request that needs a file then gets 503 with Retry-After and a message
that says so (repair_flow.middleware.StorageOutageMiddleware for pages,
repair_flow.api_common.exception_handler for the API), never a bare 500.
The services' transactions roll back on the exception, so nothing is
half-saved; the operator sees the outage in /healthz and the log."""

import errno

from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.utils.translation import gettext as _

# The store cannot be reached, or the connection broke off mid-answer.
UNREACHABLE = (BotoConnectionError, ConnectionClosedError, ReadTimeoutError)
# The local disk refuses writes: full, over quota, read-only, failing.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
# How long a client should wait before trying again (Retry-After), seconds.
RETRY_AFTER_SECONDS = 60


def storage_unavailable(exc: BaseException) -> bool:
    """True for an outage of the storage; False for everything else,
    a missing file (FileNotFoundError, S3's 404) and a refused request included."""
    if isinstance(exc, UNREACHABLE):
        return True
    if isinstance(exc, ClientError):
        # The store answered, but with its own failure (500 InternalError,
        # 503 SlowDown / ServiceUnavailable): it is the store, not the request.
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


def storage_outage_message() -> str:
    return _("文件存储暂时无法访问，本次操作未能完成，请稍后再试。")
