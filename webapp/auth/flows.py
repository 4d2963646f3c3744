"""The passkey ceremonies end to end: enrollment, sign-in, unlock and step-up.

Each `finish_*` verifies with py_webauthn (through `passkeys`), updates the stored passkey,
and records an audit event on success and on every refusal, with its reason. Callers commit
in both cases: a refusal must leave its audit event and the consumed challenge behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import Actor, AuditTag, record_event
from ..crypto import Keyring
from ..devices.models import Device
from ..devices.registry import note_verified, platform_of, record_sign_in
from . import ceremonies, passkeys
from .errors import AuthRefused, CeremonyRefused
from .invites import find_invite
from .models import Passkey, User, UserSession, UserStatus
from .passkeys import PasskeyRejected, RelyingParty
from .sessions import SessionState, mark_verified, start_session, unlock_session

_UNKNOWN_PASSKEY = ("This passkey is not registered here. Use a passkey you enrolled, or ask "
                    "your administrator for a new enrollment link.")
_DISABLED = "This account is disabled. Ask your administrator."


@dataclass(frozen=True)
class RequestMeta:
    """What the HTTP layer knows about the request, for sessions, devices and the audit trail."""

    user_agent: str = ""
    ip_address: str | None = None
    device_cookie: str | None = None

    def actor(self, user_id: str | None = None, session_ref: str | None = None) -> Actor:
        return Actor(user_id=user_id, session_ref=session_ref, ip_address=self.ip_address)


def _default_passkey_name(user_agent: str) -> str:
    platform = platform_of(user_agent)
    return "Passkey" if platform == "Unknown" else f"Passkey on {platform}"


# -- enrollment ---------------------------------------------------------------------------------

def enrollment_options(db: Session, *, rp: RelyingParty, token: str, now: datetime,
                       meta: RequestMeta) -> tuple[str, str]:
    invite = find_invite(db, token, now=now, actor=meta.actor())
    user = invite.user
    options, challenge = passkeys.registration_options(
        rp=rp, user_handle=user.user_handle, user_name=user.email,
        display_name=user.display_name,
        exclude_credential_ids=[p.credential_id for p in user.passkeys],
    )
    ceremony_id = ceremonies.begin(db, purpose="enroll", challenge=challenge, now=now,
                                   user_id=user.id, subject=invite.id)
    return options, ceremony_id


def register_passkey(db: Session, *, rp: RelyingParty, user: User, ceremony_id: str | None,
                     purpose: str, credential: object, now: datetime, meta: RequestMeta,
                     name: str | None = None, subject: str | None = None) -> Passkey:
    """Verify a registration for `user` and store the passkey (or audit the refusal)."""
    actor = meta.actor(user.id)
    try:
        ceremony = ceremonies.take(db, ceremony_id, purpose=purpose, now=now)
        if ceremony.user_id != user.id or (subject and ceremony.subject != subject):
            raise CeremonyRefused("wrong_ceremony", "This passkey request was for someone else.")
        new = passkeys.verify_registration(rp=rp, credential=credential,
                                           expected_challenge=ceremony.challenge)
        if db.scalar(select(Passkey.id).where(Passkey.credential_id == new.credential_id)):
            raise AuthRefused("duplicate_credential", "This passkey is already registered.")
    except (PasskeyRejected, AuthRefused) as refusal:
        reason, message = _reason(refusal)
        record_event(db, AuditTag.AUTH_PASSKEY_REGISTER, actor=actor, outcome="refused",
                     reason=reason, record_type="user", record_id=user.id)
        raise AuthRefused(reason, message) from refusal
    passkey = Passkey(
        user_id=user.id, credential_id=new.credential_id, public_key=new.public_key,
        sign_count=new.sign_count, aaguid=new.aaguid, attestation_format=new.attestation_format,
        transports=json.dumps(new.transports), backup_eligible=new.backup_eligible,
        backup_state=new.backup_state,
        name=(name or _default_passkey_name(meta.user_agent))[:60], created_at=now,
        last_used_at=now,
    )
    db.add(passkey)
    db.flush()
    record_event(db, AuditTag.AUTH_PASSKEY_REGISTER, actor=actor, record_type="passkey",
                 record_id=passkey.id, details={"synced": new.backup_eligible,
                                                "format": new.attestation_format})
    return passkey


@dataclass(frozen=True)
class SignedIn:
    """A new session on a device: the cookies to send are `session_token` and, when the
    browser got a new device, `device_token`."""

    user: User
    session_row: UserSession
    session_token: str
    device: Device
    device_token: str | None


def _open_session(db: Session, keyring: Keyring, *, user: User, passkey: Passkey,
                  now: datetime, meta: RequestMeta, via: str) -> SignedIn:
    row, token = start_session(db, user=user, passkey=passkey, now=now,
                               user_agent=meta.user_agent, ip_address=meta.ip_address)
    device, device_token = record_sign_in(db, keyring, user=user, passkey=passkey,
                                          cookie_token=meta.device_cookie,
                                          user_agent=meta.user_agent, now=now,
                                          actor=meta.actor(user.id, row.id))
    row.device_id = device.id
    record_event(db, AuditTag.AUTH_SESSION_LOGIN,
                 actor=Actor(user_id=user.id, session_ref=row.id, device_id=device.id,
                             ip_address=meta.ip_address),
                 record_type="session", record_id=row.id,
                 details={"via": via, "passkey_id": passkey.id})
    return SignedIn(user, row, token, device, device_token)


def finish_enrollment(db: Session, keyring: Keyring, *, rp: RelyingParty, token: str,
                      ceremony_id: str | None, credential: object, now: datetime,
                      meta: RequestMeta) -> SignedIn:
    """Register the invited person's passkey, use up the invite, and sign them in."""
    invite = find_invite(db, token, now=now, actor=meta.actor())
    user = invite.user
    passkey = register_passkey(db, rp=rp, user=user, ceremony_id=ceremony_id, purpose="enroll",
                               credential=credential, now=now, meta=meta, subject=invite.id)
    invite.used_at = now
    if user.status == UserStatus.INVITED:
        user.status = UserStatus.ACTIVE
    record_event(db, AuditTag.AUTH_INVITE_USE, actor=meta.actor(user.id), record_type="invite",
                 record_id=invite.id)
    return _open_session(db, keyring, user=user, passkey=passkey, now=now, meta=meta,
                         via="enrollment")


# -- assertions: sign-in, unlock, step-up -------------------------------------------------------

def assertion_options(db: Session, *, rp: RelyingParty, purpose: str, now: datetime,
                      user: User | None = None, subject: str | None = None) -> tuple[str, str]:
    """Options for a user-verified assertion. Sign-in lists no credentials (discoverable);
    unlock and step-up list the signed-in user's own."""
    allowed = [p.credential_id for p in user.passkeys] if user else []
    options, challenge = passkeys.authentication_options(rp=rp, allow_credential_ids=allowed)
    ceremony_id = ceremonies.begin(db, purpose=purpose, challenge=challenge, now=now,
                                   user_id=user.id if user else None, subject=subject)
    return options, ceremony_id


def _reason(refusal: Exception) -> tuple[str, str]:
    if isinstance(refusal, PasskeyRejected | AuthRefused):
        return refusal.reason, refusal.message
    raise refusal


def verify_assertion(db: Session, *, rp: RelyingParty, ceremony_id: str | None, purpose: str,
                     credential: object, now: datetime, meta: RequestMeta, tag: AuditTag,
                     expected_user: User | None = None,
                     subject: str | None = None) -> tuple[User, Passkey]:
    """Verify a user-verified assertion; on any refusal audit `tag` with the reason."""
    passkey = None
    try:
        ceremony = ceremonies.take(db, ceremony_id, purpose=purpose, now=now)
        if subject is not None and ceremony.subject != subject:
            raise CeremonyRefused("wrong_ceremony", "This passkey request was for another session.")
        credential_id = passkeys.credential_id_of(credential)
        passkey = db.scalar(select(Passkey).where(Passkey.credential_id == credential_id))
        if passkey is None:
            raise AuthRefused("unknown_credential", _UNKNOWN_PASSKEY)
        if expected_user is not None and passkey.user_id != expected_user.id:
            raise AuthRefused("wrong_user", "This passkey belongs to someone else. Unlock with "
                                            "your own passkey, or sign out.")
        if passkey.user.status != UserStatus.ACTIVE:
            raise AuthRefused("user_disabled", _DISABLED)
        verified = passkeys.verify_authentication(
            rp=rp, credential=credential, expected_challenge=ceremony.challenge,
            public_key=passkey.public_key, current_sign_count=passkey.sign_count,
            expected_user_handle=passkey.user.user_handle,
        )
    except (PasskeyRejected, AuthRefused) as refusal:
        reason, message = _reason(refusal)
        user_id = passkey.user_id if passkey else (expected_user.id if expected_user else None)
        record_event(db, tag, actor=meta.actor(user_id, subject), outcome="refused",
                     reason=reason, record_type="passkey",
                     record_id=passkey.id if passkey else None)
        raise AuthRefused(reason, message) from refusal
    passkey.sign_count = verified.new_sign_count
    passkey.backup_state = verified.backup_state
    passkey.last_used_at = now
    return passkey.user, passkey


def finish_sign_in(db: Session, keyring: Keyring, *, rp: RelyingParty,
                   ceremony_id: str | None, credential: object, now: datetime,
                   meta: RequestMeta) -> SignedIn:
    user, passkey = verify_assertion(db, rp=rp, ceremony_id=ceremony_id, purpose="sign_in",
                                     credential=credential, now=now, meta=meta,
                                     tag=AuditTag.AUTH_SESSION_LOGIN)
    return _open_session(db, keyring, user=user, passkey=passkey, now=now, meta=meta,
                         via="passkey")


def _note_device_verified(db: Session, row: UserSession, now: datetime) -> None:
    device = db.get(Device, row.device_id) if row.device_id else None
    if device is not None:
        note_verified(device, now=now)


def finish_unlock(db: Session, *, rp: RelyingParty, row: UserSession, ceremony_id: str | None,
                  credential: object, now: datetime, meta: RequestMeta) -> str:
    """Unlock a locked session with the same user's passkey; returns the rotated token."""
    _user, passkey = verify_assertion(db, rp=rp, ceremony_id=ceremony_id, purpose="unlock",
                                      credential=credential, now=now, meta=meta,
                                      tag=AuditTag.AUTH_SESSION_UNLOCK, expected_user=row.user,
                                      subject=row.id)
    token = unlock_session(db, row, now=now)
    row.passkey_id = passkey.id
    _note_device_verified(db, row, now)
    record_event(db, AuditTag.AUTH_SESSION_UNLOCK, actor=meta.actor(row.user_id, row.id),
                 record_type="session", record_id=row.id)
    return token


def finish_step_up(db: Session, *, rp: RelyingParty, row: UserSession,
                   ceremony_id: str | None, credential: object, now: datetime,
                   meta: RequestMeta) -> None:
    verify_assertion(db, rp=rp, ceremony_id=ceremony_id, purpose="step_up",
                     credential=credential, now=now, meta=meta,
                     tag=AuditTag.AUTH_STEP_UP_VERIFY, expected_user=row.user, subject=row.id)
    mark_verified(row, now=now)
    _note_device_verified(db, row, now)
    record_event(db, AuditTag.AUTH_STEP_UP_VERIFY, actor=meta.actor(row.user_id, row.id),
                 record_type="session", record_id=row.id)


__all__ = ["RequestMeta", "SessionState", "SignedIn", "assertion_options", "enrollment_options",
           "finish_enrollment", "finish_sign_in", "finish_step_up", "finish_unlock",
           "register_passkey", "verify_assertion"]
