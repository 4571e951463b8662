"""/sla/clocks/<id>/: one clock's deadline, explained (the panel case pages include)."""

from django.shortcuts import render

from repair_flow.roles import role_required
from sla.clocks import CLOCK_READER_ROLES, clock_explain, clock_get_for_user


@role_required(*CLOCK_READER_ROLES)
def clock_detail(request, pk: int):
    clock = clock_get_for_user(user=request.user, pk=pk)
    return render(request, "sla/clock_detail.html", {"explanation": clock_explain(clock)})
