"""Public verification of a letter by its code (/verify/<code>): no login."""

from django.urls import path

from letters import views

app_name = "verify"
urlpatterns = [
    path("", views.verify_form, name="form"),
    path("<str:code>", views.verify_letter, name="letter"),
    path("<str:code>/", views.verify_letter),
]
