"""People: users, their roles, and which agents an assistant supports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

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
