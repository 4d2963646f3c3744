"""The keyring: data keys wrapped by the KEK, sealing and opening field values, blind indexes.

Envelope of a sealed value (all binary)::

    version (1 byte = 0x01) | data key id (8 bytes, big-endian) | nonce (12 bytes) | ciphertext+tag

The associated data binds the envelope to where it is stored (table, column, row), so a
ciphertext copied to another row or column fails authentication instead of decrypting.
"""

from __future__ import annotations

import hmac
import os
import secrets
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from ..db import utcnow
from .errors import CryptoError, KeyProviderError, TamperedCiphertext, UnknownDataKey
from .keys import KeyProvider, Keyset
from .models import DataKey

ENVELOPE_VERSION = 1
_HEADER = struct.Struct(">BQ")
NONCE_BYTES = 12
HEADER_BYTES = _HEADER.size + NONCE_BYTES
BLIND_INDEX_KEY_ID = 1  # the one data key with a fixed id: created once, raced safely
BLIND_INDEX_BYTES = 16


class Disposed:
    """What a field under a destroyed data key reads as: not garbage, not an error."""

    _instance: Disposed | None = None

    def __new__(cls) -> Disposed:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DISPOSED"

    def __str__(self) -> str:
        return "[disposed]"

    def __bool__(self) -> bool:
        return False


DISPOSED = Disposed()


@dataclass(frozen=True)
class NewDataKey:
    id: int
    purpose: str
    kek_id: str
    wrapped: bytes

    def as_row(self) -> dict:
        return {
            "id": self.id,
            "purpose": self.purpose,
            "kek_id": self.kek_id,
            "wrapped": self.wrapped,
            "created_at": utcnow(),
        }


def _wrap_context(key_id: int, purpose: str) -> bytes:
    return b"sh-dek|%d|%s" % (key_id, purpose.encode())


def wrap_key(kek: bytes, dek: bytes, *, key_id: int, purpose: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, dek, _wrap_context(key_id, purpose))


def unwrap_key(kek: bytes, wrapped: bytes, *, key_id: int, purpose: str) -> bytes:
    try:
        return AESGCM(kek).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_context(key_id, purpose)
        )
    except InvalidTag:
        raise TamperedCiphertext(f"data key {key_id} does not open with its KEK") from None


class _BoundedCache:
    """A small thread-safe LRU with a maximum age, for unwrapped keys.

    The age limit matters for disposal: another process that destroyed a key cannot reach into
    this one, so a cached key is re-checked against the database at least every `max_age`.
    """

    def __init__(self, size: int, max_age: float, clock: Callable[[], float]):
        self._entries: OrderedDict[int, tuple[object, float]] = OrderedDict()
        self._size, self._max_age, self._clock = size, max_age, clock
        self._lock = threading.Lock()

    def get(self, key: int) -> object | None:
        # NOTE: the hit path takes no lock (a dict read is atomic under the GIL) and does not
        # reorder: eviction is oldest-inserted first, which is enough for a key cache.
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] < self._clock():
            self.discard(key)
            return None
        return entry[0]

    def put(self, key: int, value: object) -> None:
        with self._lock:
            self._entries[key] = (value, self._clock() + self._max_age)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def discard(self, key: int) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Keyring:
    """Creates, unwraps, caches and destroys data keys; seals and opens values."""

    def __init__(
        self,
        provider: KeyProvider,
        engine: Engine,
        *,
        cache_size: int = 20_000,
        cache_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.provider = provider
        self.engine = engine
        self._keyset: Keyset = provider.load()
        self._ciphers = _BoundedCache(cache_size, cache_seconds, clock)
        self._index_keys: dict[str, bytes] = {}
        self._index_lock = threading.Lock()

    # -- data keys ---------------------------------------------------------------------------

    def new_data_key(self, purpose: str) -> NewDataKey:
        """A fresh DEK, wrapped by the active KEK; the caller inserts `as_row()` in its
        transaction, so a rolled-back record leaves no key behind."""
        key_id = secrets.randbits(62) + 1024  # ids below 1024 are reserved for fixed keys
        dek = AESGCM.generate_key(bit_length=256)
        keyset = self._keyset
        wrapped = wrap_key(keyset.active_key, dek, key_id=key_id, purpose=purpose)
        self._ciphers.put(key_id, AESGCM(dek))
        return NewDataKey(key_id, purpose, keyset.active_id, wrapped)

    def _kek(self, kek_id: str) -> bytes:
        key = self._keyset.keys.get(kek_id)
        if key is None:
            # Another process may have rotated: read the provider again before giving up.
            self._keyset = self.provider.load()
            key = self._keyset.keys.get(kek_id)
        if key is None:
            raise KeyProviderError(
                f"data keys are wrapped by KEK {kek_id!r}, which {self.provider.description} "
                "does not hold; restore the key file that belongs to this database"
            )
        return key

    def _cipher(self, key_id: int) -> AESGCM | Disposed:
        cipher = self._ciphers.get(key_id)
        if cipher is not None:
            return cipher  # type: ignore[return-value]
        with self.engine.connect() as connection:
            row = connection.execute(
                select(DataKey.purpose, DataKey.kek_id, DataKey.wrapped).where(DataKey.id == key_id)
            ).one_or_none()
        if row is None:
            raise UnknownDataKey(f"no data key {key_id}")
        if row.wrapped is None:
            cipher = DISPOSED
        else:
            dek = unwrap_key(self._kek(row.kek_id), row.wrapped, key_id=key_id, purpose=row.purpose)
            cipher = AESGCM(dek)
        self._ciphers.put(key_id, cipher)
        return cipher

    def export_data_key(self, key_id: int) -> bytes | None:
        """The raw bytes of a data key (for a device's offline cache, which encrypts in the
        browser); None once destroyed. Nothing else should need the raw key."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(DataKey.purpose, DataKey.kek_id, DataKey.wrapped).where(DataKey.id == key_id)
            ).one_or_none()
        if row is None or row.wrapped is None:
            return None
        return unwrap_key(self._kek(row.kek_id), row.wrapped, key_id=key_id, purpose=row.purpose)

    def prefetch(self, key_ids) -> None:
        """Unwrap the data keys of many records with one query (a list page after a restart
        would otherwise fetch one key per row)."""
        missing = {k for k in key_ids if k is not None and self._ciphers.get(k) is None}
        if not missing:
            return
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(DataKey.id, DataKey.purpose, DataKey.kek_id, DataKey.wrapped)
                .where(DataKey.id.in_(missing))
            ).all()
        for row in rows:
            if row.wrapped is None:
                self._ciphers.put(row.id, DISPOSED)
            else:
                dek = unwrap_key(self._kek(row.kek_id), row.wrapped, key_id=row.id,
                                 purpose=row.purpose)
                self._ciphers.put(row.id, AESGCM(dek))

    def destroy_data_key(self, connection, key_id: int) -> None:
        """Crypto-shred: erase the wrapped key. Runs in the caller's transaction."""
        connection.execute(
            update(DataKey)
            .where(DataKey.id == key_id)
            .values(wrapped=None, kek_id=None, destroyed_at=utcnow())
        )
        # Forget rather than mark: if the caller's transaction rolls back, the key is still
        # there; once it commits, the next read finds it destroyed.
        self._ciphers.discard(key_id)

    def forget_cached_keys(self) -> None:
        self._ciphers.clear()
        with self._index_lock:
            self._index_keys.clear()

    # -- values -------------------------------------------------------------------------------

    def sealer(self, key_id: int) -> Callable[[bytes, bytes], bytes]:
        """A function sealing (plaintext, context) under one data key: for sealing many values
        of one client without looking the key up for each."""
        cipher = self._cipher(key_id)
        if cipher is DISPOSED:
            raise CryptoError(f"data key {key_id} was destroyed; nothing can be written under it")
        prefix = _HEADER.pack(ENVELOPE_VERSION, key_id)
        encrypt = cipher.encrypt  # type: ignore[union-attr]

        def seal(plaintext: bytes, context: bytes) -> bytes:
            nonce = os.urandom(NONCE_BYTES)  # NOTE: 96 random bits per write, never a counter
            header = prefix + nonce
            return header + encrypt(nonce, plaintext, header + context)

        return seal

    def seal(self, plaintext: bytes, *, key_id: int, context: bytes) -> bytes:
        return self.sealer(key_id)(plaintext, context)

    def open(self, envelope: bytes, *, context: bytes,
             where: str | Callable[[], str]) -> bytes | Disposed:
        """Decrypt `envelope`, authenticated against its header and `context`.

        `where` names the place (table.column row) for the error message, or is a function
        that does, called only on an error; it never holds a value.
        """
        problem = None
        if len(envelope) < HEADER_BYTES + 16:
            problem = "ciphertext is truncated"
        else:
            version, key_id = _HEADER.unpack_from(envelope)
            if version != ENVELOPE_VERSION:
                problem = f"unknown envelope version {version}"
            else:
                cipher = self._cipher(key_id)
                if cipher is DISPOSED:
                    return DISPOSED
                try:
                    return cipher.decrypt(  # type: ignore[union-attr]
                        envelope[_HEADER.size : HEADER_BYTES], envelope[HEADER_BYTES:],
                        envelope[:HEADER_BYTES] + context,
                    )
                except InvalidTag:
                    problem = ("ciphertext failed authentication (edited, or copied from "
                               "another row or column)")
        place = where() if callable(where) else where
        raise TamperedCiphertext(f"{place}: {problem}")

    @staticmethod
    def key_id_of(envelope: bytes) -> int:
        return _HEADER.unpack_from(envelope)[1]

    # -- blind indexes ------------------------------------------------------------------------

    def ensure_blind_index_key(self) -> None:
        """Create the blind-index key if the database has none (run by `flask db upgrade`).

        It has a fixed id, so two processes racing here cannot both create one.
        """
        with self.engine.connect() as connection:
            exists = connection.scalar(
                select(func.count()).select_from(DataKey).where(DataKey.id == BLIND_INDEX_KEY_ID)
            )
        if exists:
            return
        keyset = self._keyset
        wrapped = wrap_key(
            keyset.active_key, secrets.token_bytes(32), key_id=BLIND_INDEX_KEY_ID,
            purpose="blind_index",
        )
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    DataKey.__table__.insert().values(
                        id=BLIND_INDEX_KEY_ID, purpose="blind_index", kek_id=keyset.active_id,
                        wrapped=wrapped, created_at=utcnow(),
                    )
                )
        except IntegrityError:
            pass  # another process created it first; theirs is the one

    def _load_blind_index_key(self) -> bytes:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(DataKey.kek_id, DataKey.wrapped).where(DataKey.id == BLIND_INDEX_KEY_ID)
            ).one_or_none()
        if row is None:
            raise CryptoError("the database has no blind-index key yet: run `flask db upgrade`")
        if row.wrapped is None:
            raise CryptoError("the blind-index key was destroyed; searches cannot work")
        return unwrap_key(
            self._kek(row.kek_id), row.wrapped, key_id=BLIND_INDEX_KEY_ID, purpose="blind_index"
        )

    def blind_index(self, domain: str, normalized: str) -> bytes:
        """Truncated HMAC-SHA256 of a normalized value, under a key derived for `domain`
        (e.g. "clients.phone"), so equal values in different columns do not match."""
        subkey = self._index_keys.get(domain)
        if subkey is None:
            with self._index_lock:
                root = self._index_keys.get("") or self._load_blind_index_key()
                self._index_keys[""] = root
                subkey = HKDF(
                    algorithm=hashes.SHA256(), length=32, salt=None,
                    info=b"sh-blind-index|" + domain.encode(),
                ).derive(root)
                self._index_keys[domain] = subkey
        return hmac.digest(subkey, normalized.encode(), "sha256")[:BLIND_INDEX_BYTES]

    # -- rotation -----------------------------------------------------------------------------

    def rotate(self, *, batch_size: int = 500) -> Iterator[int]:
        """Re-wrap every data key under a new KEK; yields how many keys each batch re-wrapped.

        No downtime: the new KEK is added before any key moves and the old one is retired only
        after the last, so every reader finds a KEK for every key at every moment.
        """
        self._keyset = self.provider.begin_rotation()
        active_id, active_key = self._keyset.active_id, self._keyset.active_key
        last_id = -1
        while True:
            with self.engine.begin() as connection:
                rows = connection.execute(
                    select(DataKey.id, DataKey.purpose, DataKey.kek_id, DataKey.wrapped)
                    .where(DataKey.id > last_id, DataKey.wrapped.is_not(None))
                    .order_by(DataKey.id)
                    .limit(batch_size)
                ).all()
                if not rows:
                    break
                for row in rows:
                    if row.kek_id != active_id:
                        dek = unwrap_key(
                            self._kek(row.kek_id), row.wrapped, key_id=row.id, purpose=row.purpose
                        )
                        connection.execute(
                            update(DataKey)
                            .where(DataKey.id == row.id)
                            .values(
                                kek_id=active_id,
                                wrapped=wrap_key(active_key, dek, key_id=row.id,
                                                 purpose=row.purpose),
                            )
                        )
                last_id = rows[-1].id
            yield len(rows)
        self._keyset = self.provider.finish_rotation()

    def count_data_keys(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(
                select(func.count()).select_from(DataKey).where(DataKey.wrapped.is_not(None))
            ).scalar_one()
