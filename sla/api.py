# GET /api/v1/deadlines/; filled in with the working-day calendar.
urlpatterns: list = []
