"""The database: one engine and session factory per app, the declarative Base, shared types.

SQLite (a file in the instance folder) is the embedded default; PostgreSQL is production.
Schema changes go through the Alembic migrations in `webapp/migrations/`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, String, create_engine, event, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_record_id() -> str:
    """An opaque, unguessable record id (128 bits): what URLs carry instead of anything
    meaningful."""
    return secrets.token_urlsafe(16)


def RecordId() -> String:
    return String(24)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every engine (SQLite has no timezone type)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    options: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": 30}
    else:
        options["pool_pre_ping"] = True
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: random-key indexes stay hot
            cursor.close()

    return engine


def make_session_factory(engine: Engine, **info: Any) -> sessionmaker[Session]:
    """Sessions carry `info` (the keyring) so models can open their sealed fields."""
    return sessionmaker(engine, expire_on_commit=False, info=info)


def get_session() -> Session:
    """The current app context's session (created on first use, closed at teardown)."""
    from flask import current_app, g

    session = g.get("db_session")
    if session is None:
        session = g.db_session = current_app.extensions["safeharbor.sessions"]()
    return session


def refresh_planner_statistics(session: Session) -> None:
    """ANALYZE after a bulk load (seed, import): without statistics SQLite's planner walks an
    agent's whole book through the agent index instead of using the blind-index columns, which
    turns a 0.5 ms search into 50 ms at 100,000 clients. PostgreSQL's autovacuum would get there
    later on its own; doing it now costs a fraction of a second."""
    session.execute(text("ANALYZE"))


def insert_many(connection, table, rows: list[dict]) -> None:
    """Bulk INSERT through the driver's executemany, skipping the per-row work SQLAlchemy's
    executemany does. Values go through each column type's own bind processor, so what lands
    in the database is exactly what the ORM would write (sealed values stay sealed)."""
    if not rows:
        return
    dialect = connection.dialect
    statement = table.insert().compile(dialect=dialect, column_keys=list(rows[0]))
    names = list(statement.positiontup or statement.params)
    missing = set(names) - set(rows[0])
    if missing:
        raise ValueError(f"insert_many into {table.name} needs values for {sorted(missing)}")
    processors = [(name, table.c[name].type._cached_bind_processor(dialect)) for name in names]
    if statement.positiontup:
        parameters = [tuple(p(row[n]) if p else row[n] for n, p in processors) for row in rows]
    else:
        parameters = [{n: p(row[n]) if p else row[n] for n, p in processors} for row in rows]
    connection.exec_driver_sql(str(statement), parameters)
