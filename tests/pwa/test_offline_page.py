"""GET /offline: what the service worker shows when a page cannot load for want of a network.
Public, the same for everyone, and nothing in it that a session or a client could put there."""

from __future__ import annotations

CANARY = "Offl9Z"


def test_public_without_a_session(app):
    response = app.test_client().get("/offline")
    assert response.status_code == 200  # not a redirect to /login
    assert "Set-Cookie" not in response.headers
    text = response.get_data(as_text=True)
    assert "You're offline" in text
    assert "The data on this phone needs a connection to unlock" in text


def test_no_script_no_token_no_inline_style(app):
    text = app.test_client().get("/offline").get_data(as_text=True)
    assert "<script" not in text
    assert "csrf" not in text.lower()
    assert "style=" not in text
    assert 'href="/static/app.css"' in text


def test_same_page_for_a_signed_in_agent_with_clients(signed_in, factories, session, app):
    from sqlalchemy import select

    from webapp.auth.models import User

    phone = signed_in("agent@example.com", "agent")
    agent = session.scalar(select(User).where(User.email == "agent@example.com"))
    factories.full_client(agent, canary=CANARY)
    session.commit()
    assert CANARY in phone.client.get("/clients").get_data(as_text=True)  # the agent's book

    signed_in_copy = phone.client.get("/offline").get_data(as_text=True)
    anonymous_copy = app.test_client().get("/offline").get_data(as_text=True)
    assert signed_in_copy == anonymous_copy
    assert CANARY not in signed_in_copy and "agent@example.com" not in signed_in_copy
