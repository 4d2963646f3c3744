"""Passkeys (WebAuthn): the only way in, and the only module that imports py_webauthn.

A thin, keyword-only wrapper. It builds the options the browser needs and verifies what the
browser sends back, with a discoverable credential (`residentKey: required`) and user
verification required on every ceremony. Every refusal is a `RegistrationRejected` or an
`AuthenticationRejected` carrying a short `reason` code for the audit trail and a `message` for
the person; the library's own error stays chained as `__cause__` for the log.

Knows nothing of HTTP or the database: keeping the challenge (single use, with its time) and the
passkeys is the caller's job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cryptography.exceptions import InvalidSignature
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    bytes_to_base64url,
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_authenticator_data,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorData,
    AuthenticatorSelectionCriteria,
    ClientDataType,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    TokenBindingStatus,
    UserVerificationRequirement,
)

CHALLENGE_BYTES = 32
CEREMONY_TIMEOUT_MS = 300_000
MAX_USER_HANDLE_BYTES = 64  # WebAuthn: user.id is 1 to 64 bytes
MAX_CREDENTIAL_ID_BYTES = 1023  # WebAuthn: a credential ID is at most 1023 bytes

# ES256 is what phones make; EdDSA comes from some security keys; RS256 from Windows Hello.
SUPPORTED_ALGORITHMS: tuple[COSEAlgorithmIdentifier, ...] = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)

# Refusal reasons: short, stable codes for the audit trail.
MALFORMED = "malformed"
WRONG_ORIGIN = "wrong_origin"
WRONG_RP_ID = "wrong_rp_id"
CHALLENGE_MISMATCH = "challenge_mismatch"
BAD_SIGNATURE = "bad_signature"
USER_NOT_VERIFIED = "user_not_verified"
SIGN_COUNT_REGRESSION = "sign_count_regression"
REJECTED = "rejected"

REFUSAL_MESSAGES: Mapping[str, str] = {
    MALFORMED: "The passkey response could not be read. Please try again.",
    WRONG_ORIGIN: (
        "This passkey response was made for a different web address. Open SafeHarbor CRM from "
        "its usual address and try again."
    ),
    WRONG_RP_ID: (
        "This passkey belongs to a different website. Choose your SafeHarbor CRM passkey and "
        "try again."
    ),
    CHALLENGE_MISMATCH: (
        "This passkey request has expired or was already used. Please start again."
    ),
    BAD_SIGNATURE: (
        "The passkey's signature could not be verified, so it was refused. Please try again or "
        "use another passkey."
    ),
    USER_NOT_VERIFIED: (
        "This phone did not confirm your screen lock. Unlock it with your fingerprint, face or "
        "PIN and try again."
    ),
    SIGN_COUNT_REGRESSION: (
        "This passkey reported fewer uses than it already had, which can mean it was copied to "
        "another device. It was refused; please tell your administrator."
    ),
    REJECTED: "The passkey was not accepted. Please try again or use another passkey.",
}


@dataclass(frozen=True)
class RelyingParty:
    """Who we are to the browser: the RP ID (a domain), a display name, the exact origin."""

    id: str
    name: str
    origin: str


class PasskeyRejected(Exception):
    """A ceremony the server refuses. `reason` is a short machine code for the audit trail,
    `message` a sentence a person understands."""

    reason: str
    message: str

    def __init__(self, reason: str, message: str | None = None) -> None:
        if reason not in REFUSAL_MESSAGES:
            raise ValueError(f"unknown refusal reason {reason!r}")
        self.reason = reason
        self.message = message or REFUSAL_MESSAGES[reason]
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r})"


class RegistrationRejected(PasskeyRejected):
    """A new passkey the server refuses to enroll."""


class AuthenticationRejected(PasskeyRejected):
    """A sign-in (or unlock, or step-up) assertion the server refuses."""


@dataclass(frozen=True)
class NewPasskey:
    """A verified registration: what the caller stores."""

    credential_id: bytes
    public_key: bytes  # COSE_Key, as py_webauthn wants it back for every assertion
    sign_count: int
    aaguid: str  # canonical UUID string; all zeros when the authenticator keeps it private
    attestation_format: str
    transports: list[str]
    backup_eligible: bool
    backup_state: bool
    user_verified: bool


@dataclass(frozen=True)
class VerifiedAssertion:
    """A verified assertion: the caller stores `new_sign_count` before trusting the user."""

    credential_id: bytes
    new_sign_count: int
    user_verified: bool
    backup_state: bool


# ---------------------------------------------------------------------------------------------
# Options


def registration_options(
    *,
    rp: RelyingParty,
    user_handle: bytes,
    user_name: str,
    display_name: str,
    exclude_credential_ids: Sequence[bytes] = (),
) -> tuple[str, bytes]:
    """Options for `navigator.credentials.create()`: (JSON for the browser, the challenge)."""
    if not isinstance(user_handle, bytes) or not 0 < len(user_handle) <= MAX_USER_HANDLE_BYTES:
        raise ValueError(f"user_handle must be 1 to {MAX_USER_HANDLE_BYTES} bytes")
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle,
        user_name=user_name,
        user_display_name=display_name,
        challenge=challenge,
        timeout=CEREMONY_TIMEOUT_MS,
        # NOTE: set explicitly, whatever the library's defaults: we do not collect attestation
        # (no device identifying statement), we require a discoverable credential and UV.
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=bytes(credential_id))
            for credential_id in exclude_credential_ids
        ],
        supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
    )
    return options_to_json(options), challenge


def authentication_options(
    *, rp: RelyingParty, allow_credential_ids: Sequence[bytes] = ()
) -> tuple[str, bytes]:
    """Options for `navigator.credentials.get()`: (JSON for the browser, the challenge).

    With no `allow_credential_ids` the browser offers the discoverable passkeys it holds for
    this RP (sign-in without a user name); pass ids to restrict it (unlock, step-up)."""
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=bytes(credential_id))
            for credential_id in allow_credential_ids
        ],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options), challenge


# ---------------------------------------------------------------------------------------------
# Reading a response before verifying it


def credential_id_of(credential: str | dict) -> bytes:
    """The raw credential ID of an assertion (or attestation) in its JSON form, to find the
    stored passkey. Raises `AuthenticationRejected("malformed")` on anything else."""
    data = _json_object(credential, AuthenticationRejected)
    raw_id = _base64url(data.get("rawId"))
    if raw_id is None or not 0 < len(raw_id) <= MAX_CREDENTIAL_ID_BYTES:
        raise AuthenticationRejected(MALFORMED)
    if data.get("id") != bytes_to_base64url(raw_id):
        raise AuthenticationRejected(MALFORMED)
    return raw_id


def user_handle_of(credential: str | dict) -> bytes | None:
    """The user handle of an assertion in its JSON form (a discoverable passkey always sends
    it), or None when absent. Raises `AuthenticationRejected("malformed")` on junk."""
    data = _json_object(credential, AuthenticationRejected)
    response = data.get("response")
    if not isinstance(response, dict):
        raise AuthenticationRejected(MALFORMED)
    handle = response.get("userHandle")
    if handle is None or handle == "":
        return None
    decoded = _base64url(handle)
    if decoded is None or len(decoded) > MAX_USER_HANDLE_BYTES:
        raise AuthenticationRejected(MALFORMED)
    return decoded


# ---------------------------------------------------------------------------------------------
# Verification


def verify_registration(
    *, rp: RelyingParty, credential: str | dict, expected_challenge: bytes
) -> NewPasskey:
    """Verify the browser's answer to `registration_options`. Raises `RegistrationRejected`."""
    _check_challenge(expected_challenge)
    parsed = _parse(credential, parse_registration_credential_json, RegistrationRejected)

    def verify(*, require_user_verification: bool):
        return verify_registration_response(
            credential=parsed,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_presence=True,
            require_user_verification=require_user_verification,
            supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
        )

    try:
        verified = verify(require_user_verification=True)
    except Exception as error:
        # NOTE: fail closed. Anything the library raises while judging what the browser sent
        # is a refusal; the original error stays chained for the log.
        reason = _registration_refusal(
            parsed,
            error,
            rp=rp,
            expected_challenge=expected_challenge,
            recheck=lambda: verify(require_user_verification=False),
        )
        raise RegistrationRejected(reason) from error

    # NOTE: py_webauthn does not compare the rawId the browser shows with the credential ID
    # inside the signed authenticator data; we store the latter, so they must be one.
    if verified.credential_id != parsed.raw_id:
        raise RegistrationRejected(MALFORMED)

    fmt = verified.fmt  # typed as an enum, but in practice the plain str from the CBOR
    return NewPasskey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        attestation_format=fmt.value if isinstance(fmt, Enum) else str(fmt),
        transports=[transport.value for transport in parsed.response.transports or ()],
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backup_state=verified.credential_backed_up,
        user_verified=verified.user_verified,
    )


def verify_authentication(
    *,
    rp: RelyingParty,
    credential: str | dict,
    expected_challenge: bytes,
    public_key: bytes,
    current_sign_count: int,
    expected_user_handle: bytes | None = None,
) -> VerifiedAssertion:
    """Verify the browser's answer to `authentication_options` against the stored passkey
    (its COSE public key and last sign count). Raises `AuthenticationRejected`.

    As in py_webauthn, the sign count must grow only when either the stored or the new count
    is nonzero: authenticators that do not count (synced passkeys) always send 0.

    `expected_user_handle` is the handle of the passkey's owner: when given, an assertion that
    names another user is refused (WebAuthn §7.2 step 6, which py_webauthn leaves to us)."""
    _check_challenge(expected_challenge)
    if not isinstance(public_key, bytes) or not public_key:
        raise ValueError("public_key must be the stored COSE key bytes")
    if isinstance(current_sign_count, bool) or not isinstance(current_sign_count, int):
        raise TypeError("current_sign_count must be an int")
    if current_sign_count < 0:
        raise ValueError("current_sign_count cannot be negative")
    parsed = _parse(credential, parse_authentication_credential_json, AuthenticationRejected)

    def verify(*, require_user_verification: bool, sign_count: int):
        return verify_authentication_response(
            credential=parsed,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=require_user_verification,
        )

    try:
        verified = verify(require_user_verification=True, sign_count=current_sign_count)
    except Exception as error:
        # NOTE: fail closed, as in verify_registration.
        reason = _authentication_refusal(
            parsed,
            error,
            rp=rp,
            expected_challenge=expected_challenge,
            current_sign_count=current_sign_count,
            # With a stored count of 0 and no UV required, only the signature remains to judge.
            recheck=lambda: verify(require_user_verification=False, sign_count=0),
        )
        raise AuthenticationRejected(reason) from error

    # NOTE: the userHandle is not signed. Whoever picks the account by it must check it here.
    sent_handle = parsed.response.user_handle
    if expected_user_handle is not None and sent_handle and sent_handle != expected_user_handle:
        raise AuthenticationRejected(REJECTED, "This passkey belongs to another account.")

    return VerifiedAssertion(
        credential_id=verified.credential_id,
        new_sign_count=verified.new_sign_count,
        user_verified=verified.user_verified,
        backup_state=verified.credential_backed_up,
    )


# ---------------------------------------------------------------------------------------------
# Why a response was refused
#
# py_webauthn says why only in the wording of its messages, which change between versions. The
# refusal itself is always the library's; to name the reason we look again at the facts the
# library judged (client data, authenticator data) in the library's own order.


def _registration_refusal(
    parsed: RegistrationCredential,
    error: Exception,
    *,
    rp: RelyingParty,
    expected_challenge: bytes,
    recheck: Callable[[], object],
) -> str:
    reason = _client_data_refusal(
        parsed.response.client_data_json,
        ClientDataType.WEBAUTHN_CREATE,
        rp=rp,
        expected_challenge=expected_challenge,
    )
    if reason:
        return reason
    try:
        auth_data = parse_attestation_object(parsed.response.attestation_object).auth_data
    except Exception:
        return MALFORMED
    return _authenticator_data_refusal(auth_data, error, rp=rp, recheck=recheck)


def _authentication_refusal(
    parsed: AuthenticationCredential,
    error: Exception,
    *,
    rp: RelyingParty,
    expected_challenge: bytes,
    current_sign_count: int,
    recheck: Callable[[], object],
) -> str:
    reason = _client_data_refusal(
        parsed.response.client_data_json,
        ClientDataType.WEBAUTHN_GET,
        rp=rp,
        expected_challenge=expected_challenge,
    )
    if reason:
        return reason
    try:
        auth_data = parse_authenticator_data(parsed.response.authenticator_data)
    except Exception:
        return MALFORMED
    return _authenticator_data_refusal(
        auth_data, error, rp=rp, recheck=recheck, current_sign_count=current_sign_count
    )


_TOKEN_BINDING_STATUSES = (TokenBindingStatus.PRESENT, TokenBindingStatus.SUPPORTED)


def _client_data_refusal(
    client_data_json: bytes,
    expected_type: ClientDataType,
    *,
    rp: RelyingParty,
    expected_challenge: bytes,
) -> str | None:
    try:
        client_data = parse_client_data_json(client_data_json)
    except Exception:
        return MALFORMED
    if client_data.type != expected_type:
        return REJECTED  # e.g. a registration replayed as a sign-in
    if client_data.challenge != expected_challenge:
        return CHALLENGE_MISMATCH
    if client_data.origin != rp.origin:
        return WRONG_ORIGIN
    token_binding = client_data.token_binding
    if token_binding and token_binding.status not in _TOKEN_BINDING_STATUSES:
        return REJECTED
    return None


def _authenticator_data_refusal(
    auth_data: AuthenticatorData,
    error: Exception,
    *,
    rp: RelyingParty,
    recheck: Callable[[], object],
    current_sign_count: int | None = None,
) -> str:
    if auth_data.rp_id_hash != hashlib.sha256(rp.id.encode()).digest():
        return WRONG_RP_ID
    if _is_bad_signature(error):
        return BAD_SIGNATURE
    if not auth_data.flags.up:
        return REJECTED
    # NOTE: py_webauthn judges user verification and the sign count before the signature. An
    # unsigned forgery must not be recorded as "user not verified" or, worse, raise the alarm of
    # a cloned passkey: blame those only on a response the passkey really signed.
    if not auth_data.flags.uv:
        return _if_genuine(USER_NOT_VERIFIED, recheck)
    if current_sign_count is not None:
        new_count = auth_data.sign_count
        if (new_count or current_sign_count) and new_count <= current_sign_count:
            return _if_genuine(SIGN_COUNT_REGRESSION, recheck)
    return REJECTED


def _if_genuine(reason: str, recheck: Callable[[], object]) -> str:
    """`reason` if the response passes once that one check is relaxed, else why it fails."""
    try:
        recheck()
    except Exception as error:
        return BAD_SIGNATURE if _is_bad_signature(error) else REJECTED
    return reason


def _is_bad_signature(error: BaseException) -> bool:
    # py_webauthn raises its own error inside `except InvalidSignature:` (no `from`), so the
    # cryptography error is the context.
    return isinstance(error.__cause__, InvalidSignature) or isinstance(
        error.__context__, InvalidSignature
    )


# ---------------------------------------------------------------------------------------------
# Parsing helpers

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def _base64url(value: Any) -> bytes | None:
    """Strict base64url (padding optional); None if `value` is anything else."""
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        return None
    unpadded = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError):
        return None


def _json_object(credential: Any, rejected: type[PasskeyRejected]) -> dict:
    if isinstance(credential, str):
        try:
            credential = json.loads(credential)
        except (ValueError, RecursionError) as error:
            raise rejected(MALFORMED) from error
    if not isinstance(credential, dict):
        raise rejected(MALFORMED)
    return credential


def _parse(credential: Any, parser: Callable[[dict], Any], rejected: type[PasskeyRejected]):
    data = _json_object(credential, rejected)
    try:
        parsed = parser(data)
    except Exception as error:
        raise rejected(MALFORMED) from error
    raw_id = parsed.raw_id
    if not 0 < len(raw_id) <= MAX_CREDENTIAL_ID_BYTES or bytes_to_base64url(raw_id) != parsed.id:
        raise rejected(MALFORMED)
    return parsed


def _check_challenge(expected_challenge: bytes) -> None:
    if not isinstance(expected_challenge, bytes) or not expected_challenge:
        raise ValueError("expected_challenge must be the challenge bytes issued with the options")
