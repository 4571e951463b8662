"""The ESP's delivery-tracking webhook, guarded: only the ESP this platform is
configured for has a webhook, and it takes events only when the shared secret
(ANYMAIL_WEBHOOK_SECRET) is configured, in every mode. anymail itself only
warns when the secret is missing and then accepts any caller, who could mark
any message delivered; and its other ESPs' paths answered 500 when that ESP
was not configured (issue 17, findings 9 and 11)."""

from anymail import urls as anymail_urls
from django.conf import settings
from django.http import Http404, JsonResponse
from django.urls import URLPattern
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

TRACKING_SUFFIX = "_tracking_webhook"

# esp name -> anymail's tracking view, from anymail's own URL list.
TRACKING_VIEWS = {
    pattern.name.removesuffix(TRACKING_SUFFIX): pattern.callback
    for pattern in anymail_urls.urlpatterns
    if isinstance(pattern, URLPattern) and (pattern.name or "").endswith(TRACKING_SUFFIX)
}


def configured_esps() -> set[str]:
    """The ESPs this platform sends through: the one EMAIL_BACKEND names
    (anymail.backends.<esp>.EmailBackend), and any with an ANYMAIL_<ESP>_*
    setting."""
    esps = set()
    backend = settings.EMAIL_BACKEND
    if backend.startswith("anymail.backends."):
        esps.add(backend.split(".")[2])
    for name in settings.ANYMAIL:
        esps.update(esp for esp in TRACKING_VIEWS if name.lower().startswith(esp + "_"))
    return esps & TRACKING_VIEWS.keys()


@csrf_exempt  # the ESP posts without a CSRF token; the shared secret authenticates it
def esp_tracking_webhook(request, esp: str):
    """404 for an ESP not configured (or not one anymail knows); 403 while no
    secret is configured; otherwise anymail's view, which checks the secret."""
    if esp not in configured_esps():
        raise Http404(_("没有这个邮件服务商的回调地址。"))
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        body = {
            "detail": _("未配置回调密钥（ANYMAIL_WEBHOOK_SECRET），不接收投递状态回调。"),
            "code": "webhook_secret_missing",
        }
        return JsonResponse(body, status=403, json_dumps_params={"ensure_ascii": False})
    return TRACKING_VIEWS[esp](request)
