"""Fixtures: a migrated database per test (SQLite by default, PostgreSQL with
TEST_DATABASE_URL), the app, a session, and factories for test data."""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy import create_engine, inspect, text

from tests.support.factories import Factories
from webapp import create_app, migrate
from webapp.clock import FrozenClock
from webapp.db import get_session

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL") or None


def pytest_configure(config):
    if os.environ.get("REQUIRE_POSTGRES") == "1" and not POSTGRES_URL:
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is unset")


def pytest_collection_modifyitems(config, items):
    if POSTGRES_URL:
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only: set TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def _migrated_database(tmp_path_factory):
    """Migrate once per run: a template SQLite file, or a fresh schema on PostgreSQL."""
    if POSTGRES_URL:
        engine = create_engine(POSTGRES_URL)
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        except Exception as error:
            pytest.fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {error}")
        migrate.upgrade(engine)
        tables = [
            name for name in inspect(engine).get_table_names() if name != "alembic_version"
        ]
        engine.dispose()
        yield ("postgresql", tables)
    else:
        template = tmp_path_factory.mktemp("template") / "template.db"
        engine = create_engine(f"sqlite:///{template}")
        migrate.upgrade(engine)
        engine.dispose()
        yield ("sqlite", template)


@pytest.fixture
def database_url(_migrated_database, tmp_path):
    kind, detail = _migrated_database
    if kind == "sqlite":
        target = tmp_path / "safeharbor.db"
        shutil.copyfile(detail, target)
        return f"sqlite:///{target}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        # NOTE: replica mode skips the append-only triggers so each test starts empty; only
        # the test harness (a superuser) can do this.
        connection.execute(text("SET session_replication_role = replica"))
        connection.execute(text(f"TRUNCATE {', '.join(detail)} RESTART IDENTITY CASCADE"))
        connection.execute(text(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')"))
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture
def clock():
    """The app's clock, frozen: tests move it with `clock.advance(minutes=...)`."""
    return FrozenClock()


@pytest.fixture
def app_config(database_url, tmp_path, clock):
    return {
        "database_url": database_url,
        "instance_path": tmp_path / "instance",
        "clock": clock,
        "TESTING": True,
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.extensions["safeharbor.keyring"].ensure_blind_index_key()
    yield app
    app.extensions["safeharbor.engine"].dispose()


@pytest.fixture
def app_context(app):
    with app.app_context():
        yield


@pytest.fixture
def session(app_context):
    return get_session()


@pytest.fixture
def keyring(app):
    return app.extensions["safeharbor.keyring"]


@pytest.fixture
def engine(app):
    return app.extensions["safeharbor.engine"]


@pytest.fixture
def factories(session):
    return Factories(session)


@pytest.fixture
def is_postgres(database_url):
    return database_url.startswith("postgresql")


@pytest.fixture
def invite(app, session, clock):
    """invite(email, role, **kw) -> enrollment token (through the real service)."""
    from webapp.audit import Actor
    from webapp.auth.invites import issue_invite

    def make(email: str, role: str = "agent", **kwargs) -> str:
        _user, token = issue_invite(session, email=email, role=role,
                                    actor=Actor(label="test"), now=clock.now(), **kwargs)
        session.commit()
        return token

    return make


@pytest.fixture
def phone(app):
    """phone() -> a new browser with its own passkey authenticator."""
    from tests.support.browser import Phone

    return lambda **kwargs: Phone(app, **kwargs)


@pytest.fixture
def signed_in(invite, phone, session, keyring, clock):
    """signed_in(email, role, approve=True) -> a Phone whose user enrolled and is signed in,
    on a device an admin approved (pass approve=False to leave it waiting)."""
    from webapp.audit import Actor
    from webapp.devices import registry
    from webapp.devices.models import DeviceStatus

    def make(email: str = "agent@example.com", role: str = "agent", *, approve: bool = True,
             **kwargs):
        device = phone()
        response = device.enroll(invite(email, role, **kwargs))
        assert response.status_code == 200, response.get_data(as_text=True)
        if approve:
            session.expire_all()
            registered = registry.find_device(session, device.client.get_cookie(
                "sh-device").value)
            if registered.status == DeviceStatus.PENDING:
                registry.approve(session, keyring, registered, actor=Actor(label="test"),
                                 now=clock.now())
                session.commit()
        device.load_csrf("/account")
        return device

    return make
