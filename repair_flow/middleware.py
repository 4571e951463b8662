import logging
import re
import uuid

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.translation import gettext as _

from repair_flow.audit import reset_request_id, set_request_id
from repair_flow.masking import looks_like_identifier
from repair_flow.storage import RETRY_AFTER_SECONDS, storage_outage_message, storage_unavailable

log = logging.getLogger(__name__)

# What a proxy's or client's X-Request-ID may be: letters, digits and . _ -,
# 8 to 64 characters. Anything else (spaces, control characters, a resident ID
# a client chose to send, markup) is dropped, never stored.
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def client_request_id(value: str) -> str:
    """The client's request id if it has the strict format (and is not a
    resident ID someone chose to send), else ""."""
    if not CLIENT_REQUEST_ID.fullmatch(value) or looks_like_identifier(value):
        return ""
    return value


class RequestIdMiddleware:
    """Every request gets a server-generated id, stored on every register row
    and audit event written while serving it. A client's or proxy's
    X-Request-ID is kept beside it (never instead of it), and only when it
    has the strict format, so the register's and the audit's own ids are
    never chosen by a client. The response carries the server's id in
    X-Request-ID and the accepted client id in X-Client-Request-ID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = uuid.uuid4().hex
        client = client_request_id(request.headers.get("X-Request-ID", ""))
        request.request_id = rid
        request.client_request_id = client
        token = set_request_id(rid, client)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response["X-Request-ID"] = rid
        if client:
            response["X-Client-Request-ID"] = client
        return response


class LanguageMiddleware:
    """Chinese first: pages are in the language the user chose (the switcher
    sets a cookie), else zh-hans, whatever the browser prefers. The API also
    honours Accept-Language, which is how integrations ask for English."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        is_api = request.path.startswith("/api/")
        if language not in self.supported:
            language = settings.LANGUAGE_CODE
            if is_api:
                preferred = translation.get_language_from_request(request)
                if preferred in self.supported:
                    language = preferred
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
        finally:
            # Leave the thread as it was, so code that runs after a request in
            # the same thread (tests, the scheduler) is not in its language.
            translation.deactivate()
        response.headers.setdefault("Content-Language", language)
        if is_api:
            patch_vary_headers(response, ("Accept-Language",))
        return response


def client_address(request) -> str | None:
    """The caller's address for the login lockout: REMOTE_ADDR, or behind
    TRUSTED_PROXY_COUNT proxies the X-Forwarded-For entry the nearest one
    added (counted from the right; what lies left of it the client wrote)."""
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(count, len(hops))]
    return request.META.get("REMOTE_ADDR")


def body_limit(path: str, content_type: str) -> int:
    """The largest body this path takes (settings: REQUEST_BODY_LIMITS by path,
    else MAX_UPLOAD_BODY_BYTES for files, else MAX_REQUEST_BODY_BYTES)."""
    for pattern, limit in settings.REQUEST_BODY_LIMITS:
        if re.search(pattern, path):
            return limit
    if content_type.startswith("multipart/form-data"):
        return settings.MAX_UPLOAD_BODY_BYTES
    return settings.MAX_REQUEST_BODY_BYTES


class BodySizeLimitMiddleware:
    """413 for a body larger than its path takes, decided from Content-Length
    before anything reads the body (a 50 MB upload used to be read whole and
    only then refused by the 10 MB check). Without a Content-Length Django
    reads nothing, so the header is the whole question."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > 0:
            limit = body_limit(request.path_info, request.META.get("CONTENT_TYPE", ""))
            if length > limit:
                return self.too_large(request, limit)
        return self.get_response(request)

    @staticmethod
    def too_large(request, limit: int) -> HttpResponse:
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in {code for code, _name in settings.LANGUAGES}:
            language = settings.LANGUAGE_CODE
        with translation.override(language):
            detail = _("请求内容超过 %(limit)s MB 的上限，未予接收；请压缩或分开上传。") % {
                "limit": f"{limit / (1024 * 1024):g}"
            }
        if request.path_info.startswith("/api/"):
            # The API's one error shape (repair_flow.api_common).
            body = {"detail": detail, "code": "too_large"}
            response = JsonResponse(body, status=413, json_dumps_params={"ensure_ascii": False})
        else:
            response = HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
        return response


class ResponseHeadersMiddleware:
    """Headers every page and file of ours carries (issue 17, finding 12).

    - `Cache-Control: no-store` (Django's never-cache set) unless the view chose
      its own: case pages, letters, materials, the register and the admin show
      personal data (PIPL Art. 51: protect it by technical means), which no
      browser or shared proxy may keep. Static files are served before this
      (WhiteNoise sits above it) and stay cacheable.
    - `Permissions-Policy` (settings.PERMISSIONS_POLICY): no page of ours needs
      a camera, microphone, location or payment, so none may use them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response:
            add_never_cache_headers(response)
        if settings.PERMISSIONS_POLICY:
            response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class StorageOutageMiddleware:
    """A page that needs a file while the storage is down (the object store
    unreachable, the disk full) answers 503 with Retry-After and says so,
    instead of a bare 500 (repair_flow.storage). The API's views never reach
    this: DRF's exception handler answers in the API's error shape
    (repair_flow.api_common.exception_handler)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not storage_unavailable(exception):
            return None
        log.error("storage unavailable: %s %s", request.method, request.path, exc_info=exception)
        response = render(request, "503.html", {"message": storage_outage_message()}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
