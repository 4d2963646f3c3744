"""The audit trail: append-only, hash-chained events, and the chain head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class AuditEvent(Base):
    """One thing that happened. Never holds a PHI value: ids, tags and reasons only.

    `seq` is the event's place in the chain (1, 2, 3, ...); `prev_hash` is the hash of event
    seq-1 and `hash` covers this event's canonical serialization and `prev_hash`.
    """

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    tag: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # success | failure | refused
    reason: Mapped[str | None] = mapped_column(String(120))
    actor_user_id: Mapped[str | None] = mapped_column(String(24), index=True)
    actor_label: Mapped[str | None] = mapped_column(String(120))  # "cli:root", "scheduler"
    device_id: Mapped[str | None] = mapped_column(String(24), index=True)
    session_ref: Mapped[str | None] = mapped_column(String(24))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    record_type: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[str | None] = mapped_column(String(40))
    client_id: Mapped[str | None] = mapped_column(String(24), index=True)
    details_json: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The single row naming the last event. Appending locks this row first, which serializes
    appenders on every engine, and lets `verify` notice a deleted last event."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
