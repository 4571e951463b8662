"""The signed-in user's notifications: list, mark one read, mark all read."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from repair_flow.paging import EstimatedCountPaginator
from sla.notifications import (
    notification_mark_read,
    notifications_for_user,
    notifications_mark_all_read,
)

PAGE_SIZE = 30


@login_required
def notification_list(request):
    page = EstimatedCountPaginator(notifications_for_user(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "sla/notifications.html", {"page": page})


@login_required
@require_POST
def notification_read(request, pk: int):
    # Another user's notification is a 404 (notification_get_for_user).
    notification_mark_read(user=request.user, pk=pk)
    return redirect("notifications")


@login_required
@require_POST
def notifications_read_all(request):
    notifications_mark_all_read(user=request.user)
    return redirect("notifications")
