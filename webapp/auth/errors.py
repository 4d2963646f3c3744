"""Refusals of the identity layer: a machine reason for the audit trail and a sentence for the
person in front of the screen."""


class AuthRefused(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class InviteRefused(AuthRefused):
    """An enrollment link that is unknown, already used or expired."""


class CeremonyRefused(AuthRefused):
    """A passkey ceremony the server refuses (see `passkeys.PasskeyRejected` for the codes)."""
