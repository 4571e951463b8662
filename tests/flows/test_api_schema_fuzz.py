"""A bounded schemathesis run over the whole API (issue 17): every operation
of /api/schema/, a few generated requests each, for every role's
credentials. No answer may be a 5xx, and every answer must be one the
schema documents (status code, content type, body shape, headers).

Each operation runs three times: with generated valid input (path ids
mostly unknown: the 404s and 403s); with invalid input (schemathesis's
negative mode: wrong types, missing fields, bodies in other media types);
and with the id of an object that exists (a case in department review, an
objection draft, a natural person's record, a letter, the commitment and a
clock), so that the 200s and 409s are checked against the schema too.

What it found, fixed in the code: a sync-event ack with an id beyond 64
bits was a 500; a body in a media type a path does not read was an
undocumented 415.

Bounded on purpose: a few derandomized examples per operation, so the run is
the same each time and fits in the suite. Run it alone with
`pytest -m schemathesis`.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flows.models import CaseStatus
from letters.models import Commitment, Letter
from sla.models import SlaClock

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
GENERATED_EXAMPLES = 2
KNOWN_ID_EXAMPLES = 3
NEGATIVE_EXAMPLES = 2
ROLES = ["applicant", "officer", "reviewer", "supervisor", "integration"]


@pytest.fixture
def app():
    """Requests go to Django's WSGI handler in this thread, inside the test's
    transaction. As Django's test client does, the handler's request signals
    must not close the test's connection (close_old_connections would, since
    a transaction is open)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def known_ids(drive, applicant, person_record, second_record, other_record):
    """Path parameter per path prefix: objects the operations can find."""
    from rest_framework.test import APIClient

    case = drive(CaseStatus.IN_DEPARTMENT_REVIEW)
    api = APIClient()
    api.force_authenticate(applicant)
    objection = api.post(
        "/api/v1/objections/",
        {
            "record": second_record.pk,
            "grounds": ["error"],
            "statement": "罚款金额登记错误。",
            "capacity": "legal_representative",
        },
        format="json",
    )
    assert objection.status_code == 201, objection.json()
    letter = Letter.objects.filter(verification_code__isnull=False).first()
    assert letter is not None
    return {
        "/api/v1/repair-cases/": {"id": case.pk},
        "/api/v1/objections/": {"id": objection.json()["id"]},
        "/api/v1/records/": {"id": person_record.pk},
        "/api/v1/letters/": {"id": letter.pk},
        "/api/v1/commitments/": {"id": Commitment.objects.get(record=case.record).pk},
        "/api/v1/sla/clocks/": {"id": SlaClock.objects.filter(case_id=case.pk).first().pk},
        "/api/v1/verify/": {"code": letter.verification_code},
    }


@pytest.fixture
def personas(applicant, officer, reviewer, supervisor, department_system):
    return dict(
        zip(ROLES, [applicant, officer, reviewer, supervisor, department_system], strict=True)
    )


def bounded(examples: int):
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(role, personas, known_ids, app):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", app)
    token, _ = Token.objects.get_or_create(user=personas[role])
    headers = {"Authorization": f"Token {token.key}"}
    failures = []

    def call(case):
        # The throttle would answer 429 (documented) and hide the rest.
        cache.clear()
        case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(checks=CHECKS)

    for result in schema.get_all_operations():
        operation = result.ok()
        runs = [
            (operation.as_strategy(), GENERATED_EXAMPLES),
            (operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), NEGATIVE_EXAMPLES),
        ]
        if "{" in operation.path:
            known = next(
                (ids for prefix, ids in known_ids.items() if operation.path.startswith(prefix)),
                None,
            )
            if known is not None:
                runs.append((operation.as_strategy(path_parameters=known), KNOWN_ID_EXAMPLES))
        for strategy, examples in runs:
            try:
                bounded(examples)(given(case=strategy)(call))()
            except Unsatisfiable:
                # Only a negative run can find nothing to send: an operation
                # whose every input is a free string has no invalid request.
                assert strategy is runs[1][0], operation.label
            except Exception as error:  # every operation's failure, reported at once
                failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
