"""Every setting, read from the environment, with safe development defaults.

Production (`WEBAPP_ENV=production`) refuses to start on a development default: see
`check_production`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"  # noqa: S105


class ConfigurationError(RuntimeError):
    """A setting that would make the app unsafe or unable to run; the message names it."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    secret_key: str = DEVELOPMENT_SECRET_KEY
    origin: str = "http://localhost:5000"
    database_url: str | None = None  # None: SQLite file in the instance folder
    kek_file: str | None = None  # None: instance/keys/kek.json
    kek: str | None = None  # a keyset in the environment instead of a file
    redis_url: str | None = None
    # Identity timeouts (seconds); per-role overrides live in agency settings.
    idle_lock_seconds: int = 5 * 60
    idle_end_seconds: int = 15 * 60
    absolute_session_seconds: int = 12 * 60 * 60
    sql_echo: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def rp_id(self) -> str:
        """The WebAuthn relying-party id: the host of the public origin."""
        return urlsplit(self.origin).hostname or "localhost"

    @property
    def uses_https(self) -> bool:
        return urlsplit(self.origin).scheme == "https"

    def with_overrides(self, **changes) -> Settings:
        return replace(self, **changes)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number of seconds, not {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, not {value}")
    return value


def settings_from_environment() -> Settings:
    env = os.environ
    return Settings(
        env=env.get("WEBAPP_ENV", "development"),
        secret_key=env.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY,
        origin=env.get("WEBAPP_ORIGIN", "http://localhost:5000").rstrip("/"),
        database_url=env.get("DATABASE_URL") or None,
        kek_file=env.get("WEBAPP_KEK_FILE") or None,
        kek=env.get("WEBAPP_KEK") or None,
        redis_url=env.get("REDIS_URL") or None,
        idle_lock_seconds=_int("WEBAPP_IDLE_LOCK_SECONDS", 5 * 60),
        idle_end_seconds=_int("WEBAPP_IDLE_END_SECONDS", 15 * 60),
        absolute_session_seconds=_int("WEBAPP_ABSOLUTE_SESSION_SECONDS", 12 * 60 * 60),
        sql_echo=env.get("WEBAPP_SQL_ECHO") == "1",
    )


def check_production(settings: Settings, *, web_root: Path, kek_path: Path | None) -> None:
    """Refuse development defaults in production, naming the setting that is wrong."""
    if not settings.is_production:
        return
    if settings.secret_key == DEVELOPMENT_SECRET_KEY or len(settings.secret_key) < 32:
        raise ConfigurationError(
            "SECRET_KEY is unset or shorter than 32 characters; production needs a long random "
            "secret (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    parts = urlsplit(settings.origin)
    if parts.scheme != "https" and parts.hostname != "localhost":
        raise ConfigurationError(
            f"WEBAPP_ORIGIN must be an https:// origin in production, not {settings.origin!r}"
        )
    if kek_path is not None:
        resolved = kek_path.resolve()
        if resolved.is_relative_to(web_root.resolve()):
            raise ConfigurationError(
                f"WEBAPP_KEK_FILE ({kek_path}) is inside the web root ({web_root}); keep the "
                "key-encryption key outside the application tree and back it up apart from "
                "the database"
            )
    if settings.database_url is None:
        raise ConfigurationError(
            "DATABASE_URL is unset; production runs on PostgreSQL "
            "(postgresql+psycopg://user@host/db), not the embedded SQLite file"
        )
