"""The device registry: a device is a browser install (its `__Host-device` cookie) plus the
passkey credential(s) used on it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import Passkey, User
from ..db import Base, RecordId, UTCDateTime, new_record_id


class DeviceStatus(StrEnum):
    PENDING = "pending"  # waiting for an admin's approval
    ACTIVE = "active"
    LOST = "lost"  # reported lost: wiped on its next request
    WIPE_PENDING = "wipe_pending"  # wipe ordered: wiped on its next request
    WIPED = "wiped"  # the device confirmed the wipe
    REVOKED = "revoked"

    @property
    def is_closed(self) -> bool:
        """A device that may never open PHI again."""
        return self in (DeviceStatus.LOST, DeviceStatus.WIPE_PENDING, DeviceStatus.WIPED,
                        DeviceStatus.REVOKED)

    @property
    def must_wipe(self) -> bool:
        return self in (DeviceStatus.LOST, DeviceStatus.WIPE_PENDING)


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(RecordId(), primary_key=True, default=new_record_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    cookie_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80))
    platform: Mapped[str] = mapped_column(String(40))
    aaguid: Mapped[str] = mapped_column(String(36))
    attestation_format: Mapped[str] = mapped_column(String(32))
    user_verified_at_enrollment: Mapped[bool] = mapped_column(Boolean)
    backup_eligible: Mapped[bool] = mapped_column(Boolean)
    backup_state: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[DeviceStatus] = mapped_column(
        Enum(DeviceStatus, native_enum=False, length=16), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(120))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    wiped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The per-device offline-cache key (a data key); destroyed on lost/wipe/revoke.
    cache_key_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("data_keys.id"))

    owner: Mapped[User] = relationship()
    credentials: Mapped[list[DeviceCredential]] = relationship(
        back_populates="device", cascade="all, delete-orphan")

    @property
    def is_synced_passkey(self) -> bool:
        return self.backup_eligible


class DeviceCredential(Base):
    """A passkey seen on a device."""

    __tablename__ = "device_credentials"
    __table_args__ = (UniqueConstraint("device_id", "passkey_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"),
                                           index=True)
    passkey_id: Mapped[str] = mapped_column(ForeignKey("passkeys.id", ondelete="CASCADE"),
                                            index=True)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime())

    device: Mapped[Device] = relationship(back_populates="credentials")
    passkey: Mapped[Passkey] = relationship()
