"""What can go wrong with keys and ciphertexts, in our own words."""


class CryptoError(Exception):
    """Base for every error raised by `webapp.crypto`."""


class KeyProviderError(CryptoError):
    """The key-encryption key cannot be loaded, created or changed."""


class TamperedCiphertext(CryptoError):
    """A ciphertext failed authentication: edited, truncated, or moved from another place.

    The message names the table, column and row, never the value.
    """


class PlaintextRefused(CryptoError):
    """Something tried to write a value to an encrypted column without sealing it."""


class UnknownDataKey(CryptoError):
    """A ciphertext names a data key that does not exist."""
