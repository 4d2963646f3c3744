"""The device console (`/admin/devices`), the device policy and a person's own devices
(`/devices`), end to end through signed-in phones."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.support.authenticator import SoftAuthenticator
from tests.support.pages import start_item
from webapp.access.agency_settings import AgencySetting, get_setting
from webapp.audit import Actor
from webapp.audit.models import AuditEvent
from webapp.auth.models import User, UserSession
from webapp.crypto.models import DataKey
from webapp.devices import registry
from webapp.devices.models import Device, DeviceStatus

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0 Mobile Safari/537.36")


# -- helpers ---------------------------------------------------------------------------------

def _user(session, email: str) -> User:
    return session.scalar(select(User).where(User.email == email))


@pytest.fixture
def add_device(session, keyring, clock):
    """add_device(email, user_agent=IPHONE) -> a Device for that user's (first) passkey."""

    def make(email: str, user_agent: str = IPHONE) -> Device:
        user = _user(session, email)
        device, _token = registry.record_sign_in(
            session, keyring, user=user, passkey=user.passkeys[0], cookie_token=None,
            user_agent=user_agent, now=clock.now(), actor=Actor(label="test"))
        session.commit()
        return device

    return make


def _this_phone(session, email: str) -> Device:
    """The device the person's live session runs on (sign-in records it)."""
    session.expire_all()
    device_id = session.scalar(select(UserSession.device_id).join(User).where(
        User.email == email, UserSession.ended_at.is_(None)))
    assert device_id is not None, "sign-in did not record a device"
    return session.get(Device, device_id)


def _live_sessions(session, device_id: str) -> int:
    session.expire_all()
    return len(session.scalars(select(UserSession).where(
        UserSession.device_id == device_id, UserSession.ended_at.is_(None))).all())


def _fresh(session, device_id: str) -> Device:
    session.expire_all()
    return session.get(Device, device_id)


def _tags_for(session, device_id: str) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent.tag).where(
        AuditEvent.record_type == "device", AuditEvent.record_id == device_id)
        .order_by(AuditEvent.seq)))


def _policy_events(session) -> list[dict]:
    session.expire_all()
    return [json.loads(e.details_json) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.tag == "device:policy:change")
        .order_by(AuditEvent.seq))]


def _wrapped(session, key_id: int) -> bytes | None:
    session.expire_all()
    return session.scalar(select(DataKey.wrapped).where(DataKey.id == key_id))


@pytest.fixture
def admin(signed_in):
    return signed_in("boss@example.com", "admin", display_name="Bea Boss")


@pytest.fixture
def agent(signed_in):
    return signed_in("ann@example.com", "agent", display_name="Ann Agent", approve=False)


# -- the console -------------------------------------------------------------------------------

def test_admin_sees_every_device_with_owner_type_status_and_last_seen(
        session, admin, agent, add_device, phone, invite):
    synced_phone = phone(authenticator=SoftAuthenticator(backup_eligible=True,
                                                         backup_state=True))
    assert synced_phone.enroll(invite("sam@example.com", "agent",
                                      display_name="Sam Synced")).status_code == 200
    pending = add_device("ann@example.com")
    synced = add_device("sam@example.com", user_agent=ANDROID)
    mine = add_device("boss@example.com")

    page = admin.client.get("/admin/devices")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    for device in (pending, synced, mine):
        assert f'data-device="{device.id}"' in body
    ann = body.split(f'data-device="{pending.id}"')[1].split("</li>")[0]
    assert "Ann Agent" in ann and "ann@example.com" in ann
    assert "iPhone · Safari" in ann and "iPhone" in ann
    assert "device-bound" in ann and "Pending" in ann and "last seen" in ann
    # In the agency's time (New York), not the server's UTC.
    seen = pending.last_seen_at.astimezone(ZoneInfo("America/New_York"))
    assert f"last seen {seen.strftime('%b %-d, %Y %-I:%M %p %Z')}" in ann and " UTC" not in ann
    assert "Approve" in ann and "Wipe…" in ann
    sam = body.split(f'data-device="{synced.id}"')[1].split("</li>")[0]
    assert "Sam Synced" in sam and "Android · Chrome" in sam and ">synced<" in sam
    assert "Active" not in sam and "Pending" in sam
    boss = body.split(f'data-device="{mine.id}"')[1].split("</li>")[0]
    assert "Active" in boss and "Approve" not in boss
    waiting = len(registry.all_devices(session, status="pending"))
    assert waiting >= 2
    assert f'data-pending-count="{waiting}"' in body
    assert f"{waiting} devices waiting for approval" in body


def test_the_status_filter_lists_only_that_status(session, admin, agent, add_device):
    pending = add_device("ann@example.com")
    active = add_device("boss@example.com")

    page = admin.client.get("/admin/devices?status=pending")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert pending.id in body and active.id not in body
    assert '<a class="button button-small" href="/admin/devices?status=pending"' in body
    current = body.split('aria-current="page"')[0].rsplit("<a ", 1)[1]
    assert 'href="/admin/devices?status=pending"' in current

    page = admin.client.get("/admin/devices?status=active").get_data(as_text=True)
    assert active.id in page and pending.id not in page
    assert "No devices with this status." in admin.client.get(
        "/admin/devices?status=wiped").get_data(as_text=True)


def test_the_filter_answers_htmx_with_the_console_fragment_only(admin, agent, add_device):
    pending = add_device("ann@example.com")
    fragment = admin.client.get("/admin/devices?status=pending",
                                headers={"HX-Request": "true", "HX-Target": "device-console"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert body.lstrip().startswith('<section id="device-console"')
    assert "<html" not in body and pending.id in body
    # A boosted navigation (HX-Request without our target) gets the whole page.
    boosted = admin.client.get("/admin/devices", headers={"HX-Request": "true",
                                                          "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)


@pytest.mark.parametrize("status", ["bogus", "wipe pending", "<script>", "1"])
def test_an_unknown_status_filter_says_so_clearly(admin, agent, add_device, status):
    pending = add_device("ann@example.com")
    page = admin.client.get("/admin/devices", query_string={"status": status})
    body = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "There is no device status by that name" in body
    assert pending.id not in body and "<script>" not in body


def test_approving_a_pending_device_activates_it_and_issues_its_cache_key(
        session, admin, agent, add_device):
    device = add_device("ann@example.com")
    assert device.status == DeviceStatus.PENDING and device.cache_key_id is None

    response = admin.post_form(f"/admin/devices/{device.id}/approve", follow_redirects=True)
    assert response.status_code == 200
    assert "Approved iPhone · Safari of Ann Agent." in response.get_data(as_text=True)
    device = _fresh(session, device.id)
    assert device.status == DeviceStatus.ACTIVE and device.cache_key_id is not None
    assert device.approved_by == _user(session, "boss@example.com").id
    assert _tags_for(session, device.id)[-1] == "device:registry:approve"

    again = admin.post_form(f"/admin/devices/{device.id}/approve", follow_redirects=True)
    assert "Only a device waiting for approval can be approved" in again.get_data(as_text=True)
    assert _tags_for(session, device.id).count("device:registry:approve") == 1


def test_renaming_a_device(session, admin, agent, add_device):
    device = add_device("ann@example.com")
    response = admin.post_form(f"/admin/devices/{device.id}/rename",
                               {"label": "  Ann's   work phone ", "return_to": "detail"})
    assert response.headers["Location"] == f"/admin/devices/{device.id}"
    assert _fresh(session, device.id).label == "Ann's work phone"
    assert _tags_for(session, device.id)[-1] == "device:registry:rename"


@pytest.mark.parametrize("label", ["", "   ", "x" * 81, "<script>alert(1)</script>",
                                   "phone\nwith newline\x00"])
def test_bad_device_names_are_refused_and_change_nothing(session, admin, agent, add_device,
                                                         label):
    device = add_device("ann@example.com")
    response = admin.post_form(f"/admin/devices/{device.id}/rename", {"label": label},
                               follow_redirects=True)
    assert "A device name is 1 to 80 letters" in response.get_data(as_text=True)
    assert _fresh(session, device.id).label == "iPhone · Safari"
    assert "device:registry:rename" not in _tags_for(session, device.id)


@pytest.mark.parametrize(("action", "button", "status", "tag"), [
    ("lost", "Mark this device lost", DeviceStatus.LOST, "device:registry:lost"),
    ("wipe", "Wipe this device", DeviceStatus.WIPE_PENDING, "device:registry:wipe"),
    ("revoke", "Revoke this device", DeviceStatus.REVOKED, "device:registry:revoke"),
])
def test_closing_a_device_ends_its_sessions_and_shreds_its_cache_key(
        session, admin, agent, add_device, action, button, status, tag):
    device = _this_phone(session, "ann@example.com")
    assert device.status == DeviceStatus.PENDING
    admin.post_form(f"/admin/devices/{device.id}/approve")
    device = _fresh(session, device.id)
    key_id = device.cache_key_id
    assert key_id is not None and _wrapped(session, key_id) is not None
    assert agent.client.get("/").status_code == 200
    assert _live_sessions(session, device.id) == 1

    confirm = admin.client.get(f"/admin/devices/{device.id}/{action}")
    assert confirm.status_code == 200 and button in confirm.get_data(as_text=True)
    assert _fresh(session, device.id).status == DeviceStatus.ACTIVE  # a GET changes nothing

    data = {"reason": "left_agency"} if action != "lost" else {}
    response = admin.post_form(f"/admin/devices/{device.id}/{action}",
                               {**data, "return_to": "detail"}, follow_redirects=True)
    assert response.status_code == 200 and response.request.path == f"/admin/devices/{device.id}"
    assert f"{device.label} of Ann Agent" in response.get_data(as_text=True)
    assert _fresh(session, device.id).status == status
    assert _wrapped(session, key_id) is None
    assert _tags_for(session, device.id)[-1] == tag
    event = session.scalar(select(AuditEvent).where(AuditEvent.tag == tag))
    details = json.loads(event.details_json)
    assert details["cache_key_destroyed"] is True and details["sessions_ended"] == 1
    if action != "lost":
        assert event.reason == "left_agency"
    assert _live_sessions(session, device.id) == 0
    # Signed out at once; a lost or wipe-ordered phone is told to clear its storage.
    after = agent.client.get("/")
    if status == DeviceStatus.REVOKED:
        assert after.status_code == 302
    else:
        assert after.status_code == 410 and after.headers["Clear-Site-Data"]


def test_closing_a_pending_device_without_a_cache_key(session, admin, agent, add_device):
    device = add_device("ann@example.com")
    admin.post_form(f"/admin/devices/{device.id}/revoke", {"reason": "policy"})
    device = _fresh(session, device.id)
    assert device.status == DeviceStatus.REVOKED and device.cache_key_id is None
    event = session.scalar(select(AuditEvent).where(AuditEvent.tag == "device:registry:revoke"))
    assert json.loads(event.details_json)["cache_key_destroyed"] is False


def test_a_wipe_or_revoke_needs_a_reason_from_the_list(session, admin, agent, add_device):
    device = add_device("ann@example.com")
    response = admin.post_form(f"/admin/devices/{device.id}/wipe", {"reason": "because"},
                               follow_redirects=True)
    assert "Choose a reason from the list." in response.get_data(as_text=True)
    assert _fresh(session, device.id).status == DeviceStatus.PENDING


def test_closing_a_closed_device_again_is_refused_clearly(session, clock, admin, agent,
                                                          add_device):
    device = add_device("ann@example.com")
    admin.post_form(f"/admin/devices/{device.id}/lost")
    again = admin.post_form(f"/admin/devices/{device.id}/lost", follow_redirects=True)
    assert "This device is already lost." in again.get_data(as_text=True)
    assert _tags_for(session, device.id).count("device:registry:lost") == 1

    registry.confirm_wipe(session, _fresh(session, device.id), now=clock.now(),
                          actor=Actor(label="test"))
    session.commit()
    refused = admin.post_form(f"/admin/devices/{device.id}/wipe", {"reason": "other"},
                              follow_redirects=True)
    assert "This device is already wiped." in refused.get_data(as_text=True)
    assert _fresh(session, device.id).status == DeviceStatus.WIPED


def test_an_admin_closing_their_own_phone_is_signed_out(session, admin):
    device = _this_phone(session, "boss@example.com")
    response = admin.post_form(f"/admin/devices/{device.id}/revoke", {"reason": "replaced"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert _live_sessions(session, device.id) == 0
    assert admin.client.get("/admin/devices").status_code == 302


def test_unknown_device_ids_are_not_found(admin):
    assert admin.client.get("/admin/devices/nope").status_code == 404
    for action in ("approve", "rename", "lost", "wipe", "revoke"):
        assert admin.post_form(f"/admin/devices/nope/{action}").status_code == 404
    for action in ("lost", "wipe", "revoke"):
        assert admin.client.get(f"/admin/devices/nope/{action}").status_code == 404


def test_forms_without_the_csrf_token_are_refused(session, admin, agent, add_device):
    device = add_device("ann@example.com")
    response = admin.client.post(f"/admin/devices/{device.id}/approve")
    assert response.status_code == 400
    assert _fresh(session, device.id).status == DeviceStatus.PENDING


ADMIN_ROUTES = [
    ("get", "/admin/devices"),
    ("get", "/admin/devices?status=pending"),
    ("get", "/admin/devices/{id}"),
    ("get", "/admin/devices/policy"),
    ("post", "/admin/devices/policy"),
    ("post", "/admin/devices/{id}/approve"),
    ("post", "/admin/devices/{id}/rename"),
    ("get", "/admin/devices/{id}/lost"),
    ("post", "/admin/devices/{id}/lost"),
    ("get", "/admin/devices/{id}/wipe"),
    ("post", "/admin/devices/{id}/wipe"),
    ("get", "/admin/devices/{id}/revoke"),
    ("post", "/admin/devices/{id}/revoke"),
]


@pytest.mark.parametrize("role", ["agent", "assistant", "compliance"])
def test_only_admins_reach_the_console(session, signed_in, add_device, invite, role):
    kwargs = {}
    if role == "assistant":
        invite("boss-agent@example.com", "agent")
        kwargs["agent_emails"] = ("boss-agent@example.com",)
    person = signed_in(f"{role}@example.com", role, **kwargs)
    device = add_device(f"{role}@example.com")
    before = (device.status, device.label)
    for method, path in ADMIN_ROUTES:
        path = path.format(id=device.id)
        if method == "get":
            response = person.client.get(path)
        else:
            response = person.post_form(path, {"label": "Mine now", "reason": "other",
                                               "wipe_unseen_days": "1"})
        assert response.status_code == 403, (method, path)
        assert "data-device=" not in response.get_data(as_text=True)
    device = _fresh(session, device.id)
    assert (device.status, device.label) == before
    assert session.scalar(select(AgencySetting)) is None


def test_the_device_page_shows_details_and_its_history_newest_first(
        session, admin, agent, add_device):
    device = _this_phone(session, "ann@example.com")
    other = add_device("ann@example.com", user_agent=ANDROID)
    admin.post_form(f"/admin/devices/{device.id}/approve")
    admin.post_form(f"/admin/devices/{device.id}/rename", {"label": "Ann's phone"})
    admin.post_form(f"/admin/devices/{device.id}/wipe", {"reason": "lost_or_stolen"})

    page = admin.client.get(f"/admin/devices/{device.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Ann&#39;s phone" in body and "ann@example.com" in body and "device-bound" in body
    assert "Wipe ordered" in body and "Bea Boss" in body  # approved by
    history = body.split('id="device-history"')[1]
    tags = [chunk.split("</code>")[0] for chunk in history.split("<code>")[1:]]
    # Newest first: what was done to it, and what happened on it (its session, its sign-in).
    assert tags[:3] == ["device:registry:wipe", "device:registry:rename",
                        "device:registry:approve"]
    assert "device:registry:create" in tags and "auth:session:login" in tags
    session.expire_all()
    expected = session.scalars(select(AuditEvent.seq).where(
        (AuditEvent.device_id == device.id)
        | ((AuditEvent.record_type == "device") & (AuditEvent.record_id == device.id)))
        .order_by(AuditEvent.seq.desc())).all()
    shown = [int(chunk.split('"')[0]) for chunk in history.split('data-event="')[1:]]
    assert shown == expected
    assert "Bea Boss (boss@example.com)" in history and "reason: lost_or_stolen" in history
    assert "success" in history
    assert other.id not in history
    other_page = admin.client.get(f"/admin/devices/{other.id}").get_data(as_text=True)
    assert "device:registry:wipe" not in other_page


# -- the policy --------------------------------------------------------------------------------

VALID_POLICY = {
    "approval_agent": "y", "approval_assistant": "y", "approval_admin": "y",
    "allow_synced": "y",
    "aaguid_allowlist": "",
    "wipe_unseen_days": "30", "pending_expire_days": "14", "offline_lock_minutes": "720",
}


def test_the_policy_page_shows_the_current_values(admin):
    page = admin.client.get("/admin/devices/policy")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="wipe_unseen_days"' in body and 'value="30"' in body
    assert 'id="approval_agent" name="approval_agent" type="checkbox" value="y"' in body
    assert "From 1 to 365 days." in body and "From 5 to 10080 minutes." in body


def test_saving_the_policy_stores_and_audits_each_changed_setting(session, admin):
    data = {**VALID_POLICY, "approval_compliance": "y", "allow_synced": "",
            "aaguid_allowlist": "ADCE0002-35BC-C60A-648B-0B25F1F05503\n\n"
                                "  fbfc3007-154e-4ecc-8c0b-6e020557d7bd \n"
                                "adce0002-35bc-c60a-648b-0b25f1f05503",
            "wipe_unseen_days": "365", "pending_expire_days": "1",
            "offline_lock_minutes": "5"}
    data.pop("allow_synced")
    response = admin.post_form("/admin/devices/policy", data, follow_redirects=True)
    assert response.status_code == 200
    assert "Device policy saved (7 setting(s) changed)." in response.get_data(as_text=True)
    session.expire_all()
    assert get_setting(session, "device_approval_required.admin") is True
    assert get_setting(session, "device_approval_required.compliance") is True
    assert get_setting(session, "device_approval_required.agent") is True  # unchanged
    assert get_setting(session, "device_allow_synced_passkeys") is False
    assert get_setting(session, "device_aaguid_allowlist") == [
        "adce0002-35bc-c60a-648b-0b25f1f05503", "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"]
    assert get_setting(session, "device_wipe_unseen_days") == 365
    assert get_setting(session, "device_pending_expire_days") == 1
    assert get_setting(session, "device_offline_lock_minutes") == 5
    boss = _user(session, "boss@example.com")
    assert {row.updated_by for row in session.scalars(select(AgencySetting))} == {boss.id}

    events = _policy_events(session)
    assert sorted(e["setting"] for e in events) == sorted([
        "device_approval_required.admin", "device_approval_required.compliance",
        "device_allow_synced_passkeys", "device_aaguid_allowlist", "device_wipe_unseen_days",
        "device_pending_expire_days", "device_offline_lock_minutes"])
    by_name = {e["setting"]: e for e in events}
    assert by_name["device_wipe_unseen_days"]["value"] == 365
    assert "value" not in by_name["device_aaguid_allowlist"]
    event = session.scalar(select(AuditEvent).where(AuditEvent.tag == "device:policy:change"))
    assert event.actor_user_id == boss.id

    # Saving the same values again changes nothing and records nothing.
    again = admin.post_form("/admin/devices/policy", data, follow_redirects=True)
    assert "Nothing changed." in again.get_data(as_text=True)
    assert len(_policy_events(session)) == 7
    page = admin.client.get("/admin/devices/policy").get_data(as_text=True)
    assert "adce0002-35bc-c60a-648b-0b25f1f05503\nfbfc3007" in page


@pytest.mark.parametrize(("field", "value", "message"), [
    ("aaguid_allowlist", "adce0002-35bc-c60a-648b-0b25f1f0550", "Line 1 is not an AAGUID"),
    ("aaguid_allowlist", "fbfc3007-154e-4ecc-8c0b-6e020557d7bd\nnot-a-uuid",
     "Line 2 is not an AAGUID"),
    ("aaguid_allowlist", "{fbfc3007-154e-4ecc-8c0b-6e020557d7bd}", "Line 1 is not an AAGUID"),
    ("wipe_unseen_days", "0", "from 1 to 365"),
    ("wipe_unseen_days", "366", "from 1 to 365"),
    ("pending_expire_days", "91", "from 1 to 90"),
    ("offline_lock_minutes", "4", "from 5 to 10080"),
    ("offline_lock_minutes", "10081", "from 5 to 10080"),
    ("wipe_unseen_days", "thirty", "from 1 to 365"),
    ("pending_expire_days", "2.5", "from 1 to 90"),
    ("offline_lock_minutes", "", "from 5 to 10080"),
    ("pending_expire_days", None, "Enter a whole number of days from 1 to 90."),
])
def test_bad_policy_values_are_refused_beside_the_field_and_store_nothing(
        session, admin, field, value, message):
    data = {**VALID_POLICY, "approval_compliance": "y", "wipe_unseen_days": "60", field: value}
    if value is None:
        del data[field]  # not sent at all
    response = admin.post_form("/admin/devices/policy", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    error = body.split(f'id="{field}-error"')[1].split("</p>")[0]
    assert message in error
    assert 'aria-invalid="true"' in body
    session.expire_all()
    assert session.scalar(select(AgencySetting)) is None
    assert _policy_events(session) == []


# -- my devices --------------------------------------------------------------------------------

def test_my_devices_lists_mine_only_and_marks_this_phone(session, admin, agent, add_device):
    here = _this_phone(session, "ann@example.com")
    elsewhere = add_device("ann@example.com", user_agent=ANDROID)
    theirs = add_device("boss@example.com")

    page = agent.client.get("/devices")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert here.id in body and elsewhere.id in body and theirs.id not in body
    this_one = body.split(f'data-device="{here.id}"')[1].split("</li>")[0]
    assert 'aria-current="true"' in this_one and "this phone" in this_one
    assert "Waiting for your administrator&#39;s approval." in this_one
    other_one = body.split(f'data-device="{elsewhere.id}"')[1].split("</li>")[0]
    assert "this phone" not in other_one and "Android · Chrome" in other_one


def test_an_owner_marks_another_of_their_devices_lost(session, admin, agent, add_device):
    here = _this_phone(session, "ann@example.com")
    lost = add_device("ann@example.com", user_agent=ANDROID)
    admin.post_form(f"/admin/devices/{lost.id}/approve")
    key_id = _fresh(session, lost.id).cache_key_id

    confirm = agent.client.get(f"/devices/{lost.id}/lost")
    assert confirm.status_code == 200
    assert "Mark this device lost" in confirm.get_data(as_text=True)
    response = agent.post_form(f"/devices/{lost.id}/lost", follow_redirects=True)
    assert response.status_code == 200 and response.request.path == "/devices"
    assert "Android · Chrome is marked lost." in response.get_data(as_text=True)
    assert _fresh(session, lost.id).status == DeviceStatus.LOST
    assert _wrapped(session, key_id) is None
    assert _tags_for(session, lost.id)[-1] == "device:registry:lost"
    event = session.scalar(select(AuditEvent).where(AuditEvent.tag == "device:registry:lost"))
    assert event.actor_user_id == _user(session, "ann@example.com").id
    assert _fresh(session, here.id).status == DeviceStatus.PENDING
    assert agent.client.get("/devices").status_code == 200  # still signed in here


def test_marking_this_phone_lost_signs_me_out(session, agent):
    here = _this_phone(session, "ann@example.com")
    confirm = agent.client.get(f"/devices/{here.id}/lost").get_data(as_text=True)
    assert "This is the phone you are using: you will be signed out." in confirm
    assert 'hx-boost="false"' in confirm
    response = agent.post_form(f"/devices/{here.id}/lost")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert _fresh(session, here.id).status == DeviceStatus.LOST
    assert _live_sessions(session, here.id) == 0
    after = agent.client.get("/devices")
    assert after.status_code == 410 and after.headers["Clear-Site-Data"]


def test_marking_a_lost_or_wiped_device_lost_again_says_why(session, clock, agent,
                                                             add_device):
    device = add_device("ann@example.com")
    agent.post_form(f"/devices/{device.id}/lost")
    again = agent.post_form(f"/devices/{device.id}/lost", follow_redirects=True)
    assert "This device is already lost." in again.get_data(as_text=True)
    registry.confirm_wipe(session, _fresh(session, device.id), now=clock.now(),
                          actor=Actor(label="test"))
    session.commit()
    wiped = agent.post_form(f"/devices/{device.id}/lost", follow_redirects=True)
    assert "This device is already wiped." in wiped.get_data(as_text=True)
    assert _fresh(session, device.id).status == DeviceStatus.WIPED


def test_nobody_can_touch_someone_elses_device(session, admin, agent, add_device):
    theirs = add_device("boss@example.com")
    assert agent.client.get(f"/devices/{theirs.id}/lost").status_code == 404
    assert agent.post_form(f"/devices/{theirs.id}/lost").status_code == 404
    assert agent.post_form("/devices/nope/lost").status_code == 404
    assert _fresh(session, theirs.id).status == DeviceStatus.ACTIVE


# -- the admin's start page (/) ------------------------------------------------------------------

def test_the_start_page_counts_what_waits_for_the_admin(session, keyring, clock, admin, agent,
                                                        add_device):
    html = admin.client.get("/").get_data(as_text=True)
    # Ann's phone waits for approval (approve=False); Bea's own is active.
    pending = start_item(html, "Devices waiting for your approval")
    assert "<strong>1</strong>" in pending and "needs a look" in pending
    assert 'href="/admin/devices?status=pending"' in pending
    assert "<strong>0</strong>" in start_item(html, "Phones reported lost")
    assert "needs a look" not in start_item(html, "Phones reported lost")
    assert "<strong>2</strong>" in start_item(html, "People with access")

    lost = add_device("ann@example.com")
    registry.mark_lost(session, keyring, lost, actor=Actor(label="test"), now=clock.now())
    session.commit()
    html = admin.client.get("/").get_data(as_text=True)
    item = start_item(html, "Phones reported lost")
    assert "<strong>1</strong>" in item and 'href="/admin/devices?status=lost"' in item
