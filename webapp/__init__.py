"""SafeHarbor CRM: the app factory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from flask import Flask, g

from .clock import Clock
from .config import Settings, check_production, settings_from_environment
from .crypto import EnvironmentKeyProvider, FileKeyProvider, KeyProvider, Keyring, install_sealing
from .db import make_engine, make_session_factory
from .models import Base  # noqa: F401 - every model, before the first query

_SETTING_NAMES = {f.name for f in fields(Settings)}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides settings by name (e.g. ``database_url``) and Flask
    config keys (upper case, e.g. ``TESTING``); ``instance_path`` moves the instance folder and
    ``clock`` replaces the clock (tests)."""
    config = dict(config or {})
    instance_path = config.pop("instance_path", None)
    config_clock = config.pop("clock", None)
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=str(instance_path) if instance_path else None,
    )
    settings = settings_from_environment().with_overrides(
        **{k: v for k, v in config.items() if k in _SETTING_NAMES}
    )
    app.config.update({k: v for k, v in config.items() if k not in _SETTING_NAMES})
    instance = Path(app.instance_path)
    kek_path = None if settings.kek else Path(settings.kek_file or instance / "keys" / "kek.json")
    check_production(settings, web_root=Path(app.root_path).parent, kek_path=kek_path)

    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    app.config.update(SECRET_KEY=settings.secret_key, SETTINGS=settings,
                      # NOTE: no request body larger than this is read at all, so no large
                      # upload is ever spooled to a temporary file (the import page raises
                      # its own limit and parses in memory).
                      MAX_CONTENT_LENGTH=1024 * 1024)
    database_url = settings.database_url or f"sqlite:///{instance / 'safeharbor.db'}"
    _init_data_layer(app, settings, database_url=database_url, kek_path=kek_path)

    app.extensions["safeharbor.clock"] = config_clock or Clock()

    from . import cli
    from .views import (
        account,
        admin,
        auth,
        compliance,
        crm,
        device_api,
        devices,
        formatting,
        guard,
        health,
        imports,
        pwa,
        records,
        schedule,
    )

    guard.init_app(app)
    formatting.init_app(app)
    for module in (health, pwa, auth, crm, records, schedule, imports, account, admin, device_api,
                   compliance):
        app.register_blueprint(module.blueprint)
    app.register_blueprint(devices.admin_blueprint)
    app.register_blueprint(devices.owner_blueprint)
    cli.init_app(app)
    return app


def _init_data_layer(app: Flask, settings: Settings, *, database_url: str,
                     kek_path: Path | None) -> None:
    provider: KeyProvider = (
        EnvironmentKeyProvider(settings.kek) if settings.kek else FileKeyProvider(kek_path)  # type: ignore[arg-type]
    )
    engine = make_engine(database_url, echo=settings.sql_echo)
    keyring = Keyring(provider, engine)
    session_factory = make_session_factory(engine, keyring=keyring)
    install_sealing(session_factory)
    app.extensions["safeharbor.engine"] = engine
    app.extensions["safeharbor.keyring"] = keyring
    app.extensions["safeharbor.sessions"] = session_factory

    @app.teardown_appcontext
    def _close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
