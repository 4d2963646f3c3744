"""Pending WebAuthn challenges: 32 random bytes, single use, five minutes at most."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .errors import CeremonyRefused
from .models import Ceremony

CHALLENGE_LIFETIME = timedelta(minutes=5)


def begin(db: Session, *, purpose: str, challenge: bytes, now: datetime,
          user_id: str | None = None, subject: str | None = None) -> str:
    """Store a challenge; returns the ceremony id the browser's signed cookie will carry."""
    db.execute(delete(Ceremony).where(Ceremony.created_at < now - CHALLENGE_LIFETIME))
    ceremony = Ceremony(purpose=purpose, challenge=challenge, user_id=user_id, subject=subject,
                        created_at=now)
    db.add(ceremony)
    db.flush()
    return ceremony.id


def take(db: Session, ceremony_id: str | None, *, purpose: str, now: datetime) -> Ceremony:
    """Remove and return the pending ceremony, whatever happens next: a challenge is never
    usable twice. Raises CeremonyRefused if there is none, or it is stale or for another
    purpose."""
    ceremony = None
    if ceremony_id:
        ceremony = db.scalar(select(Ceremony).where(Ceremony.id == ceremony_id))
    if ceremony is None:
        raise CeremonyRefused(
            "no_challenge",
            "This sign-in request was already used or never started. Try again.",
        )
    db.delete(ceremony)
    db.flush()
    if ceremony.purpose != purpose:
        raise CeremonyRefused("wrong_ceremony", "This passkey request was for something else.")
    if now - ceremony.created_at > CHALLENGE_LIFETIME:
        raise CeremonyRefused("challenge_expired",
                              "The passkey request expired after five minutes. Try again.")
    return ceremony
