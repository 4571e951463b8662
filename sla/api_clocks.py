# Filled in by the SLA engine work in progress.
urlpatterns: list = []
