# Placeholder route; the sweep and notifications work replaces it.
from django.http import HttpResponse
from django.urls import path


def _todo(request):
    return HttpResponse(status=501)


urlpatterns = [path("", _todo, name="notifications")]
