"""Importing a book of business: the CSV importer, `flask clients import`, and `/import`.

All or nothing; every problem named by line and column, never by value; bulk-sealed rows
that read back like typed-in ones; one audit event with counts.
"""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from webapp.audit import Actor, verify_chain
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role, User, UserStatus
from webapp.cli import clients_cli
from webapp.crm import importer
from webapp.crm.importer import COLUMNS, ImportError, ImportRefused
from webapp.crm.models import (
    Appointment,
    AppointmentStatus,
    Client,
    Condition,
    EnrollmentStatus,
    Medication,
    Note,
    PlanEnrollment,
    PremiumPayment,
    Provider,
)
from webapp.crypto import Keyring
from webapp.crypto.models import DataKey

ZONE = ZoneInfo("America/New_York")  # the agency_timezone default
ACTOR = Actor(label="test")

FULL_ROW = {
    "first_name": "Maria", "last_name": "Alvarez", "date_of_birth": "03/04/1950",
    "phone": "(555) 010-2233", "email": "maria.alvarez@example.org",
    "street": "12 Harbor Lane, Apt 3", "city": "Tampa", "state": "fl", "zip": "33602-1234",
    "ssn": "123456789", "medicare_id": "1EG4-TE5-MK73", "plan_carrier": "Harborview Health",
    "plan_name": "Harborview Value HMO", "plan_type": "Medicare Advantage HMO",
    "plan_effective_date": "2026-01-01", "premium_monthly": "$1,234.5",
    "payment_method": "Bank draft (EFT)", "conditions": "Hypertension; Type 2 diabetes;",
    "medications": "Metformin 500 mg twice daily;Lisinopril 10mg; Vitamin D3 1,000 IU;"
                   "Ibuprofen",
    "providers": "Dr. Ana Ruiz (Cardiology); Dr. Ben Okafor",
    "note": "Prefers morning calls.\nDaughter helps with paperwork.",
    "appointment_at": "2030-07-15T10:30",
}
MINIMAL_ROW = {"first_name": "José", "last_name": "García-López", "date_of_birth": "1944-12-01"}


def csv_bytes(rows: list[dict], columns=COLUMNS, *, bom: bool = False,
              line_end: str = "\r\n") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def agent(factories, session):
    user = factories.user(Role.AGENT, email="book.agent@example.com", display_name="Book Agent")
    session.commit()
    return user


def run_import(session, keyring, data: bytes, agent: User, clock):
    summary = importer.import_book(session, keyring, data, agent=agent, zone=ZONE,
                                   now=clock.now(), actor=ACTOR)
    session.commit()
    return summary


def refusal(session, keyring, data: bytes, agent: User, clock) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        importer.import_book(session, keyring, data, agent=agent, zone=ZONE, now=clock.now(),
                             actor=ACTOR)
    session.rollback()
    return caught.value


# -- a good file ------------------------------------------------------------------------------

def test_a_file_with_every_column_imports_and_reads_back(session, keyring, agent, clock):
    summary = run_import(session, keyring, csv_bytes([FULL_ROW, MINIMAL_ROW], bom=True),
                         agent, clock)
    assert (summary.clients, summary.appointments, summary.medications) == (2, 1, 4)
    session.expire_all()
    maria, jose = sorted(session.scalars(select(Client)).all(), key=lambda c: c.first_name,
                         reverse=True)
    assert maria.agent_id == agent.id and jose.agent_id == agent.id
    assert (maria.first_name, maria.last_name, maria.date_of_birth) == (
        "Maria", "Alvarez", date(1950, 3, 4))
    assert maria.phone == "(555) 010-2233"  # as typed; the blind index is normalized
    assert maria.phone_bidx == Client.blind_index_of(keyring, "phone", "+1 555 010 2233")
    assert maria.last_name_bidx == Client.blind_index_of(keyring, "last_name", "ALVAREZ")
    assert (maria.state, maria.zip, maria.ssn) == ("FL", "33602-1234", "123-45-6789")
    assert (maria.email, maria.street, maria.medicare_id) == (
        "maria.alvarez@example.org", "12 Harbor Lane, Apt 3", "1EG4-TE5-MK73")

    [plan] = maria.enrollments
    assert (plan.carrier, plan.plan_name, plan.plan_type, plan.effective_date) == (
        "Harborview Health", "Harborview Value HMO", "Medicare Advantage HMO", date(2026, 1, 1))
    [premium] = maria.premiums
    assert premium.premium_monthly == Decimal("1234.50")
    assert premium.payment_method == "Bank draft (EFT)"
    assert sorted(c.name for c in maria.conditions) == ["Hypertension", "Type 2 diabetes"]
    medications = {m.name: (m.dosage, m.frequency) for m in maria.medications}
    assert medications == {"Metformin": ("500 mg", "twice daily"), "Lisinopril": ("10mg", None),
                           "Vitamin D3": ("1,000 IU", None), "Ibuprofen": (None, None)}
    assert sorted((p.name, p.specialty) for p in maria.providers) == [
        ("Dr. Ana Ruiz", "Cardiology"), ("Dr. Ben Okafor", None)]
    [note] = maria.notes
    assert note.body == "Prefers morning calls.\nDaughter helps with paperwork."
    assert note.author_id == agent.id
    [visit] = maria.appointments
    # 10:30 in New York in July is EDT (UTC-4).
    assert visit.starts_at == datetime(2030, 7, 15, 14, 30, tzinfo=UTC)
    assert visit.agent_id == agent.id and visit.status == AppointmentStatus.SCHEDULED

    assert (jose.first_name, jose.last_name, jose.phone, jose.ssn) == (
        "José", "García-López", None, None)
    assert not (jose.enrollments or jose.premiums or jose.medications or jose.appointments)

    # One data key per client, and every row of a client sealed under that client's key.
    assert maria.data_key_id != jose.data_key_id
    assert Keyring.key_id_of(maria.medications[0]._name_sealed) == maria.data_key_id
    assert Keyring.key_id_of(note._body_sealed) == maria.data_key_id


def test_header_names_are_forgiving_and_the_appointment_follows_daylight_time(
        session, keyring, agent, clock):
    data = ("\ufeffFirst Name,last-name,DATE_OF_BIRTH,appointment_at\r\n"
            "Ann,Lee,1950-01-02,2030-01-15 10:30\r\n"
            "\r\n"
            "Bo,Kim,1951-02-03,2030-01-15T10:30:00-05:00\r\n").encode()
    run_import(session, keyring, data, agent, clock)
    starts = sorted(a.starts_at for a in session.scalars(select(Appointment)))
    assert starts == [datetime(2030, 1, 15, 15, 30, tzinfo=UTC)] * 2  # EST: UTC-5


def test_a_future_effective_date_makes_the_plan_pending(session, keyring, agent, clock):
    row = {**MINIMAL_ROW, "plan_carrier": "Lighthouse Mutual", "plan_effective_date": "2031-01-01"}
    run_import(session, keyring, csv_bytes([row]), agent, clock)
    assert session.scalar(select(PlanEnrollment)).status == EnrollmentStatus.PENDING


def test_the_import_is_one_transaction_the_caller_commits(session, keyring, agent, clock):
    keys_before = count(session, DataKey)
    importer.import_book(session, keyring, csv_bytes([FULL_ROW, MINIMAL_ROW]), agent=agent,
                         zone=ZONE, now=clock.now(), actor=ACTOR)
    assert count(session, Client) == 2
    session.rollback()
    assert count(session, Client) == 0 and count(session, DataKey) == keys_before
    assert count(session, AuditEvent) == 0


# -- refusals ---------------------------------------------------------------------------------

def test_unknown_columns_are_refused_by_name(session, keyring, agent, clock):
    columns = (*COLUMNS, "favourite_colour", "dob")
    refused = refusal(session, keyring, csv_bytes([FULL_ROW], columns), agent, clock)
    messages = [str(e) for e in refused.errors]
    assert any('unknown column "favourite_colour"' in m for m in messages), messages
    assert any('unknown column "dob" (did you mean date_of_birth?)' in m for m in messages)
    assert all(e.line == 1 for e in refused.errors)
    assert count(session, Client) == 0


def test_a_missing_required_column_is_named(session, keyring, agent, clock):
    refused = refusal(session, keyring, csv_bytes([MINIMAL_ROW], ("first_name", "last_name")),
                      agent, clock)
    assert refused.errors == [ImportError(1, "date_of_birth",
                                          "this required column is missing from the header")]


def test_a_header_that_is_really_a_client_is_not_quoted_back(session, keyring, agent, clock):
    data = b"Maria,Alvarez,1950-03-04\nJose,Garcia,1944-12-01\n"
    refused = refusal(session, keyring, data, agent, clock)
    [error] = refused.errors
    assert error.line == 1 and "Maria" not in str(error) and "Alvarez" not in str(error)


@pytest.mark.parametrize(("data", "message"), [
    (b"", "the file is empty"),
    (b"first_name;last_name;date_of_birth\nA;B;1950-01-01\n",
     "not separated by commas"),
    ("first_name,last_name,date_of_birth\nJos\xe9,B,1950-01-01\n".encode("latin-1"),
     "not UTF-8"),
    (b"first_name,last_name,date_of_birth\n", "holds no clients"),
    (b'first_name,last_name,date_of_birth\n"Ann,Lee,1950-01-01\n', "not valid CSV"),
])
def test_files_that_are_not_usable_csv_say_why(session, keyring, agent, clock, data, message):
    refused = refusal(session, keyring, data, agent, clock)
    assert any(message in str(e) for e in refused.errors), refused.errors


def test_a_bad_row_is_reported_by_line_and_column_and_nothing_is_imported(
        session, keyring, agent, clock, factories):
    factories.client(agent)  # already in the book
    session.commit()
    clients_before, keys_before = count(session, Client), count(session, DataKey)
    rows = [FULL_ROW, MINIMAL_ROW, {**MINIMAL_ROW, "date_of_birth": "1950-02-30"}, MINIMAL_ROW]
    refused = refusal(session, keyring, csv_bytes(rows), agent, clock)
    assert refused.errors == [ImportError(
        4, "date_of_birth", "is not a date; use YYYY-MM-DD (or MM/DD/YYYY)")]
    assert count(session, Client) == clients_before
    assert count(session, DataKey) == keys_before
    for model in (Medication, Condition, Appointment, Note, PremiumPayment, Provider):
        assert count(session, model) == 0


def test_line_numbers_count_rows_as_a_spreadsheet_does(session, keyring, agent, clock):
    rows = [{**MINIMAL_ROW, "note": "line one\nline two\nline three"},
            {**MINIMAL_ROW, "zip": "9876"}]
    refused = refusal(session, keyring, csv_bytes(rows), agent, clock)
    assert [(e.line, e.column) for e in refused.errors] == [(3, "zip")]


def test_every_problem_in_the_file_is_collected(session, keyring, agent, clock):
    rows = [{**FULL_ROW, "ssn": "12-345", "email": "nobody"}, MINIMAL_ROW,
            {**MINIMAL_ROW, "first_name": "", "state": "Florida"}]
    refused = refusal(session, keyring, csv_bytes(rows), agent, clock)
    assert [(e.line, e.column) for e in refused.errors] == [
        (2, "email"), (2, "ssn"), (4, "first_name"), (4, "state")]


BAD_VALUES = [
    ("date_of_birth", "31/31/1999", "is not a date"),
    ("date_of_birth", "2099-01-01", "is in the future"),
    ("date_of_birth", "", "is required"),
    ("first_name", "", "is required"),
    ("last_name", "   ", "is required"),
    ("first_name", "Q" * 101, "too long (at most 100 characters)"),
    ("phone", "12345", "is not a phone number"),
    ("phone", "call me maybe", "is not a phone number"),
    ("email", "maria@", "is not an email address"),
    ("state", "Florida", "is not a US state code"),
    ("state", "ZZ", "is not a US state code"),
    ("zip", "9876", "dropped a leading zero"),
    ("zip", "ABCDE", "is not a ZIP code"),
    ("ssn", "987-65-432", "use 9 digits"),
    ("ssn", "SSN-UNKNOWN", "is not a Social Security number"),
    ("medicare_id", "MBI?*", "is not a Medicare number"),
    ("premium_monthly", "12.3.4", "is not an amount in dollars"),
    ("premium_monthly", "-45.10", "must be 0 or more"),
    ("premium_monthly", "€45", "is not an amount in dollars"),
    ("premium_monthly", "250000", "is more than"),
    ("plan_effective_date", "soonish", "is not a date"),
    ("appointment_at", "2030-07-15", "is not a date and time"),
    ("appointment_at", "next Tuesday 10am", "is not a date and time"),
    ("appointment_at", "2030-07-15T25:61", "is not a date and time"),
    ("appointment_at", "2020-01-06T10:00", "is in the past"),
    ("appointment_at", "2030-03-10T02:30", "does not exist in the agency's time zone"),
    ("medications", "Glipizide 850", "has a dosage without a unit"),
    ("medications", "Aspirin 81 mg; 500 mg", "entry 2 has a dosage but no name"),
    ("conditions", "; ".join(["Gout"] * 51), "more than 50 entries"),
    ("note", "N" * 4001, "too long (at most 4000 characters)"),
    ("city", "Tam\tpa", "must be one line"),
]


@pytest.mark.parametrize(("column", "value", "message"), BAD_VALUES,
                         ids=[f"{c}:{m}" for c, _v, m in BAD_VALUES])
def test_a_bad_value_is_named_by_line_and_column_never_echoed(session, keyring, agent, clock,
                                                              column, value, message):
    rows = [FULL_ROW, {**FULL_ROW, column: value}]
    refused = refusal(session, keyring, csv_bytes(rows), agent, clock)
    assert [(e.line, e.column) for e in refused.errors] == [(3, column)], refused.errors
    assert message in refused.errors[0].message
    if value.strip():
        for error in refused.errors:
            assert value.strip() not in str(error)
            assert value.strip()[:8] not in error.message
    assert count(session, Client) == 0


def test_errors_quote_no_cell_even_in_bulk(session, keyring, agent, clock):
    canary = "Zq7Canary"
    rows = [{column: f"{canary}{i}" for i, column in enumerate(COLUMNS)}] * 3
    refused = refusal(session, keyring, csv_bytes(rows), agent, clock)
    assert len(refused.errors) > 20
    assert canary not in "\n".join(str(e) for e in refused.errors)


@pytest.mark.parametrize(("text", "expected"), [
    ("Metformin 500 mg twice daily", ("Metformin", "500 mg", "twice daily")),
    ("Aspirin 81mg", ("Aspirin", "81mg", None)),
    ("Insulin glargine 10 units at bedtime", ("Insulin glargine", "10 units", "at bedtime")),
    ("Hydrocodone/APAP 5/325 mg every 6 hours", ("Hydrocodone/APAP", "5/325 mg",
                                                  "every 6 hours")),
    ("Amoxicillin 250 mg/5 mL", ("Amoxicillin", "250 mg/5 mL", None)),
    ("Albuterol 2 puffs as needed", ("Albuterol", "2 puffs", "as needed")),
    ("Vitamin B12", ("Vitamin B12", None, None)),
])
def test_medications_are_name_then_dosage(session, keyring, agent, clock, text, expected):
    run_import(session, keyring, csv_bytes([{**MINIMAL_ROW, "medications": text}]), agent,
               clock)
    medication = session.scalar(select(Medication))
    assert (medication.name, medication.dosage, medication.frequency) == expected


def test_only_agents_receive_books(session, keyring, factories, clock):
    assistant = factories.user(Role.ASSISTANT)
    disabled = factories.user(Role.AGENT, status=UserStatus.DISABLED)
    for user, message in ((assistant, "has the assistant role"), (disabled, "is disabled")):
        with pytest.raises(ValueError, match=message):
            importer.import_book(session, keyring, csv_bytes([MINIMAL_ROW]), agent=user,
                                 zone=ZONE, now=clock.now(), actor=ACTOR)
    assert count(session, Client) == 0


# -- audit ------------------------------------------------------------------------------------

def test_the_import_is_audited_with_counts_only(session, keyring, agent, clock):
    run_import(session, keyring, csv_bytes([FULL_ROW, MINIMAL_ROW]), agent, clock)
    [event] = session.scalars(select(AuditEvent)).all()
    assert event.tag == "client:import:create" and event.outcome == "success"
    assert json.loads(event.details_json) == {"clients": 2, "appointments": 1}
    assert (event.record_type, event.record_id) == ("user", agent.id)
    stored = " ".join(str(getattr(event, c.key)) for c in AuditEvent.__table__.columns)
    for value in ("Maria", "Alvarez", "1950", "Metformin", "2233", "Tampa"):
        assert value not in stored
    assert verify_chain(session).ok


def test_a_refused_file_is_audited_with_the_problem_count(session, keyring, agent, clock):
    refused = refusal(session, keyring,
                      csv_bytes([{**MINIMAL_ROW, "ssn": "1", "zip": "2"}]), agent, clock)
    importer.record_refusal(session, refused, agent=agent, actor=ACTOR)
    session.commit()
    [event] = session.scalars(select(AuditEvent)).all()
    assert (event.tag, event.outcome, event.reason) == (
        "client:import:create", "refused", "invalid_file")
    assert json.loads(event.details_json) == {"errors": 2}


# -- the command ------------------------------------------------------------------------------

@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(clients_cli, ["import", *map(str, args)])


def test_cli_imports_a_good_file(cli, session, agent, tmp_path):
    path = tmp_path / "book.csv"
    path.write_bytes(csv_bytes([FULL_ROW, MINIMAL_ROW]))
    result = cli(path, "--agent", "Book.Agent@example.com")
    assert result.exit_code == 0, result.output
    assert "Imported into book.agent@example.com's book: 2 clients" in result.output
    assert "1 appointment" in result.output
    assert count(session, Client) == 2
    event = session.scalars(select(AuditEvent)).all()[-1]
    assert event.actor_label.startswith("cli:")
    assert json.loads(event.details_json) == {"clients": 2, "appointments": 1}


def test_cli_lists_problems_and_exits_non_zero(cli, session, agent, tmp_path):
    path = tmp_path / "book.csv"
    rows = [MINIMAL_ROW, {**MINIMAL_ROW, "date_of_birth": "Feb 30 1950"}]
    rows += [{**MINIMAL_ROW, "ssn": "555-55"}] * 60
    path.write_bytes(csv_bytes(rows))
    result = cli(path, "--agent", "book.agent@example.com")
    assert result.exit_code == 1
    assert "Nothing was imported: 61 problems in book.csv." in result.output
    assert "line 3, date_of_birth: is not a date" in result.output
    assert "and 11 more" in result.output
    assert "Feb 30" not in result.output and "555-55" not in result.output
    assert count(session, Client) == 0
    assert session.scalars(select(AuditEvent)).all()[-1].outcome == "refused"


def test_cli_refuses_an_unknown_agent_a_non_agent_and_a_missing_file(cli, session, factories,
                                                                    tmp_path):
    factories.user(Role.ASSISTANT, email="helper@example.com")
    session.commit()
    path = tmp_path / "book.csv"
    path.write_bytes(csv_bytes([MINIMAL_ROW]))
    unknown = cli(path, "--agent", "nobody@example.com")
    assert unknown.exit_code == 2 and "No user with email 'nobody@example.com'" in unknown.output
    assistant = cli(path, "--agent", "helper@example.com")
    assert assistant.exit_code == 2 and "has the assistant role" in assistant.output
    missing = cli(tmp_path / "nope.csv", "--agent", "helper@example.com")
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert count(session, Client) == 0


# -- the upload page --------------------------------------------------------------------------

def upload(phone, data: bytes, **fields):
    # Encoded here, in memory: the test client would buffer a large body in a temporary file
    # of its own, and leave it open when the app refuses to read it.
    if phone.csrf_token is None:
        phone.load_csrf()
    boundary, body = encode_multipart({"csrf_token": phone.csrf_token, **fields,
                                       "file": FileStorage(io.BytesIO(data), "book.csv",
                                                           content_type="text/csv")})
    return phone.client.post("/import", data=body,
                             content_type=f"multipart/form-data; boundary={boundary}")


def user_id(session, email: str) -> str:
    return session.scalar(select(User.id).where(User.email == email))


def test_an_agent_imports_into_their_own_book(session, signed_in):
    phone = signed_in("upload.agent@example.com", "agent")
    page = phone.client.get("/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert 'name="agent"' not in page.text
    response = upload(phone, csv_bytes([FULL_ROW, MINIMAL_ROW]), agent="ignored")
    assert response.status_code == 302
    done = phone.client.get(response.headers["Location"])
    assert "Imported into your book: 2 clients" in done.text
    session.expire_all()
    owners = set(session.scalars(select(Client.agent_id)))
    assert owners == {user_id(session, "upload.agent@example.com")}


def test_an_admin_chooses_the_agent(session, signed_in, agent):
    admin = signed_in("upload.admin@example.com", "admin")
    page = admin.client.get("/import")
    assert page.status_code == 200 and f'value="{agent.id}"' in page.text
    no_agent = upload(admin, csv_bytes([MINIMAL_ROW]))
    assert no_agent.status_code == 422 and "Choose the agent" in no_agent.text
    response = upload(admin, csv_bytes([FULL_ROW]), agent=agent.id)
    assert response.status_code == 302
    assert "Imported into Book Agent&#39;s book: 1 client" in admin.client.get("/import").text
    session.expire_all()
    assert list(session.scalars(select(Client.agent_id))) == [agent.id]


def test_the_page_lists_problems_by_line_and_column_without_values(session, signed_in):
    phone = signed_in("upload.agent@example.com", "agent")
    rows = [FULL_ROW, {**FULL_ROW, "date_of_birth": "1950-13-45", "zip": "4321"}]
    response = upload(phone, csv_bytes(rows))
    assert response.status_code == 422
    assert 'data-line="3" data-column="date_of_birth"' in response.text
    assert 'data-line="3" data-column="zip"' in response.text
    assert "Nothing was imported: the file has 2 problems" in response.text
    assert "1950-13-45" not in response.text and "4321" not in response.text
    assert "Alvarez" not in response.text
    assert count(session, Client) == 0


@pytest.mark.parametrize("role", ["assistant", "compliance"])
def test_other_roles_get_403(session, signed_in, role):
    kwargs = {"agent_emails": ("boss@example.com",)} if role == "assistant" else {}
    if role == "assistant":
        signed_in("boss@example.com", "agent")
    phone = signed_in(f"{role}@example.com", role, **kwargs)
    assert phone.client.get("/import").status_code == 403
    assert upload(phone, csv_bytes([MINIMAL_ROW])).status_code == 403
    assert count(session, Client) == 0


def test_an_upload_needs_the_csrf_token(session, signed_in):
    phone = signed_in("upload.agent@example.com", "agent")
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(csv_bytes([MINIMAL_ROW])),
                                                           "book.csv")})
    response = phone.client.post("/import", data=body,
                                 content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400
    assert count(session, Client) == 0


def test_a_too_large_upload_gets_413_and_a_clear_page(session, signed_in):
    phone = signed_in("upload.agent@example.com", "agent")
    big = csv_bytes([MINIMAL_ROW]) + b"x" * (20 * 1024 * 1024)
    response = upload(phone, big)
    assert response.status_code == 413
    assert "larger than 20 MB" in response.text
    assert count(session, Client) == 0


def test_the_upload_never_touches_disk(session, signed_in, monkeypatch):
    import werkzeug.formparser

    def no_disk(*_args, **_kwargs):
        raise AssertionError("the upload was spooled to a temporary file")

    # Werkzeug's default: every uploaded file goes to a SpooledTemporaryFile (disk past 500 KB).
    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", no_disk)
    phone = signed_in("upload.agent@example.com", "agent")
    rows = [{**MINIMAL_ROW, "note": "n" * 3900}] * 160  # ~620 KB: Werkzeug would spool it
    data = csv_bytes(rows)
    assert len(data) > 600_000
    response = upload(phone, data)
    assert response.status_code == 302, response.text[:500]
    assert count(session, Client) == 160


# -- 10,000 rows --------------------------------------------------------------------------------

FIRST = ("Maria", "James", "Linda", "Robert", "Patricia", "John", "Barbara", "Wei", "Aisha", "Jose")
LAST = ("Alvarez", "Smith", "Nguyen", "Johnson", "Okafor", "Garcia", "Kowalski", "Chen")
MEDS = ("Metformin 500 mg twice daily", "Lisinopril 10 mg once daily", "Atorvastatin 20mg",
        "Amlodipine 5 mg once daily", "Levothyroxine 50 mcg every morning")


def big_book(n: int) -> bytes:
    rows = []
    for i in range(n):
        rows.append({
            "first_name": FIRST[i % len(FIRST)], "last_name": f"{LAST[i % len(LAST)]}{i}",
            "date_of_birth": f"19{40 + i % 20}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            "phone": f"(555) {100 + i % 900:03d}-{i % 10000:04d}",
            "email": f"client{i}@example.org", "street": f"{i} Harbor Lane", "city": "Tampa",
            "state": "FL", "zip": f"{33000 + i % 999}", "ssn": f"9{i:08d}",
            "medicare_id": f"1EG4TE5MK{i % 100:02d}", "plan_carrier": "Harborview Health",
            "plan_name": "Harborview Value HMO", "plan_type": "Medicare Advantage HMO",
            "plan_effective_date": "2026-01-01", "premium_monthly": f"{i % 300}.50",
            "payment_method": "Bank draft (EFT)",
            "conditions": "Hypertension;High cholesterol;Type 2 diabetes",
            "medications": ";".join(MEDS[(i + k) % len(MEDS)] for k in range(3)),
            "providers": "Dr. Ana Ruiz (Cardiology);Dr. Ben Okafor (Primary care)",
            "note": f"Imported from the old system, record {i}.",
            "appointment_at": f"2030-{1 + i % 12:02d}-{1 + i % 28:02d}T{9 + i % 8:02d}:30"
                              if i % 5 == 0 else "",
        })
    return csv_bytes(rows)


@pytest.mark.slow
def test_ten_thousand_rows_import_timed(session, keyring, agent, clock):
    rows = 10_000
    data = big_book(rows)
    started = time.perf_counter()
    book = importer.parse_book(data, zone=ZONE, now=clock.now())
    parsed = time.perf_counter()
    summary = importer.write_book(session, keyring, book, agent=agent, now=clock.now(),
                                  actor=ACTOR)
    session.commit()
    finished = time.perf_counter()
    elapsed = finished - started
    print(f"\n[import timing] {rows:,} rows ({len(data) / 1e6:.1f} MB, "
          f"{summary.describe()}) in {elapsed:.2f} s: {rows / elapsed:,.0f} rows/s "
          f"(checking {parsed - started:.2f} s, sealing and writing {finished - parsed:.2f} s)")
    assert summary.clients == rows and count(session, Client) == rows
    assert count(session, Medication) == 3 * rows and summary.appointments == rows // 5


def test_the_readme_example_imports(session, keyring, agent):
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Importing a book of business", 1)[1]
    example = section.split("```csv\n", 1)[1].split("```", 1)[0]
    header = example.splitlines()[0].split(",")
    assert tuple(header) == COLUMNS  # the documented columns are the importer's
    summary = importer.import_book(session, keyring, example.encode(), agent=agent, zone=ZONE,
                                   now=datetime(2026, 1, 1, tzinfo=UTC), actor=ACTOR)
    assert (summary.clients, summary.appointments, summary.medications) == (1, 1, 2)
