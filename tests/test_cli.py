"""Operator commands: clear messages and non-zero exits on bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from webapp.audit import verify_chain
from webapp.audit.models import AuditEvent
from webapp.auth.models import AssistantLink, Role, User
from webapp.cli import db_cli, demo_cli
from webapp.crm.models import Appointment, Client


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["seed", "--clients", "-5"], "-5 is not in the range"),
        (["seed", "--clients", "many"], "'many' is not a valid integer"),
        (["seed", "--clients", "2000000"], "is not in the range"),
        (["seed", "--bogus"], "No such option"),
    ],
)
def test_demo_seed_refuses_bad_counts_clearly(app, session, args, message):
    result = app.test_cli_runner().invoke(demo_cli, args)
    assert result.exit_code == 2 and message in result.output
    assert session.scalar(select(func.count()).select_from(Client)) == 0


def test_demo_seed_creates_an_agency_with_todays_appointments(app, session):
    result = app.test_cli_runner().invoke(demo_cli, ["seed", "--clients", "60"])
    assert result.exit_code == 0, result.output
    assert "Seeded 60 clients" in result.output and "clients/s" in result.output
    roles = {u.role for u in session.scalars(select(User))}
    assert roles == {Role.AGENT, Role.ASSISTANT, Role.ADMIN, Role.COMPLIANCE}
    assert session.scalar(select(func.count()).select_from(AssistantLink)) >= 2
    clients = session.scalars(select(Client)).all()
    assert len(clients) == 60 and len({c.agent_id for c in clients}) == 3
    assert all(c.last_name and c.medicare_id and c.enrollments for c in clients)
    assert session.scalar(select(func.count()).select_from(Appointment)) > 0
    seeded = session.scalars(select(AuditEvent)).all()
    assert [e.tag for e in seeded] == ["system:demo:seed"]
    assert seeded[0].details_json == '{"clients":60}' and seeded[0].actor_label.startswith("cli:")
    assert verify_chain(session).ok


def test_demo_seed_if_empty_seeds_only_once(app, session):
    runner = app.test_cli_runner()
    assert runner.invoke(demo_cli, ["seed", "--clients", "5", "--if-empty"]).exit_code == 0
    again = runner.invoke(demo_cli, ["seed", "--clients", "5", "--if-empty"])
    assert again.exit_code == 0 and "nothing seeded" in again.output
    assert session.scalar(select(func.count()).select_from(Client)) == 5


def test_a_second_seed_adds_different_people(app, session):
    runner = app.test_cli_runner()
    runner.invoke(demo_cli, ["seed", "--clients", "5"])
    runner.invoke(demo_cli, ["seed", "--clients", "5"])
    names = {(c.first_name, c.last_name, c.date_of_birth) for c in session.scalars(select(Client))}
    assert len(names) == 10


def test_db_upgrade_is_idempotent(app):
    result = app.test_cli_runner().invoke(db_cli, ["upgrade"])
    assert result.exit_code == 0 and "up to date" in result.output
