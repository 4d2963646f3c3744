"""The audit trail: appended with the change it records, hash-chained, tamper-evident."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from webapp.audit import Actor, AuditTag, record_event, verify_chain
from webapp.audit.models import AuditEvent
from webapp.cli import audit_cli

ALICE = Actor(user_id="user-alice", device_id="dev-1", session_ref="sess-1",
              ip_address="203.0.113.7")


def _record(session, n: int) -> None:
    for i in range(n):
        record_event(session, AuditTag.CLIENT_RECORD_VIEW, actor=ALICE, record_type="client",
                     record_id=f"client-{i}", client_id=f"client-{i}")
    session.commit()


def _tamper(session, is_postgres: bool, sql: str, **params) -> None:
    """Change history behind the application's back, as an attacker with SQL access would."""
    if is_postgres:
        session.execute(text("SET session_replication_role = replica"))  # bypass the trigger
    session.execute(text(sql), params)
    session.commit()
    session.expunge_all()


def test_event_holds_who_what_which_and_when(session):
    event = record_event(session, AuditTag.CLIENT_RECORD_EDIT, actor=ALICE, record_type="client",
                         record_id="c1", client_id="c1", details={"fields": ["phone", "email"]})
    session.commit()
    stored = session.get(AuditEvent, event.seq)
    assert (stored.tag, stored.actor_user_id, stored.device_id, stored.session_ref,
            stored.ip_address, stored.client_id) == (
        "client:record:edit", "user-alice", "dev-1", "sess-1", "203.0.113.7", "c1")
    assert json.loads(stored.details_json) == {"fields": ["phone", "email"]}
    assert stored.occurred_at.tzinfo is not None and stored.prev_hash == "0" * 64


def test_events_chain_each_to_its_predecessor(session):
    _record(session, 3)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash


def test_event_rolls_back_with_the_change_it_records(session):
    _record(session, 1)
    record_event(session, AuditTag.CLIENT_RECORD_DELETE, actor=ALICE, record_id="x")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1
    _record(session, 1)  # the chain goes on from the committed head
    assert verify_chain(session).ok


def test_details_refuse_anything_but_scalars(session):
    with pytest.raises(TypeError, match="must be a scalar"):
        record_event(session, AuditTag.CLIENT_RECORD_EDIT, actor=ALICE,
                     details={"client": {"ssn": "900-00-0000"}})


def test_unknown_outcome_is_refused(session):
    with pytest.raises(ValueError, match="unknown outcome"):
        record_event(session, AuditTag.CLIENT_RECORD_EDIT, actor=ALICE, outcome="maybe")


def test_verify_passes_on_an_untouched_chain(app, session):
    _record(session, 5)
    result = app.test_cli_runner().invoke(audit_cli, ["verify"])
    assert result.exit_code == 0, result.output
    assert "intact: 5 events" in result.output


def test_verify_passes_on_an_empty_trail(app):
    result = app.test_cli_runner().invoke(audit_cli, ["verify"])
    assert result.exit_code == 0 and "0 events" in result.output


def test_verify_fails_after_an_edited_event(app, session, is_postgres):
    _record(session, 5)
    _tamper(session, is_postgres, "UPDATE audit_events SET record_id = 'someone-else' "
                                  "WHERE seq = 3")
    result = app.test_cli_runner().invoke(audit_cli, ["verify"])
    assert result.exit_code == 1
    assert "event 3" in result.output and "edited" in result.output


def test_verify_fails_after_a_deleted_event(app, session, is_postgres):
    _record(session, 5)
    _tamper(session, is_postgres, "DELETE FROM audit_events WHERE seq = 2")
    result = app.test_cli_runner().invoke(audit_cli, ["verify"])
    assert result.exit_code == 1
    assert "event 2" in result.output and "deleted" in result.output


def test_verify_fails_after_the_newest_event_is_deleted(app, session, is_postgres):
    _record(session, 5)
    _tamper(session, is_postgres, "DELETE FROM audit_events WHERE seq = 5")
    result = app.test_cli_runner().invoke(audit_cli, ["verify"])
    assert result.exit_code == 1 and "deleted" in result.output


def test_verify_fails_after_two_events_are_swapped(app, session, is_postgres):
    _record(session, 5)
    # Reorder history: events 2 and 4 trade places in the chain.
    _tamper(session, is_postgres, "UPDATE audit_events SET seq = -1 WHERE seq = 2")
    _tamper(session, is_postgres, "UPDATE audit_events SET seq = 2 WHERE seq = 4")
    _tamper(session, is_postgres, "UPDATE audit_events SET seq = 4 WHERE seq = -1")
    result = app.test_cli_runner().invoke(audit_cli, ["verify"])
    assert result.exit_code == 1
    assert "event 2" in result.output and "reordered" in result.output


@pytest.mark.postgres
@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET reason = 'covered up' WHERE seq = 1",
    "DELETE FROM audit_events WHERE seq = 1",
    "TRUNCATE audit_events",
])
def test_postgres_refuses_to_change_history(session, statement):
    _record(session, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(statement))
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == 2
    assert verify_chain(session).ok
