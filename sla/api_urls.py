"""The sla app's API, mounted under /api/v1/ by repair_flow/urls.py."""

from sla import api, api_board, api_clocks, api_notifications

urlpatterns = [
    *api.urlpatterns,
    *api_board.urlpatterns,
    *api_clocks.urlpatterns,
    *api_notifications.urlpatterns,
]
