"""`flask` commands: db, demo, keys, audit."""

from __future__ import annotations

import getpass
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from . import migrate
from .access.agency_settings import get_setting
from .audit import Actor, AuditTag, record_event, verify_chain
from .auth.invites import invite_url, issue_invite
from .crm.models import Client
from .crm.seeding import ensure_demo_staff, seed_demo_agency
from .db import get_session

db_cli = AppGroup("db", help="Database schema.")
demo_cli = AppGroup("demo", help="Demo data.")
keys_cli = AppGroup("keys", help="Encryption keys.")
audit_cli = AppGroup("audit", help="The audit trail.")
users_cli = AppGroup("users", help="People and enrollment links.")


def operator() -> Actor:
    """The person at the terminal, as the audit trail names them."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(label=f"cli:{name}")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    migrate.upgrade(current_app.extensions["safeharbor.engine"])
    current_app.extensions["safeharbor.keyring"].ensure_blind_index_key()
    click.echo("Database is up to date.")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (for developers)."""
    migrate.make_revision(current_app.extensions["safeharbor.engine"], message)


@demo_cli.command("seed")
@click.option("--clients", "count", type=click.IntRange(min=0, max=1_000_000), default=200,
              show_default=True, help="How many clients to add.")
@click.option("--if-empty", is_flag=True,
              help="Do nothing if the agency already has clients (used by `make run`).")
@click.option("--seed", "random_seed", type=int, default=2026, show_default=True,
              help="Random seed: the same seed gives the same agency.")
@click.option("--invites", is_flag=True,
              help="After seeding, print enrollment links for demo staff without a passkey.")
@click.pass_context
def demo_seed(ctx: click.Context, count: int, if_empty: bool, random_seed: int,
              invites: bool) -> None:
    """Create a demo agency: staff, and clients with plans, conditions, medications and
    appointments for today and the coming weeks. Fake data, generated locally."""
    session = get_session()
    if if_empty and session.scalar(select(func.count()).select_from(Client)):
        click.echo("The agency already has clients; nothing seeded.")
        return
    zone = get_setting(session, "agency_timezone")
    today = datetime.now(ZoneInfo(zone)).date()
    started = time.perf_counter()
    with click.progressbar(length=count, label=f"Seeding {count} clients",
                           file=sys.stderr) as bar:
        seed_demo_agency(session, current_app.extensions["safeharbor.keyring"], clients=count,
                         today=today, timezone=zone, actor=operator(), seed=random_seed,
                         progress=bar.update)
    elapsed = time.perf_counter() - started
    rate = count / elapsed if elapsed > 0 else 0.0
    click.echo(f"Seeded {count} clients in {elapsed:.1f} s ({rate:,.0f} clients/s).")
    if invites:
        ctx.invoke(demo_invites)


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every data key under a new key-encryption key, without downtime."""
    keyring = current_app.extensions["safeharbor.keyring"]
    total = keyring.count_data_keys()
    rotated = 0
    with click.progressbar(length=total, label="Re-wrapping data keys", file=sys.stderr) as bar:
        for batch in keyring.rotate():
            rotated += batch
            bar.update(batch)
    session = get_session()
    record_event(session, AuditTag.SYSTEM_KEYS_ROTATE, actor=operator(),
                 details={"data_keys": rotated, "kek_id": keyring.provider.load().active_id})
    session.commit()
    click.echo(f"Re-wrapped {rotated} data keys under KEK {keyring.provider.load().active_id}; "
               "the old KEK is retired. Back up the new key file now.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first broken event."""
    result = verify_chain(get_session())
    if not result.ok:
        click.echo(f"Audit chain BROKEN at {result.first_break}", err=True)
        sys.exit(1)
    click.echo(f"Audit chain intact: {result.events} events verified.")


def _print_invite(user, token: str) -> None:
    origin = current_app.config["SETTINGS"].origin
    hours = get_setting(get_session(), "enrollment_link_hours")
    click.echo(f"Enrollment link for {user.email} ({user.role.value}), valid {hours} hours, "
               "single use:")
    click.echo(invite_url(origin, token))


def _invite(email: str, role: str, agents: tuple[str, ...], name: str | None) -> None:
    session = get_session()
    clock = current_app.extensions["safeharbor.clock"]
    try:
        user, token = issue_invite(session, email=email, role=role, display_name=name,
                                   agent_emails=agents, actor=operator(), now=clock.now())
    except ValueError as error:
        session.rollback()
        raise click.UsageError(str(error)) from None
    session.commit()
    _print_invite(user, token)


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--name", help="Display name (default: the part before @).")
def users_create_admin(email: str, name: str | None) -> None:
    """Create an admin and print their one-time enrollment URL (last line)."""
    _invite(email, "admin", (), name)


@users_cli.command("invite")
@click.argument("email")
@click.option("--role", required=True, help="agent, assistant, admin or compliance.")
@click.option("--agent", "agents", multiple=True,
              help="For an assistant: the email of an agent they support (repeatable).")
@click.option("--name", help="Display name (default: the part before @).")
def users_invite(email: str, role: str, agents: tuple[str, ...], name: str | None) -> None:
    """Invite a person; prints their one-time enrollment URL alone on the last line."""
    _invite(email, role, agents, name)


@demo_cli.command("invites")
def demo_invites() -> None:
    """Print fresh enrollment links for the demo staff who have no passkey yet."""
    session = get_session()
    clock = current_app.extensions["safeharbor.clock"]
    pending = [u for u in ensure_demo_staff(session) .values() if not u.passkeys]
    for user in sorted(pending, key=lambda u: (u.role.value, u.email)):
        _user, token = issue_invite(session, email=user.email, role=user.role.value,
                                    actor=operator(), now=clock.now())
        click.echo(f"{user.role.value:<10} {user.email:<28} "
                   f"{invite_url(current_app.config['SETTINGS'].origin, token)}")
    session.commit()
    if not pending:
        click.echo("Every demo user has a passkey already.")


def init_app(app: Flask) -> None:
    for group in (db_cli, demo_cli, keys_cli, audit_cli, users_cli):
        app.cli.add_command(group)
