from django.urls import path

from records import views

urlpatterns = [
    path("", views.record_list, name="record_list"),
    path("search/", views.record_search, name="record_search"),
    path("<int:pk>/", views.record_detail, name="record_detail"),
    path(
        "<int:pk>/decision-change/",
        views.record_decision_change_view,
        name="record_decision_change",
    ),
    path("subjects/<int:pk>/", views.subject_detail, name="subject_detail"),
]
