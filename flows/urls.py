from django.urls import path

from flows import views, views_staff

app_name = "flows"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_new_many, name="new_many"),
    path("new/<int:record_pk>/", views.case_new, name="new"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/materials/", views.case_materials, name="materials"),
    path("<int:pk>/submit/", views.case_submit, name="submit"),
    path("<int:pk>/supplement/upload/", views.case_supplement_upload, name="supplement_upload"),
    path("<int:pk>/supplement/", views.case_supplement_answer, name="supplement_answer"),
    path("<int:pk>/withdraw/", views.case_withdraw, name="withdraw"),
    path("<int:pk>/materials/<int:material_pk>/", views_staff.material_download, name="material"),
    # Staff: task queues and the case's work page.
    path("tasks/", views_staff.task_list, name="tasks"),
    path("tasks/<str:box>/", views_staff.task_list, name="tasks_box"),
    path("<int:pk>/work/", views_staff.task_detail, name="work"),
    path("<int:pk>/work/flow.svg", views_staff.case_flow_chart, name="flow_chart"),
    path("<int:pk>/work/claim/", views_staff.task_claim, name="claim"),
    path("<int:pk>/work/release/", views_staff.task_release, name="release"),
    path("<int:pk>/work/reassign/", views_staff.task_reassign, name="reassign"),
    path("<int:pk>/work/accept/", views_staff.task_accept, name="accept"),
    path("<int:pk>/work/refuse/", views_staff.task_refuse, name="refuse"),
    path("<int:pk>/work/supplement/", views_staff.task_supplement, name="supplement"),
    path("<int:pk>/work/approve/", views_staff.task_approve, name="approve"),
    path("<int:pk>/work/reject/", views_staff.task_reject, name="reject"),
]
