"""Device registry tests, and a helper that makes a device the way sign-in does."""

from __future__ import annotations

import secrets
from datetime import datetime

from webapp.audit import Actor
from webapp.auth.models import Passkey, Role, User, UserSession
from webapp.auth.sessions import start_session
from webapp.devices.models import Device
from webapp.devices.registry import record_sign_in

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0 Mobile Safari/537.36")


def signed_in_device(factories, keyring, now: datetime, *, role: Role = Role.ADMIN,
                     user: User | None = None, user_agent: str = IPHONE,
                     synced: bool = True) -> tuple[Device, UserSession]:
    """A user (or `user`) with a new passkey signs in on a new browser at `now`: the device
    the registry records (active for an admin, pending for an agent by default policy) and
    the session opened on it. Flushed, not committed."""
    session = factories.session
    user = user or factories.user(role)
    passkey = Passkey(user_id=user.id, credential_id=secrets.token_bytes(32),
                      public_key=b"test public key", aaguid="00000000-0000-0000-0000-000000000000",
                      attestation_format="none", backup_eligible=synced, backup_state=synced,
                      name="Test passkey", created_at=now)
    session.add(passkey)
    session.flush()
    row, _token = start_session(session, user=user, passkey=passkey, now=now,
                                user_agent=user_agent, ip_address=None)
    device, _cookie = record_sign_in(session, keyring, user=user, passkey=passkey,
                                     cookie_token=None, user_agent=user_agent, now=now,
                                     actor=Actor(user_id=user.id, label="test"))
    row.device_id = device.id
    session.flush()
    return device, row
