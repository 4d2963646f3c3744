"""Agency settings: the policy values an admin can change (timeouts, device rules, ...).

Each setting is declared once in `SETTINGS` with its type, default and bounds; the table stores
only the values an admin changed, so a new setting needs no migration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import String, Text, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..db import Base, UTCDateTime, utcnow


@dataclass(frozen=True)
class SettingSpec:
    name: str
    kind: type
    default: Any
    minimum: int | None = None
    maximum: int | None = None
    description: str = ""

    def validate(self, value: Any) -> Any:
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false")
            return value
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{self.name} must be a whole number")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"{self.name} must be at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"{self.name} must be at most {self.maximum}")
            return value
        if self.kind is str:
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{self.name} must be text")
            if self.name == "agency_timezone":
                _check_timezone(value)
            return value
        if self.kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{self.name} must be a list of strings")
            return value
        raise TypeError(self.kind)


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone (try America/Chicago)") from None


_MINUTE = 60
SETTINGS: dict[str, SettingSpec] = {
    spec.name: spec
    for spec in [
        *(
            SettingSpec(f"idle_lock_seconds.{role}", int, 5 * _MINUTE, 60, 60 * _MINUTE,
                        f"Idle time before a {role}'s screen locks")
            for role in ("agent", "assistant", "admin", "compliance")
        ),
        *(
            SettingSpec(f"idle_end_seconds.{role}", int, 15 * _MINUTE, 120, 4 * 60 * _MINUTE,
                        f"Idle time before a {role}'s session ends")
            for role in ("agent", "assistant", "admin", "compliance")
        ),
        SettingSpec("absolute_session_seconds", int, 12 * 60 * _MINUTE, 15 * _MINUTE,
                    24 * 60 * _MINUTE, "Longest a session may last"),
        SettingSpec("agency_timezone", str, "America/New_York",
                    description="The agency's time zone: what 'today' means for schedules"),
        *(
            SettingSpec(f"device_approval_required.{role}", bool, role in ("agent", "assistant"),
                        description=f"New devices of a {role} wait for an admin's approval")
            for role in ("agent", "assistant", "admin", "compliance")
        ),
        SettingSpec("device_allow_synced_passkeys", bool, True,
                    description="Allow synced passkeys (off: device-bound passkeys only)"),
        SettingSpec("device_aaguid_allowlist", list, [],
                    description="Authenticator models (AAGUIDs) allowed; empty allows any"),
        SettingSpec("device_wipe_unseen_days", int, 30, 1, 365,
                    "Wipe devices unseen for this many days"),
        SettingSpec("device_pending_expire_days", int, 14, 1, 90,
                    "Revoke devices still waiting for approval after this many days"),
        SettingSpec("device_offline_lock_minutes", int, 720, 5, 7 * 24 * 60,
                    "Delete a device's offline cache after this long offline"),
        SettingSpec("enrollment_link_hours", int, 72, 1, 24 * 14,
                    "How long an enrollment link stays valid"),
    ]
}


class AgencySetting(Base):
    __tablename__ = "agency_settings"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(24))


# The stored settings, read once per transaction: a request asks for a dozen of them (session
# timeouts, device policy, time zone) and each used to be its own query.
_CACHE_KEY = "safeharbor.agency_settings"


@event.listens_for(Session, "after_begin")
def _forget_cached_settings(session: Session, _transaction, _connection) -> None:
    # A new transaction may see another process's changes: read them again.
    session.info.pop(_CACHE_KEY, None)


def get_setting(session: Session, name: str) -> Any:
    spec = SETTINGS[name]
    stored_values = session.info.get(_CACHE_KEY)
    if stored_values is None:
        stored_values = dict(session.execute(
            select(AgencySetting.name, AgencySetting.value_json)).all())
        session.info[_CACHE_KEY] = stored_values
    stored = stored_values.get(name)
    return spec.default if stored is None else json.loads(stored)


def agency_zone(session: Session) -> ZoneInfo:
    """The agency's time zone: where "today" begins and ends, and how times read on pages."""
    return ZoneInfo(get_setting(session, "agency_timezone"))


def set_setting(session: Session, name: str, value: Any, *, updated_by: str | None) -> Any:
    """Validate and store a setting in the caller's transaction; raises ValueError on bad input."""
    spec = SETTINGS.get(name)
    if spec is None:
        raise ValueError(f"there is no setting called {name!r}")
    value = spec.validate(value)
    session.info.pop(_CACHE_KEY, None)
    row = session.get(AgencySetting, name)
    if row is None:
        session.add(AgencySetting(name=name, value_json=json.dumps(value), updated_by=updated_by))
    else:
        row.value_json, row.updated_by = json.dumps(value), updated_by
    return value
