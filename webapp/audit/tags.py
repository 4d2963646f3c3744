"""Audit event tags, in "area:subject:action" form. One place lists every event the system
records; later areas add theirs here."""

from enum import StrEnum


class AuditTag(StrEnum):
    # system and operators
    SYSTEM_DEMO_SEED = "system:demo:seed"
    SYSTEM_KEYS_ROTATE = "system:keys:rotate"
    SYSTEM_AUDIT_VERIFY = "system:audit:verify"
    SYSTEM_SETTINGS_CHANGE = "system:settings:change"

    # clients and their records
    CLIENT_RECORD_CREATE = "client:record:create"
    CLIENT_RECORD_VIEW = "client:record:view"
    CLIENT_RECORD_EDIT = "client:record:edit"
    CLIENT_RECORD_DELETE = "client:record:delete"
    CLIENT_RECORD_DISPOSE = "client:record:dispose"
    CLIENT_SSN_REVEAL = "client:ssn:reveal"
    CLIENT_EMERGENCY_GRANT = "client:emergency:grant"
    CLIENT_NOTE_CREATE = "client:note:create"
    CLIENT_COMMUNICATION_CREATE = "client:communication:create"
    CLIENT_SEARCH = "client:search:run"
    CLIENT_IMPORT = "client:import:create"
    CLIENT_EXPORT = "client:export:create"

    # people
    USER_ACCOUNT_CREATE = "user:account:create"
    USER_ROLE_CHANGE = "user:role:change"
    USER_SUPPORT_CHANGE = "user:support:change"  # which agents an assistant supports
    USER_ACCOUNT_DISABLE = "user:account:disable"
    USER_ACCOUNT_ENABLE = "user:account:enable"

    # identity: enrollment, passkeys, sessions
    AUTH_INVITE_CREATE = "auth:invite:create"
    AUTH_INVITE_USE = "auth:invite:use"  # outcome refused: unknown, used or expired token
    AUTH_PASSKEY_REGISTER = "auth:passkey:register"
    AUTH_PASSKEY_RENAME = "auth:passkey:rename"
    AUTH_PASSKEY_REMOVE = "auth:passkey:remove"
    AUTH_SESSION_LOGIN = "auth:session:login"
    AUTH_SESSION_LOGOUT = "auth:session:logout"
    AUTH_SESSION_LOCK = "auth:session:lock"
    AUTH_SESSION_UNLOCK = "auth:session:unlock"
    AUTH_SESSION_TIMEOUT = "auth:session:timeout"
    AUTH_SESSION_REVOKE = "auth:session:revoke"
    AUTH_STEP_UP_VERIFY = "auth:step-up:verify"

    # devices
    DEVICE_REGISTRY_CREATE = "device:registry:create"
    DEVICE_REGISTRY_APPROVE = "device:registry:approve"
    DEVICE_REGISTRY_RENAME = "device:registry:rename"
    DEVICE_REGISTRY_LOST = "device:registry:lost"
    DEVICE_REGISTRY_WIPE = "device:registry:wipe"
    DEVICE_REGISTRY_WIPED = "device:registry:wiped"
    DEVICE_REGISTRY_REVOKE = "device:registry:revoke"
    DEVICE_PHI_REFUSE = "device:phi:refuse"
    DEVICE_CACHE_KEY_ISSUE = "device:cache-key:issue"
    DEVICE_POLICY_CHANGE = "device:policy:change"
    SYSTEM_JOB_RUN = "system:job:run"

    # compliance review: who looked at the trail and at emergency grants
    COMPLIANCE_TRAIL_VIEW = "compliance:trail:view"
    COMPLIANCE_EMERGENCY_VIEW = "compliance:emergency:view"
