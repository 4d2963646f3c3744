"""Canary scan: PHI never lands in the database in plaintext, in any table, index or the audit
trail. Every field of a client holds a unique canary; then the raw storage is searched."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import inspect, text

from webapp.audit import Actor, AuditTag, record_event
from webapp.crm.search import search_clients

CANARY = "Qx7Canary"


def _needles(canary: str) -> list[bytes]:
    """How a plaintext value could look at rest: raw, hex-encoded (PostgreSQL bytea), UTF-16."""
    return [canary.encode(), canary.encode().hex().encode(), canary.encode("utf-16-le")]


@pytest.fixture
def canary_client(session, factories, keyring):
    agent = factories.user()
    client = factories.full_client(agent, canary=CANARY)
    record_event(session, AuditTag.CLIENT_RECORD_VIEW, actor=Actor(user_id=agent.id),
                 record_type="client", record_id=client.id, client_id=client.id)
    session.commit()
    # Reading back works (so the canaries really were written) ...
    assert client.last_name == f"Last{CANARY}"
    assert [c.id for c in search_clients(session, keyring, f"Last{CANARY}")] == [client.id]
    return client


def _sqlite_bytes(database_url: str) -> bytes:
    path = Path(database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def _postgres_text(session) -> bytes:
    dump = []
    for table in inspect(session.get_bind()).get_table_names():
        for row in session.execute(text(f'SELECT CAST(t AS text) FROM "{table}" t')):
            dump.append(row[0])
    return "\n".join(dump).encode()


def test_no_canary_in_the_sqlite_file(canary_client, session, engine, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite file scan runs on SQLite")
    engine.dispose()  # flush everything to the file (and its WAL) first
    raw = _sqlite_bytes(database_url)
    assert len(raw) > 10_000
    for needle in _needles(CANARY):
        assert needle not in raw, f"plaintext PHI found at rest: {needle!r}"
    assert canary_client.id.encode() in raw  # the scan does see what is stored


@pytest.mark.postgres
def test_no_canary_in_any_postgres_table(canary_client, session):
    dump = _postgres_text(session)
    for needle in _needles(CANARY):
        assert needle not in dump, f"plaintext PHI found at rest: {needle!r}"
    assert canary_client.id.encode() in dump


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_no_canary_in_pg_dump(canary_client, session, database_url):
    url = urlsplit(database_url.replace("+psycopg", ""))
    dump = subprocess.run(
        ["pg_dump", "-h", url.hostname, "-p", str(url.port or 5432), "-U",
         url.username or "postgres", url.path.lstrip("/")],
        capture_output=True, check=True, timeout=120,
    ).stdout
    for needle in _needles(CANARY):
        assert needle not in dump
    assert canary_client.id.encode() in dump
