"""`/compliance/emergency-access`: every break-the-glass grant, its reason and status, and
what was done under it, read from the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from webapp.audit import Actor
from webapp.audit.models import AuditEvent
from webapp.auth.models import User
from webapp.crm.service import grant_emergency_access

REASON = "Covering for a colleague on leave this week"
PAGE = "/compliance/emergency-access"


def _grant_item(html: str, client_id: str) -> str:
    """The list item of the (first) grant for `client_id`."""
    for item in re.findall(r'<li class="list-item grant.*?</li>', html, re.S):
        if client_id in item:
            return item
    raise AssertionError(f"no grant for {client_id} on the page")


def _break_the_glass(agency, reason: str = REASON):
    response = agency.glass.post_form(f"/clients/{agency.client.id}/emergency",
                                      {"reason": reason})
    assert response.status_code == 302
    return response


def test_officer_sees_the_grant_its_reason_and_status_then_expiry(session, clock, agency):
    _break_the_glass(agency)
    page = agency.officer.client.get(PAGE)
    assert page.status_code == 200
    item = _grant_item(page.get_data(as_text=True), agency.client.id)
    assert "glass@example.com" in item and "owner@example.com" in item
    assert REASON in item
    assert 'data-status="active"' in item and "Active now" in item
    assert "grant-active" in item

    clock.advance(minutes=61)
    # The officer's session idled out meanwhile: sign in again, as a person would.
    assert agency.officer.sign_in().status_code == 200
    later = _grant_item(agency.officer.client.get(PAGE).get_data(as_text=True),
                        agency.client.id)
    assert 'data-status="expired"' in later and "Expired" in later
    assert "grant-active" not in later


def test_views_and_actions_under_a_grant_are_counted(agency):
    _break_the_glass(agency)
    item = _grant_item(agency.officer.client.get(PAGE).get_data(as_text=True),
                       agency.client.id)
    assert 'data-views="0"' in item and 'data-actions="0"' in item

    assert agency.glass.client.get(f"/clients/{agency.client.id}").status_code == 200
    note = agency.glass.post_form(f"/clients/{agency.client.id}/notes",
                                  {"body": "Called about a refill"},
                                  headers={"HX-Request": "true"})
    assert note.status_code == 200
    # The owner's own views of their client are not under the grant.
    assert agency.owner.client.get(f"/clients/{agency.client.id}").status_code == 200

    item = _grant_item(agency.officer.client.get(PAGE).get_data(as_text=True),
                       agency.client.id)
    assert 'data-views="1"' in item and 'data-actions="1"' in item


def test_active_grants_come_first_newest_first(session, clock, factories, agency):
    glass = session.scalar(select(User).where(User.email == "glass@example.com"))
    owner = session.scalar(select(User).where(User.email == "owner@example.com"))
    older = factories.client(owner)
    grant_emergency_access(session, viewer=glass, client_id=older.id, reason=REASON + " (old)",
                           now=clock.now() - timedelta(hours=3), actor=Actor(label="test"))
    session.commit()
    _break_the_glass(agency)
    html = agency.officer.client.get(PAGE).get_data(as_text=True)
    statuses = re.findall(r'data-status="(\w+)"', html)
    assert statuses == ["active", "expired"]
    assert html.index(agency.client.id) < html.index(older.id)
    assert "1 active now" in html


def test_the_page_links_back_to_the_trail_and_viewing_it_is_audited(session, agency):
    _break_the_glass(agency)
    html = agency.officer.client.get(PAGE).get_data(as_text=True)
    assert "/audit?area=emergency" in html
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "compliance:emergency:view")).all()[-1]
    assert event.actor_user_id == agency.user_id(session, "officer@example.com")
    assert event.outcome == "success" and event.client_id is None
    assert REASON not in event.details_json


def test_no_grants_yet(agency):
    page = agency.officer.client.get(PAGE)
    assert page.status_code == 200
    assert "No emergency access has been granted." in page.get_data(as_text=True)
