from django.urls import path

from flows import views

app_name = "flows"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/<int:record_pk>/", views.case_new, name="new"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/materials/", views.case_materials, name="materials"),
    path("<int:pk>/submit/", views.case_submit, name="submit"),
    path("<int:pk>/supplement/upload/", views.case_supplement_upload, name="supplement_upload"),
    path("<int:pk>/supplement/", views.case_supplement_answer, name="supplement_answer"),
    path("<int:pk>/withdraw/", views.case_withdraw, name="withdraw"),
]
