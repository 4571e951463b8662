"""Every list page and API list runs the same number of queries for a page of
1 row and a page of 50 (issue 18: no N+1, the access register written once
per response). Each list is read once to warm the caches (content types, the
rule sets), counted with 1 row of each kind, then counted again after 49 more
rows of each kind were added through the services."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from flows.cases.review import preliminary_review_claim
from flows.models import (
    BreachReview,
    CaseStatus,
    MaterialKind,
    MonitoringStatus,
    MonitoringWindow,
)
from flows.repair.services import preliminary_review_accept, repair_case_submit
from records.identifiers import make_resident_id, make_uscc
from records.models import BindingCapacity, Subject, SubjectBinding, SubjectKind
from repair_flow.models import AccessLogEntry, AccessPurpose, Role
from sla.models import Notification, NotificationKind
from tests.conftest import make_record, make_user
from tests.flows.conftest import FILING, at, draft_with_materials, import_rows, penalty_row

pytestmark = pytest.mark.django_db

PURPOSE = {"purpose": AccessPurpose.REPAIR_CASE}

# (persona, path, query): every list, as the persona who reads it.
LISTS = [
    ("applicant", "/cases/", {}),
    ("agent", "/cases/", {}),
    ("applicant", "/api/v1/repair-cases/", {}),
    ("agent", "/api/v1/repair-cases/", {}),
    ("agent", "/api/v1/objections/", {}),
    ("applicant", "/letters/", {}),
    ("applicant", "/api/v1/letters/", {}),
    ("applicant", "/api/v1/monitoring/", {}),
    ("officer", "/records/", {}),
    # The search: a decision number by prefix, a name through the subjects' ids.
    ("officer", "/records/", {"q": "济罚〔2026〕"}),
    ("officer", "/records/", {"q": "主体"}),
    ("agent", "/records/", {"q": "主体"}),
    ("officer", "/api/v1/records/", PURPOSE),
    ("applicant", "/records/", {}),
    ("applicant", "/api/v1/records/", {}),
    ("officer", "/cases/tasks/", {}),
    ("supervisor", "/cases/tasks/", {}),
    ("supervisor", "/cases/tasks/inbox/", {}),
    ("officer", "/api/v1/tasks/", {}),
    ("supervisor", "/api/v1/tasks/", {"box": "inbox"}),
    ("officer", "/api/v1/repair-cases/", PURPOSE),
    ("officer", "/letters/", {}),
    ("officer", "/api/v1/letters/", PURPOSE),
    ("officer", "/cases/breaches/", {}),
    ("officer", "/api/v1/breach-reviews/", PURPOSE),
    ("officer", "/notifications/", {}),
    ("officer", "/api/v1/notifications/", {}),
    ("supervisor", "/access-register/", {}),
    ("supervisor", "/sla/board/list/", {}),
]


@pytest.fixture
def agent(db):
    """An applicant account acting as agent (委托代理人) for many subjects."""
    return make_user("agent", Role.APPLICANT, first_name="钱进")


class Builder:
    """Adds `n` rows of each kind a list shows, through the services."""

    def __init__(self, *, applicant, agent, officer, supervisor, department, enterprise, now):
        self.applicant, self.agent, self.officer = applicant, agent, officer
        self.supervisor, self.department, self.enterprise = supervisor, department, enterprise
        self.now = now
        self.made = 0

    def add(self, n: int) -> None:
        for _ in range(n):
            self.made += 1
            i = self.made
            # The applicant's own enterprise: a record and a filed case.
            record = make_record(
                department=self.department,
                subject=self.enterprise,
                decision_number=f"济罚〔2026〕{i}号",
            )
            self.submit(self.applicant, record, claim=i % 2 == 0)
            # A subject the agent acts for, every other one a natural person.
            if i % 2:
                kind, identifier = SubjectKind.ENTERPRISE, make_uscc(serial=5000 + i)
            else:
                kind = SubjectKind.PERSON
                identifier = make_resident_id(birth=dt.date(1980, 1, 1), serial=100 + i)
            subject = Subject.objects.create(kind=kind, identifier=identifier, name=f"主体{i}")
            SubjectBinding.objects.create(
                user=self.agent, subject=subject, capacity=BindingCapacity.AGENT
            )
            other = make_record(
                department=self.department, subject=subject, decision_number=f"济罚〔2026〕代{i}号"
            )
            self.submit(self.agent, other, claim=False)
            # A new penalty of the monitored enterprise: a breach review.
            import_rows(
                penalty_row(
                    self.enterprise,
                    self.department,
                    number=f"济罚〔2027〕新{i}号",
                    day="2026-11-19",
                )
            )
            Notification.objects.create(
                user=self.officer, kind=NotificationKind.EVENT, title=f"通知 {i}"
            )
            AccessLogEntry.objects.create(
                at=self.now(),
                user=self.officer,
                subject=subject,
                what=f"record:{other.pk}",
                purpose=AccessPurpose.REPAIR_CASE,
                channel="page",
            )

    def submit(self, applicant, record, *, claim: bool):
        agent = applicant == self.agent
        case = draft_with_materials(
            applicant,
            record,
            capacity="agent" if agent else "legal_representative",
            kinds=FILING + ((MaterialKind.POWER_OF_ATTORNEY,) if agent else ()),
        )
        case = repair_case_submit(applicant=applicant, case=case)
        if claim:
            # In an inbox, and accepted: an acceptance letter for the lists of letters.
            case = preliminary_review_claim(officer=self.officer, case=case)
            preliminary_review_accept(officer=self.officer, case=case)


def count(client, path, query) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, query)
    assert response.status_code == 200, (path, response.content[:500])
    return len(queries)


def logged_in(**users):
    """A client per persona, logged in now (a session lasts SESSION_COOKIE_AGE)."""
    clients = {}
    for name, user in users.items():
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


def test_every_list_runs_as_many_queries_for_50_rows_as_for_1(
    applicant, agent, officer, supervisor, department, enterprise, now, approved
):
    # The approved repair of `record` is monitored: new penalties open breach reviews.
    assert approved.status == CaseStatus.APPROVED
    assert MonitoringWindow.objects.get(case=approved).status == MonitoringStatus.OPEN
    builder = Builder(
        applicant=applicant,
        agent=agent,
        officer=officer,
        supervisor=supervisor,
        department=department,
        enterprise=enterprise,
        now=lambda: at("2026-11-20 10:00"),
    )
    now.move_to(at("2026-11-20 10:00"))
    builder.add(1)
    clients = logged_in(applicant=applicant, agent=agent, officer=officer, supervisor=supervisor)
    for persona, path, query in LISTS:
        count(clients[persona], path, query)  # warm
    one = {(p, path, str(q)): count(clients[p], path, q) for p, path, q in LISTS}
    builder.add(49)
    assert BreachReview.objects.count() == 50
    fifty = {(p, path, str(q)): count(clients[p], path, q) for p, path, q in LISTS}
    grown = {key: (one[key], fifty[key]) for key in one if one[key] != fifty[key]}
    assert grown == {}


def test_the_applicants_case_list_is_paged(
    monkeypatch, client_for, applicant, record, second_record
):
    """An agent with hundreds of cases reads them a page at a time, newest first."""
    import flows.web.applicant

    monkeypatch.setattr(flows.web.applicant, "CASE_PAGE_SIZE", 1)
    first = repair_case_submit(applicant=applicant, case=draft_with_materials(applicant, record))
    second = repair_case_submit(
        applicant=applicant, case=draft_with_materials(applicant, second_record)
    )
    c = client_for(applicant)
    page1 = c.get("/cases/").content.decode()
    assert f'data-case="{second.pk}"' in page1 and f'data-case="{first.pk}"' not in page1
    assert 'href="?page=2"' in page1
    page2 = c.get("/cases/", {"page": "2"}).content.decode()
    assert f'data-case="{first.pk}"' in page2 and f'data-case="{second.pk}"' not in page2
    # A page past the end shows the last one, never an error.
    assert f'data-case="{first.pk}"' in c.get("/cases/", {"page": "99"}).content.decode()
