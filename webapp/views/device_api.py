"""The device's own endpoints: offline-cache key, offline copy, wipe confirmation."""

from __future__ import annotations

import base64
from datetime import timedelta

from flask import Blueprint, g, jsonify, render_template, request, url_for
from flask_login import current_user

from ..access.agency_settings import agency_zone, get_setting
from ..audit import Actor, AuditTag, record_event
from ..auth.models import Role
from ..crm import service
from ..db import get_session
from ..devices.registry import cache_key, confirm_wipe
from .crm import today_context
from .guard import clock, keyring, verified_within_idle_lock

blueprint = Blueprint("device_api", __name__)


def _actor() -> Actor:
    row = g.user_session
    return Actor(user_id=row.user_id, session_ref=row.id, device_id=row.device_id,
                 ip_address=request.remote_addr)


@blueprint.get("/devices/cache-key")
def offline_cache_key():
    """The per-device key that encrypts the phone's offline cache.

    Only for an active device, in a session unlocked by a user-verified assertion within the
    idle-lock window (the guard's device check runs first). The page keeps it in memory as a
    non-extractable WebCrypto key; it is never stored on the device.
    """
    db = get_session()
    device = g.device
    if not verified_within_idle_lock(g.user_session):
        return jsonify(error="Unlock with your passkey first.", locked=True), 423
    key = cache_key(db, keyring(), device)
    if key is None:
        return jsonify(error="This device has no offline key."), 404
    record_event(db, AuditTag.DEVICE_CACHE_KEY_ISSUE, actor=_actor(),
                 record_type="device", record_id=device.id)
    db.commit()
    return jsonify(key=base64.urlsafe_b64encode(key).rstrip(b"=").decode(),
                   device_id=device.id,
                   offline_limit_seconds=int(timedelta(
                       minutes=get_setting(db, "device_offline_lock_minutes")).total_seconds()))


@blueprint.get("/devices/offline-copy")
def offline_copy():
    """Today and today's client cards, rendered as the agent sees them online, for the page to
    encrypt into the phone's offline store (with the key above, in the page, never here).

    The same views' projections and templates: the offline copy holds nothing the role could
    not see online. Each client in it is audited as viewed "offline_copy" from this device.
    """
    if current_user.role != Role.AGENT:
        return jsonify(error="Only agents keep an offline copy."), 403
    db = get_session()
    now, actor = clock().now(), _actor()
    zone = agency_zone(db)
    today = service.today_page(db, current_user, now=now, zone=zone)
    cards = service.offline_cards(db, current_user, today, now=now, actor=actor)
    pages = [{"path": url_for("crm.today"),
              "html": render_template("crm/today.html", **today_context(db, today),
                                      offline_copy=True)}]
    pages += [{"path": url_for("crm.client", client_id=card.client.id),
               "html": render_template("crm/client.html", card=card,
                                       section_names=service.SECTION_KINDS,
                                       offline_copy=True)}
              for card in cards]
    service.record_view(db, actor, [card.client.id for card in cards], "offline_copy")
    db.commit()
    return jsonify(device_id=g.device.id, saved_at=now.isoformat(), pages=pages)


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
