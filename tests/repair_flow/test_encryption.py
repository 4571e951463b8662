"""Encryption at rest of personal data (issue 17, finding 14): resident IDs,
phones, message addresses and letters' facts are stored as AES-GCM
ciphertext under a key ring from the environment, found by a keyed blind
index, re-encrypted by `rotate_keys`, and a database dump holds none of them
in clear."""

import datetime as dt
import importlib
import io
import subprocess
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from letters.kinds import addressee_facts, record_facts
from letters.models import Channel, Letter, LetterKind, OutboundMessage
from letters.outbox import letters_sweep
from letters.repair_info import repair_info_issue_due
from letters.services import letter_issue
from records.identifiers import make_resident_id, mask_phone, mask_resident_id
from records.models import Subject, SubjectKind
from repair_flow.encryption import (
    DecryptionError,
    blind_index,
    encrypted_tables,
    key_id,
    new_key_text,
    reseal_table,
)
from repair_flow.env import keys_from_text
from repair_flow.models import Role, User
from tests.conftest import make_record, make_user

TODAY = dt.datetime(2026, 6, 1, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PERSONS = [
    (make_resident_id(birth=dt.date(1979, 2, 3), serial=17), "赵敏", "13905310017"),
    (make_resident_id(birth=dt.date(1990, 11, 30), serial=88), "钱多多", "18653100088"),
]
HEADER = (
    "decision_number,department_code,subject_type,subject_identifier,subject_name,"
    "decision_date,fine_amount,severity,penalty_types,facts,subject_email,subject_phone"
)


def new_key() -> bytes:
    return keys_from_text("test", new_key_text())[0]


def raw(table: str, column: str, pk: int):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s",  # noqa: S608
            [pk],
        )
        return cursor.fetchone()[0]


def import_rows(tmp_path, rows: list[str], capture) -> str:
    path = tmp_path / "records.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    out = io.StringIO()
    with capture(execute=True):
        call_command("import_records", str(path), stdout=out)
    return out.getvalue()


def person_row(n: int, identifier: str, name: str, phone: str) -> str:
    return (
        f"济市监罚〔2026〕{600 + n}号,SCJGJ,person,{identifier},{name},2026-05-11,300,"
        f"general,fine,无证经营。,,{phone}"
    )


@pytest.fixture(autouse=True)
def frozen_today(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "letters.channels.LocmemSmsBackend"
    with time_machine.travel(TODAY, tick=False):
        yield


# Round trip, and what is stored --------------------------------------------------------------


def test_a_persons_identifier_and_phone_are_stored_encrypted_and_read_back(person):
    person.contact_phone = "13905310017"
    person.save(update_fields=["contact_phone"])
    stored_id = raw("records_subject", "identifier", person.pk)
    stored_phone = raw("records_subject", "contact_phone", person.pk)
    ring_id = key_id(django_settings.FIELD_ENCRYPTION_KEYS[0])
    assert stored_id.startswith(f"enc1:{ring_id}:") and person.identifier not in stored_id
    assert stored_phone.startswith(f"enc1:{ring_id}:") and "13905310017" not in stored_phone
    again = Subject.objects.get(pk=person.pk)
    assert (again.identifier, again.contact_phone) == (person.identifier, "13905310017")
    # Masking works on the decrypted value (shared domain reference section 8).
    assert again.display_identifier == mask_resident_id(person.identifier)
    assert again.display_phone == mask_phone("13905310017")
    # The same value encrypts differently each time (a fresh nonce): equal
    # ciphertexts would tell who shares an identifier.
    person.save(update_fields=["identifier", "identifier_index"])
    assert raw("records_subject", "identifier", person.pk) != stored_id
    # The index is the keyed HMAC of the normalised identifier, not the identifier.
    assert raw("records_subject", "identifier_index", person.pk) == blind_index(person.identifier)


def issue_acceptance(record, officer) -> Letter:
    return letter_issue(
        kind="acceptance",
        facts={
            "addressee": addressee_facts(record.subject),
            "record": record_facts(record),
            "received_on": "2026-05-20",
        },
        record=record,
        actor=officer,
    )


def test_a_users_phone_and_a_letters_facts_are_stored_encrypted(officer, person_record):
    user = make_user("zhaomin", Role.APPLICANT, phone="13905310017")
    assert "1390531" not in raw("repair_flow_user", "phone", user.pk)
    assert User.objects.get(pk=user.pk).phone == "13905310017"
    letter = issue_acceptance(person_record, officer)
    person = person_record.subject
    stored = raw("letters_letter", "facts", letter.pk)
    assert stored.startswith("enc1:")
    assert person.name not in stored and person.identifier not in stored
    addressee = Letter.objects.get(pk=letter.pk).facts["addressee"]
    assert (addressee["name"], addressee["identifier"]) == (person.name, person.identifier)


def test_an_empty_phone_stays_empty_and_can_be_filtered(enterprise, person):
    person.contact_phone = "13905310017"
    person.save(update_fields=["contact_phone"])
    assert raw("records_subject", "contact_phone", enterprise.pk) == ""
    assert list(Subject.objects.filter(contact_phone="")) == [enterprise]


def test_an_encrypted_column_cannot_be_searched_by_value(person):
    # A search by value would silently find nothing: it is refused instead.
    with pytest.raises(FieldError, match="blind index"):
        Subject.objects.filter(identifier=person.identifier).exists()
    with pytest.raises(FieldError, match="encrypted"):
        Subject.objects.filter(contact_phone__startswith="139").exists()
    assert Subject.objects.identified_by(person.identifier.lower()).get() == person


# Wrong keys fail clearly ---------------------------------------------------------------------


def test_a_value_under_a_key_not_in_the_ring_fails_clearly(person, settings):
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    with pytest.raises(DecryptionError, match="not in FIELD_ENCRYPTION_KEYS"):
        Subject.objects.get(pk=person.pk)


def test_an_altered_or_moved_ciphertext_fails_to_authenticate(person):
    stored = raw("records_subject", "identifier", person.pk)
    with connection.cursor() as cursor:
        # The identifier's ciphertext copied into the phone column.
        cursor.execute(
            "UPDATE records_subject SET contact_phone = %s WHERE id = %s", [stored, person.pk]
        )
    moved = r"records\.subject\.contact_phone: .* does not authenticate"
    with pytest.raises(DecryptionError, match=moved):
        Subject.objects.get(pk=person.pk)
    altered = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE records_subject SET identifier = %s, contact_phone = '' WHERE id = %s",
            [altered, person.pk],
        )
    with pytest.raises(DecryptionError, match="does not authenticate"):
        Subject.objects.get(pk=person.pk)


def test_production_refuses_to_start_without_the_field_keys(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(SystemCheckError, match=r"repair_flow\.E005"):
        call_command("check")
    settings.FIELD_ENCRYPTION_KEYS = [new_key()]
    settings.FIELD_BLIND_INDEX_KEYS = []
    with pytest.raises(SystemCheckError, match=r"repair_flow\.E006"):
        call_command("check")
    settings.FIELD_BLIND_INDEX_KEYS = list(settings.FIELD_ENCRYPTION_KEYS)
    with pytest.raises(SystemCheckError, match=r"repair_flow\.E007"):
        call_command("check")


def test_a_bad_key_in_the_environment_is_refused_at_start():
    with pytest.raises(ImproperlyConfigured, match="32 random bytes"):
        keys_from_text("FIELD_ENCRYPTION_KEYS", "c2hvcnQ=")
    with pytest.raises(ImproperlyConfigured, match="not base64"):
        keys_from_text("FIELD_ENCRYPTION_KEYS", "not base64!")
    first, second = new_key_text(), new_key_text()
    assert len(keys_from_text("FIELD_ENCRYPTION_KEYS", f" {first} , {second} ,")) == 2


# rotate_keys ---------------------------------------------------------------------------------


def rotate(*args) -> str:
    out = io.StringIO()
    call_command("rotate_keys", *args, stdout=out)
    return out.getvalue()


def test_rotate_keys_reencrypts_everything_so_the_old_key_can_be_dropped(
    person, enterprise, person_record, officer, settings
):
    user = make_user("zhaomin", Role.APPLICANT, phone="13905310017")
    person.contact_phone = "18653100088"
    person.save(update_fields=["contact_phone"])
    letter = issue_acceptance(person_record, officer)
    old, new = list(settings.FIELD_ENCRYPTION_KEYS), new_key()
    settings.FIELD_ENCRYPTION_KEYS = [new, *old]
    # Before the run: what is left under the old key is counted, and refused.
    with pytest.raises(CommandError, match="not under the current keys"):
        rotate("--check")

    out = rotate("--batch-size", "1")

    # Progress per batch, and a total per table.
    assert "records_subject: 1 rows read, 1 re-encrypted (up to id" in out
    assert "records_subject: done, 2 rows, 2 re-encrypted" in out
    assert "repair_flow_user: done" in out and "letters_letter: done, 1 rows, 1 re-encrypted" in out
    assert raw("records_subject", "identifier", person.pk).startswith(f"enc1:{key_id(new)}:")
    assert "every value is under the current keys" in rotate("--check")
    # Idempotent: a second run changes nothing.
    assert "records_subject: done, 2 rows, 0 re-encrypted" in rotate()
    # The old key removed, everything still reads.
    settings.FIELD_ENCRYPTION_KEYS = [new]
    reread = Subject.objects.get(pk=person.pk)
    assert (reread.identifier, reread.contact_phone) == (person.identifier, "18653100088")
    assert User.objects.get(pk=user.pk).phone == "13905310017"
    assert Letter.objects.get(pk=letter.pk).facts["addressee"]["identifier"] == person.identifier


def test_a_new_blind_index_key_finds_rows_before_and_after_rotation(
    client_for, officer, person_record, settings
):
    person = person_record.subject
    old, new = list(settings.FIELD_BLIND_INDEX_KEYS), new_key()
    settings.FIELD_BLIND_INDEX_KEYS = [new, *old]
    # Not rotated yet: a lookup matches the index under every key of the ring.
    assert Subject.objects.identified_by(person.identifier).get() == person
    assert "1 re-encrypted" in rotate()
    assert raw("records_subject", "identifier_index", person.pk) == blind_index(
        person.identifier, key=new
    )
    settings.FIELD_BLIND_INDEX_KEYS = [new]
    c = client_for(officer)
    posted = c.post("/records/search/", {"q": person.identifier, "purpose": "repair_case"})
    assert person_record.decision_number in c.get(posted["Location"]).content.decode()


def test_a_rotation_stopped_half_way_is_resumed_by_running_it_again(department, settings):
    subjects = [
        Subject.objects.create(kind=SubjectKind.PERSON, identifier=identifier, name=name)
        for identifier, name, _phone in PERSONS
    ]
    new = new_key()
    settings.FIELD_ENCRYPTION_KEYS = [new, *settings.FIELD_ENCRYPTION_KEYS]
    (spec,) = [s for s in encrypted_tables() if s.table == "records_subject"]
    batches = reseal_table(connection=connection, spec=spec, batch_size=1)
    assert next(batches)[:2] == (1, 1)
    batches.close()  # stopped after the first batch (committed on its own)
    kids = [raw("records_subject", "identifier", s.pk).split(":")[1] for s in subjects]
    assert kids.count(key_id(new)) == 1

    assert "records_subject: done, 2 rows, 1 re-encrypted" in rotate()
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert [Subject.objects.get(pk=s.pk).identifier for s in subjects] == [p[0] for p in PERSONS]


def test_the_data_migration_encrypts_clear_rows_and_fills_the_index(person):
    # A row as it was before the migration: identifier and phone in clear.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE records_subject SET identifier = %s, contact_phone = %s,"
            " identifier_index = %s WHERE id = %s",
            [person.identifier, "13905310017", "stale", person.pk],
        )
    migration = importlib.import_module("records.migrations.0018_subject_rows_encrypted")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.encrypt_rows(None, editor)
    migration.encrypt_rows(None, editor)  # a second run (a resumed one) changes nothing

    assert raw("records_subject", "identifier", person.pk).startswith("enc1:")
    assert raw("records_subject", "contact_phone", person.pk).startswith("enc1:")
    assert Subject.objects.identified_by(person.identifier).get().contact_phone == "13905310017"


# Lookups by blind index through the interfaces -------------------------------------------------


def test_import_api_and_search_find_a_person_by_the_blind_index(
    department, department_system, api_for, officer, tmp_path, django_capture_on_commit_callbacks
):
    identifier, name, phone = PERSONS[0]
    import_rows(
        tmp_path, [person_row(1, identifier, name, phone)], django_capture_on_commit_callbacks
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {department_system.auth_token.key}")
    body = {
        "decision_number": "济市监罚〔2026〕699号",
        "department_code": "SCJGJ",
        "subject_type": "person",
        # The same person, written with a lower-case check digit if it has one.
        "subject_identifier": identifier.lower(),
        "subject_name": name,
        "decision_date": "2026-05-20",
        "fine_amount": 100,
        "severity": "general",
        "penalty_types": ["fine"],
        "facts": "无证经营。",
    }
    assert api.post("/api/v1/records/", body, format="json").status_code == 201
    # One subject, found by the index from the file and from the API.
    (subject,) = Subject.objects.filter(kind=SubjectKind.PERSON)
    assert subject.records.count() == 2 and subject.contact_phone == phone
    response = api_for(officer).post(
        "/api/v1/records/search/",
        {"subject_identifier": f" {identifier} ", "purpose": "repair_case"},
        format="json",
    )
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2


def test_a_stored_search_keeps_the_term_encrypted_in_the_session(
    client_for, officer, person_record
):
    identifier = person_record.subject.identifier
    c = client_for(officer)
    posted = c.post("/records/search/", {"q": identifier, "purpose": "repair_case"})
    assert person_record.decision_number in c.get(posted["Location"]).content.decode()
    (session,) = Session.objects.all()
    assert identifier not in session.session_data
    searches = session.get_decoded()["record_searches"]
    (stored,) = searches.values()
    assert stored["q"].startswith("enc1:") and identifier not in str(stored)


def test_the_record_list_reads_no_more_queries_for_more_persons(
    client_for, officer, department, settings
):
    c = client_for(officer)

    def list_queries() -> tuple[int, int]:
        found = c.post("/records/search/", {"q": "济市监罚", "purpose": "supervision"})
        c.get("/records/")
        with CaptureQueriesContext(connection) as listed:
            assert c.get("/records/").status_code == 200
        with CaptureQueriesContext(connection) as searched:
            assert c.get(found["Location"]).status_code == 200
        return len(listed), len(searched)

    person = Subject.objects.create(kind=SubjectKind.PERSON, identifier=PERSONS[0][0], name="赵敏")
    make_record(department=department, subject=person, decision_number="济市监罚〔2026〕1号")
    one = list_queries()
    for n in range(2, 8):
        other = Subject.objects.create(
            kind=SubjectKind.PERSON,
            identifier=make_resident_id(birth=dt.date(1980, 1, n), serial=n),
            name=f"人{n}",
            contact_phone=f"1390531000{n}",
        )
        make_record(department=department, subject=other, decision_number=f"济市监罚〔2026〕{n}号")
    # Decryption is in memory: no query per row.
    assert list_queries() == one


# A database dump holds no clear identifier -----------------------------------------------------

POSTGRES = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def database_dump() -> str:
    """The whole database as text: `pg_dump` on PostgreSQL (it reads only
    committed rows, hence the transactional test), the SQL of
    `iterdump()` on SQLite."""
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        return subprocess.run(
            [
                "pg_dump",
                "--data-only",
                "-h",
                db["HOST"] or "127.0.0.1",
                "-p",
                str(db["PORT"] or 5432),
                "-U",
                db["USER"],
                db["NAME"],
            ],
            check=True,
            capture_output=True,
            text=True,
            env={"PGPASSWORD": db["PASSWORD"] or "", "PATH": "/usr/bin:/bin"},
            timeout=120,
        ).stdout
    return "\n".join(connection.connection.iterdump())


# Transactional on PostgreSQL only: pg_dump sees committed rows alone.
@pytest.mark.django_db(transaction=POSTGRES)
def test_a_database_dump_contains_no_clear_identifier_or_phone(
    department, client_for, officer, tmp_path, django_capture_on_commit_callbacks
):
    rows = [person_row(n, *person) for n, person in enumerate(PERSONS)]
    assert "imported 2" in import_rows(tmp_path, rows, django_capture_on_commit_callbacks)
    # The credit-repair notices (facts with the addressee's identifier) are
    # issued in the background, rendered, and their texts queued and sent to
    # the persons' phones.
    repair_info_issue_due()
    letters_sweep()
    letters_sweep()
    notices = Letter.objects.filter(kind=LetterKind.REPAIR_INFO)
    assert notices.count() == 2
    assert {n.facts["addressee"]["identifier"] for n in notices} == {p[0] for p in PERSONS}
    sms = OutboundMessage.objects.filter(channel=Channel.SMS)
    assert sorted(m.to for m in sms) == sorted(p[2] for p in PERSONS)
    # An account with a phone, and a staff search by resident ID (the session).
    make_user("zhaomin", Role.APPLICANT, phone=PERSONS[0][2])
    c = client_for(officer)
    posted = c.post("/records/search/", {"q": PERSONS[1][0], "purpose": "repair_case"})
    assert "〔2026〕601号" in c.get(posted["Location"]).content.decode()

    dump = database_dump()

    assert "enc1:" in dump and "赵敏" in dump  # the rows are there; names stay clear
    for identifier, _name, phone in PERSONS:
        for clear in {identifier, identifier.lower(), phone}:
            assert clear not in dump, f"{clear} is in the dump in clear"
