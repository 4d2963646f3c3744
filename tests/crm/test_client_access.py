"""Object access (IDOR), bad input, notes and calls, and break-the-glass access."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.access.models import EmergencyAccess
from webapp.audit.models import AuditEvent
from webapp.auth.models import User
from webapp.crm.models import Communication, Note


@pytest.fixture
def two_books(session, factories, signed_in):
    mine = signed_in("mine@example.com", "agent")
    theirs = signed_in("theirs@example.com", "agent")
    owner = session.scalar(select(User).where(User.email == "theirs@example.com"))
    client = factories.full_client(owner, canary="Idor1")
    session.commit()
    return mine, theirs, client


CLIENT_ROUTES = [
    ("GET", "/clients/{id}", None),
    ("GET", "/clients/{id}/sections/medications", None),
    ("GET", "/clients/{id}/sections/notes", None),
    ("POST", "/clients/{id}/notes", {"body": "sneaky"}),
    ("POST", "/clients/{id}/communications", {"channel": "call", "direction": "inbound",
                                              "summary": "sneaky"}),
    ("POST", "/clients/{id}/ssn", None),
]


@pytest.mark.parametrize(("method", "path", "data"), CLIENT_ROUTES)
def test_another_agents_client_is_404_and_audited(session, two_books, method, path, data):
    mine, _theirs, client = two_books
    url = path.format(id=client.id)
    response = (mine.client.get(url) if method == "GET" else mine.post_form(url, data))
    assert response.status_code == 404
    assert "Idor1" not in response.get_data(as_text=True)
    refusal = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "client:record:view", AuditEvent.outcome == "refused")).all()[-1]
    assert refusal.record_id == client.id and refusal.reason == "not_visible"
    assert session.scalar(select(func.count()).select_from(Note)) == 1  # the factory's only


@pytest.mark.parametrize("client_id", ["nope", "x" * 300, "../../etc", "%00", "1 OR 1=1"])
def test_unknown_or_junk_ids_are_404(two_books, client_id):
    mine, _theirs, _client = two_books
    assert mine.client.get(f"/clients/{client_id}").status_code == 404


def test_assistants_cannot_reach_client_cards_or_lists(session, factories, signed_in):
    agent = signed_in("boss.agent@example.com", "agent")
    assistant = signed_in("helper@example.com", "assistant",
                          agent_emails=("boss.agent@example.com",))
    owner = session.scalar(select(User).where(User.email == "boss.agent@example.com"))
    client = factories.full_client(owner, canary="Asst1")
    session.commit()
    assert assistant.client.get(f"/clients/{client.id}").status_code == 404
    assert assistant.client.get("/clients").status_code == 403
    assert agent.client.get(f"/clients/{client.id}").status_code == 200


@pytest.mark.parametrize(("data", "message"), [
    ({"body": ""}, "Write the note first."),
    ({"body": "   "}, "Write the note first."),
    ({"body": "x" * 4001}, "at most 4000 characters"),
])
def test_bad_notes_are_refused_beside_the_field_and_change_nothing(session, two_books, data,
                                                                   message):
    _mine, theirs, client = two_books
    response = theirs.post_form(f"/clients/{client.id}/notes", data,
                                headers={"HX-Request": "true"})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Note)) == 1  # the factory's


@pytest.mark.parametrize(("data", "message"), [
    ({"channel": "pigeon", "direction": "inbound", "summary": "x"}, "Choose call, text"),
    ({"channel": "call", "direction": "sideways", "summary": "x"}, "Choose inbound"),
    ({"channel": "call", "direction": "inbound", "summary": ""}, "Say what the call"),
    ({"channel": "call", "direction": "inbound", "summary": "y" * 1001}, "at most 1000"),
])
def test_bad_call_logs_are_refused(session, two_books, data, message):
    _mine, theirs, client = two_books
    response = theirs.post_form(f"/clients/{client.id}/communications", data,
                                headers={"HX-Request": "true"})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Communication)) == 1


def test_quick_note_and_call_log_are_encrypted_and_audited(session, two_books):
    _mine, theirs, client = two_books
    note = theirs.post_form(f"/clients/{client.id}/notes", {"body": "Wants a Part D review"},
                            headers={"HX-Request": "true"})
    assert note.status_code == 200 and "Wants a Part D review" in note.get_data(as_text=True)
    call = theirs.post_form(f"/clients/{client.id}/communications",
                            {"channel": "call", "direction": "outbound",
                             "summary": "Left a voicemail"}, headers={"HX-Request": "true"})
    assert call.status_code == 200 and "Left a voicemail" in call.get_data(as_text=True)
    raw = session.execute(select(Note.__table__.c.body)).scalars().all()
    assert all(b"Part D" not in bytes(value) for value in raw)
    tags = [e.tag for e in session.scalars(select(AuditEvent))]
    assert "client:note:create" in tags and "client:communication:create" in tags


def test_break_the_glass_needs_a_reason_lasts_an_hour_and_is_audited(session, clock,
                                                                      two_books):
    mine, _theirs, client = two_books
    refused = mine.post_form(f"/clients/{client.id}/emergency", {"reason": "because"})
    assert refused.status_code == 422 and "Say why" in refused.json["error"]
    assert mine.client.get(f"/clients/{client.id}").status_code == 404

    granted = mine.post_form(f"/clients/{client.id}/emergency",
                             {"reason": "Client called me while their agent is on leave"})
    assert granted.status_code == 302
    assert mine.client.get(f"/clients/{client.id}").status_code == 200
    grant = session.scalar(select(EmergencyAccess))
    assert (grant.expires_at - grant.granted_at).total_seconds() == 3600
    event = session.scalar(select(AuditEvent).where(AuditEvent.tag == "client:emergency:grant"))
    assert event.client_id == client.id and "leave" not in event.details_json

    for _ in range(14):  # 56 minutes of steady use
        clock.advance(minutes=4)
        assert mine.client.get("/account").status_code == 200
    assert mine.step_up().status_code == 200  # a fresh passkey check for this device
    assert mine.client.get(f"/clients/{client.id}").status_code == 200
    clock.advance(minutes=4, seconds=1)
    assert mine.step_up().status_code == 200
    assert mine.client.get(f"/clients/{client.id}").status_code == 404


def test_search_finds_only_my_clients(session, factories, two_books):
    mine, theirs, client = two_books
    response = mine.post_form("/clients/search", {"q": "LastIdor1"},
                              headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Idor1" not in response.get_data(as_text=True)
    found = theirs.post_form("/clients/search", {"q": "lastidor1"},
                             headers={"HX-Request": "true"})
    assert "LastIdor1" in found.get_data(as_text=True)
    assert f"/clients/{client.id}" in found.get_data(as_text=True)


# Routes under /clients/<client_id> that are not refused for another agent's client, and why.
NOT_OWNER_SCOPED = {
    "crm.emergency_access": "break the glass: asking for another agent's client is its purpose "
                            "(test_break_the_glass_needs_a_reason_lasts_an_hour_and_is_audited)",
}


def test_every_client_scoped_route_is_in_an_idor_test(app):
    """A new route under /clients/<client_id> must join CLIENT_ROUTES here or the record
    routes in test_records.py: this fails until it does."""
    from tests.crm.test_records import SECTIONS, _routes

    adapter = app.url_map.bind("localhost")
    record_ids = dict.fromkeys(SECTIONS, "R" * 22)
    tried = [(method, path.format(id="C" * 22)) for method, path, _data in CLIENT_ROUTES]
    tried += [(method, url) for method, url, _data in _routes("C" * 22, record_ids)]
    covered = {(adapter.match(url, method=method)[0], method) for method, url in tried}
    scoped = {(rule.endpoint, method) for rule in app.url_map.iter_rules()
              if "<client_id>" in rule.rule for method in rule.methods - {"HEAD", "OPTIONS"}}
    missing = {(endpoint, method) for endpoint, method in scoped - covered
               if endpoint not in NOT_OWNER_SCOPED}
    assert not missing, f"client-scoped routes without an IDOR test: {sorted(missing)}"
