from sla.notifications import notifications_unread_count


def unread_notifications(request):
    """The header's badge: the signed-in user's unread notifications."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": notifications_unread_count(user)}
