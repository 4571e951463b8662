# POST /api/v1/records/ (ingest) and scoped reads; filled in with record import.
urlpatterns: list = []
