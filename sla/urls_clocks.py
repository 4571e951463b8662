from django.urls import path

from sla import views_clocks

urlpatterns = [path("<int:pk>/", views_clocks.clock_detail, name="sla_clock_detail")]
