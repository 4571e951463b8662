"""The deciding body issues the letter (issue 15): which issuer heads each
kind, in which words, with which contact, remedies bodies, number series and
seal; and the administrator's seal upload, checked before anything is saved."""

import io
import re
import subprocess
import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from letters.issuers import ISSUER_RULES, department_issuer, institution_issuer, issuer_seal_set
from letters.kinds import addressee_facts, record_facts
from letters.models import Issuer, IssuerKind, IssuerPrefix, Letter, LetterKind, LetterSequence
from letters.services import letter_issue, letter_render
from letters.specimen import specimen_seal_png
from repair_flow.models import AuditEvent
from tests.conftest import make_record
from tests.letters.test_render import ISSUED_ON, KIND_FACTS, issue, pdf_text

DEPARTMENT_KINDS = {
    LetterKind.REPAIR_DECISION,
    LetterKind.REPAIR_REFUSAL,
    LetterKind.REVOCATION_NOTICE,
    LetterKind.REVOCATION,
    LetterKind.REPAIR_INFO,
}
REMEDY_KINDS = {
    LetterKind.REFUSAL_TO_ACCEPT,
    LetterKind.REPAIR_REFUSAL,
    LetterKind.OBJECTION_RESULT,
    LetterKind.REVOCATION,
}
# How each kind speaks of its issuer in the body (the commitment is the
# subject's own words, the objection result names no actor).
SELF_WORDS = {
    LetterKind.ACCEPTANCE: "本中心决定予以受理",
    LetterKind.REFUSAL_TO_ACCEPT: "本中心决定不予受理",
    LetterKind.SUPPLEMENT: "本中心的办理时限暂停计算",
    LetterKind.REPAIR_DECISION: "本机关决定如下",
    LetterKind.REPAIR_REFUSAL: "本机关决定不予信用修复",
    LetterKind.REVOCATION_NOTICE: "本机关拟撤销",
    LetterKind.REVOCATION: "本机关决定撤销",
    LetterKind.REPAIR_INFO: "本机关对",
}


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def sealed(db, department):
    """The institution and the department with their specimen seals."""
    for issuer in (institution_issuer(), department_issuer(department)):
        issuer_seal_set(
            issuer=issuer, data=specimen_seal_png(issuer.name), filename="seal.png", actor="test"
        )


@pytest.mark.parametrize("kind", list(LetterKind))
def test_each_kind_is_headed_worded_and_signed_by_the_body_its_rule_names(
    kind, person_record, officer, committed
):
    letter = issue(kind, person_record, officer, committed)
    text = pdf_text(letter)
    heading = run("pdftotext", "-layout", letter.file.path, "-").strip().split("\n", 1)[0].strip()

    if kind in DEPARTMENT_KINDS:
        assert ISSUER_RULES[kind] == "department"
        assert letter.issuer == heading == "济南市市场监督管理局"
        assert letter.issuer_ref.department == person_record.department
    else:
        # Platform steps, and an objection the platform checked itself.
        assert letter.issuer == "济南市公共信用信息中心"
        assert letter.issuer_ref.code == "centre"
        if kind != LetterKind.COMMITMENT:
            assert heading == "济南市公共信用信息中心"
    # Never the platform: it is not an authority (Shandong Art. 9).
    assert "济南市公共信用信息平台" not in text
    if kind in SELF_WORDS:
        assert SELF_WORDS[kind] in text
    if kind in DEPARTMENT_KINDS:
        assert "本中心" not in text
    elif kind != LetterKind.COMMITMENT:
        assert "本机关" not in text
    if kind == LetterKind.COMMITMENT:
        assert "联系机构" not in text  # the applicant's own statement
    else:
        assert "（联系机构：济南市公共信用信息中心；联系电话：12345）" in text


def test_an_objection_result_is_the_departments_when_the_department_checked(
    record, department, officer
):
    facts = {
        "addressee": addressee_facts(record.subject),
        "record": record_facts(record),
        "received_on": "2026-11-20",
        **KIND_FACTS[LetterKind.OBJECTION_RESULT],
    }
    by_platform = letter_issue(kind="objection_result", facts=facts, record=record, actor=officer)
    by_department = letter_issue(
        kind="objection_result", facts=facts, record=record, actor=officer, department=department
    )

    assert by_platform.issuer == "济南市公共信用信息中心"
    assert by_platform.number == "济信异〔2026〕1号"
    assert by_department.issuer == "济南市市场监督管理局"
    assert by_department.number == "SCJGJ信异〔2026〕1号"


def test_the_remedies_line_names_the_issuers_reconsideration_body_and_court(
    person_record, department, officer, committed
):
    Issuer.objects.filter(code="centre").update(
        reconsideration_body="济南市发展和改革委员会", court="济南市市中区人民法院"
    )
    Issuer.objects.filter(pk=department_issuer(department).pk).update(
        reconsideration_body="济南市人民政府", court="济南市历下区人民法院"
    )

    for kind in LetterKind:
        text = pdf_text(issue(kind, person_record, officer, committed))
        if kind not in REMEDY_KINDS:
            assert "行政复议" not in text and "行政诉讼" not in text, kind
            continue
        if kind in DEPARTMENT_KINDS:
            body, court = "济南市人民政府", "济南市历下区人民法院"
        else:
            body, court = "济南市发展和改革委员会", "济南市市中区人民法院"
        # The periods as the law sets them, the bodies as the issuer names them.
        assert f"六十日内依法向{body}申请行政复议" in text, kind
        assert f"六个月内依法向{court}提起行政诉讼" in text, kind


def test_each_kind_numbers_its_own_series_per_issuer(
    record, other_record, department, other_department, officer
):
    def number(kind, on=record, **extra):
        facts = {
            "addressee": addressee_facts(on.subject),
            "record": record_facts(on),
            "received_on": "2026-11-20",
            **KIND_FACTS[kind],
        }
        return letter_issue(kind=kind, facts=facts, record=on, actor=officer, **extra).number

    assert [
        number("acceptance"),
        number("acceptance", objection=True),
        number("acceptance"),
        number("supplement", objection=True),
        number("refusal_to_accept", objection=True),
        number("repair_decision"),
        number("repair_decision", on=other_record),
        number("repair_decision"),
    ] == [
        "济信修受〔2026〕1号",
        "济信异受〔2026〕1号",  # an objection's acceptance: not the repair series
        "济信修受〔2026〕2号",
        "济信异补〔2026〕1号",
        "济信异不受〔2026〕1号",
        "SCJGJ信修决〔2026〕1号",  # each department its own
        "ZJJ信修决〔2026〕1号",
        "SCJGJ信修决〔2026〕2号",
    ]


def test_a_prefix_an_administrator_changes_starts_its_own_series(record, officer):
    IssuerPrefix.objects.filter(prefix="济信修受").update(prefix="济信受")
    facts = {
        "addressee": addressee_facts(record.subject),
        "record": record_facts(record),
        "received_on": "2026-11-20",
    }
    letter = letter_issue(kind="acceptance", facts=facts, record=record, actor=officer)
    assert letter.number == "济信受〔2026〕1号"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="concurrency needs PostgreSQL: SQLite serialises writers anyway",
)
def test_parallel_issuers_number_every_series_without_gap_or_duplicate(
    department, other_department, enterprise, other_enterprise, officer
):
    from django.db import close_old_connections

    records = [
        make_record(department=department, subject=enterprise),
        make_record(department=other_department, subject=other_enterprise, decision_number="X1"),
    ]
    jobs = []
    for on in records:
        jobs += [
            ("acceptance", on, False),
            ("acceptance", on, True),
            ("repair_decision", on, False),
        ]
    each, errors = 12, []

    def worker(kind, on, objection):
        try:
            for _ in range(each):
                letter_issue(
                    kind=kind,
                    facts={
                        "addressee": addressee_facts(on.subject),
                        "record": record_facts(on),
                        "received_on": "2026-11-20",
                        **KIND_FACTS[kind],
                    },
                    record=on,
                    actor=officer,
                    objection=objection,
                )
        except Exception as error:
            errors.append(error)
        finally:
            close_old_connections()

    # Department issuers first: their making is not what this measures.
    for on in records:
        department_issuer(on.department)
    threads = [threading.Thread(target=worker, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    series = {}
    for number in Letter.objects.values_list("number", flat=True):
        prefix, serial = re.fullmatch(r"(.+)〔2026〕(\d+)号", number).groups()
        series.setdefault(prefix, []).append(int(serial))
    # The two records share the institution's two filing series.
    assert {prefix: sorted(serials) for prefix, serials in series.items()} == {
        "济信修受": list(range(1, 2 * each + 1)),
        "济信异受": list(range(1, 2 * each + 1)),
        "SCJGJ信修决": list(range(1, each + 1)),
        "ZJJ信修决": list(range(1, each + 1)),
    }
    assert dict(LetterSequence.objects.values_list("prefix", "last")) == {
        "济信修受": 2 * each,
        "济信异受": 2 * each,
        "SCJGJ信修决": each,
        "ZJJ信修决": each,
    }


# The seal


def red_box(pdf_path: str, tmp_path) -> tuple[int, int, list[int]]:
    """Page 1 at 40 dpi: its size and the rows holding strongly red pixels."""
    run("pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", pdf_path, str(tmp_path / "page"))
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")
    width, height = image.size
    pixels = image.load()
    rows = [
        y
        for y in range(height)
        if any(r > 150 and g < 90 and b < 90 for r, g, b in (pixels[x, y] for x in range(width)))
    ]
    return width, height, rows


def word_box(pdf_path: str, word: str) -> tuple[float, float, float]:
    """(page height, y centre, x centre) in points of the last occurrence of `word`."""
    html = run("pdftotext", "-bbox", "-f", "1", "-l", "1", pdf_path, "-")
    page = re.search(r'<page width="([\d.]+)" height="([\d.]+)"', html)
    boxes = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
        + re.escape(word)
        + "</word>",
        html,
    )
    x0, y0, x1, y1 = map(float, boxes[-1])
    return float(page.group(2)), (y0 + y1) / 2, (x0 + x1) / 2, float(page.group(1))


@pytest.mark.parametrize("kind", [kind for kind in LetterKind if kind != LetterKind.COMMITMENT])
def test_the_seal_lies_over_the_issuer_and_the_date_on_each_kind(
    kind, person_record, officer, committed, sealed, tmp_path
):
    letter = issue(kind, person_record, officer, committed)
    images = run("pdfimages", "-list", letter.file.path)
    # The seal is the page's one raster image, with its transparency (smask).
    assert re.search(r"^\s*1\s+\d+\s+image\s+400\s+400\s", images, re.M), images
    assert re.search(r"\ssmask\s+400\s+400\s", images), images

    _width, height, rows = red_box(letter.file.path, tmp_path)
    page_height, date_y, date_x, page_width = word_box(letter.file.path, ISSUED_ON)
    # The red of the seal reaches above and below the date line, on the
    # right half of the page where the issuer and the date are.
    scale = height / page_height
    assert min(rows) < date_y * scale < max(rows)
    assert date_x > page_width / 2


def test_a_letter_of_an_issuer_without_a_seal_has_none(person_record, officer, committed):
    letter = issue(LetterKind.ACCEPTANCE, person_record, officer, committed)
    assert "image" not in run("pdfimages", "-list", letter.file.path).split("\n", 2)[2]


def test_the_commitment_carries_no_issuers_seal(person_record, officer, committed, sealed):
    # The commitment is the subject's statement to the institution.
    letter = issue(LetterKind.COMMITMENT, person_record, officer, committed)
    assert "image" not in run("pdfimages", "-list", letter.file.path).split("\n", 2)[2]


def test_a_letter_keeps_the_seal_it_was_issued_with(person_record, officer, committed, sealed):
    first = issue(LetterKind.ACCEPTANCE, person_record, officer, committed)
    issuer_seal_set(
        issuer=institution_issuer(),
        data=specimen_seal_png("另一枚"),
        filename="seal.png",
        actor="test",
    )
    second = issue(LetterKind.ACCEPTANCE, person_record, officer, committed)
    assert first.facts["issued_by"]["seal"] != second.facts["issued_by"]["seal"]


# The administrator's upload


def png(size=(600, 600), mode="RGBA", transparent=True) -> bytes:
    image = Image.new(mode, size, (200, 0, 0, 0) if mode == "RGBA" and transparent else "red")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def post_seal(client, issuer, data: bytes, name: str):
    form = {
        "name": issuer.name,
        "code": issuer.code,
        "kind": issuer.kind,
        "department": issuer.department_id or "",
        "self_reference": issuer.self_reference,
        "contact_office": issuer.contact_office,
        "contact_phone": issuer.contact_phone,
        "reconsideration_body": issuer.reconsideration_body,
        "court": issuer.court,
        "seal": SimpleUploadedFile(name, data),
        "prefixes-TOTAL_FORMS": "0",
        "prefixes-INITIAL_FORMS": "0",
    }
    return client.post(f"/admin/letters/issuer/{issuer.pk}/change/", form)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (png(mode="RGB"), "seal.png", "印章 PNG 没有透明通道（颜色模式 RGB）"),
        (png(transparent=False), "seal.png", "印章 PNG 的透明通道没有透明之处"),
        (png(size=(2400, 2400)), "seal.png", "印章图片为 2400×2400 像素；每边须在 200 至 2000"),
        (png(size=(120, 120)), "seal.png", "印章图片为 120×120 像素"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 600 * 1024, "seal.png", "超过上限 512 KB"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\x00" * 64, "seal.jpg", "两者都不是"),
        (b"%PDF-1.4\n%%EOF\n", "seal.pdf", "两者都不是"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "seal.svg",
            "SVG 印章不能含有 script 元素",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><image href="http://x/y.png"/></svg>',
            "seal.svg",
            "SVG 印章不能引用外部资源",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "b">]><svg/>',
            "seal.svg",
            "不能含有 DOCTYPE",
        ),
    ],
)
def test_the_admin_refuses_a_seal_that_cannot_serve_and_saves_nothing(
    client_for, administrator, data, name, message
):
    issuer = institution_issuer()
    response = post_seal(client_for(administrator), issuer, data, name)

    assert response.status_code == 200
    assert message in response.content.decode()
    issuer.refresh_from_db()
    assert not issuer.seal
    assert not AuditEvent.objects.filter(action__startswith="letters.issuer").exists()


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (specimen_seal_png("济南市公共信用信息中心"), "seal.png"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
            b'<circle cx="50" cy="50" r="45" fill="none" stroke="#d40000" stroke-width="4"/>'
            b"</svg>",
            "seal.svg",
        ),
    ],
)
def test_an_administrator_uploads_a_seal_and_the_upload_is_audited(
    client_for, administrator, person_record, officer, committed, data, name, tmp_path
):
    issuer = institution_issuer()
    response = post_seal(client_for(administrator), issuer, data, name)

    assert response.status_code == 302, response.content.decode()[:2000]
    issuer.refresh_from_db()
    assert issuer.seal.name.startswith("seals/centre/")
    event = AuditEvent.objects.get(action="letters.issuer_change")
    assert event.actor == administrator and "seal" in event.summary["changed"]
    # The next letter carries it.
    letter = issue(LetterKind.ACCEPTANCE, person_record, officer, committed)
    assert letter.facts["issued_by"]["seal"] == issuer.seal.name
    # Red where the seal is: a PNG as an image, an SVG as vector paths.
    assert red_box(letter.file.path, tmp_path)[2]


def test_the_admin_refuses_a_prefix_another_series_uses(client_for, administrator, department):
    issuer = department_issuer(department)
    prefixes = list(issuer.prefixes.order_by("pk"))
    form = {
        "name": issuer.name,
        "code": issuer.code,
        "kind": issuer.kind,
        "department": department.pk,
        "self_reference": issuer.self_reference,
        "contact_office": issuer.contact_office,
        "contact_phone": issuer.contact_phone,
        "reconsideration_body": issuer.reconsideration_body,
        "court": issuer.court,
        "prefixes-TOTAL_FORMS": str(len(prefixes)),
        "prefixes-INITIAL_FORMS": str(len(prefixes)),
    }
    for i, row in enumerate(prefixes):
        form |= {
            f"prefixes-{i}-id": row.pk,
            f"prefixes-{i}-issuer": issuer.pk,
            f"prefixes-{i}-series": row.series,
            # The institution's acceptance series.
            f"prefixes-{i}-prefix": "济信修受" if i == 0 else row.prefix,
        }
    response = client_for(administrator).post(f"/admin/letters/issuer/{issuer.pk}/change/", form)

    assert response.status_code == 200
    assert "这个文号前缀已被其他文书系列使用" in response.content.decode()
    assert prefixes[0].prefix == IssuerPrefix.objects.get(pk=prefixes[0].pk).prefix


@pytest.mark.parametrize("kind", list(LetterKind))
def test_no_letter_body_holds_an_iso_date(kind, person_record, officer, committed):
    facts = dict(KIND_FACTS[kind])
    if kind == LetterKind.OBJECTION_RESULT:
        # A corrected date as records store it (records.services._plain: ISO).
        facts["changes"] = [{"field": "处罚决定日期", "old": "2026-01-05", "new": "2026-01-15"}]
    letter = letter_issue(
        kind=kind,
        facts={
            "addressee": addressee_facts(person_record.subject),
            "record": record_facts(person_record),
            "received_on": "2026-11-20",
            **facts,
        },
        record=person_record,
        actor=officer,
    )
    letter_render(letter_id=letter.pk)
    letter.refresh_from_db()
    text = run("pdftotext", "-layout", letter.file.path, "-")
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text), re.search(r".*\d{4}-\d{2}-\d{2}.*", text)
    if kind == LetterKind.OBJECTION_RESULT:
        assert "2026年1月5日" in text


def test_the_admin_shows_which_body_issues_each_kind(client_for, administrator):
    page = client_for(administrator).get("/admin/letters/lettersetting/").content.decode()
    assert page.count("公共信用信息机构") >= 4
    assert page.count("作出决定的认定单位") == 5  # with the credit-repair notice
    assert "核查单位：认定单位核实的由认定单位出具" in page


def test_the_demo_gives_every_issuer_a_specimen_seal(db, settings, tmp_path):
    from django.core.management import call_command

    from letters.issuers import seal_check

    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("seed_demo", "--if-empty", "--records", "60", "--subjects", "12")

    issuers = Issuer.objects.all()
    assert issuers.count() == 12  # the institution and the 11 demo departments
    for issuer in issuers:
        with issuer.seal.open("rb") as f:
            assert seal_check(f.read()) == "image/png"
    # Department series take the 代字 of the department's own decisions.
    decision = Letter.objects.get(kind=LetterKind.REPAIR_DECISION)
    assert decision.number.startswith("济市监信修决〔")
    letter_render(letter_id=decision.pk)  # after commit, which a test never reaches
    decision.refresh_from_db()
    assert "image" in run("pdfimages", "-list", decision.file.path)
    # Each department answers for its own letters: its own demo office and
    # telephone, never the centre's 12345.
    departments = issuers.filter(kind=IssuerKind.DEPARTMENT)
    contacts = {(i.contact_office, i.contact_phone) for i in departments}
    assert len(contacts) == departments.count() == 11
    for issuer in departments:
        assert issuer.contact_office.startswith(issuer.name)
        assert "演示" in issuer.contact_office
        assert re.fullmatch(r"0531-\d{8}", issuer.contact_phone)
    assert issuers.get(kind=IssuerKind.INSTITUTION).contact_phone == "12345"
    text = run("pdftotext", decision.file.path, "-").replace("\n", "")
    scjg = departments.get(department__code="JNSCJG")
    assert f"联系电话：{scjg.contact_phone}" in text and "联系电话：12345" not in text


def test_a_contact_telephone_that_is_not_a_number_is_refused_and_nothing_saved(department):
    from letters.issuers import issuer_contact_set

    issuer = department_issuer(department)
    before = (issuer.contact_office, issuer.contact_phone)
    with pytest.raises(ValidationError) as refused:
        issuer_contact_set(issuer=issuer, office="  ", phone="请致电", actor="test")
    assert set(refused.value.message_dict) == {"contact_office", "contact_phone"}
    assert "请致电" in refused.value.message_dict["contact_phone"][0]
    issuer.refresh_from_db()
    assert (issuer.contact_office, issuer.contact_phone) == before
    issuer_contact_set(issuer=issuer, office="信用科", phone="(0531) 8888 6666", actor="test")
    issuer.refresh_from_db()
    assert issuer.contact_phone == "(0531) 8888 6666"


def test_a_long_decision_number_stays_on_one_line_in_its_cell(
    department, person, officer, committed
):
    on = make_record(
        department=department, subject=person, decision_number="济南市市监罚〔2026〕18888号"
    )
    letter = issue(LetterKind.REPAIR_REFUSAL, on, officer, committed)
    lines = run("pdftotext", "-layout", letter.file.path, "-").splitlines()
    assert any("济南市市监罚〔2026〕18888号" in line for line in lines)
    assert any(re.search(r"SCJGJ信修不决〔2026〕\d+号", line) for line in lines)


def test_the_admin_refuses_a_code_that_cannot_name_an_environment_variable(
    client_for, administrator, department
):
    form = {
        "name": department.name,
        "code": "dept-scjgj",
        "kind": "department",
        "department": department.pk,
        "self_reference": "本机关",
        "contact_office": "济南市市场监督管理局信用监管处",
        "contact_phone": "0531-12345678",
        "reconsideration_body": "济南市人民政府",
        "court": "有管辖权的人民法院",
        "prefixes-TOTAL_FORMS": "0",
        "prefixes-INITIAL_FORMS": "0",
    }
    response = client_for(administrator).post("/admin/letters/issuer/add/", form)
    assert "代码只能由小写英文字母、数字和下划线组成" in response.content.decode()
    assert not Issuer.objects.filter(department=department).exists()

    response = client_for(administrator).post(
        "/admin/letters/issuer/add/", {**form, "code": "dept_scjgj"}
    )
    assert response.status_code == 302
    issuer = Issuer.objects.get(department=department)
    assert (issuer.code, issuer.contact_phone) == ("dept_scjgj", "0531-12345678")
    assert AuditEvent.objects.get(action="letters.issuer_add").summary["code"] == "dept_scjgj"
