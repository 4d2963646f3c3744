"""A software passkey for tests: a phone that answers WebAuthn ceremonies with real keys.

`SoftAuthenticator` makes P-256 credentials with `cryptography`, encodes with `cbor2`, and
returns the JSON that Chromium's `PublicKeyCredential.toJSON()` produces (base64url without
padding), so the real verification code runs on genuine responses, never on mocks.

Each keyword override of `create()` / `get()` forges one wrong thing while the rest stays
genuine: `origin` is written as given into clientDataJSON, `rp_id` replaces the RP ID that is
hashed into the authenticator data, `challenge` replaces the one from the options,
`sign_count` the counter written into this one assertion, `user_verified` the UV flag, and
`corrupt_signature` signs other bytes than the ones it sends (a well-formed, wrong signature).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

DEFAULT_AAGUID = b"SafeHarbor-tests"  # 16 bytes: 53616665-4861-7262-6f72-2d7465737473

ES256 = -7

FLAG_UP = 0x01  # user present
FLAG_UV = 0x04  # user verified
FLAG_BE = 0x08  # backup eligible
FLAG_BS = 0x10  # backed up
FLAG_AT = 0x40  # attested credential data included

ATTESTATION_FORMATS = ("none", "packed")


class AuthenticatorRefused(Exception):
    """What the browser would report as a DOMException (`name` is its name)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass
class StoredCredential:
    """A discoverable credential held by the authenticator."""

    id: bytes
    private_key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    rp_id: str
    sign_count: int = 0

    @property
    def cose_public_key(self) -> bytes:
        """The public key as a COSE_Key (EC2, P-256, ES256), as in the authenticator data."""
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: ES256,  # alg
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            },
            canonical=True,
        )


class SoftAuthenticator:
    """A platform authenticator with user verification (a phone), holding resident keys."""

    transports = ("hybrid", "internal")

    def __init__(
        self,
        *,
        user_verified: bool = True,
        backup_eligible: bool = False,
        backup_state: bool = False,
        aaguid: bytes = DEFAULT_AAGUID,
        attestation_format: str = "none",
    ) -> None:
        if len(aaguid) != 16:
            raise ValueError("an AAGUID is 16 bytes")
        if attestation_format not in ATTESTATION_FORMATS:
            raise ValueError(f"attestation_format must be one of {ATTESTATION_FORMATS}")
        # backup_state without backup_eligible is allowed on purpose: an impossible
        # combination a server must refuse.
        self.user_verified = user_verified
        self.backup_eligible = backup_eligible
        self.backup_state = backup_state
        self.aaguid = aaguid
        self.attestation_format = attestation_format
        self.credentials: list[StoredCredential] = []

    # -----------------------------------------------------------------------------------------

    def create(
        self,
        options_json: str,
        *,
        origin: str,
        rp_id: str | None = None,
        challenge: bytes | None = None,
        corrupt_signature: bool = False,
    ) -> dict[str, Any]:
        """Answer `navigator.credentials.create()`: a registration response, and the new
        credential kept in `self.credentials` (the newest last). `corrupt_signature` spoils
        the "packed" attestation signature (there is none to spoil in "none")."""
        options = json.loads(options_json)
        options_rp_id = options["rp"].get("id") or urlsplit(origin).hostname
        algorithms = [param["alg"] for param in options["pubKeyCredParams"]]
        if ES256 not in algorithms:
            raise AuthenticatorRefused("NotSupportedError", f"no ES256 among {algorithms}")
        excluded = {_decode(item["id"]) for item in options.get("excludeCredentials") or ()}
        if any(c.id in excluded and c.rp_id == options_rp_id for c in self.credentials):
            raise AuthenticatorRefused("InvalidStateError", "already registered here")

        user_handle = _decode(options["user"]["id"])
        credential = StoredCredential(
            id=secrets.token_bytes(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            user_handle=user_handle,
            rp_id=options_rp_id,
        )
        # A resident key replaces the one this authenticator held for the same account.
        self.credentials = [
            c
            for c in self.credentials
            if not (c.rp_id == options_rp_id and c.user_handle == user_handle)
        ]
        self.credentials.append(credential)

        client_data_json = _client_data(
            "webauthn.create", challenge or _decode(options["challenge"]), origin
        )
        authenticator_data = b"".join(
            [
                _rp_id_hash(rp_id or options_rp_id),
                bytes([self._flags(self.user_verified) | FLAG_AT]),
                credential.sign_count.to_bytes(4, "big"),
                self.aaguid,
                len(credential.id).to_bytes(2, "big"),
                credential.id,
                credential.cose_public_key,
            ]
        )
        statement: dict[str, Any] = {}
        if self.attestation_format == "packed":
            # Self attestation: the new credential's own key signs authData || hash(clientData).
            signed = authenticator_data + _sha256(client_data_json)
            if corrupt_signature:
                signed = b"tampered:" + signed
            statement = {"alg": ES256, "sig": _sign(credential, signed)}
        attestation_object = cbor2.dumps(
            {"fmt": self.attestation_format, "attStmt": statement, "authData": authenticator_data},
            canonical=True,
        )
        public_key_der = credential.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "id": _encode(credential.id),
            "rawId": _encode(credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": _encode(client_data_json),
                "attestationObject": _encode(attestation_object),
                "authenticatorData": _encode(authenticator_data),
                "transports": list(self.transports),
                "publicKey": _encode(public_key_der),
                "publicKeyAlgorithm": ES256,
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        options_json: str,
        *,
        origin: str,
        rp_id: str | None = None,
        challenge: bytes | None = None,
        sign_count: int | None = None,
        user_verified: bool | None = None,
        corrupt_signature: bool = False,
        credential_id: bytes | None = None,
    ) -> dict[str, Any]:
        """Answer `navigator.credentials.get()`: an assertion from `credential_id`, else from
        the newest credential for the options' RP ID (within `allowCredentials`, if any).

        The credential's counter always moves up by one; `sign_count` only changes the number
        written into this assertion."""
        options = json.loads(options_json)
        options_rp_id = options.get("rpId") or urlsplit(origin).hostname
        credential = self._choose(options, options_rp_id, credential_id)
        credential.sign_count += 1
        count = credential.sign_count if sign_count is None else sign_count
        verified = self.user_verified if user_verified is None else user_verified

        client_data_json = _client_data(
            "webauthn.get", challenge or _decode(options["challenge"]), origin
        )
        authenticator_data = b"".join(
            [
                _rp_id_hash(rp_id or options_rp_id),
                bytes([self._flags(verified)]),
                count.to_bytes(4, "big"),
            ]
        )
        signed = authenticator_data + _sha256(client_data_json)
        if corrupt_signature:
            signed = b"tampered:" + signed
        return {
            "id": _encode(credential.id),
            "rawId": _encode(credential.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": _encode(client_data_json),
                "authenticatorData": _encode(authenticator_data),
                "signature": _encode(_sign(credential, signed)),
                "userHandle": _encode(credential.user_handle),
            },
            "clientExtensionResults": {},
        }

    # -----------------------------------------------------------------------------------------

    def _flags(self, user_verified: bool) -> int:
        flags = FLAG_UP
        if user_verified:
            flags |= FLAG_UV
        if self.backup_eligible:
            flags |= FLAG_BE
        if self.backup_state:
            flags |= FLAG_BS
        return flags

    def _choose(
        self, options: dict[str, Any], rp_id: str, credential_id: bytes | None
    ) -> StoredCredential:
        if credential_id is not None:
            for credential in self.credentials:
                if credential.id == credential_id:
                    return credential
            raise AuthenticatorRefused("NotAllowedError", "no such credential")
        allowed = {_decode(item["id"]) for item in options.get("allowCredentials") or ()}
        candidates = [
            c for c in self.credentials if c.rp_id == rp_id and (not allowed or c.id in allowed)
        ]
        if not candidates:
            raise AuthenticatorRefused("NotAllowedError", f"no passkey for {rp_id}")
        return candidates[-1]


def _client_data(kind: str, challenge: bytes, origin: str) -> bytes:
    # Same members, order and compact form as Chromium.
    return json.dumps(
        {"type": kind, "challenge": _encode(challenge), "origin": origin, "crossOrigin": False},
        separators=(",", ":"),
    ).encode()


def _sign(credential: StoredCredential, data: bytes) -> bytes:
    return credential.private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def _rp_id_hash(rp_id: str) -> bytes:
    return _sha256(rp_id.encode())


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
