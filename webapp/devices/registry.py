"""Device registry services: recognise a device at sign-in, decide whether it may open PHI,
approve, rename, mark lost, wipe, revoke, and hand out its offline-cache key.

Lost, wipe and revoke act at once: the device's sessions end and its cache key is destroyed
(crypto-shredding what the phone cached, even if it never comes online again).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, contains_eager

from ..access.agency_settings import get_setting
from ..audit import Actor, AuditTag, record_event
from ..auth.models import Passkey, SessionEndReason, User, UserSession
from ..auth.sessions import end_session
from ..crypto import Keyring
from ..crypto.models import DataKey
from .models import Device, DeviceCredential, DeviceStatus

CACHE_KEY_PURPOSE = "device_cache"


class DeviceError(ValueError):
    """A device change that cannot be made; the message says why."""


def new_cookie_token() -> str:
    return secrets.token_urlsafe(32)


def hash_cookie(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class DevicePolicy:
    approval_required: bool
    allow_synced: bool
    aaguid_allowlist: tuple[str, ...]

    @classmethod
    def for_role(cls, db: Session, role: str) -> DevicePolicy:
        return cls(
            approval_required=get_setting(db, f"device_approval_required.{role}"),
            allow_synced=get_setting(db, "device_allow_synced_passkeys"),
            aaguid_allowlist=tuple(a.lower() for a in get_setting(db, "device_aaguid_allowlist")),
        )


_PLATFORMS = (("iphone", "iPhone"), ("ipad", "iPad"), ("android", "Android"),
              ("cros", "Chromebook"), ("macintosh", "Mac"), ("windows", "Windows"),
              ("linux", "Linux"))
_BROWSERS = (("edg/", "Edge"), ("firefox/", "Firefox"), ("crios/", "Chrome"),
             ("chrome/", "Chrome"), ("chromium/", "Chromium"), ("safari/", "Safari"))


def platform_of(user_agent: str) -> str:
    ua = user_agent.lower()
    return next((name for marker, name in _PLATFORMS if marker in ua), "Unknown")


def label_for(user_agent: str) -> str:
    """"iPhone · Safari": what a person recognises their phone by."""
    ua = user_agent.lower()
    browser = next((name for marker, name in _BROWSERS if marker in ua), "Browser")
    return f"{platform_of(user_agent)} · {browser}"


def find_device(db: Session, cookie_token: str | None) -> Device | None:
    if not cookie_token:
        return None
    return db.scalar(select(Device).where(Device.cookie_hash == hash_cookie(cookie_token)))


def _device_actor(device: Device, actor: Actor) -> Actor:
    """The actor as the device itself (its own sign-in, its wipe confirmation). When someone
    acts on a device from elsewhere, the event keeps their device and names the target in
    record_id."""
    return Actor(user_id=actor.user_id, label=actor.label, device_id=device.id,
                 session_ref=actor.session_ref, ip_address=actor.ip_address)


def _record(db: Session, tag: AuditTag, device: Device, actor: Actor, **kwargs) -> None:
    record_event(db, tag, actor=actor, record_type="device", record_id=device.id,
                 details={"owner_id": device.owner_id, **kwargs.pop("details", {})}, **kwargs)


def _ensure_cache_key(db: Session, keyring: Keyring, device: Device) -> None:
    if device.cache_key_id is None:
        new_key = keyring.new_data_key(CACHE_KEY_PURPOSE)
        db.add(DataKey(**new_key.as_row()))
        db.flush()
        device.cache_key_id = new_key.id


def record_sign_in(db: Session, keyring: Keyring, *, user: User, passkey: Passkey,
                   cookie_token: str | None, user_agent: str, now: datetime,
                   actor: Actor) -> tuple[Device, str | None]:
    """The device a user-verified sign-in (or enrollment) happened on.

    Returns (device, new cookie token or None). A browser without a device cookie, with a
    credential not yet seen on its device, or whose device is closed (lost, wiped, revoked)
    gets a new device; a closed device never comes back, and its successor always waits for
    an admin's approval.
    """
    device = find_device(db, cookie_token)
    seen = device is not None and device.owner_id == user.id and any(
        c.passkey_id == passkey.id for c in device.credentials)
    if device is not None and seen and not device.status.is_closed:
        device.last_seen_at = device.last_verified_at = now
        return device, None
    replaced_closed = device is not None and device.status.is_closed
    policy = DevicePolicy.for_role(db, user.role.value)
    status = (DeviceStatus.PENDING if policy.approval_required or replaced_closed
              else DeviceStatus.ACTIVE)
    token = new_cookie_token()
    device = Device(
        owner_id=user.id, cookie_hash=hash_cookie(token), label=label_for(user_agent),
        platform=platform_of(user_agent), aaguid=passkey.aaguid,
        attestation_format=passkey.attestation_format, user_verified_at_enrollment=True,
        backup_eligible=passkey.backup_eligible, backup_state=passkey.backup_state,
        status=status, first_seen_at=now, last_seen_at=now, last_verified_at=now,
        status_changed_at=now,
    )
    db.add(device)
    db.flush()
    device.credentials.append(DeviceCredential(passkey_id=passkey.id, first_used_at=now))
    if status == DeviceStatus.ACTIVE:
        device.approved_by, device.approved_at = "policy", now
        _ensure_cache_key(db, keyring, device)
    _record(db, AuditTag.DEVICE_REGISTRY_CREATE, device, _device_actor(device, actor),
            details={"status": status.value, "synced": passkey.backup_eligible,
                     "replaces_closed_device": replaced_closed})
    return device, token


def note_verified(device: Device, *, now: datetime) -> None:
    """A user-verified assertion (unlock, step-up) happened on this device."""
    device.last_verified_at = device.last_seen_at = now


def note_seen(device: Device, *, now: datetime) -> None:
    device.last_seen_at = now


@dataclass(frozen=True)
class PhiAccess:
    allowed: bool
    reason: str  # "ok" | "no_device" | "pending" | "lost" | "wipe_pending" | "wiped" |
    #              "revoked" | "not_verified" | "synced_passkey" | "aaguid"


def phi_access(db: Session, device: Device | None, session_row: UserSession) -> PhiAccess:
    """May this device, in this session, open PHI now?

    The rule: the device is active, allowed by policy, and this unlocked session was opened or
    unlocked by a user-verified assertion on this very device (the phone proved its screen
    lock; the session's idle lock bounds how long that proof lasts).
    """
    if device is None or session_row.device_id != device.id:
        return PhiAccess(False, "no_device")
    if device.status != DeviceStatus.ACTIVE:
        return PhiAccess(False, device.status.value)
    policy = DevicePolicy.for_role(db, device.owner.role.value)
    if device.backup_eligible and not policy.allow_synced:
        return PhiAccess(False, "synced_passkey")
    if policy.aaguid_allowlist and device.aaguid.lower() not in policy.aaguid_allowlist:
        return PhiAccess(False, "aaguid")
    if (device.last_verified_at is None or session_row.locked_at is not None
            or device.last_verified_at < session_row.created_at):
        return PhiAccess(False, "not_verified")
    return PhiAccess(True, "ok")


# -- admin and owner actions ---------------------------------------------------------------

def approve(db: Session, keyring: Keyring, device: Device, *, actor: Actor,
            now: datetime) -> None:
    if device.status != DeviceStatus.PENDING:
        raise DeviceError(f"Only a device waiting for approval can be approved "
                          f"(this one is {device.status.value}).")
    device.status, device.status_changed_at = DeviceStatus.ACTIVE, now
    device.approved_by, device.approved_at = actor.user_id or actor.label, now
    _ensure_cache_key(db, keyring, device)
    _record(db, AuditTag.DEVICE_REGISTRY_APPROVE, device, actor)


_LABEL = re.compile(r"^[\w .,'·()@#&+-]{1,80}$")


def rename(db: Session, device: Device, label: str, *, actor: Actor) -> None:
    label = " ".join((label or "").split())
    if not _LABEL.match(label):
        raise DeviceError("A device name is 1 to 80 letters, digits, spaces or . , ' - ( ).")
    device.label = label
    _record(db, AuditTag.DEVICE_REGISTRY_RENAME, device, actor)


def _close(db: Session, keyring: Keyring, device: Device, status: DeviceStatus, tag: AuditTag,
           *, actor: Actor, now: datetime, reason: str | None = None) -> int:
    if device.status.is_closed:
        # NOTE: a closed device stays closed; in particular revoking a lost device must not
        # cancel the wipe its next request will get.
        raise DeviceError(f"This device is already {_CLOSED_WORDS[device.status]}.")
    device.status, device.status_changed_at = status, now
    ended = 0
    for row in db.scalars(select(UserSession).where(UserSession.device_id == device.id,
                                                    UserSession.ended_at.is_(None))):
        end_session(db, row, SessionEndReason.REVOKED, now=now, actor=actor)
        ended += 1
    if device.cache_key_id is not None:
        # NOTE: crypto-shred the phone's offline cache: without this key the ciphertext it
        # holds is noise, whether or not the phone ever connects again.
        keyring.destroy_data_key(db.connection(), device.cache_key_id)
    _record(db, tag, device, actor, reason=reason,
            details={"sessions_ended": ended, "cache_key_destroyed": device.cache_key_id
                     is not None})
    return ended


_CLOSED_WORDS = {
    DeviceStatus.LOST: "marked lost (it is wiped on its next request)",
    DeviceStatus.WIPE_PENDING: "ordered wiped (it is wiped on its next request)",
    DeviceStatus.WIPED: "wiped",
    DeviceStatus.REVOKED: "revoked",
}


def mark_lost(db: Session, keyring: Keyring, device: Device, *, actor: Actor,
              now: datetime) -> int:
    return _close(db, keyring, device, DeviceStatus.LOST, AuditTag.DEVICE_REGISTRY_LOST,
                  actor=actor, now=now)


def order_wipe(db: Session, keyring: Keyring, device: Device, *, actor: Actor, now: datetime,
               reason: str | None = None) -> int:
    if device.status == DeviceStatus.LOST:
        # Already going to be wiped; record the order all the same.
        _record(db, AuditTag.DEVICE_REGISTRY_WIPE, device, actor, reason=reason)
        return 0
    return _close(db, keyring, device, DeviceStatus.WIPE_PENDING, AuditTag.DEVICE_REGISTRY_WIPE,
                  actor=actor, now=now, reason=reason)


def revoke(db: Session, keyring: Keyring, device: Device, *, actor: Actor, now: datetime,
           reason: str | None = None) -> int:
    return _close(db, keyring, device, DeviceStatus.REVOKED, AuditTag.DEVICE_REGISTRY_REVOKE,
                  actor=actor, now=now, reason=reason)


def confirm_wipe(db: Session, device: Device, *, now: datetime, actor: Actor) -> bool:
    """The phone says it deleted everything: a lost or wipe-pending device becomes wiped."""
    if not device.status.must_wipe:
        return False
    device.status, device.status_changed_at, device.wiped_at = DeviceStatus.WIPED, now, now
    _record(db, AuditTag.DEVICE_REGISTRY_WIPED, device, _device_actor(device, actor))
    return True


def cache_key(db: Session, keyring: Keyring, device: Device) -> bytes | None:
    """The raw offline-cache key of an active device (None for any other)."""
    if device.status != DeviceStatus.ACTIVE or device.cache_key_id is None:
        return None
    return keyring.export_data_key(device.cache_key_id)


# -- queries ----------------------------------------------------------------------------------

def devices_of(db: Session, user_id: str) -> list[Device]:
    return list(db.scalars(select(Device).where(Device.owner_id == user_id)
                           .order_by(Device.last_seen_at.desc())))


def all_devices(db: Session, *, status: str | None = None,
                owner_email: str | None = None) -> list[Device]:
    statement = (select(Device).join(User, User.id == Device.owner_id)
                 .options(contains_eager(Device.owner)))
    if status:
        try:
            statement = statement.where(Device.status == DeviceStatus(status))
        except ValueError:
            raise DeviceError(f"There is no device status called {status!r}.") from None
    if owner_email:
        statement = statement.where(User.email == owner_email.strip().lower())
    return list(db.scalars(statement.order_by(Device.last_seen_at.desc())))


def status_counts(db: Session) -> dict[DeviceStatus, int]:
    """How many devices are in each state (every state present, zero or not)."""
    counts = dict.fromkeys(DeviceStatus, 0)
    counts.update(db.execute(select(Device.status, func.count()).group_by(Device.status)).all())
    return counts


def unseen_since(db: Session, cutoff: datetime) -> list[Device]:
    return list(db.scalars(select(Device).where(
        Device.last_seen_at < cutoff,
        Device.status.in_([DeviceStatus.ACTIVE, DeviceStatus.PENDING]))))


def stale_pending(db: Session, cutoff: datetime) -> list[Device]:
    return list(db.scalars(select(Device).where(Device.status == DeviceStatus.PENDING,
                                                Device.first_seen_at < cutoff)))


__all__ = ["DeviceError", "DevicePolicy", "PhiAccess", "all_devices", "approve", "cache_key",
           "confirm_wipe", "devices_of", "find_device", "mark_lost", "note_seen",
           "note_verified", "order_wipe", "phi_access", "record_sign_in", "rename", "revoke",
           "stale_pending", "status_counts", "unseen_since"]
