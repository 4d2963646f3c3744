"""`flask devices ...`: the registry services from the terminal, audited as the operator."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.devices import ANDROID, signed_in_device
from webapp.audit import Actor, verify_chain
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role
from webapp.cli import devices_cli
from webapp.crypto.models import DataKey
from webapp.devices.models import DeviceStatus
from webapp.devices.registry import confirm_wipe, mark_lost, revoke


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(devices_cli, list(args))


@pytest.fixture
def fleet(session, keyring, clock, factories):
    """An admin's synced iPhone (active, seen now), an agent's device-bound Android (pending,
    seen a day ago)."""
    agent = factories.user(Role.AGENT, email="ana.agent@example.com")
    admin = factories.user(Role.ADMIN, email="omar.admin@example.com")
    android, android_session = signed_in_device(factories, keyring,
                                                clock.now() - timedelta(days=1), user=agent,
                                                user_agent=ANDROID, synced=False)
    iphone, iphone_session = signed_in_device(factories, keyring, clock.now(), user=admin)
    session.commit()
    return {"android": android, "iphone": iphone, "android_session": android_session,
            "iphone_session": iphone_session}


def count_events(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent))


def last_event(session) -> AuditEvent:
    return session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()


def wrapped_key(session, key_id: int) -> bytes | None:
    return session.scalar(select(DataKey.wrapped).where(DataKey.id == key_id))


# -- list -------------------------------------------------------------------------------------

def test_list_prints_a_table_most_recently_seen_first(run, fleet):
    result = run("list")
    assert result.exit_code == 0, result.output
    header, first, second, total = result.output.splitlines()
    assert header.split() == ["ID", "OWNER", "LABEL", "PLATFORM", "PASSKEY", "STATUS", "LAST",
                              "SEEN", "(UTC)"]
    iphone, android = fleet["iphone"], fleet["android"]
    assert first.startswith(iphone.id) and second.startswith(android.id)
    assert "omar.admin@example.com" in first and "iPhone · Safari" in first
    assert " synced " in first and " active " in first
    assert iphone.last_seen_at.strftime("%Y-%m-%d %H:%M") in first
    assert "ana.agent@example.com" in second and "Android · Chrome" in second
    assert " device-bound " in second and " pending " in second
    assert total == "2 devices."
    # columns line up under their headings
    assert first.index("omar.admin") == header.index("OWNER") == second.index("ana.agent")


def test_list_as_json(run, fleet):
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["id"] for r in rows] == [fleet["iphone"].id, fleet["android"].id]
    android = rows[1]
    assert {k: android[k] for k in ("owner_email", "label", "platform", "passkey", "status")} == {
        "owner_email": "ana.agent@example.com", "label": "Android · Chrome",
        "platform": "Android", "passkey": "device-bound", "status": "pending"}
    assert rows[0]["passkey"] == "synced"
    seen = datetime.fromisoformat(android["last_seen_at"])
    assert seen == fleet["android"].last_seen_at and seen.utcoffset() == timedelta(0)
    assert set(rows[0]) == {"id", "owner_email", "label", "platform", "passkey", "status",
                            "last_seen_at", "first_seen_at", "status_changed_at"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--status", "pending"], ["android"]),
        (["--status", "active"], ["iphone"]),
        (["--user", "Omar.Admin@example.com "], ["iphone"]),
        (["--user", "ana.agent@example.com", "--status", "pending"], ["android"]),
        (["--user", "ana.agent@example.com", "--status", "active"], []),
        (["--user", "nobody@example.com"], []),
    ],
)
def test_list_filters(run, fleet, args, expected):
    result = run("list", "--json", *args)
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.output)] == [fleet[n].id for n in expected]


def test_list_says_when_nothing_matches(run, fleet):
    result = run("list", "--status", "wiped")
    assert result.exit_code == 0 and result.output == "No devices match.\n"


def test_list_refuses_an_unknown_status(run, fleet):
    result = run("list", "--status", "stolen")
    assert result.exit_code == 2
    assert "Invalid value for '--status'" in result.output and "'stolen' is not one of" in (
        result.output)
    assert "wipe_pending" in result.output


# -- approve, lost, wipe, revoke --------------------------------------------------------------

def test_approve_a_pending_device(run, session, fleet):
    android = fleet["android"]
    assert android.cache_key_id is None
    result = run("approve", android.id)
    assert result.exit_code == 0, result.output
    assert result.output == f"Approved {android.id} (Android · Chrome, ana.agent@example.com).\n"
    assert android.status == DeviceStatus.ACTIVE and android.approved_by.startswith("cli:")
    assert wrapped_key(session, android.cache_key_id) is not None
    event = last_event(session)
    assert (event.tag, event.record_type, event.record_id) == (
        "device:registry:approve", "device", android.id)
    assert event.actor_label.startswith("cli:") and event.actor_user_id is None
    assert verify_chain(session).ok


@pytest.mark.parametrize(
    ("command", "status", "tag", "says"),
    [
        ("lost", DeviceStatus.LOST, "device:registry:lost", "Marked lost:"),
        ("wipe", DeviceStatus.WIPE_PENDING, "device:registry:wipe", "Wipe ordered:"),
        ("revoke", DeviceStatus.REVOKED, "device:registry:revoke", "Revoked:"),
    ],
)
def test_closing_a_device_ends_its_sessions_and_shreds_its_cache_key(run, session, clock, fleet,
                                                                     command, status, tag, says):
    iphone, key_id = fleet["iphone"], fleet["iphone"].cache_key_id
    assert wrapped_key(session, key_id) is not None
    result = run(command, iphone.id)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{says} {iphone.id} (iPhone · Safari, omar.admin@")
    assert "1 session(s) ended; its offline-cache key is destroyed." in result.output
    assert iphone.status == status and iphone.status_changed_at == clock.now()
    assert fleet["iphone_session"].ended_at == clock.now()
    assert wrapped_key(session, key_id) is None
    assert fleet["android"].status == DeviceStatus.PENDING  # the other device is untouched
    assert fleet["android_session"].ended_at is None
    closing = session.scalars(select(AuditEvent).where(AuditEvent.tag == tag)).one()
    assert closing.record_id == iphone.id and closing.actor_label.startswith("cli:")
    assert json.loads(closing.details_json)["sessions_ended"] == 1
    revoked = session.scalars(select(AuditEvent)
                              .where(AuditEvent.tag == "auth:session:revoke")).one()
    assert revoked.actor_label.startswith("cli:")
    assert verify_chain(session).ok


def test_a_pending_device_has_no_cache_key_to_destroy(run, fleet):
    result = run("revoke", fleet["android"].id)
    assert result.exit_code == 0, result.output
    assert result.output.endswith("1 session(s) ended.\n")


def test_wiping_a_lost_device_records_the_order(run, session, keyring, clock, fleet):
    iphone = fleet["iphone"]
    mark_lost(session, keyring, iphone, actor=Actor(label="test"), now=clock.now())
    session.commit()
    result = run("wipe", iphone.id)
    assert result.exit_code == 0, result.output
    assert "Wipe order recorded" in result.output and iphone.status == DeviceStatus.LOST
    assert last_event(session).tag == "device:registry:wipe"


@pytest.mark.parametrize(("command", "already"), [("lost", DeviceStatus.LOST),
                                                  ("wipe", DeviceStatus.WIPE_PENDING),
                                                  ("revoke", DeviceStatus.REVOKED)])
def test_repeating_a_change_is_refused_and_changes_nothing(run, session, fleet, command,
                                                           already):
    iphone = fleet["iphone"]
    assert run(command, iphone.id).exit_code == 0
    events = count_events(session)
    result = run(command, iphone.id)
    assert result.exit_code == 1
    assert result.output.startswith("Error: This device is already ")
    assert iphone.status == already and count_events(session) == events


# -- bad input and refused changes ------------------------------------------------------------

@pytest.mark.parametrize("command", ["approve", "lost", "wipe", "revoke"])
def test_an_unknown_id_is_a_usage_error(run, session, fleet, command):
    events = count_events(session)
    result = run(command, "no-such-device")
    assert result.exit_code == 2
    assert "No device with id 'no-such-device'" in result.output
    assert "flask devices list" in result.output
    assert count_events(session) == events


def test_an_id_starting_with_a_dash_is_an_id_not_an_option(run, session, clock, fleet):
    from webapp.devices.models import Device

    android = fleet["android"]
    dashed = Device(id="-Zq3b_dash-first-000Ab", owner_id=android.owner_id,
                    cookie_hash="0" * 64, label="Pixel", platform="Android",
                    aaguid=android.aaguid, attestation_format="none",
                    user_verified_at_enrollment=True, backup_eligible=False,
                    backup_state=False, status=DeviceStatus.PENDING, first_seen_at=clock.now(),
                    last_seen_at=clock.now(), status_changed_at=clock.now())
    session.add(dashed)
    session.commit()
    result = run("approve", "-Zq3b_dash-first-000Ab")
    assert result.exit_code == 0, result.output
    assert dashed.status == DeviceStatus.ACTIVE
    assert run("revoke", "--", "-Zq3b_dash-first-000Ab").exit_code == 0
    assert dashed.status == DeviceStatus.REVOKED
    unknown = run("lost", "-nope")
    assert unknown.exit_code == 2 and "No device with id '-nope'" in unknown.output


def test_a_missing_id_is_a_usage_error(run):
    result = run("approve")
    assert result.exit_code == 2 and "Missing argument 'ID'" in result.output


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("approve", "Only a device waiting for approval can be approved (this one is wiped)."),
        ("lost", "This device is already wiped."),
        ("wipe", "This device is already wiped."),
    ],
)
def test_a_refused_change_exits_1_and_changes_nothing(run, session, keyring, clock, fleet,
                                                      command, message):
    iphone = fleet["iphone"]
    mark_lost(session, keyring, iphone, actor=Actor(label="test"), now=clock.now())
    confirm_wipe(session, iphone, now=clock.now(), actor=Actor(label="test"))
    session.commit()
    events, changed_at = count_events(session), iphone.status_changed_at
    clock.advance(minutes=5)

    result = run(command, iphone.id)

    assert result.exit_code == 1
    assert result.output == f"Error: {message}\n"
    session.expire_all()
    assert iphone.status == DeviceStatus.WIPED and iphone.status_changed_at == changed_at
    assert count_events(session) == events


def test_approving_an_active_device_is_refused(run, session, fleet):
    result = run("approve", fleet["iphone"].id)
    assert result.exit_code == 1 and "(this one is active)" in result.output
    assert fleet["iphone"].status == DeviceStatus.ACTIVE


def test_a_revoked_device_cannot_be_marked_lost(run, session, keyring, clock, fleet):
    android = fleet["android"]
    revoke(session, keyring, android, actor=Actor(label="test"), now=clock.now())
    session.commit()
    result = run("lost", android.id)
    assert result.exit_code == 1 and "already revoked" in result.output
    assert android.status == DeviceStatus.REVOKED


def test_a_lost_device_cannot_be_revoked_out_of_its_wipe(run, session, keyring, clock, fleet):
    iphone = fleet["iphone"]
    mark_lost(session, keyring, iphone, actor=Actor(label="test"), now=clock.now())
    session.commit()
    events = count_events(session)
    result = run("revoke", iphone.id)
    assert result.exit_code == 1 and "already marked lost" in result.output
    assert iphone.status == DeviceStatus.LOST and count_events(session) == events


def test_the_help_names_the_exit_codes(run):
    text = " ".join(run("--help").output.split())  # unwrapped
    assert "0 done; 1 the device's state refuses the change (nothing is changed)" in text
    assert "2 bad input, such as an unknown device id" in text
    approve_help = " ".join(run("approve", "--help").output.split())
    assert "Exit 2 if no device has this id; exit 1 if it is not waiting" in approve_help
