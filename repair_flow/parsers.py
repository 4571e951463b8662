"""The API's request body parsers (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

A module of its own: DRF imports it while building APIView, so it must not
import rest_framework.views (repair_flow.api_common does)."""

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


def json_depth_exceeds(data, limit: int) -> bool:
    """Whether parsed JSON nests deeper than `limit` (iterative: a deep
    document must not exhaust the stack here either)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((item, depth + 1) for item in value)
    return False


class DepthLimitedJSONParser(JSONParser):
    """JSON bodies nested at most settings.API_JSON_MAX_DEPTH deep: deeper is a
    400 in the one error shape. Without it a body of [[[[...]]]] raised a
    RecursionError (a 500) in the parser or in the serializers after it."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_JSON_MAX_DEPTH
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None
            too_deep = True
        else:
            too_deep = json_depth_exceeds(data, limit)
        if too_deep:
            raise exceptions.ParseError(
                _("JSON 请求体嵌套过深：最多 %(limit)d 层。") % {"limit": limit},
                code="too_deep",
            )
        return data
