import re
import uuid

from django.conf import settings
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from repair_flow.audit import reset_request_id, set_request_id
from repair_flow.masking import looks_like_identifier

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
