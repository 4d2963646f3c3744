"""Screen-lock attestation and remote wipe, end to end through the HTTP layer.

The PHI endpoint exercised here is the offline-cache key (`/devices/cache-key`): it sits
behind the same device gate as every PHI view.
"""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select, text

from tests.support.authenticator import SoftAuthenticator
from webapp.access.agency_settings import set_setting
from webapp.audit import Actor
from webapp.audit.models import AuditEvent
from webapp.auth.models import User
from webapp.devices import registry
from webapp.devices.models import Device, DeviceStatus

ADMIN = Actor(label="test-admin")
PHI = "/devices/cache-key"


def _device_of(session, phone) -> Device:
    session.expire_all()
    token = phone.client.get_cookie("sh-device").value
    return registry.find_device(session, token)


@pytest.fixture
def agent_phone(session, keyring, clock, signed_in):
    """An agent signed in on a phone whose device an admin approved."""
    phone = signed_in("agent@example.com", "agent", approve=False)
    device = _device_of(session, phone)
    assert device.status == DeviceStatus.PENDING  # agents' new devices wait for approval
    registry.approve(session, keyring, device, actor=ADMIN, now=clock.now())
    session.commit()
    return phone


def test_new_agent_device_waits_for_approval_and_gets_no_data(session, signed_in):
    phone = signed_in("agent@example.com", "agent", approve=False)
    response = phone.client.get(PHI, headers={"Accept": "application/json"})
    assert response.status_code == 403 and response.json["device"] == "pending"
    assert "key" not in response.json
    page = phone.client.get(PHI)
    assert page.status_code == 403 and "waiting for your administrator" in page.get_data(
        as_text=True)
    refusal = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "device:phi:refuse")).all()[-1]
    assert refusal.reason == "pending" and refusal.device_id


def test_active_device_with_fresh_verification_gets_the_cache_key(session, keyring,
                                                                  agent_phone):
    response = agent_phone.client.get(PHI)
    assert response.status_code == 200
    key = base64.urlsafe_b64decode(response.json["key"] + "==")
    assert len(key) == 32
    assert response.json["offline_limit_seconds"] == 720 * 60
    assert response.headers["Cache-Control"] == "no-store"
    device = _device_of(session, agent_phone)
    assert keyring.export_data_key(device.cache_key_id) == key
    assert session.scalar(select(AuditEvent).where(
        AuditEvent.tag == "device:cache-key:issue")).device_id == device.id


def test_locked_session_gets_the_lock_screen_not_the_key(clock, agent_phone):
    clock.advance(minutes=6)
    response = agent_phone.client.get(PHI, headers={"Accept": "application/json"})
    assert response.status_code == 423 and "key" not in response.json


def test_cache_key_needs_a_verification_within_the_idle_window(clock, agent_phone):
    # Active use keeps the session open, but the key wants a recent user-verified assertion.
    for _ in range(3):
        clock.advance(minutes=4)
        assert agent_phone.client.get("/").status_code == 200
    stale = agent_phone.client.get(PHI, headers={"Accept": "application/json"})
    assert stale.status_code == 423 and "key" not in stale.json
    assert agent_phone.step_up().status_code == 200
    assert agent_phone.client.get(PHI).status_code == 200


@pytest.mark.parametrize(("status", "expected_status", "reason"), [
    (DeviceStatus.PENDING, 403, "pending"),
    (DeviceStatus.REVOKED, 403, "revoked"),
    (DeviceStatus.WIPED, 403, "wiped"),
])
def test_policy_matrix_closed_states_get_no_data(session, agent_phone, status,
                                                 expected_status, reason):
    device = _device_of(session, agent_phone)
    device.status = status  # the state alone, sessions kept: the gate itself must refuse
    session.commit()
    response = agent_phone.client.get(PHI, headers={"Accept": "application/json"})
    assert response.status_code == expected_status and response.json["device"] == reason
    assert "key" not in response.json


@pytest.mark.parametrize("status", [DeviceStatus.LOST, DeviceStatus.WIPE_PENDING])
def test_policy_matrix_lost_and_wipe_pending_get_the_wipe(session, agent_phone, status):
    device = _device_of(session, agent_phone)
    device.status = status
    session.commit()
    response = agent_phone.client.get(PHI, headers={"Accept": "application/json"})
    assert response.status_code == 410 and response.json == {"error": "This device was wiped.",
                                                              "wiped": True}
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'


def test_synced_passkey_refused_when_policy_requires_device_bound(session, keyring, clock,
                                                                  invite, phone):
    synced = phone(authenticator=SoftAuthenticator(backup_eligible=True, backup_state=True))
    assert synced.enroll(invite("sync@example.com", "agent")).status_code == 200
    synced.load_csrf("/")
    registry.approve(session, keyring, _device_of(session, synced), actor=ADMIN, now=clock.now())
    session.commit()
    assert synced.client.get(PHI).status_code == 200  # allowed by default
    set_setting(session, "device_allow_synced_passkeys", False, updated_by=None)
    session.commit()
    refused = synced.client.get(PHI, headers={"Accept": "application/json"})
    assert refused.status_code == 403 and refused.json["device"] == "synced_passkey"


def test_aaguid_outside_the_allow_list_is_refused(session, agent_phone):
    device = _device_of(session, agent_phone)
    set_setting(session, "device_aaguid_allowlist", ["ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"],
                updated_by=None)
    session.commit()
    refused = agent_phone.client.get(PHI, headers={"Accept": "application/json"})
    assert refused.status_code == 403 and refused.json["device"] == "aaguid"
    set_setting(session, "device_aaguid_allowlist", [device.aaguid.upper()], updated_by=None)
    session.commit()
    assert agent_phone.client.get(PHI).status_code == 200


def test_admin_devices_need_no_approval_by_default(session, signed_in):
    phone = signed_in("boss@example.com", "admin")
    assert _device_of(session, phone).status == DeviceStatus.ACTIVE


# -- lost and wipe ------------------------------------------------------------------------------

def test_wipe_reaches_the_phone_on_its_next_request_and_leaves_it_nothing(
        session, keyring, clock, agent_phone, phone):
    device = _device_of(session, agent_phone)
    key_before = agent_phone.client.get(PHI).json["key"]
    # The owner's second phone, approved too.
    second = phone(authenticator=agent_phone.authenticator)
    assert second.sign_in().status_code == 200
    registry.approve(session, keyring, _device_of(session, second), actor=ADMIN, now=clock.now())
    session.commit()

    ended = registry.order_wipe(session, keyring, device, actor=ADMIN, now=clock.now())
    session.commit()
    assert ended == 1
    # At once: the cache key is gone from the server (crypto-shred), whatever the phone does.
    assert keyring.export_data_key(device.cache_key_id) is None
    wrapped = session.execute(text("SELECT wrapped FROM data_keys WHERE id = :id"),
                              {"id": device.cache_key_id}).scalar_one()
    assert wrapped is None and key_before

    # Any request from the phone: page, fragment, fetch.
    for headers in ({}, {"HX-Request": "true"}, {"Accept": "application/json"}):
        response = agent_phone.client.get("/account", headers=headers)
        assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
        assert response.status_code == 410
    page = agent_phone.client.get("/").get_data(as_text=True)
    assert "data-device-wiped" in page and "My passkeys" not in page
    assert agent_phone.client.get(PHI).status_code == 410

    confirm = agent_phone.post_json("/devices/wipe-confirm")
    assert confirm.status_code == 200 and confirm.json == {"wiped": True}
    session.expire_all()
    assert device.status == DeviceStatus.WIPED and device.wiped_at == clock.now()

    # Old sessions and cookies get nothing; the other phone keeps working.
    assert agent_phone.client.get("/account").status_code == 302
    assert second.client.get(PHI).status_code == 200
    tags = [e.tag for e in session.scalars(select(AuditEvent).where(
        AuditEvent.record_type == "device", AuditEvent.record_id == device.id))]
    assert "device:registry:wipe" in tags and "device:registry:wiped" in tags


def test_a_wiped_device_cannot_open_phi_even_after_signing_in_again(session, keyring, clock,
                                                                    agent_phone):
    device = _device_of(session, agent_phone)
    registry.mark_lost(session, keyring, device, actor=ADMIN, now=clock.now())
    session.commit()
    agent_phone.post_json("/devices/wipe-confirm")
    agent_phone.load_csrf("/login")
    assert agent_phone.sign_in().status_code == 200
    successor = _device_of(session, agent_phone)
    assert successor.id != device.id and successor.status == DeviceStatus.PENDING
    assert session.get(Device, device.id).status == DeviceStatus.WIPED
    response = agent_phone.client.get(PHI, headers={"Accept": "application/json"})
    assert response.status_code == 403 and response.json["device"] == "pending"


def test_admin_devices_replacing_a_wiped_one_also_wait_for_approval(session, keyring, clock,
                                                                     signed_in):
    phone = signed_in("boss@example.com", "admin")
    device = _device_of(session, phone)
    registry.revoke(session, keyring, device, actor=ADMIN, now=clock.now())
    session.commit()
    assert phone.client.get("/").status_code == 302  # sessions ended with it
    phone.sign_in()
    assert _device_of(session, phone).status == DeviceStatus.PENDING


def test_session_cookie_from_another_browser_opens_nothing(session, app, agent_phone, phone):
    stolen = agent_phone.session_cookie()
    thief = phone()
    thief.client.set_cookie("sh-session", stolen, domain="localhost")
    assert thief.client.get(PHI).status_code in (302, 401)
    assert agent_phone.client.get("/").status_code == 302  # the session was revoked


def test_unknown_device_confirming_a_wipe_gets_nothing(phone):
    device = phone()
    device.load_csrf()
    assert device.post_json("/devices/wipe-confirm").status_code == 404


def test_owner_marks_their_phone_lost_via_the_service(session, keyring, clock, agent_phone):
    user = session.scalar(select(User).where(User.email == "agent@example.com"))
    device = _device_of(session, agent_phone)
    registry.mark_lost(session, keyring, device,
                       actor=Actor(user_id=user.id), now=clock.now())
    session.commit()
    assert agent_phone.client.get("/").status_code == 410
