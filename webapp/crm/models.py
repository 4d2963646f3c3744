"""Clients and their PHI. Every PHI attribute is `Encrypted`; each client has its own data key,
and every row that belongs to a client is sealed with that client's key, so destroying one key
disposes of one client everywhere (crypto-shredding).

Plaintext columns are limited to what is not PHI on its own: opaque ids, owners, statuses,
appointment times (needed to list a day; they name no one without the sealed fields).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..crypto import (
    DATE,
    DATE_OF_BIRTH,
    DECIMAL,
    IDENTIFIER,
    INTEGER,
    NAME,
    PHONE,
    TEXT,
    Encrypted,
    Keyring,
    SealedRecord,
)
from ..crypto.models import DataKey
from ..db import Base, RecordId, UTCDateTime, new_record_id, utcnow


def _enum(enum_type: type[StrEnum]) -> Enum:
    return Enum(enum_type, native_enum=False, length=16)


class ClientStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DISPOSED = "disposed"


class Client(SealedRecord, Base):
    __tablename__ = "clients"
    # An agent's book in a stable order, paged without sorting the whole book each time
    # (sealed names cannot be sorted in SQL).
    __table_args__ = (Index("ix_clients_agent_created", "agent_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(RecordId(), primary_key=True, default=new_record_id)
    agent_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    data_key_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("data_keys.id"), unique=True
    )
    status: Mapped[ClientStatus] = mapped_column(_enum(ClientStatus), default=ClientStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    disposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    first_name = Encrypted(TEXT, blind_index=NAME)
    last_name = Encrypted(TEXT, blind_index=NAME)
    date_of_birth = Encrypted(DATE, blind_index=DATE_OF_BIRTH)
    ssn = Encrypted(TEXT)  # NOTE: no blind index: nobody searches by SSN, so none is kept
    medicare_id = Encrypted(TEXT, blind_index=IDENTIFIER)
    street = Encrypted(TEXT)
    city = Encrypted(TEXT)
    state = Encrypted(TEXT)
    zip = Encrypted(TEXT)
    phone = Encrypted(TEXT, blind_index=PHONE)
    email = Encrypted(TEXT)

    data_key: Mapped[DataKey | None] = relationship()
    enrollments: Mapped[list[PlanEnrollment]] = relationship(back_populates="client")
    conditions: Mapped[list[Condition]] = relationship(back_populates="client")
    medications: Mapped[list[Medication]] = relationship(back_populates="client")
    providers: Mapped[list[Provider]] = relationship(back_populates="client")
    claims: Mapped[list[Claim]] = relationship(back_populates="client")
    premiums: Mapped[list[PremiumPayment]] = relationship(back_populates="client")
    appointments: Mapped[list[Appointment]] = relationship(back_populates="client")
    notes: Mapped[list[Note]] = relationship(back_populates="client")
    communications: Mapped[list[Communication]] = relationship(back_populates="client")

    def _data_key_id(self, session: Session, keyring: Keyring) -> int:
        if self.data_key_id is None:
            new_key = keyring.new_data_key("client")
            self.data_key = DataKey(**new_key.as_row())
            self.data_key_id = new_key.id
        return self.data_key_id


class ClientRecord(SealedRecord):
    """A row that belongs to one client and is sealed with that client's data key.

    Subclasses map `id`, `client_id` and the `client` relationship.
    """

    def _data_key_id(self, session: Session, keyring: Keyring) -> int:
        client = self.client if self.client is not None else session.get(Client, self.client_id)  # type: ignore[attr-defined]
        if client is None:
            raise ValueError(f"{type(self).__name__} needs an existing client")
        return client._data_key_id(session, keyring)


def _client_fk() -> Mapped[str]:
    return mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)


def _id() -> Mapped[str]:
    return mapped_column(RecordId(), primary_key=True, default=new_record_id)


class EnrollmentStatus(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"
    ENDED = "ended"


class PlanEnrollment(ClientRecord, Base):
    __tablename__ = "plan_enrollments"

    id: Mapped[str] = _id()
    client_id: Mapped[str] = _client_fk()
    status: Mapped[EnrollmentStatus] = mapped_column(
        _enum(EnrollmentStatus), default=EnrollmentStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    carrier = Encrypted(TEXT)
    plan_name = Encrypted(TEXT)
    plan_type = Encrypted(TEXT)
    member_id = Encrypted(TEXT, blind_index=IDENTIFIER)
    effective_date = Encrypted(DATE)
    end_date = Encrypted(DATE)

    client: Mapped[Client] = relationship(back_populates="enrollments")


class Condition(ClientRecord, Base):
    __tablename__ = "conditions"

    id: Mapped[str] = _id()
    client_id: Mapped[str] = _client_fk()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    name = Encrypted(TEXT)
    noted_on = Encrypted(DATE)

    client: Mapped[Client] = relationship(back_populates="conditions")


class Medication(ClientRecord, Base):
    __tablename__ = "medications"

    id: Mapped[str] = _id()
    client_id: Mapped[str] = _client_fk()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    name = Encrypted(TEXT)
    dosage = Encrypted(TEXT)
    frequency = Encrypted(TEXT)

    client: Mapped[Client] = relationship(back_populates="medications")


class Provider(ClientRecord, Base):
    __tablename__ = "providers"

    id: Mapped[str] = _id()
    client_id: Mapped[str] = _client_fk()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    name = Encrypted(TEXT)
    specialty = Encrypted(TEXT)
    phone = Encrypted(TEXT)

    client: Mapped[Client] = relationship(back_populates="providers")


class ClaimStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    DENIED = "denied"


class Claim(ClientRecord, Base):
    __tablename__ = "claims"

    id: Mapped[str] = _id()
    client_id: Mapped[str] = _client_fk()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # NOTE: the status is sealed too: "denied" next to a client id says something about them.
    status = Encrypted(TEXT)
    claim_number = Encrypted(TEXT)
    service_date = Encrypted(DATE)
    description = Encrypted(TEXT)
    amount = Encrypted(DECIMAL)

    client: Mapped[Client] = relationship(back_populates="claims")


class PremiumPayment(ClientRecord, Base):
    """Premium and payment details of a client's plan."""

    __tablename__ = "premium_payments"

    id: Mapped[str] = _id()
    client_id: Mapped[str] = _client_fk()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    premium_monthly = Encrypted(DECIMAL)
    payment_method = Encrypted(TEXT)
    billing_day = Encrypted(INTEGER)

    client: Mapped[Client] = relationship(back_populates="premiums")


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"


class Appointment(ClientRecord, Base):
    __tablename__ = "appointments"

    id: Mapped[str] = _id()
    client_id: Mapped[str] = _client_fk()
    agent_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    status: Mapped[AppointmentStatus] = mapped_column(
        _enum(AppointmentStatus), default=AppointmentStatus.SCHEDULED
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    place = Encrypted(TEXT)
    purpose = Encrypted(TEXT)

    client: Mapped[Client] = relationship(back_populates="appointments")


class Note(ClientRecord, Base):
    __tablename__ = "notes"

    id: Mapped[str] = _id()
    client_id: Mapped[str] = _client_fk()
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    body = Encrypted(TEXT)

    client: Mapped[Client] = relationship(back_populates="notes")


class Channel(StrEnum):
    CALL = "call"
    TEXT = "text"
    EMAIL = "email"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Communication(ClientRecord, Base):
    """A call, text or email with a client: the communication log."""

    __tablename__ = "communications"

    id: Mapped[str] = _id()
    client_id: Mapped[str] = _client_fk()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    summary = Encrypted(TEXT)

    client: Mapped[Client] = relationship(back_populates="communications")


CLIENT_RECORD_MODELS: tuple[type[ClientRecord], ...] = (
    PlanEnrollment, Condition, Medication, Provider, Claim, PremiumPayment, Appointment, Note,
    Communication,
)
