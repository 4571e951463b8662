"""The API's throttle, in a module of its own: DRF reads
DEFAULT_THROTTLE_CLASSES while it builds APIView, so a class in api_common
(which imports DRF's views) would be imported half-initialised."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from repair_flow.models import Role


class CallerRateThrottle(SimpleRateThrottle):
    """Requests per caller at the rate settings.API_THROTTLE_RATES gives its
    scope: `anon` per address, `integration` per system account's token,
    `user` per person. Beyond it: 429 in the one error shape, code
    `throttled`, with Retry-After. Rates are read per request, so a changed
    setting needs no restart of the class."""

    def get_rate(self):
        return None  # chosen per request in allow_request

    def scope_of(self, request) -> str:
        user = request.user
        if not user or not user.is_authenticated:
            return "anon"
        return "integration" if user.role == Role.INTEGRATION else "user"

    def allow_request(self, request, view):
        self.scope = self.scope_of(request)
        self.rate = settings.API_THROTTLE_RATES.get(self.scope)
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        # A system account has one token (rest_framework.authtoken); a person
        # may hold several sessions: either way the account counts.
        ident = self.get_ident(request) if self.scope == "anon" else request.user.pk
        return f"throttle_{self.scope}_{ident}"
