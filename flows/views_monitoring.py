"""The applicant's commitments under monitoring. Being written: see issue 7."""

from django.http import HttpResponse


def monitoring_list(request):
    return HttpResponse(status=501)
