"""The leak matrix: a client whose every field holds a unique canary, requested through every
page and fragment by every role. A forbidden canary must appear in no body or header; an
allowed one must appear where it belongs. A template that renders a forbidden field fails it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from webapp.auth.models import User
from webapp.clock import FrozenClock

C = "Zq9~"  # every canary carries this, with a prefix naming the field
CANARIES = {
    # field: canary as stored by factories.full_client(canary=C)
    "client.first_name": f"First{C}", "client.last_name": f"Last{C}",
    "client.ssn": f"900-11-{C}ssn", "client.medicare_id": f"MBI{C}",
    "client.street": f"1 {C} Street", "client.city": f"City{C}", "client.state": f"S{C}",
    "client.zip": f"Z{C}", "client.email": f"{C}@example.org",
    # Fields that cannot hold text get values found nowhere else, as the pages print them.
    "client.date_of_birth": "07/29/1931", "client.phone": "(555) 010-7788",
    "enrollment.carrier": f"Carrier{C}", "enrollment.plan_name": f"Plan{C}",
    "enrollment.plan_type": f"Type{C}", "enrollment.member_id": f"M{C}",
    "condition.name": f"Condition{C}",
    "medication.name": f"Med{C}", "medication.dosage": f"{C}mg",
    "medication.frequency": f"Daily{C}",
    "provider.name": f"Dr{C}", "provider.specialty": f"Spec{C}", "provider.phone": f"Ph{C}",
    "claim.claim_number": f"CL{C}", "claim.description": f"Visit{C}",
    "claim.status": f"paid{C}", "claim.amount": "4817.63",
    "premium.payment_method": f"Card{C}", "premium.premium_monthly": "731.97",
    "appointment.place": f"Place{C}", "appointment.purpose": f"Purpose{C}",
    "note.body": f"Note{C}", "communication.summary": f"Summary{C}",
}
# The schedule carries the client's name and phone (to call ahead), never the record itself.
SCHEDULE_FIELDS = {"client.first_name", "client.last_name", "client.phone", "appointment.place",
                   "appointment.purpose"}
CARD_FIELDS = set(CANARIES) - {"client.ssn"}  # the full SSN shows only when revealed


@pytest.fixture
def clock():
    return FrozenClock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))  # 9:00 in New York


@pytest.fixture
def agency(session, factories, signed_in):
    """Every role signed in on an approved phone, and the owner's canary client."""
    phones = {
        "owner": signed_in("owner@example.com", "agent"),
        "other_agent": signed_in("other@example.com", "agent"),
    }
    phones["assistant_linked"] = signed_in("help@example.com", "assistant",
                                           agent_emails=("owner@example.com",))
    phones["assistant_unlinked"] = signed_in("nohelp@example.com", "assistant",
                                             agent_emails=("other@example.com",))
    phones["admin"] = signed_in("boss@example.com", "admin")
    phones["compliance"] = signed_in("audit@example.com", "compliance")
    owner = session.scalar(select(User).where(User.email == "owner@example.com"))
    client = factories.full_client(owner, canary=C,
                                   appointment_at=datetime(2026, 12, 3, 15, 0, tzinfo=UTC))
    client.date_of_birth = date(1931, 7, 29)
    client.claims[0].amount = Decimal("4817.63")
    client.premiums[0].premium_monthly = Decimal("731.97")
    session.commit()
    return phones, client


def _ids(client) -> SimpleNamespace:
    records = {section: getattr(client, section)[0].id for section in EDITABLE_SECTIONS}
    return SimpleNamespace(client=client.id, agent=client.agent_id,
                           appointment=client.appointments[0].id, records=records)


EDITABLE_SECTIONS = ("enrollments", "conditions", "medications", "providers", "claims",
                     "premiums")


def _requests(ids: SimpleNamespace):
    """Every page, fragment and copy that can show client data, and every other page a signed-in
    person can open: (label, method, path, data)."""
    client_id = ids.client
    sections = [*EDITABLE_SECTIONS, "appointments", "notes", "communications"]
    yield "today", "GET", "/", None
    yield "clients", "GET", "/clients", None
    yield "search", "POST", "/clients/search", {"q": "555-010-7788"}  # its phone
    # Folded as the blind index folds it, so the echo of the query is not the canary itself.
    yield "search:name", "POST", "/clients/search", {"q": f"last{C}".lower()}
    yield "card", "GET", f"/clients/{client_id}", None
    for section in sections:
        yield f"section:{section}", "GET", f"/clients/{client_id}/sections/{section}", None
    yield "edit:contact", "GET", f"/clients/{client_id}/contact/edit", None
    for section, record_id in ids.records.items():
        yield f"new:{section}", "GET", f"/clients/{client_id}/{section}/new", None
        yield f"edit:{section}", "GET", f"/clients/{client_id}/{section}/{record_id}/edit", None
    yield "schedule", "GET", "/schedule", None
    yield "schedule:agent", "GET", f"/schedule?agent={ids.agent}", None
    yield "schedule:week", "GET", f"/schedule?view=week&date=2026-12-03&agent={ids.agent}", None
    yield "book", "GET", f"/schedule/appointments/new?agent={ids.agent}", None
    yield "move", "GET", f"/schedule/appointments/{ids.appointment}/move", None
    yield "import", "GET", "/import", None
    yield "account", "GET", "/account", None
    yield "devices", "GET", "/devices", None
    yield "admin:users", "GET", "/admin/users", None
    yield "admin:devices", "GET", "/admin/devices", None
    yield "audit", "GET", "/audit", None
    yield "emergency_review", "GET", "/compliance/emergency-access", None
    yield "offline_copy", "GET", "/devices/offline-copy", None
    # Last: a reveal is a state change (audited), so it comes after the plain reads.
    yield "ssn_reveal", "POST", f"/clients/{client_id}/ssn", {}


def _collect(phone, client) -> dict[str, str]:
    seen = {}
    for label, method, path, data in _requests(_ids(client)):
        for headers in ({}, {"HX-Request": "true"}):
            if method == "GET":
                response = phone.client.get(path, headers=headers)
            else:
                response = phone.post_form(path, data, headers=headers)
            assert response.status_code < 500, (label, response.status_code)
            text = response.get_data(as_text=True) + "\n" + "\n".join(
                f"{k}: {v}" for k, v in response.headers.items())
            seen[f"{label}{' (htmx)' if headers else ''}"] = text
    return seen


EXPECTED = {
    # role: (fields that must appear somewhere, where the card fields must appear)
    "owner": CARD_FIELDS,
    "other_agent": set(),
    "assistant_linked": SCHEDULE_FIELDS,
    "assistant_unlinked": set(),
    "admin": set(),
    "compliance": set(),
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_sees_exactly_what_it_may(agency, role):
    phones, client = agency
    responses = _collect(phones[role], client)
    allowed = EXPECTED[role] | ({"client.ssn"} if role == "owner" else set())
    for field, canary in CANARIES.items():
        where = [label for label, text in responses.items() if canary in text]
        if field in allowed:
            assert where, f"{role} should see {field} somewhere"
        else:
            assert not where, f"{role} saw forbidden {field} in {where}"


def test_owner_sees_every_card_field_on_the_card_itself(agency):
    phones, client = agency
    card = phones["owner"].client.get(f"/clients/{client.id}").get_data(as_text=True)
    missing = [f for f in CARD_FIELDS if CANARIES[f] not in card]
    assert not missing
    assert CANARIES["client.ssn"] not in card and "•••-••-" in card
    for query in (f"last{C}".lower(), "555-010-7788", "7/29/1931"):  # folded name, phone, birth
        found = phones["owner"].post_form("/clients/search", {"q": query},
                                          headers={"HX-Request": "true"})
        assert f"Last{C}" in found.get_data(as_text=True), query
    offline = phones["owner"].client.get("/devices/offline-copy").get_data(as_text=True)
    assert not [f for f in CARD_FIELDS if CANARIES[f] not in offline]
    assert CANARIES["client.ssn"] not in offline


def test_owner_today_shows_the_appointment_with_call_and_map_links(agency):
    phones, _client = agency
    today = phones["owner"].client.get("/").get_data(as_text=True)
    assert f"Last{C}" in today and f"Place{C}" in today and "10:00 AM" in today
    assert 'href="tel:' in today and 'href="geo:0,0?q=' in today
    assert "google" not in today  # no third-party map site gets the address


def test_ssn_reveal_needs_step_up_and_is_audited(agency, clock, session):
    from webapp.audit.models import AuditEvent

    phones, client = agency
    owner = phones["owner"]
    revealed = owner.post_form(f"/clients/{client.id}/ssn", headers={"HX-Request": "true"})
    assert revealed.status_code == 200 and CANARIES["client.ssn"] in revealed.get_data(
        as_text=True)
    assert 'data-remask-seconds="30"' in revealed.get_data(as_text=True)
    clock.advance(minutes=3)
    owner.client.get("/account")  # still active, but the passkey check is now stale
    stale = owner.post_form(f"/clients/{client.id}/ssn", headers={"HX-Request": "true"})
    assert stale.status_code == 403 and CANARIES["client.ssn"] not in stale.get_data(
        as_text=True)
    reveals = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "client:ssn:reveal")).all()
    assert [e.client_id for e in reveals] == [client.id]


def test_no_canary_in_urls_or_the_audit_trail(agency, session):
    from webapp.audit.models import AuditEvent

    phones, client = agency
    _collect(phones["owner"], client)
    for event in session.scalars(select(AuditEvent)):
        row = " ".join(str(v) for v in vars(event).values())
        assert C not in row, event.tag
