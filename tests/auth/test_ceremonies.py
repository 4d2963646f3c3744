"""Enrollment and sign-in through the HTTP layer, with genuine WebAuthn responses from a
software authenticator; every refusal is checked for its message and its audit event."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.support.authenticator import SoftAuthenticator
from webapp.audit.models import AuditEvent
from webapp.auth.models import Passkey, User, UserSession, UserStatus


def _events(session, tag: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.tag == tag)
                                .order_by(AuditEvent.seq)))


def _last_refusal(session, tag: str) -> AuditEvent:
    refused = [e for e in _events(session, tag) if e.outcome == "refused"]
    assert refused, f"no refused {tag} event"
    return refused[-1]


# -- enrollment ---------------------------------------------------------------------------------

def test_invite_enroll_and_land_signed_in(app, session, invite, phone):
    device = phone(authenticator=SoftAuthenticator(backup_eligible=True, backup_state=True))
    response = device.enroll(invite("new.agent@example.com", "agent"))
    assert response.status_code == 200 and response.json == {"redirect": "/"}
    assert device.session_cookie()
    home = device.client.get("/account")
    assert home.status_code == 200 and "My passkeys" in home.get_data(as_text=True)

    user = session.scalar(select(User).where(User.email == "new.agent@example.com"))
    assert user.status == UserStatus.ACTIVE
    (passkey,) = user.passkeys
    assert passkey.backup_eligible and passkey.backup_state and passkey.attestation_format
    assert passkey.aaguid.count("-") == 4 and json.loads(passkey.transports)
    assert [e.outcome for e in _events(session, "auth:passkey:register")] == ["success"]


def test_registration_options_require_resident_key_and_user_verification(invite, phone):
    device = phone()
    token = invite("opts@example.com")
    device.load_csrf(f"/enroll/{token}")
    options = device.post_json(f"/enroll/{token}/options").json["options"]
    selection = options["authenticatorSelection"]
    assert selection["residentKey"] == "required"
    assert selection["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert options["user"]["name"] == "opts@example.com"
    assert "opts" not in options["user"]["id"]  # the user handle is random, not the email


@pytest.mark.parametrize(("age_hours", "used", "reason", "text"), [
    (0, True, "used", "already used"),
    (73, False, "expired", "expired"),
])
def test_reused_or_expired_invite_gets_a_clear_page(session, clock, invite, phone, age_hours,
                                                    used, reason, text):
    token = invite("late@example.com")
    if used:
        assert phone().enroll(token).status_code == 200
    clock.advance(hours=age_hours)
    response = phone().client.get(f"/enroll/{token}")
    assert response.status_code == 410 and text in response.get_data(as_text=True)
    assert _last_refusal(session, "auth:invite:use").reason == reason


def test_unknown_invite_token_is_refused_and_audited(session, phone):
    response = phone().client.get("/enroll/not-a-real-token")
    assert response.status_code == 410 and "not valid" in response.get_data(as_text=True)
    assert _last_refusal(session, "auth:invite:use").reason == "unknown"


def test_registration_without_user_verification_is_refused(session, invite, phone):
    device = phone(authenticator=SoftAuthenticator(user_verified=False))
    response = device.enroll(invite("nolock@example.com"))
    assert response.status_code == 400
    assert "did not confirm your screen lock" in response.json["error"]
    assert _last_refusal(session, "auth:passkey:register").reason == "user_not_verified"
    assert session.scalar(select(Passkey.id)) is None


# -- sign-in ------------------------------------------------------------------------------------

def test_sign_out_then_sign_in_without_typing_a_name(session, signed_in):
    device = signed_in("agent@example.com")
    assert device.logout().status_code == 302
    assert device.client.get("/account").status_code == 302  # signed out
    response = device.sign_in()
    assert response.status_code == 200 and response.json == {"redirect": "/"}
    assert device.client.get("/account").status_code == 200
    logins = [e for e in _events(session, "auth:session:login") if e.outcome == "success"]
    assert len(logins) == 2  # enrollment, then the passkey sign-in


def test_sign_in_options_are_discoverable_and_require_user_verification(phone):
    device = phone()
    device.load_csrf()
    options = device.post_json("/login/options").json["options"]
    assert options["userVerification"] == "required"
    assert options.get("allowCredentials", []) == []
    assert len(options["challenge"]) >= 43  # 32 bytes, base64url


def test_session_id_rotates_at_sign_in(signed_in):
    device = signed_in()
    first = device.session_cookie()
    device.sign_in()
    assert device.session_cookie() != first


def _enrolled(signed_in, **kwargs):
    device = signed_in(**kwargs)
    device.logout()
    return device


REFUSALS = [
    # (what the test does, expected reason, words in the message)
    ({"origin": "https://evil.example"}, "wrong_origin", "different web address"),
    ({"rp_id": "evil.example"}, "wrong_rp_id", ""),
    ({"challenge": b"\x01" * 32}, "challenge_mismatch", ""),
    ({"corrupt_signature": True}, "bad_signature", ""),
    ({"user_verified": False}, "user_not_verified", "did not confirm your screen lock"),
    ({"sign_count": 0}, "sign_count_regression", ""),
]


@pytest.mark.parametrize(("overrides", "reason", "words"), REFUSALS,
                         ids=[r[1] for r in REFUSALS])
def test_bad_assertions_are_refused_and_audited(session, signed_in, overrides, reason, words):
    device = _enrolled(signed_in)
    if reason == "sign_count_regression":
        assert device.sign_in().status_code == 200  # counter now above zero on the server
        device.logout()
    device.load_csrf()
    response, _ = device.assertion("/login/options", "/login/verify", **overrides)
    assert response.status_code == 400
    assert words in response.json["error"] and response.json["error"]
    assert response.json["reason"] == reason
    assert device.session_cookie() is None or device.client.get("/account").status_code == 302
    event = _last_refusal(session, "auth:session:login")
    assert event.reason == reason and event.ip_address


def test_unknown_credential_is_refused(session, signed_in, phone):
    _enrolled(signed_in)
    stranger = phone()  # a passkey this server never registered
    stranger.authenticator.create(json.dumps({
        "rp": {"id": "localhost", "name": "x"}, "user": {"id": "AAAA", "name": "x",
                                                          "displayName": "x"},
        "challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}]}), origin="http://localhost:5000")
    response = stranger.sign_in()
    assert response.status_code == 400 and "not registered here" in response.json["error"]
    assert _last_refusal(session, "auth:session:login").reason == "unknown_credential"


def test_disabled_user_cannot_sign_in(session, signed_in):
    device = _enrolled(signed_in, email="gone@example.com")
    user = session.scalar(select(User).where(User.email == "gone@example.com"))
    user.status = UserStatus.DISABLED
    session.commit()
    response = device.sign_in()
    assert response.status_code == 400 and "disabled" in response.json["error"]
    assert _last_refusal(session, "auth:session:login").reason == "user_disabled"


def test_replayed_assertion_is_refused(session, signed_in):
    device = _enrolled(signed_in)
    device.load_csrf()
    first, credential = device.assertion("/login/options", "/login/verify")
    assert first.status_code == 200
    device.logout()
    device.load_csrf()
    replay = device.post_json("/login/verify", {"credential": credential})
    assert replay.status_code == 400 and "already used" in replay.json["error"]
    assert _last_refusal(session, "auth:session:login").reason == "no_challenge"


def test_challenge_is_single_use_even_when_verification_fails(session, signed_in):
    device = _enrolled(signed_in)
    device.load_csrf()
    options = device.post_json("/login/options").json["options"]
    bad = device.authenticator.get(json.dumps(options), origin="http://localhost:5000",
                                   corrupt_signature=True)
    assert device.post_json("/login/verify", {"credential": bad}).status_code == 400
    good = device.authenticator.get(json.dumps(options), origin="http://localhost:5000")
    retry = device.post_json("/login/verify", {"credential": good})
    assert retry.status_code == 400 and retry.json["reason"] == "no_challenge"


def test_expired_challenge_is_refused(session, clock, signed_in):
    device = _enrolled(signed_in)
    device.load_csrf()
    options = device.post_json("/login/options").json["options"]
    clock.advance(minutes=5, seconds=1)
    credential = device.authenticator.get(json.dumps(options), origin="http://localhost:5000")
    response = device.post_json("/login/verify", {"credential": credential})
    assert response.status_code == 400 and "expired" in response.json["error"]
    assert _last_refusal(session, "auth:session:login").reason == "challenge_expired"


@pytest.mark.parametrize("body", [{}, {"credential": "junk"}, {"credential": {"id": 5}},
                                  {"credential": None}])
def test_junk_sign_in_bodies_get_a_clear_400(signed_in, body):
    device = _enrolled(signed_in)
    device.load_csrf()
    device.post_json("/login/options")
    response = device.post_json("/login/verify", body)
    assert response.status_code == 400 and response.json["error"]


def test_session_table_stores_only_a_hash_of_the_token(session, signed_in):
    device = signed_in()
    token = device.session_cookie()
    row = session.scalar(select(UserSession))
    assert token not in row.token_hash and len(row.token_hash) == 64
    assert len(token) >= 43  # 256 bits, base64url
