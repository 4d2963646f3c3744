"""Encrypted fields: round trips, tamper and swap refusals, nonces, disposal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import StatementError

from webapp.crm.models import Client, Communication, Note, PremiumPayment
from webapp.crypto import DISPOSED, PlaintextRefused, TamperedCiphertext
from webapp.crypto.fields import CODECS, Envelope
from webapp.crypto.keyring import HEADER_BYTES


def _raw(session, table: str, column: str, row_id: str) -> bytes:
    return bytes(session.execute(
        text(f"SELECT {column} FROM {table} WHERE id = :id"), {"id": row_id}).scalar_one())


def _write_raw(session, table, column, row_id, value: bytes) -> None:
    session.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                    {"v": value, "id": row_id})
    session.commit()


def _reload(session, model, row_id):
    session.expunge_all()
    return session.get(model, row_id)


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (Client, "last_name", "Nguyễn-O'Brien ✓"),  # text, with accents and symbols
        (Client, "last_name", ""),  # empty text is a value, not None
        (Client, "date_of_birth", date(1941, 2, 28)),  # date
        (PremiumPayment, "premium_monthly", Decimal("1234.56")),  # decimal keeps its scale
        (PremiumPayment, "billing_day", 28),  # integer
        (Communication, "summary", "x" * 5000),  # long text
    ],
)
def test_every_encrypted_type_round_trips(session, factories, model, field, value):
    client = factories.client()
    if model is Client:
        row = client
    elif model is PremiumPayment:
        row = PremiumPayment(client=client)
    else:
        row = Communication(client=client, user_id=client.agent_id, channel="call",
                            direction="inbound")
    setattr(row, field, value)
    session.add(row)
    session.commit()

    stored = _raw(session, model.__tablename__, field, row.id)
    assert stored[0] == 1 and len(stored) >= HEADER_BYTES + 16  # version byte, then the header
    reloaded = _reload(session, model, row.id)
    assert getattr(reloaded, field) == value
    assert type(getattr(reloaded, field)) is type(value)


def test_codecs_cover_each_type_once():
    assert {codec.python_type for codec in CODECS} == {str, date, datetime, Decimal, int}


def test_none_stays_none_and_clears_the_blind_index(session, factories):
    client = factories.client(phone="(555) 010-9999")
    assert client.phone_bidx is not None
    client.phone = None
    session.commit()
    reloaded = _reload(session, Client, client.id)
    assert reloaded.phone is None and reloaded.phone_bidx is None


def test_wrong_python_type_is_refused(factories):
    client = factories.client()
    with pytest.raises(TypeError, match="date_of_birth takes date"):
        client.date_of_birth = "1950-01-01"
    with pytest.raises(TypeError, match="takes a date, not a datetime"):
        client.date_of_birth = datetime(1950, 1, 1, tzinfo=UTC)


def test_flipped_byte_in_ciphertext_is_refused(session, factories):
    client = factories.client(last_name="Canary")
    session.commit()
    stored = bytearray(_raw(session, "clients", "last_name", client.id))
    stored[-5] ^= 0x01
    _write_raw(session, "clients", "last_name", client.id, bytes(stored))
    reloaded = _reload(session, Client, client.id)
    with pytest.raises(TamperedCiphertext, match=f"clients.last_name of row {client.id}"):
        reloaded.last_name  # noqa: B018


@pytest.mark.parametrize("cut", [1, HEADER_BYTES + 3])
def test_truncated_ciphertext_is_refused(session, factories, cut):
    client = factories.client()
    session.commit()
    stored = _raw(session, "clients", "last_name", client.id)
    _write_raw(session, "clients", "last_name", client.id, stored[:cut])
    with pytest.raises(TamperedCiphertext):
        _reload(session, Client, client.id).last_name  # noqa: B018


def test_ciphertext_copied_to_another_row_is_refused(session, factories):
    agent = factories.user()
    alice = factories.client(agent, last_name="Alice")
    bob = factories.client(agent, last_name="Bob")
    session.commit()
    # Same data key (so only the row binding can catch it): copy a note within one client.
    first = Note(client=alice, author_id=agent.id, body="first")
    second = Note(client=alice, author_id=agent.id, body="second")
    session.add_all([first, second])
    session.commit()
    _write_raw(session, "notes", "body", second.id, _raw(session, "notes", "body", first.id))
    with pytest.raises(TamperedCiphertext, match="copied from another"):
        _reload(session, Note, second.id).body  # noqa: B018
    # Across clients (other key, other row).
    _write_raw(session, "clients", "last_name", bob.id,
               _raw(session, "clients", "last_name", alice.id))
    with pytest.raises(TamperedCiphertext):
        _reload(session, Client, bob.id).last_name  # noqa: B018


def test_ciphertext_copied_to_another_column_is_refused(session, factories):
    client = factories.client(first_name="Ann", last_name="Lee")
    session.commit()
    _write_raw(session, "clients", "last_name", client.id,
               _raw(session, "clients", "first_name", client.id))
    with pytest.raises(TamperedCiphertext):
        _reload(session, Client, client.id).last_name  # noqa: B018
    assert _reload(session, Client, client.id).first_name == "Ann"


def test_plaintext_cannot_be_written_to_a_phi_column(session, factories):
    client = factories.client()
    session.commit()
    with pytest.raises(StatementError) as refused:
        session.execute(update(Client).where(Client.id == client.id)
                        .values(last_name=b"plaintext"))
    assert isinstance(refused.value.orig, PlaintextRefused)
    session.rollback()


def test_a_hundred_thousand_encryptions_never_repeat_a_nonce(session, factories, keyring):
    client = factories.client()
    session.commit()
    key_id, context = client.data_key_id, b"clients.note|x"
    nonces = {keyring.seal(b"same value", key_id=key_id, context=context)[9:21]
              for _ in range(100_000)}
    assert len(nonces) == 100_000


def test_same_value_encrypts_differently_each_time(session, factories):
    agent = factories.user()
    a = factories.client(agent, last_name="Same")
    b = factories.client(agent, last_name="Same")
    session.commit()
    assert _raw(session, "clients", "last_name", a.id) != _raw(session, "clients", "last_name",
                                                                b.id)
    assert a.last_name_bidx == b.last_name_bidx  # ... yet both are found by the same search


def test_each_client_has_its_own_data_key(session, factories, keyring):
    agent = factories.user()
    clients = [factories.full_client(agent, canary=f"k{i}") for i in range(3)]
    session.commit()
    assert len({c.data_key_id for c in clients}) == 3
    for client in clients:
        for note in client.notes:
            envelope = _raw(session, "notes", "body", note.id)
            assert keyring.key_id_of(envelope) == client.data_key_id


def test_crypto_shredding_one_client_leaves_every_other_readable(session, factories, keyring):
    agent = factories.user()
    doomed = factories.full_client(agent, canary="doomed")
    kept = [factories.full_client(agent, canary=f"kept{i}") for i in range(3)]
    session.commit()
    keyring.destroy_data_key(session.connection(), doomed.data_key_id)
    session.commit()
    keyring.forget_cached_keys()  # as another process, or after a restart, would see it

    gone = _reload(session, Client, doomed.id)
    assert gone.last_name is DISPOSED and str(gone.last_name) == "[disposed]"
    assert all(note.body is DISPOSED for note in gone.notes)
    assert all(med.dosage is DISPOSED for med in gone.medications)
    for i, client in enumerate(kept):
        again = session.get(Client, client.id)
        assert again.last_name == f"Lastkept{i}"
        assert again.medications[0].dosage == f"kept{i}mg"
    wrapped = session.execute(text("SELECT wrapped FROM data_keys WHERE id = :id"),
                              {"id": doomed.data_key_id}).scalar_one()
    assert wrapped is None


def test_a_disposed_client_cannot_be_written(session, factories, keyring):
    from webapp.crypto import CryptoError

    client = factories.client()
    session.commit()
    keyring.destroy_data_key(session.connection(), client.data_key_id)
    session.commit()
    client.last_name = "New"
    with pytest.raises(CryptoError, match="destroyed"):
        session.flush()
    session.rollback()


def test_rolled_back_client_leaves_no_data_key(session, factories):
    agent = factories.user()
    session.commit()
    before = session.execute(text("SELECT count(*) FROM data_keys")).scalar_one()
    session.add(Client(agent_id=agent.id, last_name="Temp"))
    session.flush()
    session.rollback()
    assert session.execute(text("SELECT count(*) FROM data_keys")).scalar_one() == before


def test_envelope_marks_only_sealed_bytes(session, factories):
    client = factories.client()
    session.commit()
    raw = session.execute(select(Client.__table__.c.last_name)
                          .where(Client.id == client.id)).scalar_one()
    assert isinstance(raw, Envelope)
