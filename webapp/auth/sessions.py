"""Server-side sessions: start, evaluate (idle lock, idle end, absolute end), rotate, end.

The browser holds a random 256-bit token; the table holds its SHA-256, so a copy of the
database cannot be turned into a working cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..access.agency_settings import get_setting
from ..audit import Actor, AuditTag, record_event
from .models import Passkey, SessionEndReason, User, UserSession, UserStatus

STEP_UP_WINDOW = timedelta(minutes=2)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SessionPolicy:
    idle_lock: timedelta
    idle_end: timedelta
    absolute: timedelta

    @classmethod
    def for_role(cls, db: Session, role: str) -> SessionPolicy:
        return cls(
            idle_lock=timedelta(seconds=get_setting(db, f"idle_lock_seconds.{role}")),
            idle_end=timedelta(seconds=get_setting(db, f"idle_end_seconds.{role}")),
            absolute=timedelta(seconds=get_setting(db, "absolute_session_seconds")),
        )


class SessionState(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"
    ENDED = "ended"


def actor_for(row: UserSession, *, ip_address: str | None = None) -> Actor:
    return Actor(user_id=row.user_id, session_ref=row.id, ip_address=ip_address)


def start_session(db: Session, *, user: User, passkey: Passkey | None, now: datetime,
                  user_agent: str, ip_address: str | None) -> tuple[UserSession, str]:
    token = new_token()
    row = UserSession(token_hash=_hash(token), user_id=user.id,
                      passkey_id=passkey.id if passkey else None, created_at=now,
                      last_activity_at=now, last_verified_at=now,
                      user_agent=user_agent[:200], ip_address=ip_address)
    db.add(row)
    db.flush()
    return row, token


def find_session(db: Session, token: str | None) -> UserSession | None:
    if not token:
        return None
    return db.scalar(select(UserSession).where(UserSession.token_hash == _hash(token),
                                               UserSession.ended_at.is_(None)))


def evaluate(db: Session, row: UserSession, *, now: datetime, policy: SessionPolicy,
             user_activity: bool, ip_address: str | None = None) -> SessionState:
    """Apply the timeouts to a session at `now`; record activity if this request is the
    user's doing (background polling is not)."""
    actor = actor_for(row, ip_address=ip_address)
    if row.user.status != UserStatus.ACTIVE:
        end_session(db, row, SessionEndReason.USER_DISABLED, now=now, actor=actor)
        return SessionState.ENDED
    if now - row.created_at >= policy.absolute:
        end_session(db, row, SessionEndReason.ABSOLUTE, now=now, actor=actor)
        return SessionState.ENDED
    idle = now - row.last_activity_at
    if idle >= policy.idle_end:
        end_session(db, row, SessionEndReason.IDLE, now=now, actor=actor)
        return SessionState.ENDED
    if row.locked_at is None and idle >= policy.idle_lock:
        _lock_once(db, row, now=now, actor=actor, reason="idle")
    if row.locked_at is not None:
        return SessionState.LOCKED  # activity on a locked screen does not keep it alive
    if user_activity:
        row.last_activity_at = now
    return SessionState.ACTIVE


def lock_session(db: Session, row: UserSession, *, now: datetime, actor: Actor,
                 reason: str = "user") -> None:
    if row.locked_at is None:
        _lock_once(db, row, now=now, actor=actor, reason=reason)


def _lock_once(db: Session, row: UserSession, *, now: datetime, actor: Actor,
               reason: str) -> None:
    """Lock the session, and audit it, exactly once even when several requests (the page and
    the service worker's update check, say) find it idle at the same moment: the conditional
    UPDATE waits for the other transaction and then matches no row."""
    locked = db.execute(
        update(UserSession)
        .where(UserSession.id == row.id, UserSession.locked_at.is_(None))
        .values(locked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Either way the row is locked now (by this request, or by the one that got there first).
    set_committed_value(row, "locked_at", now)
    if locked:
        record_event(db, AuditTag.AUTH_SESSION_LOCK, actor=actor, reason=reason)


def unlock_session(db: Session, row: UserSession, *, now: datetime) -> str:
    """After a user-verified assertion: unlock and rotate the token (returned)."""
    row.locked_at = None
    row.last_activity_at = now
    row.last_verified_at = now
    return rotate_token(row)


def mark_verified(row: UserSession, *, now: datetime) -> None:
    row.last_verified_at = now
    row.last_activity_at = now


def rotate_token(row: UserSession) -> str:
    token = new_token()
    row.token_hash = _hash(token)
    return token


def recently_verified(row: UserSession, *, now: datetime,
                      within: timedelta = STEP_UP_WINDOW) -> bool:
    return now - row.last_verified_at <= within


def end_session(db: Session, row: UserSession, reason: SessionEndReason, *, now: datetime,
                actor: Actor) -> None:
    if row.ended_at is not None:
        return
    row.ended_at, row.end_reason = now, reason.value
    tag = {
        SessionEndReason.LOGOUT: AuditTag.AUTH_SESSION_LOGOUT,
        SessionEndReason.IDLE: AuditTag.AUTH_SESSION_TIMEOUT,
        SessionEndReason.ABSOLUTE: AuditTag.AUTH_SESSION_TIMEOUT,
    }.get(reason, AuditTag.AUTH_SESSION_REVOKE)
    record_event(db, tag, actor=actor, reason=reason.value, record_type="session",
                 record_id=row.id, details={"user_id": row.user_id})


def end_user_sessions(db: Session, user_id: str, reason: SessionEndReason, *, now: datetime,
                      actor: Actor) -> int:
    """End every live session of a user at once (logout everywhere, disable, role change)."""
    rows = db.scalars(select(UserSession).where(UserSession.user_id == user_id,
                                                UserSession.ended_at.is_(None))).all()
    for row in rows:
        end_session(db, row, reason, now=now, actor=actor)
    return len(rows)


def live_sessions(db: Session, user_id: str) -> list[UserSession]:
    return list(db.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_activity_at.desc())
    ))


def sweep_ended(db: Session, *, older_than: datetime) -> int:
    """Forget token hashes of sessions that ended long ago (rows stay for the record)."""
    result = db.execute(update(UserSession)
                        .where(UserSession.ended_at < older_than,
                               UserSession.token_hash.not_like("ended:%"))
                        .values(token_hash="ended:" + UserSession.id))
    return result.rowcount or 0
