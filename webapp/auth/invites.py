"""Enrollment invites: single-use links that let a person register their first passkey (or a
new one after losing all of theirs). Only a hash of each token is stored."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..access.agency_settings import get_setting
from ..audit import Actor, AuditTag, record_event
from .errors import InviteRefused
from .models import AssistantLink, EnrollmentInvite, Role, User, UserStatus

_EMAIL = re.compile(r"^[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,189}\.[^@\s\x00-\x1f]{2,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_INVITE_MESSAGES = {
    "unknown": "This enrollment link is not valid. Ask your administrator for a new one.",
    "used": "This enrollment link was already used. Ask your administrator for a new one.",
    "expired": "This enrollment link has expired. Ask your administrator for a new one.",
    "disabled": "This account is disabled. Ask your administrator.",
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"{email!r} is not an email address")
    return email


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {role!r}: choose one of {names}") from None


def issue_invite(
    db: Session,
    *,
    email: str,
    role: str,
    display_name: str | None = None,
    agent_emails: tuple[str, ...] = (),
    actor: Actor,
    now: datetime,
) -> tuple[User, str]:
    """Create (or find) the user and a fresh single-use enrollment token for them.

    Raises ValueError with a clear message on bad input; nothing is written then.
    """
    email = normalize_email(email)
    role_value = parse_role(role)
    agents = []
    for agent_email in agent_emails:
        agent = db.scalar(select(User).where(User.email == normalize_email(agent_email)))
        if agent is None or agent.role != Role.AGENT:
            raise ValueError(f"{agent_email} is not an agent of this agency")
        agents.append(agent)
    if agents and role_value != Role.ASSISTANT:
        raise ValueError("only assistants are linked to agents (--agent)")
    user = db.scalar(select(User).where(User.email == email))
    if display_name is not None and (_CONTROL.search(display_name) or
                                     not 1 <= len(display_name.strip()) <= 120):
        raise ValueError("a name is 1 to 120 characters, without control characters")
    if user is None:
        user = User(email=email, display_name=display_name or email.split("@")[0],
                    role=role_value, status=UserStatus.INVITED)
        db.add(user)
        db.flush()
        record_event(db, AuditTag.USER_ACCOUNT_CREATE, actor=actor, record_type="user",
                     record_id=user.id, details={"role": role_value.value})
    elif user.role != role_value:
        raise ValueError(
            f"{email} already has the role {user.role.value}; change the role first, then invite"
        )
    elif user.status == UserStatus.DISABLED:
        raise ValueError(f"{email} is disabled; enable the account before inviting")
    linked = {link.agent_id for link in db.scalars(
        select(AssistantLink).where(AssistantLink.assistant_id == user.id))}
    for agent in agents:
        if agent.id not in linked:
            db.add(AssistantLink(assistant_id=user.id, agent_id=agent.id))
    token = secrets.token_urlsafe(32)
    hours = get_setting(db, "enrollment_link_hours")
    invite = EnrollmentInvite(token_hash=hash_token(token), user_id=user.id,
                              created_by=actor.user_id or actor.label, created_at=now,
                              expires_at=now + timedelta(hours=hours))
    db.add(invite)
    db.flush()
    record_event(db, AuditTag.AUTH_INVITE_CREATE, actor=actor, record_type="invite",
                 record_id=invite.id, details={"user_id": user.id, "hours": hours})
    return user, token


def find_invite(db: Session, token: str, *, now: datetime, actor: Actor) -> EnrollmentInvite:
    """The invite a token names, if it can still be used; otherwise the refusal is audited
    (in the caller's transaction, which must commit) and raised."""
    invite = db.scalar(select(EnrollmentInvite).where(
        EnrollmentInvite.token_hash == hash_token(token or "")))
    reason = None
    if invite is None:
        reason = "unknown"
    elif invite.used_at is not None:
        reason = "used"
    elif invite.expires_at <= now:
        reason = "expired"
    elif invite.user.status == UserStatus.DISABLED:
        reason = "disabled"
    if reason is not None:
        record_event(db, AuditTag.AUTH_INVITE_USE, actor=actor, outcome="refused", reason=reason,
                     record_type="invite", record_id=invite.id if invite else None)
        raise InviteRefused(reason, _INVITE_MESSAGES[reason])
    return invite


def invite_url(origin: str, token: str) -> str:
    return f"{origin}/enroll/{token}"
