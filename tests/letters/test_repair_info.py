"""两书同送: the credit-repair notice (信用修复告知书) issued with a penalty
imported (CSV) or posted (API) for a subject the platform can reach."""

import datetime as dt
import io
import threading
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, connections
from rest_framework.test import APIClient

from letters.links import verify_url
from letters.models import (
    Letter,
    LetterKind,
    LetterSequence,
    OutboundMessage,
    RenderStatus,
    RepairInfoDue,
)
from letters.outbox import letters_render_due
from letters.render import render_letter_html
from letters.repair_info import repair_info_issue_due
from records.identifiers import make_resident_id, make_uscc
from records.models import BindingCapacity, SubjectBinding
from repair_flow.management.commands import serve
from repair_flow.models import AuditEvent
from tests.conftest import make_user

TODAY = dt.datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
HEADER = (
    "decision_number,department_code,subject_type,subject_identifier,subject_name,"
    "decision_date,fine_amount,severity,penalty_types,facts"
)
BOUND = make_uscc(serial=1001)  # the `enterprise` fixture, bound to `applicant`
UNBOUND = make_uscc(serial=5002)
PERSON_ID = make_resident_id(birth=dt.date(1985, 6, 15), serial=123)  # `person`
ROWS = (
    f"济市监罚〔2026〕101号,SCJGJ,enterprise,{BOUND},济南泉城食品有限公司,2026-05-10,5000,"
    "general,fine,超范围经营。",
    f"济市监罚〔2026〕102号,SCJGJ,enterprise,{UNBOUND},济南乙餐饮有限公司,2026-05-11,300,"
    "general,fine,超范围经营。",
)


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


def import_csv(tmp_path, *rows, committed, options=(), name="records.csv", background=True):
    """Import `rows`; then, unless `background` is False, the background's
    part (the notices the import marked due are issued, not yet rendered)."""
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    try:
        committed(call_command, "import_records", str(path), *options, stdout=out, stderr=err)
    except SystemExit:
        pytest.fail(err.getvalue())
    assert err.getvalue() == ""
    if background:
        repair_info_issue_due()
    return out.getvalue()


def notices():
    return Letter.objects.filter(kind=LetterKind.REPAIR_INFO)


def test_an_import_tells_a_bound_subject_once_and_not_an_unreachable_one(
    department, applicant, tmp_path, committed
):
    import_csv(tmp_path, *ROWS, committed=committed)

    letter = notices().get()
    assert letter.record.decision_number == "济市监罚〔2026〕101号"
    assert letter.recipient == applicant
    # 谁认定: the department that imposed the penalty issues it, in its own series.
    assert letter.issuer == department.name
    assert letter.number == "SCJGJ信修告〔2026〕1号"
    assert letter.verification_code
    # Not rendered inside the import: the render queue does it in the background.
    assert letter.status == RenderStatus.PENDING
    assert letters_render_due() == 1
    letter.refresh_from_db()
    assert letter.status == RenderStatus.RENDERED

    # Re-importing the same file never tells twice.
    out = import_csv(tmp_path, *ROWS, committed=committed)
    assert "rejected 0" in out
    assert notices().count() == 1


def test_the_notice_says_when_repair_may_be_applied_for_and_what_to_prepare(
    department, applicant, tmp_path, committed
):
    import_csv(tmp_path, ROWS[0], committed=committed)
    letter = notices().get()

    html = render_letter_html(letter)
    assert letter.facts["eligibility"]["eligibility"] == "not_yet"
    earliest = dt.date.fromisoformat(letter.facts["eligibility"]["eligible_from"])
    assert earliest > TODAY.date()
    assert f"自{earliest.year}年{earliest.month}月{earliest.day}日起可以申请信用修复" in html
    assert "公示期" in html
    assert "已履行行政处罚决定所规定义务的证明" in html
    assert "法定代表人身份证明" in html
    assert "http://" in html and "登录信用修复平台" in html
    assert "如不服本决定" not in html  # it decides nothing: no remedies line


def test_a_penalty_that_cannot_be_repaired_early_says_so_citing_the_rule(
    department, applicant, tmp_path, committed
):
    row = ROWS[0].replace("5000,general,fine", ",serious,licence_revocation")
    import_csv(tmp_path, row, committed=committed)
    letter = notices().get()

    eligibility = letter.facts["eligibility"]
    assert eligibility["eligibility"] == "never"
    assert eligibility["eligible_from"] is None
    html = render_letter_html(letter)
    assert "不可提前修复" in html
    assert eligibility["legal_basis"] and eligibility["legal_basis"] in html
    assert "可以申请信用修复" not in html


def test_a_natural_persons_notice_never_speaks_of_publication(
    department, person, tmp_path, committed
):
    owner = make_user("wangfang", "applicant")
    SubjectBinding.objects.create(user=owner, subject=person, capacity=BindingCapacity.SELF)
    row = f"济市监罚〔2026〕103号,SCJGJ,person,{PERSON_ID},王芳,2026-05-12,200,general,fine,"
    import_csv(tmp_path, row, committed=committed)
    letter = notices().get()

    html = render_letter_html(letter)
    assert letter.recipient == owner
    assert "公示" not in html
    assert "披露期" in html and "共享和使用" in html
    assert "本人身份证件" in html and "营业执照" not in html and "法定代表人" not in html


def system_api(system) -> APIClient:
    """The department's system account on the records API."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {system.auth_token.key}")
    return api


def api_item(serial: int) -> dict:
    """A penalty of the bound subject as the records API takes it."""
    return {
        "decision_number": f"济市监罚〔2026〕{serial}号",
        "department_code": "SCJGJ",
        "subject_type": "enterprise",
        "subject_identifier": BOUND,
        "subject_name": "济南泉城食品有限公司",
        "decision_date": "2026-05-20",
        "fine_amount": 8000,
        "severity": "general",
        "penalty_types": ["fine"],
        "facts": "虚假宣传。",
    }


def test_a_record_posted_through_the_api_tells_the_bound_subject(
    department, applicant, department_system, django_capture_on_commit_callbacks
):
    api = system_api(department_system)
    item = api_item(301)
    unbound = {**item, "decision_number": "济市监罚〔2026〕302号", "subject_identifier": UNBOUND}

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/records/", [item, unbound], format="json")
        again = api.post("/api/v1/records/", item, format="json")
    repair_info_issue_due()

    assert response.status_code == 201, response.json()
    assert again.status_code in (200, 201), again.json()
    letter = notices().get()
    assert letter.record.decision_number == "济市监罚〔2026〕301号"
    assert letter.recipient == applicant


def test_the_applicant_sees_the_notice_among_their_letters_and_by_email_others_do_not(
    department, applicant, other_applicant, tmp_path, committed, client_for
):
    applicant.email = "zhangwei@example.com"
    applicant.save(update_fields=["email"])
    import_csv(tmp_path, ROWS[0], committed=committed)
    letter = notices().get()
    # The import writes the notice only; its email is queued once the
    # background has rendered the PDF it attaches.
    assert not OutboundMessage.objects.filter(letter=letter).exists()
    assert letters_render_due() == 1
    assert letters_render_due() == 0

    message = OutboundMessage.objects.get(letter=letter)
    assert message.to == "zhangwei@example.com"
    assert message.user == applicant
    page = client_for(applicant).get("/letters/").content.decode()
    assert letter.number in page and "信用修复告知书" in page
    other = client_for(other_applicant).get("/letters/").content.decode()
    assert letter.number not in other
    assert client_for(other_applicant).get(f"/letters/{letter.pk}/pdf").status_code == 404


def test_serve_makes_the_verify_url_follow_the_port_served(
    settings, monkeypatch, department, applicant, tmp_path, committed
):
    monkeypatch.delenv("SITE_URL", raising=False)
    settings.SITE_URL = "http://127.0.0.1:8000"
    with mock.patch.object(serve, "call_command") as runserver:
        call_command("serve", "--port", "8123", "--no-scheduler", stdout=io.StringIO())
    runserver.assert_called_once_with(
        "runserver", "127.0.0.1:8123", use_reloader=False, use_threading=True
    )
    import_csv(tmp_path, ROWS[0], committed=committed)
    letter = notices().get()

    assert verify_url(letter) == f"http://127.0.0.1:8123/verify/{letter.verification_code}"
    assert letter.facts["apply_at"] == "http://127.0.0.1:8123/"


def test_a_site_url_set_in_the_environment_is_kept(settings, monkeypatch):
    monkeypatch.setenv("SITE_URL", "https://xyxf.jinan.gov.cn")
    settings.SITE_URL = "https://xyxf.jinan.gov.cn"

    assert serve.site_url_follow(addr="127.0.0.1", port=8123) == "https://xyxf.jinan.gov.cn"
    wildcard = "::"  # every interface: the configured host is kept
    assert serve.site_url_follow(addr=wildcard, port=8123) == "https://xyxf.jinan.gov.cn"
    monkeypatch.delenv("SITE_URL")
    assert serve.site_url_follow(addr=wildcard, port=8124) == "https://xyxf.jinan.gov.cn:8124"


def bound_row(serial: int, code: str = "SCJGJ", fine: int = 5000) -> str:
    return (
        f"济罚〔2026〕{serial}号,{code},enterprise,{BOUND},济南泉城食品有限公司,2026-05-10,"
        f"{fine},general,fine,超范围经营。"
    )


def test_notices_are_numbered_per_department_in_order_without_gaps_across_batches(
    department, other_department, applicant, tmp_path, committed
):
    # Interleaved departments, two rows a batch: each batch reserves its
    # numbers for both series in one go.
    rows = [bound_row(n, "SCJGJ" if n % 2 else "ZJJ") for n in range(1, 8)]
    import_csv(tmp_path, *rows, committed=committed, background=False)
    assert repair_info_issue_due(batch_size=2)

    def numbers(code):
        return list(
            notices()
            .filter(record__department__code=code)
            .order_by("record__pk")
            .values_list("number", flat=True)
        )

    assert numbers("SCJGJ") == [f"SCJGJ信修告〔2026〕{n}号" for n in (1, 2, 3, 4)]
    # A department with no issuer yet gets one (and its prefixes) on its first notice.
    assert numbers("ZJJ") == [f"ZJJ信修告〔2026〕{n}号" for n in (1, 2, 3)]
    # One audit event per batch for its notices, naming the numbers per issuer.
    events = AuditEvent.objects.filter(action="letter.issue_many").order_by("seq")
    assert [e.summary["count"] for e in events] == [2, 2, 2, 1]
    assert events[0].summary["issuers"] == {
        department.name: {"count": 1, "numbers": ["SCJGJ信修告〔2026〕1号"] * 2},
        other_department.name: {"count": 1, "numbers": ["ZJJ信修告〔2026〕1号"] * 2},
    }

    # A later import goes on where the series stopped.
    import_csv(tmp_path, bound_row(8), committed=committed, name="later.csv")
    assert numbers("SCJGJ")[-1] == "SCJGJ信修告〔2026〕5号"
    assert LetterSequence.objects.get(prefix="SCJGJ信修告", year=2026).last == 5


def test_a_record_changed_or_repeated_on_re_import_is_not_told_again(
    department, applicant, tmp_path, committed
):
    # The same record twice in one file is one record, told once.
    out = import_csv(tmp_path, bound_row(1), bound_row(1), committed=committed)
    assert "imported 1" in out
    assert notices().count() == 1

    # A corrected row (a new fine) updates the record: still the one notice.
    out = import_csv(tmp_path, bound_row(1, fine=6000), committed=committed, name="again.csv")
    assert "updated 1" in out
    letter = notices().get()
    assert letter.record.fine_amount == 6000
    assert letter.number == "SCJGJ信修告〔2026〕1号"
    assert LetterSequence.objects.get(prefix="SCJGJ信修告", year=2026).last == 1


def test_a_record_posted_again_changed_through_the_api_is_not_told_again(
    department, applicant, department_system, django_capture_on_commit_callbacks
):
    api = system_api(department_system)
    item = api_item(401)
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/records/", item, format="json")
        changed = api.post("/api/v1/records/", {**item, "fine_amount": 9000}, format="json")
    repair_info_issue_due()

    assert first.status_code == 201, first.json()
    assert changed.status_code in (200, 201), changed.json()
    assert notices().get().record.fine_amount == 9000


def test_with_a_broker_each_batch_queues_one_issue_task_after_commit(
    department, applicant, tmp_path, settings, django_capture_on_commit_callbacks
):
    """Scale-out (CELERY_BROKER_URL set): the import's batch commits only
    the notices' markers and queues the task that issues them; a worker
    issues and renders them, nothing of it in the import."""
    from letters.tasks import issue_repair_info_due
    from repair_flow.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    sent = []
    app.conf.task_always_eager = False
    original = app.send_task
    app.send_task = lambda name, args=None, kwargs=None, **kw: sent.append((name, list(args)))
    try:
        path = tmp_path / "records.csv"
        rows = [bound_row(n) for n in (1, 2, 3)]
        path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
        with django_capture_on_commit_callbacks(execute=True):
            call_command("import_records", str(path), "--batch-size", "2", stdout=io.StringIO())
    finally:
        app.send_task = original
        app.conf.task_always_eager = True

    assert sent == [("letters.repair_info_issue_due", [])] * 2
    assert not notices().exists()
    assert RepairInfoDue.objects.count() == 3
    assert not OutboundMessage.objects.exists()

    # The worker's task: the three notices issued, numbered and rendered.
    assert issue_repair_info_due.apply().get() == "issued 3, rendered 3"
    assert set(notices().values_list("status", flat=True)) == {RenderStatus.RENDERED}
    assert not RepairInfoDue.objects.exists()


def test_a_notice_left_due_by_a_crash_is_issued_by_the_scheduled_job_once(
    department, applicant, tmp_path, committed, settings, django_capture_on_commit_callbacks
):
    """No worker took the notices after commit (none running, or the
    process died between the import and the background): the markers stay,
    and the periodic job issues them, once, however often it runs."""
    from repair_flow.scheduler import JOBS, run_job

    applicant.email = "zhangwei@example.com"
    applicant.save(update_fields=["email"])
    import_csv(tmp_path, bound_row(1), bound_row(2), committed=committed, background=False)
    assert not notices().exists()
    assert (
        list(RepairInfoDue.objects.values_list("actor_label", flat=True)) == ["import_records"] * 2
    )
    # Imported again before the background ran: still one marker each.
    import_csv(tmp_path, bound_row(1), committed=committed, background=False, name="again.csv")
    assert RepairInfoDue.objects.count() == 2

    job = next(j for j in JOBS if j.name == "letters-repair-info-due")
    assert settings.CELERY_BEAT_SCHEDULE["letters-repair-info-due"]["task"] == job.task
    with django_capture_on_commit_callbacks(execute=True):
        assert run_job(job) == "issued 2, rendered 2"
        assert run_job(job) == "issued 0, rendered 0"

    assert notices().count() == 2
    assert [letter.number for letter in notices().order_by("record__pk")] == [
        "SCJGJ信修告〔2026〕1号",
        "SCJGJ信修告〔2026〕2号",
    ]
    event = AuditEvent.objects.get(action="letter.issue_many")
    assert event.actor_label == "import_records"
    # The subject is told once the letter exists, by the outbox.
    # (The address is encrypted at rest: read, not matched.)
    assert [m.to for m in OutboundMessage.objects.all()] == ["zhangwei@example.com"] * 2


def test_a_subject_no_longer_reachable_when_the_background_runs_is_not_told(
    department, applicant, tmp_path, committed
):
    import_csv(tmp_path, bound_row(1), committed=committed, background=False)
    SubjectBinding.objects.filter(user=applicant).delete()

    assert repair_info_issue_due() == []
    assert not notices().exists()
    assert not RepairInfoDue.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_imports_and_background_runs_at_once_number_notices_without_gap_or_duplicate(
    department, other_department, applicant, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL: SQLite serialises writers anyway")
    workers, each = 4, 12
    paths = []
    for w in range(workers):
        path = tmp_path / f"records{w}.csv"
        rows = [bound_row(w * 100 + n, "SCJGJ" if n % 3 else "ZJJ") for n in range(each)]
        path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
        paths.append(path)
    barrier = threading.Barrier(workers * 2)
    errors = []

    def importer(path):
        try:
            barrier.wait()
            call_command("import_records", str(path), "--batch-size", "3", stdout=io.StringIO())
        except BaseException as exc:  # SystemExit included: a rejected row
            errors.append(exc)
        finally:
            connections.close_all()

    def background():
        # Runners claiming markers while the imports still write them.
        try:
            barrier.wait()
            for _ in range(3):
                repair_info_issue_due(batch_size=4)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=importer, args=(path,)) for path in paths]
    threads += [threading.Thread(target=background) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    repair_info_issue_due()  # what the runners left: the scheduled job's part

    assert errors == []
    assert notices().count() == workers * each
    assert not RepairInfoDue.objects.exists()
    for code in ("SCJGJ", "ZJJ"):
        serials = sorted(
            notices().filter(record__department__code=code).values_list("serial", flat=True)
        )
        assert serials == list(range(1, len(serials) + 1))
