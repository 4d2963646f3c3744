"""The app factory, configuration, and production refusals."""

from __future__ import annotations

import pytest

from webapp import create_app
from webapp.config import ConfigurationError

GOOD_SECRET = "s" * 48


def test_healthz_answers_when_the_database_is_up(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_healthz_says_unavailable_without_a_database(app_config, tmp_path):
    app = create_app({**app_config, "database_url": f"sqlite:///{tmp_path}/missing/dir/x.db"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json == {"status": "unavailable"}


def test_development_defaults_start(app):
    settings = app.config["SETTINGS"]
    assert settings.env == "development" and settings.rp_id == "localhost"


def test_instance_folder_holds_the_key_file_by_default(app, tmp_path):
    assert (tmp_path / "instance" / "keys" / "kek.json").exists()


def _production(tmp_path, **overrides):
    config = {
        "env": "production",
        "secret_key": GOOD_SECRET,
        "origin": "https://crm.example.com",
        "database_url": f"sqlite:///{tmp_path}/prod.db",
        "kek_file": str(tmp_path / "secrets" / "kek.json"),
        "instance_path": tmp_path / "instance",
    }
    config.update(overrides)
    return config


def test_production_starts_with_safe_settings(tmp_path):
    app = create_app(_production(tmp_path))
    assert app.config["SETTINGS"].is_production


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"secret_key": "development-only-secret-key-do-not-use-in-production"}, "SECRET_KEY"),
        ({"secret_key": "short"}, "SECRET_KEY"),
        ({"origin": "http://crm.example.com"}, "WEBAPP_ORIGIN"),
        ({"kek_file": None}, "WEBAPP_KEK_FILE"),  # the default: instance/ inside the tree
        ({"database_url": None}, "DATABASE_URL"),
    ],
)
def test_production_refuses_development_defaults_and_names_the_setting(tmp_path, overrides,
                                                                        named):
    config = _production(tmp_path, **overrides)
    if overrides.get("kek_file", "") is None:
        config.pop("instance_path")  # the real default: ./instance in the application tree
    with pytest.raises(ConfigurationError, match=named):
        create_app(config)


def test_production_allows_plain_http_only_on_localhost(tmp_path):
    create_app(_production(tmp_path, origin="http://localhost:5000"))


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [("WEBAPP_IDLE_LOCK_SECONDS", "five", "whole number"),
     ("WEBAPP_IDLE_END_SECONDS", "-1", "must be positive")],
)
def test_bad_timeout_settings_are_refused(monkeypatch, app_config, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message):
        create_app(app_config)
