"""The offline copy: today and today's client cards, exactly as the agent sees them online.

The page encrypts it into the phone's store with the device's cache key (see the browser tests);
here the server side: who gets it, what it holds, and that handing it out is audited.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from webapp.audit import Actor
from webapp.audit.models import AuditEvent
from webapp.auth.models import User
from webapp.clock import FrozenClock
from webapp.devices import registry

COPY = "/devices/offline-copy"
C = "Off1~"  # the canary in every text field of the agent's client
TODAY_3PM = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)  # 3 PM in the agency's time zone
TOMORROW = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    """9 AM on the day above in New York: the suite's clock otherwise starts at the real now."""
    return FrozenClock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))


def _user(session, email) -> User:
    return session.scalar(select(User).where(User.email == email))


@pytest.fixture
def day(session, factories, signed_in):
    """An agent with two clients seen today, one seen tomorrow, and a colleague's client."""
    phone = signed_in("agent@example.com", "agent")
    signed_in("other@example.com", "agent")
    me, other = _user(session, "agent@example.com"), _user(session, "other@example.com")
    today = factories.full_client(me, canary=C, appointment_at=TODAY_3PM)
    second = factories.full_client(me, canary="Two2~",
                                   appointment_at=datetime(2026, 12, 3, 16, 0, tzinfo=UTC))
    later = factories.full_client(me, canary="Later3~", appointment_at=TOMORROW)
    theirs = factories.full_client(other, canary="Theirs4~", appointment_at=TODAY_3PM)
    session.commit()
    return phone, today, second, later, theirs


def _main(html: str) -> str:
    """The part of a page inside <main>, without the per-response CSRF token."""
    main = re.search(r'<main id="app"[^>]*>(.*)</main>', html, re.S).group(1)
    return re.sub(r'name="csrf_token" value="[^"]*"', "", main)


def test_holds_today_and_the_cards_of_todays_clients_only(day):
    phone, today, second, *_ = day
    response = phone.client.get(COPY)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    paths = [page["path"] for page in response.json["pages"]]
    assert paths == ["/", f"/clients/{second.id}", f"/clients/{today.id}"]  # in day order
    body = response.get_data(as_text=True)
    assert "Later3~" not in body and "Theirs4~" not in body


def test_each_page_is_what_the_agent_sees_online(day):
    phone, today, *_ = day
    pages = {page["path"]: page["html"] for page in phone.client.get(COPY).json["pages"]}
    for path in ("/", f"/clients/{today.id}"):
        online = phone.client.get(path).get_data(as_text=True)
        assert _main(pages[path]) == _main(online), path
    card = pages[f"/clients/{today.id}"]
    assert f"Note{C}" in card and f"{C}mg" in card and f"900-11-{C}ssn" not in card


def test_handing_it_out_is_audited_per_client_and_device(session, day):
    phone, today, second, *_ = day
    phone.client.get(COPY)
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "client:record:view")).all()
    copied = [e for e in events if json.loads(e.details_json).get("view") == "offline_copy"]
    assert sorted(e.client_id for e in copied) == sorted([today.id, second.id])
    assert all(e.device_id for e in copied)


@pytest.mark.parametrize("role", ["assistant", "admin", "compliance"])
def test_other_roles_get_no_offline_copy(day, signed_in, role):
    extra = {"agent_emails": ("agent@example.com",)} if role == "assistant" else {}
    phone = signed_in(f"{role}@example.com", role, **extra)
    response = phone.client.get(COPY, headers={"Accept": "application/json"})
    assert response.status_code == 403 and "pages" not in response.json
    assert C not in response.get_data(as_text=True)


def test_a_pending_device_gets_nothing(session, factories, signed_in):
    phone = signed_in("agent@example.com", "agent", approve=False)
    factories.full_client(_user(session, "agent@example.com"), canary=C,
                          appointment_at=TODAY_3PM)
    session.commit()
    response = phone.client.get(COPY, headers={"Accept": "application/json"})
    assert response.status_code == 403 and C not in response.get_data(as_text=True)


def test_a_locked_session_gets_nothing(clock, day):
    phone, *_ = day
    clock.advance(minutes=6)
    response = phone.client.get(COPY, headers={"Accept": "application/json"})
    assert response.status_code == 423 and C not in response.get_data(as_text=True)


def test_a_wiped_device_gets_the_wiped_answer_not_the_copy(session, keyring, clock, day):
    phone, *_ = day
    session.expire_all()
    device = registry.find_device(session, phone.client.get_cookie("sh-device").value)
    registry.order_wipe(session, keyring, device, actor=Actor(label="test"), now=clock.now())
    session.commit()
    response = phone.client.get(COPY, headers={"Accept": "application/json"})
    assert response.status_code == 410 and C not in response.get_data(as_text=True)
    assert "storage" in response.headers.get("Clear-Site-Data", "")
