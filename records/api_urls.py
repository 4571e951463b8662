"""The records app's API, mounted under /api/v1/ by repair_flow/urls.py."""

from records.api import urlpatterns

__all__ = ["urlpatterns"]
