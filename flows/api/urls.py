"""The flows app's API (repair cases, tasks, objections, monitoring), mounted
under /api/v1/ by repair_flow/urls.py."""

from flows.api import monitoring as api_monitoring
from flows.api import objections as api_objections
from flows.api import repair as api

urlpatterns = [*api.urlpatterns, *api_objections.urlpatterns, *api_monitoring.urlpatterns]
