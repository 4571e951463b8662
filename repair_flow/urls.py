from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from letters.webhooks import esp_tracking_webhook
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


urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
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
    # The configured ESP's tracking webhook, only with ANYMAIL_WEBHOOK_SECRET
    # (anymail checks it); any other anymail path is a 404.
    path("anymail/<slug:esp>/tracking/", esp_tracking_webhook, name="esp_tracking_webhook"),
    path("api/v1/", include(api_patterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
