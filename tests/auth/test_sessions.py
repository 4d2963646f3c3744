"""Server-side sessions: revocation, idle lock, idle end and absolute end, step-up."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from webapp.audit.models import AuditEvent
from webapp.auth.models import User, UserSession
from webapp.auth.sessions import find_session


def _tags(session) -> list[str]:
    session.expire_all()
    return [e.tag for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]


def _reuse_cookie(phone, app, token):
    """A second browser replaying a stolen/old session cookie."""
    thief = phone()
    thief.client.set_cookie("sh-session", token, domain="localhost")
    return thief


def test_logout_revokes_the_session_at_once(app, phone, signed_in):
    device = signed_in()
    token = device.session_cookie()
    device.logout()
    replay = _reuse_cookie(phone, app, token)
    assert replay.client.get("/account").status_code == 302
    assert replay.client.get("/account").headers["Location"].endswith("/login")


def test_disabling_a_user_revokes_their_sessions(app, session, phone, signed_in):
    admin = signed_in("boss@example.com", "admin")
    agent = signed_in("worker@example.com", "agent")
    worker = session.scalar(select(User).where(User.email == "worker@example.com"))
    response = admin.post_form(f"/admin/users/{worker.id}/status", {"enabled": "0"})
    assert response.status_code == 302
    assert agent.client.get("/account").status_code == 302  # the old cookie gets nothing
    assert "user:account:disable" in _tags(session)


def test_changing_a_role_revokes_their_sessions(app, session, signed_in):
    admin = signed_in("boss@example.com", "admin")
    agent = signed_in("worker@example.com", "agent")
    worker = session.scalar(select(User).where(User.email == "worker@example.com"))
    admin.post_form(f"/admin/users/{worker.id}/role", {"role": "assistant"})
    assert agent.client.get("/account").status_code == 302
    session.expire_all()
    row = session.scalar(select(UserSession).where(UserSession.user_id == worker.id))
    assert row.end_reason == "role_changed"


def test_idle_lock_shows_the_lock_screen_and_no_data(clock, signed_in):
    device = signed_in()
    clock.advance(minutes=5, seconds=1)
    page = device.client.get("/account")
    body = page.get_data(as_text=True)
    assert page.status_code == 423 and "Unlock with your passkey" in body
    assert "agent@example.com" not in body.split("lock-overlay")[0] or "My passkeys" not in body
    assert "My passkeys" not in body


def test_locked_htmx_request_gets_the_overlay_fragment(clock, signed_in):
    device = signed_in()
    clock.advance(minutes=6)
    fragment = device.client.get("/account", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.headers["HX-Retarget"] == "#lock-overlay"
    assert fragment.headers["HX-Trigger"] == "session-locked"
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith("<div id=\"lock-overlay\"") and "My passkeys" not in body


def test_locked_json_request_gets_423(clock, signed_in):
    device = signed_in()
    clock.advance(minutes=6)
    response = device.post_json("/step-up/options")
    assert response.status_code == 423 and response.json["locked"] is True


def test_activity_while_locked_does_not_unlock(clock, signed_in):
    device = signed_in()
    clock.advance(minutes=6)
    device.client.get("/account")
    clock.advance(seconds=10)
    assert device.client.get("/account").status_code == 423


def test_unlock_with_a_passkey_restores_access_and_rotates_the_id(session, clock, signed_in):
    device = signed_in()
    before = device.session_cookie()
    clock.advance(minutes=6)
    assert device.client.get("/account").status_code == 423
    response = device.unlock()
    assert response.status_code == 200, response.get_data(as_text=True)
    assert device.session_cookie() != before
    assert device.client.get("/account").status_code == 200
    assert "auth:session:lock" in _tags(session) and "auth:session:unlock" in _tags(session)


def test_unlock_needs_the_same_users_passkey(session, clock, phone, signed_in):
    device = signed_in("owner@example.com")
    other = signed_in("other@example.com")
    clock.advance(minutes=6)
    device.load_csrf("/lock")
    options = device.post_json("/unlock/options").json["options"]
    # The other person's phone answers the unlock challenge.
    import json as _json

    foreign = other.authenticator.get(_json.dumps({**options, "allowCredentials": []}),
                                      origin="http://localhost:5000")
    response = device.post_json("/unlock/verify", {"credential": foreign})
    assert response.status_code == 400 and response.json["reason"] == "wrong_user"
    assert device.client.get("/account").status_code == 423


def test_unlock_without_user_verification_is_refused(clock, signed_in):
    device = signed_in()
    clock.advance(minutes=6)
    device.load_csrf("/lock")
    response = device.unlock(user_verified=False)
    assert response.status_code == 400 and response.json["reason"] == "user_not_verified"
    assert device.client.get("/account").status_code == 423


def test_idle_end_goes_to_sign_in(session, clock, signed_in):
    device = signed_in()
    clock.advance(minutes=15, seconds=1)
    response = device.client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    session.expire_all()
    assert session.scalar(select(UserSession)).end_reason == "idle"
    assert "auth:session:timeout" in _tags(session)


def test_absolute_end_after_twelve_hours_despite_activity(session, clock, signed_in):
    device = signed_in()
    for _ in range(12 * 60 // 4 - 1):  # active every 4 minutes, never idle, for 11h56
        clock.advance(minutes=4)
        assert device.client.get("/account").status_code == 200
    clock.advance(minutes=4)
    assert device.client.get("/account").status_code == 302
    session.expire_all()
    assert session.scalar(select(UserSession)).end_reason == "absolute"


def test_background_polling_is_not_activity(clock, signed_in):
    device = signed_in()
    for _ in range(5):
        clock.advance(minutes=1)
        device.client.get("/", headers={"X-Background": "1"})
    clock.advance(seconds=5)
    assert device.client.get("/account").status_code == 423


@pytest.mark.parametrize("path", ["/sw.js", "/manifest.webmanifest", "/offline",
                                  "/static/app.js"])
def test_the_browser_fetching_the_app_shell_is_not_activity(clock, signed_in, path):
    device = signed_in()
    for _ in range(5):
        clock.advance(minutes=1)
        with device.client.get(path) as response:  # closes a streamed static file
            assert response.status_code == 200
    clock.advance(seconds=5)
    assert device.client.get("/account").status_code == 423


def test_ended_htmx_request_redirects_to_sign_in(clock, signed_in):
    device = signed_in()
    clock.advance(minutes=16)
    response = device.client.get("/account", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login"


def test_step_up_is_fresh_after_sign_in_and_stale_after_two_minutes(app, clock, signed_in):
    from flask import Blueprint, jsonify

    from webapp.views.guard import step_up_required

    # A route that needs step-up, as SSN reveals and exports will.
    probe = Blueprint("probe", __name__)
    probe.add_url_rule("/probe/step-up", "probe", step_up_required(lambda: jsonify(ok=True)),
                       methods=["POST"])
    app.register_blueprint(probe)
    device = signed_in()
    assert device.post_json("/probe/step-up").status_code == 200
    clock.advance(minutes=2, seconds=1)
    refused = device.post_json("/probe/step-up")
    assert refused.status_code == 403 and refused.json["step_up"] is True
    assert device.step_up().status_code == 200
    assert device.post_json("/probe/step-up").status_code == 200


def test_user_sees_and_ends_their_own_sessions(session, signed_in, phone):
    desk = signed_in("me@example.com")
    mobile = phone(authenticator=desk.authenticator)  # same passkey, another browser
    assert mobile.sign_in().status_code == 200
    page = desk.client.get("/account").get_data(as_text=True)
    assert page.count("Signed in on") == 2
    other = find_session(session, mobile.session_cookie())
    desk.post_form(f"/account/sessions/{other.id}/end")
    assert mobile.client.get("/account").status_code == 302
    assert desk.client.get("/account").status_code == 200


def test_a_user_cannot_end_someone_elses_session(session, signed_in):
    me = signed_in("me@example.com")
    signed_in("you@example.com")
    you = session.scalar(select(User).where(User.email == "you@example.com"))
    theirs = session.scalar(select(UserSession).where(UserSession.user_id == you.id))
    assert me.post_form(f"/account/sessions/{theirs.id}/end").status_code == 404


def test_admin_ends_anyones_sessions(session, signed_in):
    admin = signed_in("boss@example.com", "admin")
    agent = signed_in("worker@example.com")
    worker = session.scalar(select(User).where(User.email == "worker@example.com"))
    admin.post_form(f"/admin/users/{worker.id}/sessions/end")
    assert agent.client.get("/account").status_code == 302


@pytest.mark.parametrize("role", ["agent", "assistant", "compliance"])
def test_only_admins_reach_the_user_admin(signed_in, role):
    kwargs = {}
    if role == "assistant":
        signed_in("an.agent@example.com", "agent")
        kwargs = {"agent_emails": ("an.agent@example.com",)}
    device = signed_in(f"{role}@example.com", role, **kwargs)
    assert device.client.get("/admin/users").status_code == 403
