"""GB/T 37668-2019 beyond the Chinese journeys: axe-core on the English pages
of the applicant's and the staff's journeys (switched with the header's
language button, as a person would), and, in both languages, the pages every
visitor meets: login, the public letter verification, the profile and 通知.

Every page these contexts load is checked on load (tests/e2e/conftest.py
watch_axe); `axe_check` checks again after the switch and after a form is
answered, so an error state is checked too. No serious or critical violation.
"""

import pytest

from flows.cases.review import preliminary_review_claim, supplement_request
from flows.models import MaterialKind
from flows.repair.services import preliminary_review_accept, repair_case_submit
from letters.models import Letter, LetterKind
from tests.conftest import PASSWORD, make_record
from tests.e2e.conftest import axe_check, login
from tests.flows.conftest import draft_with_materials

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def to_english(page):
    """The header's language button, as a visitor switches."""
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.evaluate("() => document.documentElement.lang") == "en"


def visit(page, path, *, status=200):
    response = page.goto(page.base + path)
    assert response.status == status, f"{path}: {response.status}"
    axe_check(page)


@pytest.fixture
def second_record(department, enterprise):
    return make_record(
        department=department, subject=enterprise, decision_number="济市监罚〔2026〕2号"
    )


def supplementing(applicant, record, officer):
    case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    preliminary_review_claim(officer=officer, case=case)
    items = [{"material": MaterialKind.PERFORMANCE_PROOF, "name": "履行证明", "problem": "模糊"}]
    supplement_request(officer=officer, case=case, items=items)
    return case


def test_the_applicants_pages_in_english(browser_as, applicant, record, second_record, officer):
    case = supplementing(applicant, record, officer)
    me = browser_as("applicant")
    to_english(me)
    axe_check(me)
    visit(me, "/cases/")
    assert me.evaluate("() => document.documentElement.lang") == "en"
    visit(me, f"/records/{record.pk}/")
    visit(me, f"/records/{second_record.pk}/")
    visit(me, f"/cases/new/{second_record.pk}/")
    visit(me, f"/cases/{case.pk}/")
    visit(me, f"/cases/{case.pk}/materials/")
    visit(me, "/notifications/")
    visit(me, "/accounts/profile/")
    visit(me, "/letters/")


def test_the_staff_pages_in_english(
    browser_as, applicant, record, second_record, officer, reviewer, supervisor
):
    waiting = supplementing(applicant, record, officer)
    case = repair_case_submit(
        applicant=applicant, case=draft_with_materials(applicant, second_record)
    )
    preliminary_review_claim(officer=officer, case=case)
    desk = browser_as("officer")
    to_english(desk)
    visit(desk, "/cases/tasks/")
    visit(desk, f"/cases/{case.pk}/work/")
    visit(desk, f"/cases/{waiting.pk}/work/")
    visit(desk, "/records/")
    visit(desk, "/notifications/")
    visit(desk, "/accounts/profile/")
    preliminary_review_accept(officer=officer, case=case)

    checker = browser_as("reviewer")
    to_english(checker)
    visit(checker, "/cases/tasks/")
    visit(checker, f"/cases/{case.pk}/work/")

    boss = browser_as("supervisor")
    to_english(boss)
    visit(boss, "/cases/tasks/inbox/")
    visit(boss, "/sla/board/")
    visit(boss, "/sla/board/list/?metric=open&assignee=applicant")


@pytest.mark.parametrize("english", [False, True], ids=["zh", "en"])
def test_login_verify_profile_and_notifications(
    page, english, applicant, record, officer, live_server
):
    case = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    preliminary_review_claim(officer=officer, case=case)
    preliminary_review_accept(officer=officer, case=case)
    letter = Letter.objects.filter(case_id=case.pk, kind=LetterKind.ACCEPTANCE).first()
    assert letter is not None and letter.verification_code

    # Public pages, before anyone logs in.
    page.goto(page.base + "/accounts/login/")
    if english:
        to_english(page)
    axe_check(page)
    # A wrong password: the error state of the login form is checked too.
    page.fill("input[name=username]", "applicant")
    page.fill("input[name=password]", "not-the-password")
    page.click("button.primary")
    page.wait_for_load_state()
    axe_check(page)
    visit(page, "/verify/")
    visit(page, "/verify/?code=NOSUCHCODE0", status=404)  # the not-found answer too
    visit(page, f"/verify/{letter.verification_code}")

    login(page, "applicant", PASSWORD)
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    visit(page, "/notifications/")
    visit(page, "/accounts/profile/")
    lang = page.evaluate("() => document.documentElement.lang")
    assert lang == ("en" if english else "zh-hans")
