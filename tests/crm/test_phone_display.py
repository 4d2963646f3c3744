"""Phone numbers read one way on every page, whatever way they were typed in."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from webapp.auth.models import User
from webapp.crm.models import Appointment
from webapp.views.formatting import phone_display, tel_href


@pytest.mark.parametrize(("typed", "shown", "href"), [
    ("5705550805", "(570) 555-0805", "tel:+15705550805"),
    ("407-555-0883", "(407) 555-0883", "tel:+14075550883"),
    ("+1 215 555 0187", "(215) 555-0187", "tel:+12155550187"),
    ("(555) 010-7788", "(555) 010-7788", "tel:+15550107788"),
    ("+44 20 7946 0958", "+44 20 7946 0958", "tel:+442079460958"),
])
def test_numbers_read_one_way_and_dial_in_e164(typed, shown, href):
    assert phone_display(typed) == shown
    assert tel_href(typed) == href


def test_something_that_is_not_a_number_is_shown_as_typed():
    assert phone_display("ask at the front desk") == "ask at the front desk"
    assert phone_display(None) == "" and tel_href(None) == ""


def test_the_list_and_the_card_show_the_number_one_way_and_today_dials_it(
        session, factories, signed_in, clock):
    agent = signed_in("dial@example.com", "agent")
    owner = session.scalar(select(User).where(User.email == "dial@example.com"))
    client = factories.client(owner, phone="5705550805")
    session.add(Appointment(client=client, agent_id=owner.id, starts_at=clock.now(),
                            place="Kitchen table", purpose="Plan review"))
    session.commit()
    for path in ("/clients", f"/clients/{client.id}"):
        text = re.sub(r"<[^>]+>", " ", agent.client.get(path).get_data(as_text=True))
        assert "(570) 555-0805" in text, path
        assert "5705550805" not in text, path  # what was typed shows nowhere as typed
    assert 'href="tel:+15705550805"' in agent.client.get("/").get_data(as_text=True)
