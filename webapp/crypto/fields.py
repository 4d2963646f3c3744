"""Encrypted model fields.

A PHI attribute is declared on a model as ``last_name = Encrypted(TEXT, blind_index=NAME)``.
That adds the column ``last_name`` of type `SealedBytes` (and ``last_name_bidx`` when a blind
index is asked for). The attribute reads and writes plaintext; the column only ever holds
AES-256-GCM envelopes bound to (table, column, row), written by the flush hook below with the
data key of the client the row belongs to.

`SealedBytes` refuses anything but an envelope, so no code path can write plaintext to a PHI
column by mistake: it fails instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import LargeBinary, event
from sqlalchemy.orm import Session, mapped_column, object_session
from sqlalchemy.types import TypeDecorator

from ..db import new_record_id
from .blind_index import Normalizer
from .errors import PlaintextRefused
from .keyring import DISPOSED, Disposed, Keyring

T = TypeVar("T")


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a Python value becomes the bytes that get encrypted, and back."""

    name: str
    python_type: type
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], T]


def _decimal(raw: bytes) -> Decimal:
    try:
        return Decimal(raw.decode())
    except InvalidOperation:
        raise ValueError("not a decimal") from None


TEXT: Codec[str] = Codec("text", str, lambda v: v.encode(), lambda b: b.decode())
DATE: Codec[date] = Codec(
    "date", date, lambda v: v.isoformat().encode(), lambda b: date.fromisoformat(b.decode())
)
DATETIME: Codec[datetime] = Codec(
    "datetime", datetime, lambda v: v.isoformat().encode(),
    lambda b: datetime.fromisoformat(b.decode()),
)
DECIMAL: Codec[Decimal] = Codec("decimal", Decimal, lambda v: str(v).encode(), _decimal)
INTEGER: Codec[int] = Codec("integer", int, lambda v: str(v).encode(), lambda b: int(b))
CODECS = (TEXT, DATE, DATETIME, DECIMAL, INTEGER)


class Envelope(bytes):
    """Bytes that are known to be a sealed value (as read from, or sealed for, the database)."""

    __slots__ = ()


class _Pending:
    """Marks a sealed column whose new plaintext waits for the flush hook to seal it."""

    def __repr__(self) -> str:
        return "<pending seal>"


PENDING = _Pending()


class SealedBytes(TypeDecorator):
    """The column type of every PHI column: stores envelopes, refuses everything else."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or isinstance(value, Envelope):
            return None if value is None else bytes(value)
        raise PlaintextRefused(
            "a PHI column was given an unsealed value; write it through its Encrypted attribute"
        )

    def process_result_value(self, value, dialect):
        return None if value is None else Envelope(value)


class Encrypted(Generic[T]):
    """A model attribute holding plaintext in Python and an envelope in the database."""

    def __init__(self, codec: Codec[T], *, blind_index: Normalizer | None = None):
        self.codec = codec
        self.blind_index = blind_index

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.sealed_attr = f"_{name}_sealed"
        self.index_attr = f"{name}_bidx"

    def __get__(self, instance, owner=None) -> T | Disposed | None:
        if instance is None:
            return self  # type: ignore[return-value]
        plain = instance.__dict__.setdefault("_plaintexts", {})
        if self.name in plain:
            return plain[self.name]
        sealed = getattr(instance, self.sealed_attr)
        if sealed is None or sealed is PENDING:
            return None
        opened = keyring_of(instance).open(
            sealed, context=instance._seal_context(self.name),
            where=lambda: instance._where(self.name),
        )
        value = DISPOSED if opened is DISPOSED else self.codec.decode(opened)  # type: ignore[arg-type]
        plain[self.name] = value
        return value

    def __set__(self, instance, value: T | None) -> None:
        if value is not None and not isinstance(value, self.codec.python_type):
            raise TypeError(
                f"{type(instance).__name__}.{self.name} takes {self.codec.python_type.__name__}, "
                f"not {type(value).__name__}"
            )
        if isinstance(value, datetime) and self.codec is DATE:
            raise TypeError(f"{type(instance).__name__}.{self.name} takes a date, not a datetime")
        instance.__dict__.setdefault("_plaintexts", {})[self.name] = value
        # NOTE: assigning the marker makes the row dirty for the flush hook; if anything ever
        # bypassed the hook, SealedBytes would refuse the marker rather than store plaintext.
        setattr(instance, self.sealed_attr, None if value is None else PENDING)
        if self.blind_index is not None and value is None:
            setattr(instance, self.index_attr, None)


def keyring_of(instance) -> Keyring:
    cached = instance.__dict__.get("_keyring")
    if cached is not None:
        return cached
    session = object_session(instance)
    if session is None or "keyring" not in session.info:
        raise RuntimeError(
            f"{type(instance).__name__} is not attached to a session with a keyring"
        )
    keyring = instance.__dict__["_keyring"] = session.info["keyring"]
    return keyring


class SealedRecord:
    """Mixin for models with Encrypted attributes.

    Subclasses say which data key seals their fields by implementing `_data_key_id`.
    """

    __sealed_fields__: ClassVar[dict[str, Encrypted]] = {}

    def __init_subclass__(cls, **kwargs):
        fields = dict(getattr(cls, "__sealed_fields__", {}))
        for name, attribute in list(vars(cls).items()):
            if isinstance(attribute, Encrypted):
                fields[name] = attribute
                setattr(cls, attribute.sealed_attr, mapped_column(name, SealedBytes()))
                if attribute.blind_index is not None:
                    setattr(
                        cls,
                        attribute.index_attr,
                        mapped_column(f"{name}_bidx", LargeBinary(16), index=True),
                    )
        cls.__sealed_fields__ = fields
        super().__init_subclass__(**kwargs)

    # -- what subclasses provide ---------------------------------------------------------------

    def _data_key_id(self, session: Session, keyring: Keyring) -> int:
        raise NotImplementedError

    # -- sealing -------------------------------------------------------------------------------

    def _seal_context(self, field: str) -> bytes:
        return f"{self.__tablename__}.{field}|{self.id}".encode()  # type: ignore[attr-defined]

    def _where(self, field: str) -> str:
        return f"{self.__tablename__}.{field} of row {self.id}"  # type: ignore[attr-defined]

    @classmethod
    def blind_index_of(cls, keyring: Keyring, field: str, value: Any) -> bytes | None:
        """The blind index a search for `value` in `field` must match (None if it cannot)."""
        normalizer = cls.__sealed_fields__[field].blind_index
        assert normalizer is not None, f"{cls.__name__}.{field} has no blind index"
        normalized = normalizer.normalize(value)
        if normalized is None:
            return None
        return keyring.blind_index(f"{cls.__tablename__}.{field}", normalized)  # type: ignore[attr-defined]

    def _seal_pending(self, session: Session, keyring: Keyring) -> None:
        if getattr(self, "id", None) is None:
            self.id = new_record_id()
        pending = [
            (name, field)
            for name, field in self.__sealed_fields__.items()
            if getattr(self, field.sealed_attr) is PENDING
        ]
        if not pending:
            return
        key_id = self._data_key_id(session, keyring)
        plain = self.__dict__["_plaintexts"]
        for name, field in pending:
            value = plain[name]
            setattr(
                self,
                field.sealed_attr,
                Envelope(
                    keyring.seal(
                        field.codec.encode(value), key_id=key_id, context=self._seal_context(name)
                    )
                ),
            )
            if field.blind_index is not None:
                setattr(self, field.index_attr, self.blind_index_of(keyring, name, value))

    @classmethod
    def sealed_row(cls, keyring: Keyring, *, row_id: str, key_id: int, **values: Any) -> dict:
        """Column values for a bulk insert of one row (seeding, import): the same envelopes
        and blind indexes the flush hook writes."""
        return cls.sealed_row_with(keyring, keyring.sealer(key_id), row_id=row_id, **values)

    @classmethod
    def sealed_row_with(cls, keyring: Keyring, seal: Callable[[bytes, bytes], bytes], *,
                        row_id: str, **values: Any) -> dict:
        """`sealed_row` with a sealer already bound to the client's key (`Keyring.sealer`)."""
        row: dict[str, Any] = {"id": row_id}
        fields = cls.__sealed_fields__
        prefix = f"{cls.__tablename__}.".encode()  # type: ignore[attr-defined]
        suffix = b"|" + row_id.encode()
        for name, value in values.items():
            field = fields.get(name)
            if field is None:
                row[name] = value
            elif value is None:
                row[name] = None
                if field.blind_index is not None:
                    row[field.index_attr] = None
            else:
                row[name] = Envelope(seal(field.codec.encode(value),
                                          prefix + name.encode() + suffix))
                if field.blind_index is not None:
                    row[field.index_attr] = cls.blind_index_of(keyring, name, value)
        return row


def install_sealing(session_factory) -> None:
    """Seal every pending PHI value of a session's new and changed rows before they flush."""

    @event.listens_for(session_factory, "before_flush")
    def _seal_before_flush(session: Session, _context, _instances) -> None:
        keyring = session.info["keyring"]
        for instance in list(session.new) + list(session.dirty):
            if isinstance(instance, SealedRecord):
                instance._seal_pending(session, keyring)
