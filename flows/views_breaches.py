"""Staff pages of breach reviews (履约核查). Being written: see issue 7."""

from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse(status=501)


breach_list = breach_detail = breach_confirm_view = breach_dismiss_view = _todo
false_materials_report_view = _todo
