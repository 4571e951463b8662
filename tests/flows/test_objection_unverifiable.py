"""The fourth outcome of an objection: cannot be verified (无法核实). The
record stays, with a visible note on every page and API answer that shows
it; the applicant is told by the objection result letter, with the reasons;
other platforms get a sync event. Through the work page and the API, with
every persona who must be refused."""

import pytest

from flows.models import CaseStatus, ObjectionCase
from letters.models import Letter
from letters.render import render_letter_html
from records.models import RecordStatus, SyncEvent
from sla.clocks import clocks_for
from sla.models import ClockState
from tests.api_errors import field_errors
from tests.flows.test_objection_api import file_objection
from tests.flows.test_objection_api import url as api_url
from tests.flows.test_objection_work import accepted_over_http, text, work

pytestmark = pytest.mark.django_db

REASON = "认定单位未能提供该记录所依据的原始材料，现有材料无法证实或否定异议内容"
BASIS = "《山东省社会信用条例》第三十九条"
NOTE = "经异议核查无法核实（济信异申〔2026〕1号，2026-11-16）："


def test_the_platform_finds_it_unverifiable_on_the_work_page(
    client_for, applicant, record, officer, reviewer, other_reviewer
):
    case = accepted_over_http(client_for, applicant, record, officer, "platform")
    assert client_for(officer).post(work(case, "claim")).status_code == 302
    page = text(client_for(officer).get(work(case)))
    assert f'action="{work(case, "unverifiable")}"' in page and REASON in page

    # Not the holder, not staff of the case, not the applicant.
    response = client_for(reviewer).post(work(case, "unverifiable"), {"basis": BASIS})
    assert response.status_code == 403
    assert client_for(other_reviewer).post(work(case, "unverifiable")).status_code == 404
    assert client_for(applicant).post(work(case, "unverifiable")).status_code == 403
    # No reason: refused, nothing changed.
    response = client_for(officer).post(work(case, "unverifiable"), {"basis": BASIS})
    assert response.status_code == 400 and "请填写理由" in text(response)
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_VERIFICATION

    response = client_for(officer).post(
        work(case, "unverifiable"), {"reason_no_source": "1", "basis": BASIS}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    record.refresh_from_db()
    assert case.status == CaseStatus.UNVERIFIABLE and case.decision_reasons == [REASON]
    assert record.status == RecordStatus.PUBLISHED
    assert record.objection_note == NOTE + REASON
    assert clocks_for(case).get(stage="objection_own").state == ClockState.MET
    assert SyncEvent.objects.get(record=record).kind == "unverifiable"

    # The note, wherever the record is shown: to staff, its department, the applicant.
    for user, path in [
        (officer, "/records/"),
        (officer, f"/records/{record.pk}/"),
        (officer, f"/records/subjects/{record.subject_id}/"),
        (officer, work(case)),
        (reviewer, f"/records/{record.pk}/"),
        (applicant, "/records/"),
        (applicant, f"/records/{record.pk}/"),
        (applicant, f"/cases/objections/{case.pk}/"),
        (applicant, "/cases/"),  # the applicant's cases, this objection among them
        (applicant, f"/cases/new/{record.pk}/"),  # a repair filed on the record
    ]:
        response = client_for(user).get(path)
        assert response.status_code == 200, path
        assert "无法核实" in text(response) and NOTE + REASON in text(response), path
    assert "经核查无法核实，记录保留并标注“无法核实”" in text(
        client_for(applicant).get(f"/cases/objections/{case.pk}/")
    )

    # The applicant is told, with the reasons.
    letter = Letter.objects.get(kind="objection_result", case_label=case.label)
    assert (letter.recipient, letter.facts["outcome"]) == (applicant, "unverifiable")
    html = render_letter_html(letter)
    assert '处理结果为：<span class="outcome">无法核实</span>' in html
    assert "该行政处罚信息予以保留，并在该信息上标注“经异议核查无法核实”" in html
    assert REASON in html and BASIS in html


def test_the_department_finds_it_unverifiable_through_the_api(apis, posted, record):
    a = apis
    case_id = file_objection(a.mine, posted, record)
    posted(a.staff, api_url(case_id, "claim"))
    assert posted(a.staff, api_url(case_id, "accept"), {"scope": "department"}).status_code == 200
    assert posted(a.dept, api_url(case_id, "claim")).status_code == 200
    body = {"reasons": ["双方材料相互矛盾"], "basis": BASIS}
    for api, code in [(a.staff, 403), (a.other_dept, 404), (a.mine, 403), (a.boss, 403)]:
        assert posted(api, api_url(case_id, "unverifiable"), body).status_code == code
    assert ObjectionCase.objects.get(pk=case_id).status == CaseStatus.IN_VERIFICATION
    response = posted(a.dept, api_url(case_id, "unverifiable"), {"reasons": [], "basis": ""})
    assert response.status_code == 400
    assert {"reasons", "basis"} <= set(field_errors(response))

    response = posted(a.dept, api_url(case_id, "unverifiable"), body)
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "unverifiable"
    assert response.json()["status_label"] == "无法核实"
    note = NOTE + "双方材料相互矛盾"
    detail = a.mine.get(api_url(case_id)).json()
    assert detail["record_summary"]["objection_note"] == note
    assert detail["record_summary"]["status"] == "published"
    assert [letter["kind"] for letter in detail["letters"]] == ["acceptance", "objection_result"]
    for api in (a.mine, a.staff, a.dept):
        record_body = api.get(f"/api/v1/records/{record.pk}/").json()
        assert record_body["objection_note"] == note
        listed = {r["id"]: r for r in api.get("/api/v1/records/").json()["results"]}
        assert listed[record.pk]["objection_note"] == note
