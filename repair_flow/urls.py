from anymail import urls as anymail_urls
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.urls import URLPattern, include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from repair_flow import views
from repair_flow.api_common import api_not_found

# Each app's API; every path ends with a slash.
api_patterns = [
    path("", include("records.api_urls")),
    path("", include("sla.api_urls")),
    path("", include("letters.api_urls")),
    path("", include("flows.api.urls")),
    # Last: any other path answers 404 in the API's error shape.
    re_path(r"^", api_not_found),
]


def configured_esp_only(esp: str, view):
    """anymail's view for `esp`, answering 404 unless it is the configured ESP
    (settings.EMAIL_WEBHOOK_ESP): another ESP's view fails for want of its
    keys (a 500), and a route nobody configured should not exist."""

    def webhook(request, *args, **kwargs):
        if esp != settings.EMAIL_WEBHOOK_ESP:
            raise Http404
        return view(request, *args, **kwargs)

    webhook.csrf_exempt = getattr(view, "csrf_exempt", False)
    return webhook


# Checked per request, not filtered at import, so that the setting is read
# where it is used (and tests may override it).
esp_webhook_patterns = [
    URLPattern(
        pattern.pattern,
        configured_esp_only(str(pattern.pattern).lstrip("^").split("/")[0], pattern.callback),
        pattern.default_args,
        pattern.name,
    )
    for pattern in anymail_urls.urlpatterns
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", views.profile, name="profile"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("access-register/", views.access_register, name="access_register"),
    path("access-purpose/", views.access_purpose_general, name="access_purpose_general"),
    path("access-purpose/<int:subject_id>/", views.access_purpose, name="access_purpose"),
    path("records/", include("records.urls")),
    path("deadlines/", include("sla.urls")),
    path("sla/", include("sla.urls_board")),
    path("sla/clocks/", include("sla.urls_clocks")),
    path("notifications/", include("sla.urls_notifications")),
    path("letters/", include("letters.urls")),
    path("cases/", include("flows.web.urls")),
    path("verify/", include("letters.urls_verify")),
    # ESP tracking webhooks (anymail checks ANYMAIL_WEBHOOK_SECRET); only the
    # configured ESP's answer.
    path("anymail/", include((esp_webhook_patterns, anymail_urls.app_name))),
    path("api/v1/", include(api_patterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
