# Placeholder routes; the supervisor board work replaces them.
from django.http import HttpResponse
from django.urls import path


def _todo(request):
    return HttpResponse(status=501)


urlpatterns = [
    path("board/", _todo, name="sla_board"),
    path("escalations/", _todo, name="escalations"),
]
