"""The data-key table: every data-encryption key (DEK), wrapped by a key-encryption key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class DataKey(Base):
    """A 256-bit DEK stored wrapped (AES-256-GCM) by the KEK named in `kek_id`.

    Destroying a key (crypto-shredding) erases `wrapped`: every ciphertext under it, in the
    database and in any backup, is unreadable from then on.
    """

    __tablename__ = "data_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    purpose: Mapped[str] = mapped_column(String(24))
    kek_id: Mapped[str | None] = mapped_column(String(32))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
