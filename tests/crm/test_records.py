"""Adding, editing and deleting the client card's records: values are sealed and decrypt back,
every write is audited by field name (never value), bad input is refused beside its field and
changes nothing, and nobody reaches another client's records."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from webapp.audit import SYSTEM
from webapp.audit.models import AuditEvent
from webapp.auth.models import User
from webapp.crm import records
from webapp.crm.models import (
    Claim,
    Client,
    Condition,
    EnrollmentStatus,
    Medication,
    PlanEnrollment,
    PremiumPayment,
    Provider,
)
from webapp.crm.service import InvalidInput

C = "Rq7~"  # the canary in every text field; "~" is in no random token (CSRF, nonce)
HX = {"HX-Request": "true"}

MODELS = {
    "enrollments": PlanEnrollment, "conditions": Condition, "medications": Medication,
    "providers": Provider, "claims": Claim, "premiums": PremiumPayment,
}
KINDS = {"enrollments": "enrollment", "conditions": "condition", "medications": "medication",
         "providers": "provider", "claims": "claim", "premiums": "premium"}

# A valid form per section, and what each field must decrypt back to.
VALID = {
    "enrollments": {"carrier": "Humana", "plan_name": "Gold Plus HMO",
                    "plan_type": "Medicare Advantage", "member_id": "H1234-5678",
                    "effective_date": "2025-01-01", "end_date": "", "status": "active"},
    "conditions": {"name": "Type 2 diabetes", "noted_on": "2021-04-15"},
    "medications": {"name": "Metformin", "dosage": "500 mg", "frequency": "twice a day"},
    "providers": {"name": "Dr. Ana Ruiz", "specialty": "Cardiology",
                  "phone": "(555) 201-3344"},
    "claims": {"claim_number": "CLM-2025-0042", "service_date": "2025-06-01",
               "description": "Annual wellness visit", "amount": "120.5", "status": "paid"},
    "premiums": {"premium_monthly": "31.20", "payment_method": "Bank draft",
                 "billing_day": "5"},
}
STORED = {
    "enrollments": {"carrier": "Humana", "plan_name": "Gold Plus HMO",
                    "plan_type": "Medicare Advantage", "member_id": "H1234-5678",
                    "effective_date": date(2025, 1, 1), "end_date": None,
                    "status": EnrollmentStatus.ACTIVE},
    "conditions": {"name": "Type 2 diabetes", "noted_on": date(2021, 4, 15)},
    "medications": {"name": "Metformin", "dosage": "500 mg", "frequency": "twice a day"},
    "providers": {"name": "Dr. Ana Ruiz", "specialty": "Cardiology",
                  "phone": "(555) 201-3344"},
    "claims": {"claim_number": "CLM-2025-0042", "service_date": date(2025, 6, 1),
               "description": "Annual wellness visit", "amount": Decimal("120.50"),
               "status": "paid"},
    "premiums": {"premium_monthly": Decimal("31.20"), "payment_method": "Bank draft",
                 "billing_day": 5},
}
# One field per section to change in an edit, and its new value (form, stored).
EDIT = {
    "enrollments": ("status", "ended", EnrollmentStatus.ENDED),
    "conditions": ("name", "Hypertension", "Hypertension"),
    "medications": ("dosage", "1000 mg", "1000 mg"),
    "providers": ("specialty", "Primary care", "Primary care"),
    "claims": ("amount", "99.99", Decimal("99.99")),
    "premiums": ("billing_day", "28", 28),
}
SECTIONS = list(VALID)

VALID_CONTACT = {
    "first_name": "Maria", "last_name": "Alvarez-Soto", "date_of_birth": "1948-06-02",
    "phone": "555-201-3344", "email": "maria@example.org", "street": "12 Palm Way",
    "city": "Tampa", "state": "fl", "zip": "336021234", "medicare_id": "1eg4-te5-mk72",
    "ssn": "",
}


@pytest.fixture
def book(session, factories, signed_in):
    """Me and another agent, each with a client full of canaries; and my second client."""
    me = signed_in("me@example.com", "agent")
    other = signed_in("other@example.com", "agent")
    my_user = session.scalar(select(User).where(User.email == "me@example.com"))
    their_user = session.scalar(select(User).where(User.email == "other@example.com"))
    client = factories.full_client(my_user, canary=C)
    second = factories.full_client(my_user, canary="Two2~")
    theirs = factories.full_client(their_user, canary="Theirs3")
    session.commit()
    return SimpleNamespace(me=me, other=other, client=client, second=second, theirs=theirs)


def rows_of(session, section, client_id):
    session.expire_all()
    model = MODELS[section]
    return session.scalars(select(model).where(model.client_id == client_id)).all()


def count(session, model=None, **where):
    session.expire_all()
    if model is None:
        return session.scalar(select(func.count()).select_from(AuditEvent))
    return session.scalar(select(func.count()).select_from(model).filter_by(**where))


def last_event(session, tag):
    session.expire_all()
    return session.scalars(select(AuditEvent).where(AuditEvent.tag == tag)
                           .order_by(AuditEvent.seq.desc())).first()


def error_beside(body: str, name: str) -> str:
    """The message shown beside field `name` (the field macro's `<name>-error` paragraph)."""
    match = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', body)
    assert match, f"no error beside {name}"
    return match.group(1)


def assert_audit_clean(event, *secrets: str) -> None:
    for secret in (C, *secrets):
        assert secret not in event.details_json


# -- happy paths ---------------------------------------------------------------------------------

@pytest.mark.parametrize("section", SECTIONS)
def test_add_edit_and_delete_each_section(session, book, section):
    base = f"/clients/{book.client.id}/{section}"
    before = {r.id for r in rows_of(session, section, book.client.id)}

    form = book.me.client.get(f"{base}/new")
    assert form.status_code == 200 and "<html" in form.get_data(as_text=True)

    created = book.me.post_form(f"{base}/new", VALID[section], headers=HX)
    assert created.status_code == 200, created.get_data(as_text=True)
    assert f'id="{section}"' in created.get_data(as_text=True)  # the refreshed section
    [record] = [r for r in rows_of(session, section, book.client.id) if r.id not in before]
    for name, value in STORED[section].items():
        assert getattr(record, name) == value, name
    event = last_event(session, "client:record:create")
    assert event.record_type == KINDS[section] and event.record_id == record.id
    assert event.client_id == book.client.id
    given = [name for name, value in STORED[section].items() if value is not None]
    assert json.loads(event.details_json) == {"fields": given}
    assert_audit_clean(event, *(v for v in VALID[section].values() if len(v) > 3))

    edit_url = f"{base}/{record.id}/edit"
    page = book.me.client.get(edit_url)
    assert page.status_code == 200
    name, typed, stored = EDIT[section]
    edited = book.me.post_form(edit_url, {**VALID[section], name: typed})
    assert edited.status_code == 302
    assert edited.headers["Location"].endswith(f"/clients/{book.client.id}#{section}")
    session.expire_all()
    record = session.get(MODELS[section], record.id)
    assert getattr(record, name) == stored
    event = last_event(session, "client:record:edit")
    assert json.loads(event.details_json) == {"fields": [name]}
    assert event.record_type == KINDS[section] and event.record_id == record.id
    assert_audit_clean(event, typed)

    deleted = book.me.post_form(f"{base}/{record.id}/delete", headers=HX)
    assert deleted.status_code == 200 and f'id="{section}"' in deleted.get_data(as_text=True)
    assert {r.id for r in rows_of(session, section, book.client.id)} == before
    event = last_event(session, "client:record:delete")
    assert event.record_type == KINDS[section] and event.record_id == record.id
    assert event.client_id == book.client.id and "fields" in json.loads(event.details_json)


@pytest.mark.parametrize("section", SECTIONS)
def test_edit_form_is_prefilled_and_a_fragment_for_htmx(session, book, section):
    record = rows_of(session, section, book.client.id)[0]
    url = f"/clients/{book.client.id}/{section}/{record.id}/edit"
    fragment = book.me.client.get(url, headers=HX).get_data(as_text=True)
    assert "<html" not in fragment and f'id="{section}"' in fragment
    assert f'hx-post="{url}"' in fragment and "/delete" in fragment
    canary_fields = [v for v in STORED[section] if isinstance(getattr(record, v), str)]
    assert any(f'value="{getattr(record, v)}"' in fragment for v in canary_fields)
    page = book.me.client.get(url, headers={**HX, "HX-Boosted": "true"})
    assert "<html" in page.get_data(as_text=True)  # a boosted navigation gets the page
    event = last_event(session, "client:record:view")
    assert json.loads(event.details_json) == {"view": f"edit:{section}"}


def test_nothing_changed_is_not_audited_as_an_edit(session, book):
    base = f"/clients/{book.client.id}/medications"
    book.me.post_form(f"{base}/new", VALID["medications"])
    record = next(r for r in rows_of(session, "medications", book.client.id)
                  if r.name == "Metformin")
    response = book.me.post_form(f"{base}/{record.id}/edit",
                                 {**VALID["medications"], "name": "  Metformin "})
    assert response.status_code == 302
    assert last_event(session, "client:record:edit") is None


def test_contact_edit_saves_cleans_and_audits_names_only(session, book):
    url = f"/clients/{book.client.id}/contact/edit"
    page = book.me.client.get(url).get_data(as_text=True)
    assert f'value="First{C}"' in page  # pre-filled
    assert f"900-11-{C}ssn" not in page  # the SSN never is
    response = book.me.post_form(url, {**VALID_CONTACT, "ssn": "123 45 6789"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/clients/{book.client.id}#contact")
    session.expire_all()
    client = session.get(Client, book.client.id)
    assert (client.first_name, client.last_name) == ("Maria", "Alvarez-Soto")
    assert client.date_of_birth == date(1948, 6, 2)
    assert (client.state, client.zip, client.medicare_id) == ("FL", "33602-1234", "1EG4TE5MK72")
    assert client.ssn == "123-45-6789" and client.email == "maria@example.org"
    event = last_event(session, "client:record:edit")
    fields = json.loads(event.details_json)["fields"]
    assert "ssn" in fields and "first_name" in fields and "phone" in fields
    assert event.record_type == "client" and event.client_id == client.id
    assert_audit_clean(event, "6789", "Maria", "Alvarez", "Tampa", "1948", "MK72", "3344")

    again = book.me.client.get(url).get_data(as_text=True)
    assert "6789" in again and "123-45-6789" not in again  # only "On file: •••-••-6789"
    kept = book.me.post_form(url, {**VALID_CONTACT, "city": "Orlando"})
    assert kept.status_code == 302
    session.expire_all()
    client = session.get(Client, book.client.id)
    assert client.ssn == "123-45-6789" and client.city == "Orlando"  # an empty SSN keeps it
    assert json.loads(last_event(session, "client:record:edit").details_json) == {
        "fields": ["city"]}


def test_contact_edit_over_htmx_reloads_the_card(session, book):
    response = book.me.post_form(f"/clients/{book.client.id}/contact/edit", VALID_CONTACT,
                                 headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/clients/{book.client.id}#contact"


def test_posted_ids_cannot_move_a_record_to_another_client(session, book):
    response = book.me.post_form(
        f"/clients/{book.client.id}/conditions/new",
        {**VALID["conditions"], "client_id": book.theirs.id, "id": "chosen-id"})
    assert response.status_code == 302
    assert count(session, Condition, client_id=book.theirs.id) == 1  # the factory's
    mine = rows_of(session, "conditions", book.client.id)
    assert len(mine) == 2 and "chosen-id" not in {r.id for r in mine}


def test_an_emergency_grant_lets_another_agent_edit(session, book):
    url = f"/clients/{book.theirs.id}/medications/new"
    assert book.me.post_form(url, VALID["medications"]).status_code == 404
    granted = book.me.post_form(f"/clients/{book.theirs.id}/emergency",
                                {"reason": "Their agent is out and the client called me"})
    assert granted.status_code == 302
    assert book.me.post_form(url, VALID["medications"]).status_code == 302
    assert count(session, Medication, client_id=book.theirs.id) == 2


# -- bad input -----------------------------------------------------------------------------------

BAD = [
    # (section, changes to a valid form, field, part of the message)
    ("contact", {"first_name": ""}, "first_name", "Enter the first name."),
    ("contact", {"last_name": "x" * 81}, "last_name", "at most 80 characters"),
    ("contact", {"date_of_birth": "2099-01-01"}, "date_of_birth", "cannot be in the future"),
    ("contact", {"date_of_birth": "1950-02-30"}, "date_of_birth", "as a real date"),
    ("contact", {"date_of_birth": "yesterday"}, "date_of_birth", "as a real date"),
    ("contact", {"date_of_birth": "1850-01-01"}, "date_of_birth", "1900 or later"),
    ("contact", {"phone": "12"}, "phone", "area code"),
    ("contact", {"email": "maria-at-home"}, "email", "not an email address"),
    ("contact", {"state": "Florida"}, "state", "two-letter state code"),
    ("contact", {"state": "ZZ"}, "state", "two-letter state code"),
    ("contact", {"zip": "3360"}, "zip", "5-digit ZIP code"),
    ("contact", {"medicare_id": "1SG4TE5MK72"}, "medicare_id", "11 letters and digits"),
    ("contact", {"medicare_id": "12345"}, "medicare_id", "11 letters and digits"),
    ("contact", {"ssn": "123-45-678"}, "ssn", "Social Security number like"),
    ("contact", {"ssn": "666-45-6789"}, "ssn", "Social Security number like"),
    ("contact", {"city": "Tam\x00pa"}, "city", "control characters"),
    ("enrollments", {"carrier": ""}, "carrier", "Enter the carrier."),
    ("enrollments", {"status": "lapsed"}, "status", "Choose active, pending or ended."),
    ("enrollments", {"end_date": "2024-12-31"}, "end_date", "cannot be before"),
    ("enrollments", {"effective_date": "soon"}, "effective_date", "as a real date"),
    ("enrollments", {"member_id": "H" * 41}, "member_id", "at most 40 characters"),
    ("enrollments", {"member_id": "<script>"}, "member_id", "letters, digits and dashes"),
    ("conditions", {"name": "   "}, "name", "Enter the condition."),
    ("conditions", {"noted_on": "2099-01-01"}, "noted_on", "cannot be in the future"),
    ("medications", {"name": ""}, "name", "Enter the medication."),
    ("medications", {"dosage": "5" * 41}, "dosage", "at most 40 characters"),
    ("providers", {"name": "D" * 81}, "name", "at most 80 characters"),
    ("providers", {"phone": "call me"}, "phone", "area code"),
    ("claims", {"amount": "abc"}, "amount", "in dollars and cents"),
    ("claims", {"amount": "NaN"}, "amount", "in dollars and cents"),
    ("claims", {"amount": "Infinity"}, "amount", "in dollars and cents"),
    ("claims", {"amount": "-5"}, "amount", "cannot be negative"),
    ("claims", {"amount": "1.234"}, "amount", "at most two decimals"),
    ("claims", {"amount": "1e400"}, "amount", "at most $1,000,000"),
    ("claims", {"amount": ""}, "amount", "Enter the amount."),
    ("claims", {"status": "approved"}, "status", "Choose pending, paid or denied."),
    ("claims", {"service_date": "2099-01-01"}, "service_date", "cannot be in the future"),
    ("premiums", {"billing_day": "99"}, "billing_day", "from 1 to 28"),
    ("premiums", {"billing_day": "0"}, "billing_day", "from 1 to 28"),
    ("premiums", {"billing_day": "abc"}, "billing_day", "from 1 to 28"),
    ("premiums", {"billing_day": "5.5"}, "billing_day", "from 1 to 28"),
    ("premiums", {"premium_monthly": "abc"}, "premium_monthly", "in dollars and cents"),
    ("premiums", {"premium_monthly": "100000.01"}, "premium_monthly", "at most $100,000"),
]


def _snapshot(session, client_id):
    session.expire_all()
    client = session.get(Client, client_id)
    state = {name: getattr(client, name) for name in VALID_CONTACT}
    for section, model in MODELS.items():
        state[section] = sorted(
            (r.id, tuple(repr(getattr(r, f)) for f in STORED[section]))
            for r in session.scalars(select(model).where(model.client_id == client_id)))
    return state


@pytest.mark.parametrize(("section", "changes", "field", "message", "htmx"),
                         [(*b, i % 2 == 1) for i, b in enumerate(BAD)],
                         ids=[f"{b[0]}-{b[2]}-{'htmx' if i % 2 else 'page'}-{i}"
                              for i, b in enumerate(BAD)])
def test_bad_input_is_refused_beside_the_field_and_changes_nothing(session, book, section,
                                                                   changes, field, message,
                                                                   htmx):
    if section == "contact":
        urls = [f"/clients/{book.client.id}/contact/edit"]
        data = {**VALID_CONTACT, **changes}
    else:
        record = rows_of(session, section, book.client.id)[0]
        urls = [f"/clients/{book.client.id}/{section}/new",
                f"/clients/{book.client.id}/{section}/{record.id}/edit"]
        data = {**VALID[section], **changes}
    before, events = _snapshot(session, book.client.id), count(session)
    for url in urls:
        response = book.me.post_form(url, data, headers=HX if htmx else {})
        body = response.get_data(as_text=True)
        assert response.status_code == 422, body
        assert message in error_beside(body, field)
        assert ("<html" in body) is not htmx
        assert 'aria-invalid="true"' in body
    assert _snapshot(session, book.client.id) == before
    assert count(session) == events  # not even an audit event: nothing happened


def test_every_problem_is_shown_at_once(book):
    response = book.me.post_form(f"/clients/{book.client.id}/claims/new",
                                 {"amount": "abc", "status": "x", "service_date": ""})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    for name in ("amount", "status", "service_date"):
        assert error_beside(body, name)


def test_a_refused_ssn_is_not_echoed_back(book):
    response = book.me.post_form(f"/clients/{book.client.id}/contact/edit",
                                 {**VALID_CONTACT, "ssn": "123-45-67890", "state": "Nowhere"})
    assert response.status_code == 422
    assert "123-45-6789" not in response.get_data(as_text=True)


# -- who may reach what --------------------------------------------------------------------------

def _routes(client_id: str, record_ids: dict[str, str]):
    yield "GET", f"/clients/{client_id}/contact/edit", None
    yield "POST", f"/clients/{client_id}/contact/edit", VALID_CONTACT
    for section in SECTIONS:
        record_id = record_ids[section]
        yield "GET", f"/clients/{client_id}/{section}/new", None
        yield "POST", f"/clients/{client_id}/{section}/new", VALID[section]
        yield "GET", f"/clients/{client_id}/{section}/{record_id}/edit", None
        yield "POST", f"/clients/{client_id}/{section}/{record_id}/edit", VALID[section]
        yield "POST", f"/clients/{client_id}/{section}/{record_id}/delete", {}


def _record_ids(session, client_id):
    return {s: rows_of(session, s, client_id)[0].id for s in SECTIONS}


def _call(phone, method, url, data):
    return phone.client.get(url) if method == "GET" else phone.post_form(url, data)


def test_another_agents_client_is_404_everywhere_and_changes_nothing(session, book):
    before, theirs = _snapshot(session, book.theirs.id), _record_ids(session, book.theirs.id)
    for method, url, data in _routes(book.theirs.id, theirs):
        response = _call(book.me, method, url, data)
        assert response.status_code == 404, (method, url)
        assert "Theirs3" not in response.get_data(as_text=True)
    assert _snapshot(session, book.theirs.id) == before
    refusal = last_event(session, "client:record:view")
    assert refusal.outcome == "refused" and refusal.record_id == book.theirs.id


@pytest.mark.parametrize("whose", ["theirs", "second"])
def test_a_record_id_of_another_client_under_mine_is_404(session, book, whose):
    other = getattr(book, whose)
    foreign = _record_ids(session, other.id)
    before = (_snapshot(session, other.id), _snapshot(session, book.client.id))
    for method, url, data in _routes(book.client.id, foreign):
        if "/new" in url or "/contact/" in url:
            continue
        response = _call(book.me, method, url, data)
        assert response.status_code == 404, (method, url)
        assert "Theirs3" not in response.get_data(as_text=True)
        assert "Two2~" not in response.get_data(as_text=True)
    assert (_snapshot(session, other.id), _snapshot(session, book.client.id)) == before
    refusal = last_event(session, "client:record:view")
    assert refusal.outcome == "refused" and refusal.client_id == book.client.id
    assert refusal.record_id in foreign.values()


@pytest.mark.parametrize("role", ["assistant", "admin", "compliance"])
def test_other_roles_get_404_even_for_the_agent_they_support(session, book, signed_in, role):
    extra = {"agent_emails": ("me@example.com",)} if role == "assistant" else {}
    person = signed_in(f"{role}@example.com", role, **extra)
    before, mine = _snapshot(session, book.client.id), _record_ids(session, book.client.id)
    for method, url, data in _routes(book.client.id, mine):
        response = _call(person, method, url, data)
        assert response.status_code == 404, (method, url)
        assert C not in response.get_data(as_text=True)
    assert _snapshot(session, book.client.id) == before


@pytest.mark.parametrize("path", [
    "/clients/{id}/notes/new", "/clients/{id}/appointments/new", "/clients/{id}/sections/new",
    "/clients/{id}/medications/{junk}/edit", "/clients/{id}/medications/../edit",
    "/clients/{id}/medications/%00/edit", "/clients/nope/medications/new",
    "/clients/{long}/contact/edit",
])
def test_unknown_sections_and_junk_ids_are_404(book, path):
    url = path.format(id=book.client.id, junk="x" * 300, long="y" * 300)
    assert book.me.client.get(url).status_code == 404
    assert book.me.post_form(url, {"name": "x"}).status_code in (404, 405)


def test_a_post_without_the_csrf_token_is_400_and_changes_nothing(session, book):
    before, mine = _snapshot(session, book.client.id), _record_ids(session, book.client.id)
    for method, url, data in _routes(book.client.id, mine):
        if method == "POST":
            response = book.me.client.post(url, data=data)
            assert response.status_code == 400, url
            wrong = book.me.client.post(url, data={**data, "csrf_token": "forged"})
            assert wrong.status_code == 400, url
    assert _snapshot(session, book.client.id) == before


# -- the domain service without HTTP -------------------------------------------------------------

@pytest.mark.parametrize(("kind", "name", "value"), [
    ("claim", "amount", 120.5),  # a float is not money
    ("claim", "amount", "120.50"),  # text is not parsed here: the caller parses
    ("claim", "service_date", "2025-06-01"),
    ("contact", "date_of_birth", datetime(1950, 3, 4, tzinfo=UTC)),
    ("premium", "billing_day", True),
    ("premium", "billing_day", "5"),
    ("medication", "name", 42),
])
def test_the_service_refuses_wrong_python_types_with_a_message(kind, name, value):
    kind = "client" if kind == "contact" else kind
    _cleaned, errors = records.clean(kind, {name: value}, today=date(2026, 1, 1), partial=True)
    assert errors[name].startswith(("Enter the", "Choose a billing day"))


def test_the_service_refuses_unknown_fields_and_changes_nothing(session, factories):
    client = factories.client()
    with pytest.raises(ValueError, match="no editable field"):
        records.create_record(session, client=client, section="medications",
                              values={"name": "Aspirin", "client_id": "someone-else"},
                              today=date(2026, 1, 1), actor=SYSTEM)
    with pytest.raises(InvalidInput) as refused:
        records.update_contact(session, client=client, values={"zip": "1"},
                               today=date(2026, 1, 1), actor=SYSTEM)
    assert refused.value.field == "zip"
    assert client.zip is None
