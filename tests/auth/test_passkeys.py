"""webapp.auth.passkeys against the real py_webauthn, fed by a software authenticator.

No mocks: every response below is built and signed by `SoftAuthenticator` and judged by the
library through our wrapper; each refusal case forges exactly one thing.
"""

from __future__ import annotations

import base64
import json
import uuid

import cbor2
import pytest

from tests.support.authenticator import DEFAULT_AAGUID, SoftAuthenticator
from webapp.auth.passkeys import (
    REFUSAL_MESSAGES,
    AuthenticationRejected,
    NewPasskey,
    PasskeyRejected,
    RegistrationRejected,
    RelyingParty,
    VerifiedAssertion,
    authentication_options,
    credential_id_of,
    registration_options,
    user_handle_of,
    verify_authentication,
    verify_registration,
)

RP = RelyingParty(id="localhost", name="SafeHarbor CRM", origin="http://localhost:5000")
USER_HANDLE = bytes.fromhex("9f1c2a7d44e0b3a15c6d8e2f0a9b7c3d5e4f6a8b1c2d3e4f5a6b7c8d9e0f1a2b")
OTHER_HANDLE = bytes(32)


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_registration_options(**overrides) -> tuple[str, bytes]:
    arguments = {
        "rp": RP,
        "user_handle": USER_HANDLE,
        "user_name": "ana.agent@agency.example",
        "display_name": "Ana Agent",
    } | overrides
    return registration_options(**arguments)


def enroll(phone: SoftAuthenticator) -> NewPasskey:
    options, challenge = new_registration_options()
    response = phone.create(options, origin=RP.origin)
    return verify_registration(rp=RP, credential=response, expected_challenge=challenge)


@pytest.fixture
def phone() -> SoftAuthenticator:
    return SoftAuthenticator()


@pytest.fixture
def passkey(phone: SoftAuthenticator) -> NewPasskey:
    return enroll(phone)


# ---------------------------------------------------------------------------------------------
# Options


def test_registration_options_ask_for_a_discoverable_user_verified_passkey():
    options_json, challenge = new_registration_options()
    options = json.loads(options_json)

    assert options["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "required",
    }
    assert options["attestation"] == "none"
    assert options["timeout"] == 300_000
    assert options["rp"] == {"id": "localhost", "name": "SafeHarbor CRM"}
    assert options["user"] == {
        "id": b64url_encode(USER_HANDLE),
        "name": "ana.agent@agency.example",
        "displayName": "Ana Agent",
    }
    assert [param["alg"] for param in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert {param["type"] for param in options["pubKeyCredParams"]} == {"public-key"}
    assert options["excludeCredentials"] == []
    assert isinstance(challenge, bytes)
    assert len(challenge) == 32
    assert b64url_decode(options["challenge"]) == challenge


def test_registration_options_exclude_the_passkeys_a_user_already_has():
    known = [b"\x01" * 16, b"\x02" * 32]
    options = json.loads(new_registration_options(exclude_credential_ids=known)[0])
    assert options["excludeCredentials"] == [
        {"id": b64url_encode(credential_id), "type": "public-key"} for credential_id in known
    ]


@pytest.mark.parametrize("user_handle", [b"", bytes(65), "not bytes"], ids=["empty", "65", "str"])
def test_registration_options_refuse_an_invalid_user_handle(user_handle):
    with pytest.raises(ValueError, match="user_handle"):
        new_registration_options(user_handle=user_handle)


def test_authentication_options_let_the_phone_offer_its_discoverable_passkeys():
    options_json, challenge = authentication_options(rp=RP)
    options = json.loads(options_json)

    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    assert options["rpId"] == "localhost"
    assert options["timeout"] == 300_000
    assert len(challenge) == 32
    assert b64url_decode(options["challenge"]) == challenge


def test_authentication_options_can_name_the_passkeys_allowed():
    options = json.loads(authentication_options(rp=RP, allow_credential_ids=[b"\x07" * 32])[0])
    assert options["allowCredentials"] == [
        {"id": b64url_encode(b"\x07" * 32), "type": "public-key"}
    ]
    assert options["userVerification"] == "required"


def test_every_ceremony_gets_a_fresh_challenge():
    challenges = [new_registration_options()[1] for _ in range(5)]
    challenges += [authentication_options(rp=RP)[1] for _ in range(5)]
    assert len(set(challenges)) == len(challenges)


# ---------------------------------------------------------------------------------------------
# Registration


@pytest.mark.parametrize("attestation_format", ["none", "packed"])
@pytest.mark.parametrize(
    ("backup_eligible", "backup_state"),
    [(False, False), (True, False), (True, True)],
    ids=["device-bound", "sync-eligible", "synced"],
)
def test_registration_returns_the_new_passkey(attestation_format, backup_eligible, backup_state):
    phone = SoftAuthenticator(
        attestation_format=attestation_format,
        backup_eligible=backup_eligible,
        backup_state=backup_state,
    )
    passkey = enroll(phone)
    held = phone.credentials[-1]

    assert isinstance(passkey, NewPasskey)
    assert passkey.credential_id == held.id
    assert cbor2.loads(passkey.public_key) == cbor2.loads(held.cose_public_key)
    assert passkey.sign_count == 0
    assert passkey.aaguid == str(uuid.UUID(bytes=DEFAULT_AAGUID))
    assert passkey.attestation_format == attestation_format
    assert type(passkey.attestation_format) is str
    assert passkey.transports == ["hybrid", "internal"]
    assert passkey.backup_eligible is backup_eligible
    assert passkey.backup_state is backup_state
    assert passkey.user_verified is True


def test_registration_reports_a_hidden_aaguid_as_zeros_and_accepts_a_json_string():
    phone = SoftAuthenticator(aaguid=bytes(16))
    options, challenge = new_registration_options()
    response = json.dumps(phone.create(options, origin=RP.origin))

    passkey = verify_registration(rp=RP, credential=response, expected_challenge=challenge)

    assert passkey.aaguid == "00000000-0000-0000-0000-000000000000"
    assert passkey.credential_id == phone.credentials[-1].id


REGISTRATION_REFUSALS = [
    pytest.param(
        {}, {"origin": "https://safeharbor-crm.example.net"}, "wrong_origin", id="wrong-origin"
    ),
    pytest.param({}, {"rp_id": "example.net"}, "wrong_rp_id", id="wrong-rp-id"),
    pytest.param({}, {"challenge": b"\x00" * 32}, "challenge_mismatch", id="challenge-mismatch"),
    pytest.param(
        {"attestation_format": "packed"},
        {"corrupt_signature": True},
        "bad_signature",
        id="bad-attestation-signature",
    ),
    pytest.param({"user_verified": False}, {}, "user_not_verified", id="uv-off"),
    # NOTE: py_webauthn checks UV before the attestation signature; a forgery is a forgery.
    pytest.param(
        {"user_verified": False, "attestation_format": "packed"},
        {"corrupt_signature": True},
        "bad_signature",
        id="uv-off-and-bad-signature",
    ),
    pytest.param(
        {"backup_eligible": False, "backup_state": True},
        {},
        "rejected",
        id="backed-up-but-not-eligible",
    ),
]


@pytest.mark.parametrize(("authenticator", "forge", "reason"), REGISTRATION_REFUSALS)
def test_registration_refusals(authenticator, forge, reason):
    phone = SoftAuthenticator(**authenticator)
    options, challenge = new_registration_options()
    response = phone.create(options, **({"origin": RP.origin} | forge))

    with pytest.raises(RegistrationRejected) as refused:
        verify_registration(rp=RP, credential=response, expected_challenge=challenge)

    assert refused.value.reason == reason
    assert refused.value.message.strip()
    assert str(refused.value) == refused.value.message
    assert refused.value.__cause__ is not None  # the library's own words, kept for the log


# ---------------------------------------------------------------------------------------------
# Authentication


def sign_in(phone, passkey, *, current_sign_count=0, **forge) -> VerifiedAssertion:
    options, challenge = authentication_options(rp=RP)
    response = phone.get(options, **({"origin": RP.origin} | forge))
    return verify_authentication(
        rp=RP,
        credential=response,
        expected_challenge=challenge,
        public_key=passkey.public_key,
        current_sign_count=current_sign_count,
    )


def test_authentication_with_a_discoverable_passkey(phone, passkey):
    options, challenge = authentication_options(rp=RP)
    response = phone.get(options, origin=RP.origin)

    assert credential_id_of(response) == passkey.credential_id
    assert user_handle_of(response) == USER_HANDLE
    verified = verify_authentication(
        rp=RP,
        credential=json.dumps(response),
        expected_challenge=challenge,
        public_key=passkey.public_key,
        current_sign_count=passkey.sign_count,
        expected_user_handle=USER_HANDLE,
    )

    assert verified == VerifiedAssertion(
        credential_id=passkey.credential_id,
        new_sign_count=1,
        user_verified=True,
        backup_state=False,
    )


def test_authentication_moves_the_sign_count_on(phone, passkey):
    first = sign_in(phone, passkey, current_sign_count=0)
    second = sign_in(phone, passkey, current_sign_count=first.new_sign_count)
    assert (first.new_sign_count, second.new_sign_count) == (1, 2)


def test_authentication_accepts_a_passkey_that_does_not_count():
    # Synced passkeys always send 0: with 0 stored too, there is nothing to compare.
    phone = SoftAuthenticator(backup_eligible=True, backup_state=True)
    passkey = enroll(phone)
    verified = sign_in(phone, passkey, current_sign_count=0, sign_count=0)
    assert verified.new_sign_count == 0
    assert verified.backup_state is True


def test_authentication_with_named_passkeys(phone, passkey):
    # The same phone also holds a newer passkey of another user: it must not answer with it.
    other_options, _ = new_registration_options(user_handle=OTHER_HANDLE, user_name="bo@x.example")
    phone.create(other_options, origin=RP.origin)
    assert phone.credentials[-1].user_handle == OTHER_HANDLE

    options, challenge = authentication_options(rp=RP, allow_credential_ids=[passkey.credential_id])
    response = phone.get(options, origin=RP.origin)
    verified = verify_authentication(
        rp=RP,
        credential=response,
        expected_challenge=challenge,
        public_key=passkey.public_key,
        current_sign_count=0,
    )
    assert verified.credential_id == passkey.credential_id
    assert user_handle_of(response) == USER_HANDLE


def test_authentication_refuses_an_assertion_naming_another_user(phone, passkey):
    options, challenge = authentication_options(rp=RP)
    response = phone.get(options, origin=RP.origin)
    with pytest.raises(AuthenticationRejected) as refused:
        verify_authentication(
            rp=RP,
            credential=response,
            expected_challenge=challenge,
            public_key=passkey.public_key,
            current_sign_count=0,
            expected_user_handle=OTHER_HANDLE,
        )
    assert refused.value.reason == "rejected"


AUTHENTICATION_REFUSALS = [
    pytest.param(
        {"origin": "https://safeharbor-crm.example.net"}, 0, "wrong_origin", id="wrong-origin"
    ),
    pytest.param({"rp_id": "example.net"}, 0, "wrong_rp_id", id="wrong-rp-id"),
    pytest.param({"challenge": b"\x00" * 32}, 0, "challenge_mismatch", id="challenge-mismatch"),
    pytest.param({"corrupt_signature": True}, 0, "bad_signature", id="bad-signature"),
    pytest.param({"user_verified": False}, 0, "user_not_verified", id="uv-off"),
    pytest.param({"sign_count": 3}, 7, "sign_count_regression", id="count-went-down"),
    pytest.param({"sign_count": 7}, 7, "sign_count_regression", id="count-stood-still"),
    pytest.param({"sign_count": 0}, 7, "sign_count_regression", id="count-reset-to-zero"),
    # NOTE: py_webauthn judges UV and the counter before the signature; an unsigned forgery
    # must not pass for an unverified user or raise the alarm of a cloned passkey.
    pytest.param(
        {"sign_count": 3, "corrupt_signature": True},
        7,
        "bad_signature",
        id="count-went-down-but-forged",
    ),
    pytest.param(
        {"user_verified": False, "corrupt_signature": True},
        0,
        "bad_signature",
        id="uv-off-but-forged",
    ),
]


@pytest.mark.parametrize(("forge", "current_sign_count", "reason"), AUTHENTICATION_REFUSALS)
def test_authentication_refusals(phone, passkey, forge, current_sign_count, reason):
    with pytest.raises(AuthenticationRejected) as refused:
        sign_in(phone, passkey, current_sign_count=current_sign_count, **forge)

    assert refused.value.reason == reason
    assert refused.value.message.strip()
    assert isinstance(refused.value, PasskeyRejected)
    assert refused.value.__cause__ is not None


def test_authentication_refuses_impossible_backup_flags(phone, passkey):
    phone.backup_state = True  # backed up, yet never eligible for backup
    with pytest.raises(AuthenticationRejected) as refused:
        sign_in(phone, passkey)
    assert refused.value.reason == "rejected"


def test_the_user_not_verified_message_tells_the_person_what_to_do(phone, passkey):
    with pytest.raises(AuthenticationRejected) as refused:
        sign_in(phone, passkey, user_verified=False)
    assert refused.value.message == (
        "This phone did not confirm your screen lock. Unlock it with your fingerprint, face or "
        "PIN and try again."
    )


# ---------------------------------------------------------------------------------------------
# Junk


def _replace_response(response: dict, **members) -> dict:
    return response | {"response": response["response"] | members}


def _without_response_member(response: dict, member: str) -> dict:
    return response | {"response": {k: v for k, v in response["response"].items() if k != member}}


JUNK = [
    pytest.param(lambda genuine: "", id="empty-string"),
    pytest.param(lambda genuine: "not json at all", id="not-json"),
    pytest.param(lambda genuine: "[" * 100_000, id="deeply-nested"),
    pytest.param(lambda genuine: "null", id="json-null"),
    pytest.param(lambda genuine: "[]", id="json-array"),
    pytest.param(lambda genuine: {}, id="empty-object"),
    pytest.param(lambda genuine: {"id": "abc", "type": "public-key"}, id="no-rawId"),
    pytest.param(lambda genuine: genuine | {"rawId": "***"}, id="rawId-not-base64url"),
    pytest.param(lambda genuine: genuine | {"id": b64url_encode(b"other")}, id="id-not-rawId"),
    pytest.param(lambda genuine: genuine | {"type": "password"}, id="wrong-type"),
    pytest.param(
        lambda genuine: {k: v for k, v in genuine.items() if k != "response"}, id="no-response"
    ),
    pytest.param(
        lambda genuine: _replace_response(genuine, clientDataJSON=b64url_encode(b"{")),
        id="clientData-not-json",
    ),
    pytest.param(
        lambda genuine: _without_response_member(genuine, "clientDataJSON"), id="no-clientData"
    ),
]


@pytest.mark.parametrize(
    "junk",
    [
        *JUNK,
        pytest.param(
            lambda genuine: _replace_response(genuine, authenticatorData="AAAA"),
            id="authenticatorData-too-short",
        ),
        pytest.param(
            lambda genuine: _without_response_member(genuine, "signature"), id="no-signature"
        ),
    ],
)
def test_junk_assertions_are_malformed(phone, passkey, junk):
    options, challenge = authentication_options(rp=RP)
    credential = junk(phone.get(options, origin=RP.origin))

    with pytest.raises(AuthenticationRejected) as refused:
        verify_authentication(
            rp=RP,
            credential=credential,
            expected_challenge=challenge,
            public_key=passkey.public_key,
            current_sign_count=0,
        )
    assert refused.value.reason == "malformed"
    assert refused.value.message.strip()


@pytest.mark.parametrize(
    "junk",
    [
        *JUNK,
        pytest.param(
            lambda genuine: _replace_response(genuine, attestationObject="oA"),
            id="attestationObject-empty-map",
        ),
        pytest.param(
            lambda genuine: _without_response_member(genuine, "attestationObject"),
            id="no-attestationObject",
        ),
    ],
)
def test_junk_registrations_are_malformed(junk):
    options, challenge = new_registration_options()
    credential = junk(SoftAuthenticator().create(options, origin=RP.origin))

    with pytest.raises(RegistrationRejected) as refused:
        verify_registration(rp=RP, credential=credential, expected_challenge=challenge)
    assert refused.value.reason == "malformed"
    assert refused.value.message.strip()


def test_a_registration_must_show_the_credential_id_it_signed():
    options, challenge = new_registration_options()
    response = SoftAuthenticator().create(options, origin=RP.origin)
    swapped = response | {"id": b64url_encode(b"\x05" * 32), "rawId": b64url_encode(b"\x05" * 32)}
    with pytest.raises(RegistrationRejected) as refused:
        verify_registration(rp=RP, credential=swapped, expected_challenge=challenge)
    assert refused.value.reason == "malformed"


def test_client_data_of_another_ceremony_is_rejected(phone, passkey):
    options, challenge = authentication_options(rp=RP)
    assertion = phone.get(options, origin=RP.origin)
    registration_client_data = phone.create(new_registration_options()[0], origin=RP.origin)[
        "response"
    ]["clientDataJSON"]
    with pytest.raises(AuthenticationRejected) as refused:
        verify_authentication(
            rp=RP,
            credential=_replace_response(assertion, clientDataJSON=registration_client_data),
            expected_challenge=challenge,
            public_key=passkey.public_key,
            current_sign_count=0,
        )
    assert refused.value.reason == "rejected"


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"expected_challenge": b""}, ValueError),
        ({"expected_challenge": "a string"}, ValueError),
        ({"public_key": b""}, ValueError),
        ({"current_sign_count": -1}, ValueError),
        ({"current_sign_count": True}, TypeError),
    ],
)
def test_caller_mistakes_are_programming_errors_not_refusals(phone, passkey, arguments, error):
    options, challenge = authentication_options(rp=RP)
    valid = {
        "rp": RP,
        "credential": phone.get(options, origin=RP.origin),
        "expected_challenge": challenge,
        "public_key": passkey.public_key,
        "current_sign_count": 0,
    }
    with pytest.raises(error):
        verify_authentication(**(valid | arguments))


def test_an_assertion_is_not_a_registration(phone, passkey):
    options, challenge = authentication_options(rp=RP)
    assertion = phone.get(options, origin=RP.origin)
    with pytest.raises(RegistrationRejected) as refused:
        verify_registration(rp=RP, credential=assertion, expected_challenge=challenge)
    assert refused.value.reason == "malformed"


# ---------------------------------------------------------------------------------------------
# Reading a response before verifying it


def test_credential_id_of_reads_attestations_too(phone):
    options, _ = new_registration_options()
    response = phone.create(options, origin=RP.origin)
    assert credential_id_of(response) == phone.credentials[-1].id
    assert credential_id_of(json.dumps(response)) == phone.credentials[-1].id


def test_user_handle_of_is_none_when_absent(phone, passkey):
    options, _ = authentication_options(rp=RP)
    response = phone.get(options, origin=RP.origin)
    assert user_handle_of(_without_response_member(response, "userHandle")) is None
    assert user_handle_of(_replace_response(response, userHandle=None)) is None


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "nope",
        "[]",
        "{}",
        {"rawId": "***", "id": "***"},
        {"rawId": 5, "id": 5},
        {"rawId": "", "id": ""},
        {"rawId": "A", "id": "A"},
        {"rawId": "AQID", "id": "AQIE"},
    ],
)
def test_credential_id_of_junk_is_malformed(junk):
    with pytest.raises(AuthenticationRejected) as refused:
        credential_id_of(junk)
    assert refused.value.reason == "malformed"


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "nope",
        "[]",
        {},
        {"response": "x"},
        {"response": {"userHandle": 5}},
        {"response": {"userHandle": "***"}},
        {"response": {"userHandle": b64url_encode(bytes(65))}},
    ],
)
def test_user_handle_of_junk_is_malformed(junk):
    with pytest.raises(AuthenticationRejected) as refused:
        user_handle_of(junk)
    assert refused.value.reason == "malformed"


# ---------------------------------------------------------------------------------------------
# The refusal itself


def test_every_reason_has_a_message():
    assert set(REFUSAL_MESSAGES) == {
        "malformed",
        "wrong_origin",
        "wrong_rp_id",
        "challenge_mismatch",
        "bad_signature",
        "user_not_verified",
        "sign_count_regression",
        "rejected",
    }
    assert all(message.strip() for message in REFUSAL_MESSAGES.values())


def test_an_unknown_reason_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown refusal reason"):
        AuthenticationRejected("because")
