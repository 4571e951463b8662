"""The admin's pages that show natural persons go through the access register
(shared domain reference section 8): a purpose stated for the session (it
lapses after settings.ACCESS_PURPOSE_SESSION_SECONDS), and every natural
person shown registered, one INSERT per page."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from repair_flow.access import Access, access_register_many, general_purpose
from repair_flow.masking import looks_like_identifier
from repair_flow.models import AccessChannel


class PersonalDataAdminMixin:
    # The path from a row to its records.Subject ("" for Subject itself),
    # e.g. "subject" or "record__subject".
    subject_path = "subject"
    # Rows that are a person's data even when they name no natural person as
    # a subject (an account, a message to someone's address): each one shown
    # is registered, under no subject, `what` naming the row.
    every_row_personal = False

    def subject_of(self, obj):
        for name in self.subject_path.split("__") if self.subject_path else []:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.select_related(self.subject_path) if self.subject_path else queryset

    def _purpose_gate(self, request):
        purpose = general_purpose(request)
        if purpose is None:
            url = reverse("access_purpose_general")
            return None, redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")
        return purpose, None

    def _register(self, request, purpose: str, objects, what: str) -> None:
        label = self.model._meta.label_lower
        accesses = []
        for obj in objects:
            subject = self.subject_of(obj)
            if subject is not None and subject.is_person:
                accesses.append(Access(subject, f"admin:{label}:{obj.pk}:{what}"))
            elif self.every_row_personal:
                accesses.append(Access(None, f"admin:{label}:{obj.pk}:{what}"))
        access_register_many(
            user=request.user, accesses=accesses, purpose=purpose, channel=AccessChannel.ADMIN
        )

    def changelist_view(self, request, extra_context=None):
        if looks_like_identifier(request.GET.get("q", "")):
            # The admin's search is a GET: a resident ID would sit in the URL.
            messages.error(
                request,
                _("按身份证号码查询请使用“信用记录”页的“按自然人查询”表单（说明目的、依法登记）。"),
            )
            return redirect(request.path)
        purpose, gate = self._purpose_gate(request)
        if gate is not None:
            return gate
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            self._register(request, purpose, changelist.result_list, "list")
        return response

    def _object_view(self, view, what: str, request, object_id, *args, **kwargs):
        purpose, gate = self._purpose_gate(request)
        if gate is not None:
            return gate
        response = view(request, object_id, *args, **kwargs)
        if getattr(response, "context_data", None) is not None:
            obj = self.get_object(request, unquote(object_id))
            if obj is not None:
                self._register(request, purpose, [obj], what)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self._object_view(
            super().change_view, "view", request, object_id, form_url, extra_context
        )

    def history_view(self, request, object_id, extra_context=None):
        return self._object_view(super().history_view, "history", request, object_id, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._object_view(super().delete_view, "delete", request, object_id, extra_context)
