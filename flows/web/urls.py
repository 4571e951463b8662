from django.urls import path

from flows.web import applicant as views
from flows.web import breaches as views_breaches
from flows.web import hearing as views_hearing
from flows.web import monitoring as views_monitoring
from flows.web import objections
from flows.web import staff as views_staff

OBJECTION = {"kind": objections.OBJECTION}

app_name = "flows"
urlpatterns = [
    # The applicant's objections (异议).
    path("objections/new/<int:record_pk>/", objections.objection_new, name="objection_new"),
    path("objections/<int:pk>/", views.case_detail, OBJECTION, name="objection_detail"),
    path(
        "objections/<int:pk>/materials/",
        views.case_materials,
        OBJECTION,
        name="objection_materials",
    ),
    path(
        "objections/<int:pk>/materials/<int:material_pk>/",
        objections.objection_material,
        name="objection_material",
    ),
    path(
        "objections/<int:pk>/materials/<int:material_pk>/remove/",
        views.case_material_remove_view,
        OBJECTION,
        name="objection_material_remove",
    ),
    path("objections/<int:pk>/submit/", objections.objection_submit_view, name="objection_submit"),
    path(
        "objections/<int:pk>/supplement/upload/",
        views.case_supplement_upload,
        OBJECTION,
        name="objection_supplement_upload",
    ),
    path(
        "objections/<int:pk>/supplement/",
        views.case_supplement_answer,
        OBJECTION,
        name="objection_supplement_answer",
    ),
    path(
        "objections/<int:pk>/withdraw/",
        views.case_withdraw_view,
        OBJECTION,
        name="objection_withdraw",
    ),
    path("", views.case_list, name="list"),
    path("new/", views.case_new_many, name="new_many"),
    path("new/<int:record_pk>/", views.case_new, name="new"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/materials/", views.case_materials, name="materials"),
    path("<int:pk>/submit/", views.case_submit, name="submit"),
    path(
        "<int:pk>/materials/<int:material_pk>/remove/",
        views.case_material_remove_view,
        name="material_remove",
    ),
    path("<int:pk>/supplement/upload/", views.case_supplement_upload, name="supplement_upload"),
    path("<int:pk>/supplement/", views.case_supplement_answer, name="supplement_answer"),
    path("<int:pk>/withdraw/", views.case_withdraw_view, name="withdraw"),
    # The applicant's statement (陈述申辩) on a notice of intended revocation.
    path(
        "<int:pk>/breaches/<int:review_pk>/statement/",
        views_hearing.breach_statement_view,
        name="breach_statement",
    ),
    path("<int:pk>/materials/<int:material_pk>/", views_staff.material_download, name="material"),
    # Staff: an objection's work page (the repair page's views, for ObjectionCase).
    path("objections/<int:pk>/work/", views_staff.objection_work, name="objection_work"),
    path(
        "objections/<int:pk>/work/flow.svg",
        views_staff.objection_flow_chart,
        name="objection_flow_chart",
    ),
    path(
        "objections/<int:pk>/work/materials/<int:material_pk>/",
        views_staff.objection_material_download,
        name="objection_work_material",
    ),
    path("objections/<int:pk>/work/claim/", views_staff.objection_claim, name="objection_claim"),
    path(
        "objections/<int:pk>/work/release/",
        views_staff.objection_release,
        name="objection_release",
    ),
    path(
        "objections/<int:pk>/work/reassign/",
        views_staff.objection_reassign,
        name="objection_reassign",
    ),
    path(
        "objections/<int:pk>/work/accept/",
        views_staff.objection_accept_view,
        name="objection_accept",
    ),
    path("objections/<int:pk>/work/refuse/", views_staff.objection_refuse, name="objection_refuse"),
    path(
        "objections/<int:pk>/work/supplement/",
        views_staff.objection_supplement,
        name="objection_supplement",
    ),
    path(
        "objections/<int:pk>/work/correct/",
        views_staff.objection_correct_view,
        name="objection_correct",
    ),
    path(
        "objections/<int:pk>/work/delete/",
        views_staff.objection_delete_view,
        name="objection_delete",
    ),
    path(
        "objections/<int:pk>/work/maintain/",
        views_staff.objection_maintain_view,
        name="objection_maintain",
    ),
    path(
        "objections/<int:pk>/work/unverifiable/",
        views_staff.objection_unverifiable_view,
        name="objection_unverifiable",
    ),
    # The applicant's commitments under monitoring (履约监管).
    path("monitoring/", views_monitoring.monitoring_list, name="monitoring"),
    # Staff: breach reviews (履约核查) and the officer's report of false materials.
    path("breaches/", views_breaches.breach_list, name="breach_list"),
    path("breaches/<int:pk>/", views_breaches.breach_detail, name="breach_detail"),
    path("breaches/<int:pk>/notice/", views_breaches.breach_notice_view, name="breach_notice"),
    path("breaches/<int:pk>/confirm/", views_breaches.breach_confirm_view, name="breach_confirm"),
    path("breaches/<int:pk>/dismiss/", views_breaches.breach_dismiss_view, name="breach_dismiss"),
    path(
        "<int:pk>/work/report-false/",
        views_breaches.false_materials_report_view,
        name="report_false",
    ),
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
