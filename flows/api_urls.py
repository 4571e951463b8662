"""The flows app's API (repair cases, tasks, objections, monitoring), mounted
under /api/v1/ by repair_flow/urls.py."""

from flows import api, api_monitoring, api_objections

urlpatterns = [*api.urlpatterns, *api_objections.urlpatterns, *api_monitoring.urlpatterns]
