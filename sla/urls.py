from django.urls import path

from sla import views

urlpatterns = [path("", views.deadline_calculator, name="deadline_calculator")]
