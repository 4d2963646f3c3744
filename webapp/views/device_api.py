"""The device's own endpoints: the offline-cache key, and the wipe confirmation."""

from __future__ import annotations

import base64
from datetime import timedelta

from flask import Blueprint, g, jsonify, request

from ..access.agency_settings import get_setting
from ..audit import Actor, AuditTag, record_event
from ..auth.sessions import SessionPolicy
from ..db import get_session
from ..devices.registry import cache_key, confirm_wipe
from .guard import clock, keyring

blueprint = Blueprint("device_api", __name__)


@blueprint.get("/devices/cache-key")
def offline_cache_key():
    """The per-device key that encrypts the phone's offline cache.

    Only for an active device, in a session unlocked by a user-verified assertion within the
    idle-lock window (the guard's device check runs first). The page keeps it in memory as a
    non-extractable WebCrypto key; it is never stored on the device.
    """
    db = get_session()
    row, device = g.user_session, g.device
    idle_lock = SessionPolicy.for_role(db, row.user.role.value).idle_lock
    if clock().now() - row.last_verified_at > idle_lock:
        return jsonify(error="Unlock with your passkey first.", locked=True), 423
    key = cache_key(db, keyring(), device)
    if key is None:
        return jsonify(error="This device has no offline key."), 404
    record_event(db, AuditTag.DEVICE_CACHE_KEY_ISSUE,
                 actor=Actor(user_id=row.user_id, session_ref=row.id, device_id=device.id,
                             ip_address=request.remote_addr),
                 record_type="device", record_id=device.id)
    db.commit()
    return jsonify(key=base64.urlsafe_b64encode(key).rstrip(b"=").decode(),
                   device_id=device.id,
                   offline_limit_seconds=int(timedelta(
                       minutes=get_setting(db, "device_offline_lock_minutes")).total_seconds()))


@blueprint.post("/devices/wipe-confirm")
def confirm_wipe_view():
    """The wiped page's script calls this after deleting what it could: the server records
    the device as wiped, with the time."""
    db = get_session()
    device = g.get("device")
    if device is None:
        return jsonify(wiped=False), 404
    done = confirm_wipe(db, device, now=clock().now(),
                        actor=Actor(label="device", device_id=device.id,
                                    ip_address=request.remote_addr))
    db.commit()
    return jsonify(wiped=done or device.status.value == "wiped")
