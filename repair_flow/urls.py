from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from flows import api as flows_api
from flows import api_monitoring as flows_api_monitoring
from flows import api_objections as flows_api_objections
from letters import api as letters_api
from records import api as records_api
from repair_flow import views
from sla import api as sla_api
from sla import api_board as sla_api_board
from sla import api_clocks as sla_api_clocks

api_patterns = [
    *records_api.urlpatterns,
    *sla_api.urlpatterns,
    *sla_api_board.urlpatterns,
    *sla_api_clocks.urlpatterns,
    *letters_api.urlpatterns,
    *flows_api.urlpatterns,
    *flows_api_objections.urlpatterns,
    *flows_api_monitoring.urlpatterns,
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("access-register/", views.access_register, name="access_register"),
    path("access-purpose/<int:subject_id>/", views.access_purpose, name="access_purpose"),
    path("records/", include("records.urls")),
    path("deadlines/", include("sla.urls")),
    path("sla/", include("sla.urls_board")),
    path("sla/clocks/", include("sla.urls_clocks")),
    path("notifications/", include("sla.urls_notifications")),
    path("letters/", include("letters.urls")),
    path("cases/", include("flows.web.urls")),
    path("verify/", include("letters.urls_verify")),
    # ESP tracking webhooks (anymail checks ANYMAIL_WEBHOOK_SECRET).
    path("anymail/", include("anymail.urls")),
    path("api/v1/", include(api_patterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
