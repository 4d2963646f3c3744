"""Key providers: where the key-encryption key (KEK) comes from.

A provider holds a *keyset*: one active KEK that wraps new data keys, plus any older KEKs still
needed to unwrap data keys that have not been re-wrapped yet. Rotation adds a KEK, re-wraps every
data key (see `Keyring.rotate`), then retires the old one, so readers never meet a data key they
cannot open.

The file and the environment variable hold the same JSON document::

    {"version": 1, "active": "k5f0c2a9e", "keys": {"k5f0c2a9e": "<base64 of 32 bytes>"}}

`WEBAPP_KEK` may also be a bare base64 key (its id is then "env").
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from .errors import KeyProviderError

KEY_BYTES = 32


def _new_kek_id() -> str:
    return "k" + secrets.token_hex(4)


@dataclass(frozen=True)
class Keyset:
    active_id: str
    keys: dict[str, bytes]

    @classmethod
    def generate(cls) -> Keyset:
        kek_id = _new_kek_id()
        return cls(active_id=kek_id, keys={kek_id: secrets.token_bytes(KEY_BYTES)})

    @classmethod
    def parse(cls, text: str, *, source: str) -> Keyset:
        text = text.strip()
        if not text.startswith("{"):
            return cls(active_id="env", keys={"env": _decode_key(text, source=source)})
        try:
            document = json.loads(text)
            keys = {
                kid: _decode_key(value, source=source)
                for kid, value in document["keys"].items()
            }
            active_id = document["active"]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise KeyProviderError(f"{source} is not a SafeHarbor keyset") from None
        if active_id not in keys:
            raise KeyProviderError(f"{source}: the active key {active_id!r} is not in the keyset")
        return cls(active_id=active_id, keys=keys)

    def dumps(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "active": self.active_id,
                "keys": {kid: base64.b64encode(key).decode() for kid, key in self.keys.items()},
            },
            indent=2,
        )

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_id]

    def with_new_active(self) -> Keyset:
        kek_id = _new_kek_id()
        return Keyset(kek_id, {**self.keys, kek_id: secrets.token_bytes(KEY_BYTES)})

    def only_active(self) -> Keyset:
        return Keyset(self.active_id, {self.active_id: self.active_key})


def _decode_key(value: str, *, source: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyProviderError(f"{source} holds a key that is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise KeyProviderError(f"{source} holds a key of {len(key)} bytes; a KEK is 32 bytes")
    return key


class KeyProvider(ABC):
    """Supplies the keyset. A cloud KMS provider would implement the same three methods."""

    description: str

    @abstractmethod
    def load(self) -> Keyset: ...

    @abstractmethod
    def begin_rotation(self) -> Keyset:
        """Add a new active KEK, keeping the old ones readable; return the new keyset."""

    @abstractmethod
    def finish_rotation(self) -> Keyset:
        """Forget every KEK but the active one; return the new keyset."""


class FileKeyProvider(KeyProvider):
    """A keyset in a file (mode 0600), created on first use."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.description = f"key file {self.path}"

    def load(self) -> Keyset:
        if not self.path.exists():
            self._write(Keyset.generate())
        if self.path.stat().st_mode & 0o077:
            raise KeyProviderError(
                f"{self.path} is readable by other users; run: chmod 600 {self.path}"
            )
        return Keyset.parse(self.path.read_text(), source=str(self.path))

    def begin_rotation(self) -> Keyset:
        keyset = self.load().with_new_active()
        self._write(keyset)
        return keyset

    def finish_rotation(self) -> Keyset:
        keyset = self.load().only_active()
        self._write(keyset)
        return keyset

    def _write(self, keyset: Keyset) -> None:
        # NOTE: written to a 0600 temporary file in the same folder and renamed over the old one,
        # so a crash never leaves a half-written keyset and the key is never world-readable.
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".kek-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(keyset.dumps())
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class EnvironmentKeyProvider(KeyProvider):
    """A keyset in an environment variable (`WEBAPP_KEK`): read-only."""

    def __init__(self, value: str, *, name: str = "WEBAPP_KEK"):
        self.name = name
        self.description = f"environment variable {name}"
        self._keyset = Keyset.parse(value, source=name)

    def load(self) -> Keyset:
        return self._keyset

    def begin_rotation(self) -> Keyset:
        raise KeyProviderError(
            f"{self.name} is read-only: to rotate, put the keyset in a key file "
            "(WEBAPP_KEK_FILE) or rotate in your key-management service"
        )

    finish_rotation = begin_rotation
