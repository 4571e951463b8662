"""What every API module shares: the one error shape and the exception handler
that produces it, query and pagination checks, times in Beijing time, absolute
URLs, and the registered read of a natural person's data.

Low level on purpose: it imports no app of ours beyond repair_flow, so records,
letters, sla and flows all build on it and never on each other's privates.

The error shape (every 4xx of /api/v1/):

    {"detail": "第一条或唯一的说明", "code": "stable_code",
     "<field>": ["message", ...], "non_field_errors": ["message", ...]}

`detail` and `code` are always there; a 400 about the input also lists the
messages per input field at the top level, as DRF has always answered, with
`non_field_errors` for the rest. Some errors add their own facts (a letter not
yet rendered: `status`; an unknown verification code: `found`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import DateTimeField as ModelDateTimeField
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.csrf import csrf_exempt
from django_fsm import TransitionNotAllowed
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.views import exception_handler as drf_exception_handler

from repair_flow.access import (
    REGISTERED_ROLES,
    Access,
    access_register_many,
    purpose_is_valid,
)
from repair_flow.models import AccessChannel, AccessPurpose, Role
from repair_flow.paging import list_count, page_slice
from repair_flow.storage import RETRY_AFTER_SECONDS, storage_outage_message, storage_unavailable

log = logging.getLogger(__name__)

# Errors --------------------------------------------------------------------------------------

# Service error codes that mean "not in a state for this" rather than "your input
# is wrong": answered 409. The services name them; the API only sorts them.
CONFLICT_CODES = frozenset(
    {
        "taken",
        "open_case",
        "wrong_status",
        "not_claimed",
        "no_task",
        "already_signed",
        "already_reported",
    }
)


class ApiError(exceptions.APIException):
    """An error with the API's shape and facts of its own beside `detail` and `code`."""

    def __init__(self, detail, *, code: str, status_code: int, **extra):
        super().__init__(detail, code)
        self.status_code = status_code
        self.extra = extra


class Conflict(ApiError):
    status_code = status.HTTP_409_CONFLICT

    def __init__(self, detail, *, code: str = "conflict", **extra):
        super().__init__(detail, code=code, status_code=status.HTTP_409_CONFLICT, **extra)


def _field_name(field: str, fields: Mapping[str, str], code: str | None) -> str:
    if field != NON_FIELD_ERRORS:
        return fields.get(field, field)
    return fields.get(code or "", "non_field_errors")


def service_error_fields(
    error: DjangoValidationError, fields: Mapping[str, str] | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """A service's ValidationError as messages per input field, and its codes.

    The services raise plain messages with codes (or messages per model
    field); `fields` names the input field a code or a model field is about,
    the rest are non_field_errors."""
    fields = fields or {}
    body: dict[str, list[str]] = {}
    codes: list[str] = []
    if hasattr(error, "error_dict"):
        items = [(name, e) for name, errors in error.error_dict.items() for e in errors]
    else:
        items = [(NON_FIELD_ERRORS, e) for e in error.error_list]
    for name, item in items:
        body.setdefault(_field_name(name, fields, item.code), []).extend(item.messages)
        if item.code:
            codes.append(item.code)
    return body, codes


def _drf_error(exc: Exception, view) -> Exception:
    """Django's and django-fsm's exceptions as DRF ones, keeping their messages."""
    if isinstance(exc, DjangoValidationError):
        # A view may say which input field a service's error code is about,
        # or lay the messages out itself (ObjectionCorrectApi: under `changes`).
        shape = getattr(view, "service_error_fields", None)
        if callable(shape):
            body, codes = shape(exc)
        else:
            body, codes = service_error_fields(exc, getattr(view, "error_fields", {}))
        conflicts = CONFLICT_CODES | frozenset(getattr(view, "conflict_codes", ()))
        conflict = next((code for code in codes if code in conflicts), None)
        if conflict is not None:
            # The messages stay under their fields, as a 400's do.
            messages = _messages(body) or [_("当前状态不能办理此事项。")]
            return Conflict(messages[0], code=conflict, **body)
        error = exceptions.ValidationError(body)
        error.service_codes = codes
        return error
    if isinstance(exc, TransitionNotAllowed):
        return Conflict(_("当前状态不能办理此事项。"), code="wrong_status")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(exc.args[0] if exc.args else None)
    if isinstance(exc, Http404):
        return exceptions.NotFound(exc.args[0] if exc.args else None)
    if storage_unavailable(exc):
        log.error("storage unavailable: %s", type(view).__name__, exc_info=exc)
        return ApiError(
            storage_outage_message(),
            code="storage_unavailable",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return exc


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        return [m for v in value.values() for m in _messages(v)]
    if isinstance(value, list):
        return [m for v in value for m in _messages(v)]
    return [str(value)]


def _codes(value) -> list[str]:
    if isinstance(value, dict):
        return [c for v in value.values() for c in _codes(v)]
    if isinstance(value, list):
        return [c for v in value for c in _codes(v)]
    return [getattr(value, "code", None) or "invalid"]


def error_body(exc: exceptions.APIException) -> dict:
    detail = exc.detail
    if isinstance(detail, list):
        detail = {"non_field_errors": detail}
    if isinstance(detail, dict):
        messages = _messages(detail)
        codes = getattr(exc, "service_codes", None) or _codes(detail)
        fields = {
            name: [value] if isinstance(value, str) else value for name, value in detail.items()
        }
        body = {
            "detail": messages[0] if messages else _("请求有误。"),
            "code": codes[0] if codes else "invalid",
            **fields,
        }
    else:
        body = {"detail": str(detail), "code": getattr(detail, "code", None) or "error"}
    body.update(getattr(exc, "extra", {}))
    return body


def exception_handler(exc, context):
    """REST_FRAMEWORK's EXCEPTION_HANDLER: every 4xx in the one shape. Views
    call services without try/except; what the services raise lands here."""
    exc = _drf_error(exc, context.get("view"))
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.APIException):
        response.data = error_body(exc)
        if isinstance(exc, exceptions.Throttled):
            wait = max(1, round(exc.wait or 1))
            response.data["detail"] = _("请求过于频繁，请在 %(wait)d 秒后再试。") % {"wait": wait}
            response.data["retry_after"] = wait
        if response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


@csrf_exempt  # it changes nothing; a POST to a wrong path gets the 404 too
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Any other path under /api/v1/: 404 in the error shape, never an HTML
    page, nor APPEND_SLASH's redirect (which cannot keep a POST's body)."""
    detail = _("没有这个接口。")
    path = request.path_info
    if not path.endswith("/"):
        try:
            resolve(path + "/")
        except Resolver404:
            pass
        else:
            detail = _("没有这个接口：接口路径均以 / 结尾，请使用 %(path)s") % {"path": path + "/"}
    body = {"detail": detail, "code": "not_found"}
    return JsonResponse(body, status=404, json_dumps_params={"ensure_ascii": False})


ERROR_DESCRIPTIONS = {
    400: "refused: `detail`, `code` and the messages per input field (`non_field_errors` "
    "for the rest); also an unknown filter value or a bad `limit`/`offset`",
    401: "no or invalid credentials",
    403: "this role or person may not do this",
    404: "not found or not visible to the caller",
    409: "not in a state for this (already claimed, decided or signed; another case open)",
    413: "the body is larger than this path takes (refused before it is read)",
    415: "the body is in a media type this path does not read (see its request body)",
    429: "too many requests from this caller (`retry_after` seconds, also in Retry-After)",
    503: "the file storage cannot be reached just now (code `storage_unavailable`; "
    "Retry-After says when to try again); nothing of the request was saved",
}


def reads_or_writes_files(operation: dict) -> bool:
    """An operation whose body is a file upload or whose answer is a file:
    it needs the storage, and answers 503 while it is down (repair_flow.storage)."""
    body = operation.get("requestBody", {}).get("content", {})
    answers = [
        media
        for code, response in operation.get("responses", {}).items()
        if code.startswith("2")
        for media in response.get("content", {})
    ]
    return ("multipart/form-data" in body and "application/json" not in body) or any(
        media != "application/json" for media in answers
    )


PURPOSE_400 = (
    "; code `purpose_required` when a staff or system account reads a natural person's "
    "data without a valid `purpose`"
)


def error_responses_hook(result, generator, request, public):
    """drf-spectacular postprocessing: every operation documents its 4xx in
    the one shape: 400 for each; 401 and 403 unless public; 404 with a path
    parameter; 409 for each POST on one object; 413 and 415 for each body
    (too large; a media type the path does not read: DRF's parsers answer
    415 before the view runs). Declared bodies of other shapes are kept
    (record ingest answers per item)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "description": "The API's one error shape; a 400 adds messages per input field.",
        "properties": {
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "non_field_errors": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["detail", "code"],
        "additionalProperties": True,
    }
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            # auth=[] (no authentication at all) leaves "security" out.
            public_operation = not operation.get("security") or operation["security"] == [{}]
            codes = {400, 429}
            if method in {"post", "put", "patch"}:
                codes |= {413, 415}
            if not public_operation:
                codes |= {401, 403}
            if "{" in path:
                codes.add(404)
                if method == "post":
                    codes.add(409)
            if reads_or_writes_files(operation):
                codes.add(503)
            responses = operation.setdefault("responses", {})
            names = {p.get("name") for p in operation.get("parameters", [])}
            for code in sorted(codes | {int(c) for c in responses if c.startswith("4")}):
                answer = responses.setdefault(str(code), {"description": ""})
                answer["description"] = answer.get("description") or ERROR_DESCRIPTIONS.get(
                    code, ""
                )
                if (
                    code == 400
                    and "purpose" in names
                    and "purpose_required" not in answer["description"]
                ):
                    answer["description"] += PURPOSE_400
                content = answer.get("content", {}).get("application/json", {}).get("schema")
                if content is None or content == {"type": "object", "additionalProperties": {}}:
                    answer["content"] = ref
    return result


# Query parameters ---------------------------------------------------------------------------

# Beyond any table here, and small enough for every database's integers.
MAX_OFFSET = 10**9


def _choices_message(name: str, values: Iterable[str]) -> str:
    return _("%(name)s 只能是 %(values)s。") % {
        "name": name,
        "values": pgettext("list separator", "、").join(values),
    }


def query_choices(params, **choices: Iterable[str]) -> dict[str, str]:
    """The filters given, each checked against its values: 400 with a message
    per parameter for an unknown value (never silently ignored)."""
    errors, values = {}, {}
    for name, allowed in choices.items():
        value = params.get(name)
        if value is None:  # absent; an empty value is as unknown as any other
            continue
        allowed = [str(a) for a in allowed]
        if value not in allowed:
            errors[name] = [_choices_message(name, allowed)]
        else:
            values[name] = value
    if errors:
        raise exceptions.ValidationError(errors)
    return values


def query_int(params, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """An integer parameter in [minimum, maximum]; 400 otherwise."""
    raw = params.get(name)
    if raw is None:
        return default
    value = raw.strip()
    if value.isascii() and value.isdigit() and minimum <= int(value) <= maximum:
        return int(value)
    raise exceptions.ValidationError(
        {
            name: [
                _("%(name)s 参数“%(value)s”无效，应为 %(min)d 至 %(max)d 之间的整数")
                % {"name": name, "value": raw[:40], "min": minimum, "max": maximum}
            ]
        },
        code="invalid",
    )


class ApiPagination(LimitOffsetPagination):
    """`limit` 1..settings.API_MAX_LIMIT (default settings.API_PAGE_SIZE) and
    `offset` 0..10⁹: 400 outside, never a 500 from the database. The ceiling
    keeps every page one bounded query and response (issue 18: `limit=20000`
    held a worker for 22 s); the schema states it as the parameter's maximum."""

    @property
    def max_limit(self) -> int:
        return settings.API_MAX_LIMIT

    @property
    def default_limit(self) -> int:
        return settings.API_PAGE_SIZE

    def get_limit(self, request):
        return query_int(
            request.query_params,
            self.limit_query_param,
            default=self.default_limit,
            minimum=1,
            maximum=self.max_limit,
        )

    def get_count(self, queryset) -> int:
        # Exact up to LIST_EXACT_COUNT_LIMIT; beyond, PostgreSQL's estimate
        # (repair_flow.paging): no COUNT(*) scan of a million rows per page.
        if not hasattr(queryset, "query"):
            return len(queryset)
        return list_count(queryset)[0]

    def paginate_queryset(self, queryset, request, view=None):
        # DRF's own, but the page is read by page_slice (repair_flow.paging).
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        self.count = self.get_count(queryset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        if self.count == 0 or self.offset > self.count:
            return []
        return page_slice(queryset, self.offset, self.offset + self.limit)

    def get_offset(self, request):
        return query_int(
            request.query_params, self.offset_query_param, default=0, minimum=0, maximum=MAX_OFFSET
        )

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"]["description"] = (
            "Rows matching; exact up to the server's LIST_EXACT_COUNT_LIMIT, beyond it "
            "PostgreSQL's planner estimate (the pages themselves are exact)."
        )
        return response

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"].update(
                    minimum=1, maximum=self.max_limit, default=self.default_limit
                )
                parameter["description"] = _limit_description(self.max_limit)
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"].update(minimum=0, maximum=MAX_OFFSET)
        return parameters


def _limit_description(max_limit: int) -> str:
    return (
        f"Rows per page, 1 to {max_limit} (the server's API_MAX_LIMIT); a larger value is a "
        "400, never a silently shorter page."
    )


# Times and URLs ----------------------------------------------------------------------------

OFFICE_TZ = ZoneInfo("Asia/Shanghai")


def local_iso(at) -> str | None:
    """ISO 8601 in Beijing time (+08:00) to the second, or None: every time the API answers."""
    if at is None:
        return None
    return timezone.localtime(at, OFFICE_TZ).isoformat(timespec="seconds")


class LocalDateTimeField(serializers.DateTimeField):
    """A time as the API answers every time: Beijing time (+08:00), to the second."""

    def to_representation(self, value):
        if not value:
            return None
        if isinstance(value, str):
            return value
        return local_iso(value)


@extend_schema_field(OpenApiTypes.STR)
class ChoiceLabelField(serializers.Field):
    """The label of a model's choice field, as `get_<field>_display()` gives
    it. Not `CharField(source="get_status_display")`: for a callable source
    DRF inspects its signature on every row, and Django's display methods are
    partialmethods, whose signature costs ~40 µs (issue 18: a fifth of the
    task list's time at 50 rows)."""

    def __init__(self, field: str, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(source="*", **kwargs)
        self.choice_field = field

    def to_representation(self, value):
        return getattr(value, f"get_{self.choice_field}_display")()


class ApiModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose model times are LocalDateTimeFields."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        ModelDateTimeField: LocalDateTimeField,
    }


def absolute_url(request, url: str) -> str:
    """`url` on the request's host; on SITE_URL when there is no request."""
    if request is not None:
        return request.build_absolute_uri(url)
    return f"{settings.SITE_URL.rstrip('/')}{url}"


# Registered reads of natural persons' data ------------------------------------------------

PURPOSE_PARAMETER = OpenApiParameter(
    "purpose",
    enum=AccessPurpose.values,
    required=False,
    description=gettext_lazy(
        "查看自然人记录的目的（个人信息访问登记）。平台工作人员、认定单位审核人、监督人员、"
        "管理员和系统对接账号的响应中含有自然人记录时必填，否则返回 400。"
    ),
)


class PurposeRequired(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "purpose_required"


def purpose_required(purpose: str | None) -> PurposeRequired:
    """400 for a staff read of natural persons' data without a valid purpose."""
    choices = pgettext("list separator", "、").join(AccessPurpose.values)
    if purpose:
        message = _("purpose 参数“%(purpose)s”无效，应为以下之一：%(choices)s") % {
            "purpose": purpose[:40],
            "choices": choices,
        }
    else:
        message = _(
            "响应中含有自然人的信息，须说明查看目的："
            "请在查询参数 purpose 中填写以下之一：%(choices)s（依法登记个人信息访问）"
        ) % {"choices": choices}
    return PurposeRequired(message, code="purpose_required")


def stated_purpose(request, purpose: str | None = None) -> str | None:
    """The purpose a request states (the body's for a POST search, else the
    `purpose` query parameter), or the one configured once for the calling
    integration account (settings.INTEGRATION_ACCESS_PURPOSES); 400 for an
    unknown one."""
    if purpose is None:
        purpose = request.query_params.get("purpose")
    if purpose is not None and not purpose_is_valid(purpose):
        raise purpose_required(purpose)
    if purpose is None and getattr(request.user, "role", None) == Role.INTEGRATION:
        purpose = settings.INTEGRATION_ACCESS_PURPOSES.get(request.user.get_username())
    return purpose


def person_reads_register(
    request,
    reads: Iterable[tuple[object, str]],
    *,
    purpose: str | None = None,
    channel: str = AccessChannel.API,
) -> None:
    """Enter staff and system reads of natural persons' data (subject, what)
    in the access register, in one INSERT; 400 (PurposeRequired) when no valid
    purpose was stated (shared domain reference section 8)."""
    purpose = stated_purpose(request, purpose)
    people = [(s, what) for s, what in reads if s is not None and s.is_person]
    if not people or request.user.role not in REGISTERED_ROLES:
        return
    if purpose is None:
        raise purpose_required(None)
    access_register_many(
        user=request.user,
        accesses=[Access(subject, what) for subject, what in people],
        purpose=purpose,
        channel=channel,
    )


def person_read_register(request, subject, what: str) -> None:
    person_reads_register(request, [(subject, what)])
