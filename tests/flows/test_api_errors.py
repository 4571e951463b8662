"""Every 4xx of the API in the one error shape (repair_flow/api_common.py):
`detail` and `code` always, messages per input field on a 400 or 409 about
the input, produced by the one exception handler from what the services and
DRF raise."""

from django.core.exceptions import PermissionDenied
from django_fsm import TransitionNotAllowed
from rest_framework.test import APIClient

from flows.models import CaseStatus
from repair_flow.api_common import exception_handler
from repair_flow.models import Role
from tests.api_errors import field_errors
from tests.conftest import make_user

CASES = "/api/v1/repair-cases/"


def test_400_names_each_field(api_for, applicant):
    response = api_for(applicant).post(CASES, {"capacity": "king"}, format="json")
    assert response.status_code == 400
    body = response.json()
    # `detail` and `code`: the first field's first message (capacity is declared first).
    assert body["code"] == "invalid_choice" and body["detail"] == body["capacity"][0]
    assert body["record"] == ["该字段是必填项。"]
    assert set(field_errors(response)) == {"record", "capacity"}


def test_400_from_a_service_is_under_the_field_it_is_about(api_for, posted, drive, supervisor):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    response = posted(api_for(supervisor), f"{CASES}{case.pk}/release/", {"reason": " "})
    assert response.status_code == 400
    assert response.json()["code"] == "reason"
    assert field_errors(response) == {"reason": [response.json()["detail"]]}


def test_401_without_credentials():
    response = APIClient().get(CASES)
    assert response.status_code == 401
    assert response.json() == {
        "detail": response.json()["detail"],
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"] == "Token"


def test_403_for_a_role_that_may_not(api_for, officer):
    response = api_for(officer).post(CASES, {}, format="json")
    assert response.status_code == 403
    message = "您的账号角色无权执行此操作。"
    assert response.json() == {"detail": message, "code": "permission_denied"}


def test_403_from_a_service_keeps_its_message(api_for, posted, drive, reviewer):
    case = drive(CaseStatus.SUBMITTED)
    response = posted(api_for(reviewer), f"{CASES}{case.pk}/claim/")
    assert response.status_code == 403
    message = "只有平台工作人员可以办理初审。"
    assert response.json() == {"detail": message, "code": "permission_denied"}


def test_404_for_what_the_caller_may_not_see(api_for, applicant):
    response = api_for(applicant).get(f"{CASES}999999/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and response.json()["detail"]


def test_409_for_a_case_in_no_state_for_it(api_for, posted, drive, officer):
    case = drive(CaseStatus.IN_PRELIMINARY_REVIEW)
    response = posted(api_for(make_user("officer2", Role.OFFICER)), f"{CASES}{case.pk}/claim/")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "taken" and "已由" in body["detail"]
    assert field_errors(response) == {"non_field_errors": [body["detail"]]}


def test_the_handler_answers_fsm_and_django_errors_in_the_shape():
    conflict = exception_handler(TransitionNotAllowed("no"), {"view": None})
    assert conflict.status_code == 409 and conflict.data["code"] == "wrong_status"
    denied = exception_handler(PermissionDenied("只有审核人员可以办理。"), {"view": None})
    assert denied.status_code == 403
    assert denied.data == {"detail": "只有审核人员可以办理。", "code": "permission_denied"}
    assert exception_handler(ValueError("a bug"), {"view": None}) is None  # a 500 stays a 500
