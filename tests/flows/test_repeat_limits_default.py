"""The repeat limits as shipped: loaded, marked unconfirmed, and disabled
(NDRC Order 2025 No. 36 Art. 2: only laws, administrative regulations and
central policy may exclude a record from repair), so they refuse nobody
until an administrator enables them with their legal basis."""

import datetime as dt

import pytest

from flows.models import CaseStatus
from records.models import RepeatLimitPolicy
from tests.flows.conftest import at
from tests.flows.test_repeat_limits import file, first_repair, limited_record, to  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_default_policy_is_loaded_unconfirmed_and_disabled():
    policy = RepeatLimitPolicy.objects.get()
    assert (policy.effective_from, policy.min_interval_days, policy.max_repairs) == (
        dt.date(2000, 1, 1),
        365,
        2,
    )
    assert (policy.max_repairs_window_years, policy.same_conduct_window_years) == (5, 5)
    assert policy.unconfirmed
    assert policy.enabled is False


def test_a_disabled_limit_refuses_nobody(now, applicant, limited_record):  # noqa: F811
    # Three months after the subject's last repair: an enabled one-year limit
    # would refuse (test_repeat_limits); the shipped one does not.
    now.move_to(at("2027-02-16 10:00"))
    assert file(applicant, limited_record).status == CaseStatus.DRAFT


def test_enabling_needs_a_confirmed_legal_basis(client_for, administrator):
    policy = RepeatLimitPolicy.objects.get()
    data = {
        "effective_from": "2000-01-01",
        "enabled": "on",
        "unconfirmed": "on",
        "min_interval_days": "365",
        "max_repairs": "2",
        "max_repairs_window_years": "5",
        "same_conduct_window_years": "5",
        "legal_basis": policy.legal_basis,
    }
    admin = client_for(administrator)
    url = f"/admin/records/repeatlimitpolicy/{policy.pk}/change/"
    response = admin.post(url, data)
    assert response.status_code == 200
    assert "启用重复修复限制须填写其法律依据" in response.content.decode()
    assert RepeatLimitPolicy.objects.get().enabled is False
    response = admin.post(url, {**data, "unconfirmed": "", "legal_basis": " "})
    assert response.status_code == 200
    assert RepeatLimitPolicy.objects.get().enabled is False
    response = admin.post(
        url,
        {
            k: v
            for k, v in {**data, "legal_basis": "《某规定》第十条"}.items()
            if k != "unconfirmed"
        },
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.enabled, policy.unconfirmed, policy.legal_basis) == (
        True,
        False,
        "《某规定》第十条",
    )
