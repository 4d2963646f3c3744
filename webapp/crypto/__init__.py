"""Encryption at rest: KEK providers, the keyring of per-client data keys, encrypted fields,
blind indexes. See DESIGN.md, "Data and encryption at rest"."""

from .blind_index import DATE_OF_BIRTH, EMAIL, IDENTIFIER, NAME, PHONE, Normalizer
from .errors import (
    CryptoError,
    KeyProviderError,
    PlaintextRefused,
    TamperedCiphertext,
    UnknownDataKey,
)
from .fields import (
    DATE,
    DATETIME,
    DECIMAL,
    INTEGER,
    TEXT,
    Encrypted,
    Envelope,
    SealedBytes,
    SealedRecord,
    install_sealing,
)
from .keyring import DISPOSED, Disposed, Keyring
from .keys import EnvironmentKeyProvider, FileKeyProvider, KeyProvider, Keyset

__all__ = [
    "DATE", "DATETIME", "DATE_OF_BIRTH", "DECIMAL", "DISPOSED", "EMAIL", "IDENTIFIER", "INTEGER",
    "NAME", "PHONE", "TEXT", "CryptoError", "Disposed", "Encrypted", "Envelope",
    "EnvironmentKeyProvider", "FileKeyProvider", "KeyProvider", "KeyProviderError", "Keyring",
    "Keyset", "Normalizer", "PlaintextRefused", "SealedBytes", "SealedRecord",
    "TamperedCiphertext", "UnknownDataKey", "install_sealing",
]
