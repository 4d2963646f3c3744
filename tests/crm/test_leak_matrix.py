"""The leak matrix: a client whose every field holds a unique canary, requested through every
page and fragment by every role. A forbidden canary must appear in no body or header; an
allowed one must appear where it belongs. A template that renders a forbidden field fails it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from webapp.auth.models import User
from webapp.clock import FrozenClock

C = "Zq9~"  # every canary carries this, with a prefix naming the field
CANARIES = {
    # field: canary as stored by factories.full_client(canary=C)
    "client.first_name": f"First{C}", "client.last_name": f"Last{C}",
    "client.ssn": f"900-11-{C}ssn", "client.medicare_id": f"MBI{C}",
    "client.street": f"1 {C} Street", "client.city": f"City{C}", "client.zip": f"Z{C}",
    "client.email": f"{C}@example.org",
    "enrollment.carrier": f"Carrier{C}", "enrollment.plan_name": f"Plan{C}",
    "enrollment.member_id": f"M{C}",
    "condition.name": f"Condition{C}",
    "medication.name": f"Med{C}", "medication.dosage": f"{C}mg",
    "medication.frequency": f"Daily{C}",
    "provider.name": f"Dr{C}", "provider.specialty": f"Spec{C}",
    "claim.claim_number": f"CL{C}", "claim.description": f"Visit{C}",
    "premium.payment_method": f"Card{C}",
    "appointment.place": f"Place{C}", "appointment.purpose": f"Purpose{C}",
    "note.body": f"Note{C}", "communication.summary": f"Summary{C}",
}
SCHEDULE_FIELDS = {"client.first_name", "client.last_name", "appointment.place",
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
    session.commit()
    return phones, client


def _requests(client_id: str):
    """Every page and fragment that can show client data: (label, method, path, data)."""
    sections = ["enrollments", "conditions", "medications", "providers", "claims", "premiums",
                "appointments", "notes", "communications"]
    yield "today", "GET", "/", None
    yield "clients", "GET", "/clients", None
    yield "search", "POST", "/clients/search", {"q": "555-010-7788"}  # its phone
    yield "card", "GET", f"/clients/{client_id}", None
    for section in sections:
        yield f"section:{section}", "GET", f"/clients/{client_id}/sections/{section}", None
    yield "schedule", "GET", "/schedule", None
    yield "account", "GET", "/account", None
    yield "devices", "GET", "/devices", None
    yield "offline_copy", "GET", "/devices/offline-copy", None


def _collect(phone, client_id: str) -> dict[str, str]:
    seen = {}
    for label, method, path, data in _requests(client_id):
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
    responses = _collect(phones[role], client.id)
    allowed = EXPECTED[role]
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
    _collect(phones["owner"], client.id)
    for event in session.scalars(select(AuditEvent)):
        row = " ".join(str(v) for v in vars(event).values())
        assert C not in row, event.tag
