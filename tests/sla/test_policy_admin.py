from repair_flow.models import AuditEvent
from sla.models import SlaPolicy


def test_an_administrator_edits_a_policy_and_the_edit_is_audited(client_for, administrator):
    policy = SlaPolicy.objects.get(stage="department_review")
    c = client_for(administrator)
    assert c.get("/admin/sla/slapolicy/").status_code == 200
    form = c.get(f"/admin/sla/slapolicy/{policy.pk}/change/")
    assert form.status_code == 200
    data = {
        "stage": "department_review",
        "rule": "working_days",
        "n": "7",
        "warn_percent_1": "50",
        "warn_percent_2": "80",
        "warn_to": '["assignee"]',
        "escalate_to": '["supervisors"]',
        "legal_basis": policy.legal_basis,
        "effective_from": "2000-01-01",
    }
    response = c.post(f"/admin/sla/slapolicy/{policy.pk}/change/", data)
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.n, policy.warn_percent_2) == (7, 80)
    event = AuditEvent.objects.get(action="sla.policy_change")
    assert "n" in event.summary["changed"]


def test_a_policy_that_makes_no_sense_is_refused_with_reasons(client_for, administrator):
    policy = SlaPolicy.objects.get(stage="acceptance")
    data = {
        "stage": "acceptance",
        "rule": "working_days",
        "n": "",
        "warn_percent_1": "80",
        "warn_percent_2": "60",
        "warn_to": '["boss"]',
        "escalate_to": "[]",
        "legal_basis": "x",
        "effective_from": "2000-01-01",
    }
    response = client_for(administrator).post(f"/admin/sla/slapolicy/{policy.pk}/change/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "按工作日或自然日计算的规则须填写天数" in body
    assert "第二次预警须晚于第一次" in body
    assert "通知对象只能是" in body
    policy.refresh_from_db()
    assert policy.n == 2


def test_supervisors_cannot_edit_policies(client_for, supervisor):
    response = client_for(supervisor).get("/admin/sla/slapolicy/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
