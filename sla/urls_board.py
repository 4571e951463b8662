from django.urls import path

from sla import views_board

urlpatterns = [
    path("board/", views_board.board, name="sla_board"),
    path("board/list/", views_board.board_list, name="sla_board_list"),
    path("board/exports/<int:pk>/", views_board.board_export, name="sla_board_export"),
    path(
        "board/exports/<int:pk>/download/",
        views_board.board_export_download,
        name="sla_board_export_download",
    ),
    path("escalations/", views_board.escalations, name="escalations"),
    path(
        "escalations/<int:pk>/resolve/",
        views_board.escalation_resolve_view,
        name="escalation_resolve",
    ),
    path(
        "escalations/<int:pk>/reassign/",
        views_board.escalation_reassign_view,
        name="escalation_reassign",
    ),
]
