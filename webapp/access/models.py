"""Emergency ("break the glass") access grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, RecordId, UTCDateTime, new_record_id


class EmergencyAccess(Base):
    """An agent's time-boxed access to another agent's client, with the reason they gave.

    The reason is free text typed by staff about why they need access; it is kept here for
    compliance review and never copied into the audit trail.
    """

    __tablename__ = "emergency_access"

    id: Mapped[str] = mapped_column(RecordId(), primary_key=True, default=new_record_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"),
                                           index=True)
    reason: Mapped[str] = mapped_column(String(500))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
