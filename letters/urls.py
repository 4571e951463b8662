from django.urls import path

from letters import views

app_name = "letters"
urlpatterns = [
    path("", views.letter_list, name="list"),
    path("<int:pk>/", views.letter_detail, name="detail"),
    path("<int:pk>/pdf", views.letter_pdf, name="pdf"),
    path("<int:pk>/page-<int:page>.png", views.letter_page_image, name="page_image"),
    path("<int:pk>/render/", views.letter_retry, name="retry"),
    path(
        "<int:pk>/messages/<int:message_pk>/resend/",
        views.message_resend_view,
        name="message_resend",
    ),
    path("commitments/<int:pk>/", views.commitment_detail, name="commitment"),
    path("commitments/new/<int:record_pk>/", views.commitment_open, name="commitment_open"),
]
