"""People: users, their roles, and which agents an assistant supports."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, RecordId, UTCDateTime, new_record_id, utcnow


class Role(StrEnum):
    AGENT = "agent"
    ASSISTANT = "assistant"
    ADMIN = "admin"
    COMPLIANCE = "compliance"


class UserStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    DISABLED = "disabled"


class User(Base):
    """One human, one account. Staff details are not PHI and are stored in the clear."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(RecordId(), primary_key=True, default=new_record_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    status: Mapped[UserStatus] = mapped_column(
        Enum(UserStatus, native_enum=False, length=16), default=UserStatus.INVITED
    )
    # NOTE: the WebAuthn user handle is random, never the email: authenticators may show or
    # sync it, and it must not identify the person outside this system.
    user_handle: Mapped[bytes] = mapped_column(
        LargeBinary(32), unique=True, default=lambda: secrets.token_bytes(32)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    # The four attributes Flask-Login asks of a user object, without importing the web layer.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.ACTIVE

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.id

    passkeys: Mapped[list[Passkey]] = relationship(back_populates="user",
                                                   order_by="Passkey.created_at")
    supported_agents: Mapped[list[User]] = relationship(
        secondary="assistant_links",
        primaryjoin="User.id == AssistantLink.assistant_id",
        secondaryjoin="User.id == AssistantLink.agent_id",
        viewonly=True,
    )


class AssistantLink(Base):
    """An assistant supports an agent: sees and books that agent's schedule, nothing more."""

    __tablename__ = "assistant_links"
    __table_args__ = (UniqueConstraint("assistant_id", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assistant_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EnrollmentInvite(Base):
    """A single-use enrollment link. Only the SHA-256 of its token is stored."""

    __tablename__ = "enrollment_invites"

    id: Mapped[str] = mapped_column(RecordId(), primary_key=True, default=new_record_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class Passkey(Base):
    """A WebAuthn credential of a user (a discoverable credential with user verification)."""

    __tablename__ = "passkeys"

    id: Mapped[str] = mapped_column(RecordId(), primary_key=True, default=new_record_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    aaguid: Mapped[str] = mapped_column(String(36))
    attestation_format: Mapped[str] = mapped_column(String(32))
    transports: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    backup_eligible: Mapped[bool] = mapped_column(Boolean)
    backup_state: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="passkeys")

    @property
    def is_synced(self) -> bool:
        """A passkey the platform copies to the user's other devices (backup eligible)."""
        return self.backup_eligible


class SessionEndReason(StrEnum):
    LOGOUT = "logout"
    IDLE = "idle"
    ABSOLUTE = "absolute"
    REVOKED = "revoked"
    USER_DISABLED = "user_disabled"
    ROLE_CHANGED = "role_changed"
    ROTATED = "rotated"


class UserSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(RecordId(), primary_key=True, default=new_record_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    passkey_id: Mapped[str | None] = mapped_column(ForeignKey("passkeys.id", ondelete="SET NULL"))
    device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_verified_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    end_reason: Mapped[str | None] = mapped_column(String(24))
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    ip_address: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[User] = relationship()


class Ceremony(Base):
    """A pending WebAuthn challenge: single use, bound to the browser that asked for it,
    deleted on the first verify attempt whatever its outcome."""

    __tablename__ = "webauthn_ceremonies"

    id: Mapped[str] = mapped_column(RecordId(), primary_key=True, default=new_record_id)
    purpose: Mapped[str] = mapped_column(String(16))  # enroll | sign_in | unlock | step_up
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64))
    user_id: Mapped[str | None] = mapped_column(String(24))
    subject: Mapped[str | None] = mapped_column(String(64))  # invite id or session id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
