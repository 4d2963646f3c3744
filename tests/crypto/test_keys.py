"""Key providers and KEK rotation."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from sqlalchemy import insert, select

from webapp.cli import keys_cli
from webapp.crm.models import Client
from webapp.crypto import (
    EnvironmentKeyProvider,
    FileKeyProvider,
    KeyProviderError,
    TamperedCiphertext,
)
from webapp.crypto.keyring import unwrap_key
from webapp.crypto.models import DataKey


def test_key_file_is_created_on_first_use_readable_by_owner_only(tmp_path):
    path = tmp_path / "keys" / "kek.json"
    keyset = FileKeyProvider(path).load()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(keyset.active_key) == 32
    assert FileKeyProvider(path).load() == keyset  # the same key on the next start


def test_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "kek.json"
    FileKeyProvider(path).load()
    os.chmod(path, 0o644)
    with pytest.raises(KeyProviderError, match="chmod 600"):
        FileKeyProvider(path).load()


@pytest.mark.parametrize(
    ("value", "message"),
    [("not base64!", "not valid base64"), (base64.b64encode(b"short").decode(), "5 bytes"),
     ('{"keys": {}}', "not a SafeHarbor keyset"),
     ('{"active": "a", "keys": {"b": "' + base64.b64encode(bytes(32)).decode() + '"}}',
      "active key 'a' is not in the keyset")],
)
def test_bad_environment_keys_are_refused_clearly(value, message):
    with pytest.raises(KeyProviderError, match=message):
        EnvironmentKeyProvider(value)


def test_environment_key_works_and_cannot_be_rotated(app_config, tmp_path):
    from webapp import create_app

    key = base64.b64encode(os.urandom(32)).decode()
    app = create_app({**app_config, "kek": key})
    keyring = app.extensions["safeharbor.keyring"]
    assert keyring.provider.load().active_id == "env"
    assert not (tmp_path / "instance" / "keys" / "kek.json").exists()
    with pytest.raises(KeyProviderError, match="read-only"):
        next(keyring.rotate())


def _bulk_clients(session, keyring, agent_id: str, count: int) -> list[str]:
    """`count` clients inserted in bulk through the same sealing code as the ORM."""
    keys, clients = [], []
    for i in range(count):
        key = keyring.new_data_key("client")
        keys.append(key.as_row())
        clients.append(Client.sealed_row(
            keyring, row_id=f"bulk-{i}", key_id=key.id, agent_id=agent_id, data_key_id=key.id,
            last_name=f"Rotated{i}", status="active"))
    session.execute(insert(DataKey.__table__), keys)
    session.execute(insert(Client.__table__), clients)
    session.commit()
    return [c["id"] for c in clients]


def test_rotation_over_ten_thousand_clients_loses_nothing(app, session, keyring, factories):
    agent = factories.user()
    ids = _bulk_clients(session, keyring, agent.id, 10_000)
    old_keyset = keyring.provider.load()

    result = app.test_cli_runner().invoke(keys_cli, ["rotate"])
    assert result.exit_code == 0, result.output
    assert "Re-wrapped 10001 data keys" in result.output  # the clients' and the blind-index key

    new_keyset = keyring.provider.load()
    assert set(new_keyset.keys) == {new_keyset.active_id} != set(old_keyset.keys)
    keyring.forget_cached_keys()  # read everything through the new KEK, as after a restart
    session.expunge_all()
    names = {c.id: c.last_name for c in session.scalars(select(Client))}
    assert all(names[row_id] == f"Rotated{i}" for i, row_id in enumerate(ids))

    # The old KEK opens nothing: not one data key unwraps with it any more.
    old_kek = old_keyset.active_key
    for row in session.execute(select(DataKey.id, DataKey.purpose, DataKey.wrapped)):
        with pytest.raises(TamperedCiphertext):
            unwrap_key(old_kek, row.wrapped, key_id=row.id, purpose=row.purpose)


def test_rotation_keeps_search_working(app, session, keyring, factories):
    from webapp.crm.search import search_clients

    client = factories.client(last_name="Searchable")
    session.commit()
    assert app.test_cli_runner().invoke(keys_cli, ["rotate"]).exit_code == 0
    keyring.forget_cached_keys()
    assert [c.id for c in search_clients(session, keyring, "searchable")] == [client.id]


def test_another_process_reads_during_rotation(app, app_config, session, keyring, factories):
    """No downtime: a second app (another worker) keeps reading while keys move."""
    from webapp import create_app

    client = factories.client(last_name="Steady")
    session.commit()
    worker = create_app(app_config)
    other = worker.extensions["safeharbor.keyring"]
    rotation = keyring.rotate(batch_size=1)
    next(rotation)  # part-way: the new KEK exists, some keys still under the old one
    other.forget_cached_keys()
    with worker.app_context():
        from webapp.db import get_session

        assert get_session().get(Client, client.id).last_name == "Steady"
    list(rotation)
    other.forget_cached_keys()
    with worker.app_context():
        from webapp.db import get_session

        assert get_session().get(Client, client.id).last_name == "Steady"
    worker.extensions["safeharbor.engine"].dispose()


def test_a_database_with_the_wrong_key_file_says_so(app, app_config, session, factories,
                                                     tmp_path):
    from webapp import create_app

    factories.client()
    session.commit()
    stranger = tmp_path / "other-kek.json"
    FileKeyProvider(stranger).load()
    other = create_app({**app_config, "kek_file": str(stranger)})
    with other.app_context(), pytest.raises(KeyProviderError, match="restore the key file"):
        from webapp.db import get_session

        get_session().scalars(select(Client)).first().last_name  # noqa: B018
    other.extensions["safeharbor.engine"].dispose()


def test_key_file_holds_json_keyset(tmp_path):
    path = tmp_path / "kek.json"
    FileKeyProvider(path).load()
    document = json.loads(path.read_text())
    assert document["version"] == 1 and document["active"] in document["keys"]
