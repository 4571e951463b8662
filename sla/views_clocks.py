"""/sla/clocks/<id>/: one clock's deadline, explained (the panel case pages include)."""

from django.shortcuts import render
from django.urls import reverse

from repair_flow.roles import role_required
from sla.clocks import CLOCK_READER_ROLES, clock_explain, clock_get_for_user

# The staff page of what a clock times, by the model it belongs to (named,
# not imported: sla sits below the case apps).
CASE_PAGES = {
    ("flows", "repaircase"): "flows:work",
    ("flows", "objectioncase"): "flows:objection_work",
    ("flows", "breachreview"): "flows:breach_detail",
}


@role_required(*CLOCK_READER_ROLES)
def clock_detail(request, pk: int):
    clock = clock_get_for_user(user=request.user, pk=pk)
    page = CASE_PAGES.get((clock.case_type.app_label, clock.case_type.model))
    return render(
        request,
        "sla/clock_detail.html",
        {
            "explanation": clock_explain(clock),
            "case_url": reverse(page, args=[clock.case_id]) if page else "",
        },
    )
