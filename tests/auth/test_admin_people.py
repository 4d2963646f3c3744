"""Changes to people on /admin/users: which agents an assistant supports (the assistant's schedule
follows on their next request; audited by id; an admin's change only), and refused role and
status changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from webapp.audit.models import AuditEvent
from webapp.auth.models import AssistantLink, User
from webapp.clock import FrozenClock
from webapp.crm.models import Appointment


@pytest.fixture
def clock():
    """9 AM in New York: the suite's clock otherwise starts at the real now, and a visit a
    minute from now would be tomorrow's late at night."""
    return FrozenClock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))


@pytest.fixture
def agency(session, factories, signed_in, clock):
    phones = {"admin": signed_in("boss@example.com", "admin"),
              "north": signed_in("north@example.com", "agent", display_name="Nora North"),
              "south": signed_in("south@example.com", "agent", display_name="Sam South")}
    phones["helper"] = signed_in("helper@example.com", "assistant",
                                 agent_emails=("north@example.com",))
    people = {email.split("@")[0]: session.scalar(select(User).where(User.email == email))
              for email in ("north@example.com", "south@example.com", "helper@example.com")}
    soon = clock.now() + timedelta(minutes=1)
    for agent, purpose in (("north", "Northern visit"), ("south", "Southern visit")):
        client = factories.client(people[agent], first_name=agent.title(), last_name="Client")
        session.add(Appointment(client=client, agent_id=people[agent].id, starts_at=soon,
                                place="Kitchen table", purpose=purpose))
    session.commit()
    return phones, people


def _links(session, assistant) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(AssistantLink.agent_id)
                               .where(AssistantLink.assistant_id == assistant.id)))


def _schedule(phone) -> str:
    return phone.client.get("/schedule").get_data(as_text=True)


def test_the_admin_sees_and_changes_whom_an_assistant_supports(session, agency):
    phones, people = agency
    page = phones["admin"].client.get("/admin/users").get_data(as_text=True)
    entry = page.split('data-user="helper@example.com"')[1].split("</li>")[0]
    assert f'value="{people["north"].id}" checked' in entry
    assert f'value="{people["south"].id}">' in entry  # offered, not checked
    assert "Northern visit" in _schedule(phones["helper"])
    assert "Southern visit" not in _schedule(phones["helper"])

    answer = phones["admin"].post_form(f"/admin/users/{people['helper'].id}/agents",
                                       {"agents": [people["south"].id]}, follow_redirects=True)
    assert "now supports Sam South" in answer.get_data(as_text=True)
    assert _links(session, people["helper"]) == {people["south"].id}
    schedule = _schedule(phones["helper"])
    assert "Southern visit" in schedule and "Northern visit" not in schedule

    event = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "user:support:change")).one()
    assert event.record_id == people["helper"].id
    assert people["south"].id in event.details_json and people["north"].id in event.details_json
    assert "Sam" not in event.details_json and "South" not in event.details_json  # ids only


def test_removing_every_agent_leaves_the_assistant_an_empty_schedule(session, agency):
    phones, people = agency
    answer = phones["admin"].post_form(f"/admin/users/{people['helper'].id}/agents", {},
                                       follow_redirects=True)
    assert "supports no agent now" in answer.get_data(as_text=True)
    assert _links(session, people["helper"]) == set()
    schedule = _schedule(phones["helper"])
    assert "Northern visit" not in schedule and "Southern visit" not in schedule


@pytest.mark.parametrize(("who", "agents", "message"), [
    ("helper", ["nope"], "Choose agents from the list."),
    ("helper", ["HELPER"], "Choose agents from the list."),  # an assistant is not an agent
    ("north", ["SOUTH"], "is not an assistant"),
])
def test_bad_changes_are_refused_clearly_and_change_nothing(session, agency, who, agents,
                                                            message):
    phones, people = agency
    ids = {"HELPER": people["helper"].id, "SOUTH": people["south"].id}
    before = {name: _links(session, person) for name, person in people.items()}
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    answer = phones["admin"].post_form(f"/admin/users/{people[who].id}/agents",
                                       {"agents": [ids.get(a, a) for a in agents]},
                                       follow_redirects=True)
    assert answer.status_code == 200 and message in answer.get_data(as_text=True)
    assert {name: _links(session, person) for name, person in people.items()} == before
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_only_an_admin_may_change_it(session, agency):
    phones, people = agency
    url = f"/admin/users/{people['helper'].id}/agents"
    for who in ("north", "helper"):
        assert phones[who].post_form(url, {"agents": [people["south"].id]}).status_code == 403
    assert _links(session, people["helper"]) == {people["north"].id}


@pytest.mark.parametrize(("who", "action", "data", "message"), [
    ("north", "role", {"role": "wizard"}, "Choose a role from the list."),
    ("boss", "role", {"role": "agent"}, "You cannot change your own role."),
    ("boss", "status", {"enabled": "0"}, "You cannot disable your own account."),
])
def test_refused_role_and_status_changes_say_why_and_change_nothing(session, agency, who,
                                                                    action, data, message):
    phones, people = agency
    person = people.get(who) or session.scalar(select(User).where(
        User.email == "boss@example.com"))
    before = (person.role, person.status)
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    answer = phones["admin"].post_form(f"/admin/users/{person.id}/{action}", data,
                                       follow_redirects=True)
    assert answer.status_code == 200 and message in answer.get_data(as_text=True)
    session.expire_all()
    assert (person.role, person.status) == before
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


@pytest.mark.parametrize("action", ["role", "status", "agents"])
def test_changes_to_someone_unknown_are_404(agency, action):
    phones, _people = agency
    answer = phones["admin"].post_form(f"/admin/users/nobody/{action}", {"role": "agent"})
    assert answer.status_code == 404
