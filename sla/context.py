from sla.notifications import UNREAD_SHOWN_MAX, notifications_unread_count


def unread_notifications(request):
    """The header's badge: the signed-in user's unread notifications, "99+"
    beyond UNREAD_SHOWN_MAX."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    count = notifications_unread_count(user)
    more = count > UNREAD_SHOWN_MAX
    return {
        "unread_notifications": min(count, UNREAD_SHOWN_MAX),
        "unread_notifications_more": more,
        "unread_notifications_shown": f"{UNREAD_SHOWN_MAX}+" if more else str(count),
    }
