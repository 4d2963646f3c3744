"""Managing people and their passkeys: rename and remove passkeys, disable and enable users,
change roles and which agents an assistant supports. Every change is audited; the
session-revoking ones end sessions at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import Actor, AuditTag, record_event
from .invites import parse_role
from .models import AssistantLink, Passkey, Role, SessionEndReason, User, UserSession, UserStatus
from .sessions import end_session, end_user_sessions


class AccountError(ValueError):
    """A change that cannot be made; the message says why."""


def rename_passkey(db: Session, *, user: User, passkey_id: str, name: str,
                   actor: Actor) -> Passkey:
    passkey = _own_passkey(db, user, passkey_id)
    name = " ".join((name or "").split())
    if not 1 <= len(name) <= 60:
        raise AccountError("A passkey name is 1 to 60 characters.")
    passkey.name = name
    record_event(db, AuditTag.AUTH_PASSKEY_RENAME, actor=actor, record_type="passkey",
                 record_id=passkey.id)
    return passkey


def remove_passkey(db: Session, *, user: User, passkey_id: str, actor: Actor,
                   now: datetime) -> None:
    passkey = _own_passkey(db, user, passkey_id)
    if len(user.passkeys) <= 1:
        raise AccountError("This is your only passkey: add another before removing it.")
    # Sessions opened with this passkey end with it.
    for row in db.scalars(select(UserSession).where(UserSession.passkey_id == passkey.id,
                                                    UserSession.ended_at.is_(None))):
        end_session(db, row, SessionEndReason.REVOKED, now=now, actor=actor)
    db.delete(passkey)
    record_event(db, AuditTag.AUTH_PASSKEY_REMOVE, actor=actor, record_type="passkey",
                 record_id=passkey_id)
    db.flush()
    db.expire(user, ["passkeys"])


def _own_passkey(db: Session, user: User, passkey_id: str) -> Passkey:
    passkey = db.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user.id:
        raise LookupError("no such passkey")
    return passkey


def set_user_status(db: Session, *, user: User, enabled: bool, actor: Actor,
                    now: datetime) -> None:
    if not enabled:
        if user.id == actor.user_id:
            raise AccountError("You cannot disable your own account.")
        user.status = UserStatus.DISABLED
        record_event(db, AuditTag.USER_ACCOUNT_DISABLE, actor=actor, record_type="user",
                     record_id=user.id)
        end_user_sessions(db, user.id, SessionEndReason.USER_DISABLED, now=now, actor=actor)
    else:
        user.status = UserStatus.ACTIVE if user.passkeys else UserStatus.INVITED
        record_event(db, AuditTag.USER_ACCOUNT_ENABLE, actor=actor, record_type="user",
                     record_id=user.id)


def change_role(db: Session, *, user: User, role: str, actor: Actor, now: datetime) -> None:
    new_role = parse_role(role)
    if new_role == user.role:
        return
    if user.id == actor.user_id:
        raise AccountError("You cannot change your own role.")
    old = user.role
    user.role = new_role
    record_event(db, AuditTag.USER_ROLE_CHANGE, actor=actor, record_type="user",
                 record_id=user.id, details={"from": old.value, "to": new_role.value})
    # NOTE: a role change ends every session: what the person may see changed under them.
    end_user_sessions(db, user.id, SessionEndReason.ROLE_CHANGED, now=now, actor=actor)


def set_supported_agents(db: Session, *, user: User, agent_ids: Sequence[str],
                         actor: Actor) -> tuple[list[str], list[str]]:
    """Make `user` (an assistant) support exactly these agents; (added, removed) agent ids.

    Takes effect on the assistant's next request: every schedule query reads the links. No
    session ends: nothing the assistant holds outlives a request (assistants keep no offline
    copy), and a removed agent's appointments are simply no longer served.
    """
    if user.role != Role.ASSISTANT:
        raise AccountError(f"{user.display_name} is not an assistant: only assistants support "
                           "agents.")
    wanted = list(dict.fromkeys(agent_ids))
    agents = {u.id: u for u in db.scalars(select(User).where(User.id.in_(wanted),
                                                             User.role == Role.AGENT))}
    if len(agents) != len(wanted):
        raise AccountError("Choose agents from the list.")
    links = {link.agent_id: link for link in db.scalars(
        select(AssistantLink).where(AssistantLink.assistant_id == user.id))}
    added = [agent_id for agent_id in wanted if agent_id not in links]
    removed = [agent_id for agent_id in links if agent_id not in agents]
    if not added and not removed:
        return [], []
    for agent_id in added:
        db.add(AssistantLink(assistant_id=user.id, agent_id=agent_id))
    for agent_id in removed:
        db.delete(links[agent_id])
    record_event(db, AuditTag.USER_SUPPORT_CHANGE, actor=actor, record_type="user",
                 record_id=user.id, details={"added": added, "removed": removed})
    db.flush()
    db.expire(user, ["supported_agents"])
    return added, removed


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.role, User.display_name)))


def ensure_admin_exists(db: Session) -> bool:
    return db.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None
