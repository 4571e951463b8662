"""GET /api/v1/notifications/: the signed-in person's own notifications.

Each one's `headline` is written in the language of the request (the
language cookie or Accept-Language), as on the 通知 page; an event notice's
`message` and `params` are the stored facts it is written from.
"""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.generics import ListAPIView

from repair_flow.api_common import LocalDateTimeField
from sla.models import Notification, NotificationKind
from sla.notifications import notifications_for_user


class NotificationSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=NotificationKind.choices)
    headline = serializers.CharField(help_text=_("通知内容，使用请求的语言"))
    message = serializers.CharField(help_text=_("事件通知的消息编号；时限通知为空"))
    params = serializers.JSONField(allow_null=True, help_text=_("事件通知的参数"))
    link = serializers.CharField(help_text=_("通知指向的页面"))
    created_at = LocalDateTimeField()
    read_at = LocalDateTimeField(allow_null=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "headline", "message", "params", "link", "created_at", "read_at"]


class NotificationList(ListAPIView):
    """My notifications, newest first."""

    serializer_class = NotificationSerializer

    def get_queryset(self):
        return notifications_for_user(self.request.user)


urlpatterns = [
    path("notifications/", NotificationList.as_view(), name="api_notifications"),
]
