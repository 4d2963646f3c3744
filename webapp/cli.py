"""`flask` commands: db, demo, keys, audit, users, devices, scheduler, serve."""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo, pass_script_info, run_command
from flask.helpers import get_debug_flag
from sqlalchemy import func, select

from . import jobs, migrate
from .access.agency_settings import agency_zone, get_setting
from .audit import Actor, AuditTag, record_event, verify_chain
from .auth.invites import invite_url, issue_invite
from .auth.models import User
from .crm import importer
from .crm.models import Client
from .crm.seeding import ensure_demo_staff, seed_demo_agency
from .db import get_session, refresh_planner_statistics
from .devices import registry
from .devices.models import Device, DeviceStatus

db_cli = AppGroup("db", help="Database schema.")
demo_cli = AppGroup("demo", help="Demo data.")
keys_cli = AppGroup("keys", help="Encryption keys.")
audit_cli = AppGroup("audit", help="The audit trail.")
users_cli = AppGroup("users", help="People and enrollment links.")
devices_cli = AppGroup("devices", help=(
    "The device registry: the same actions as the admin console, audited as the operator.\n\n"
    "Exit codes: 0 done; 1 the device's state refuses the change (nothing is changed); "
    "2 bad input, such as an unknown device id."))
scheduler_cli = AppGroup("scheduler", help="Scheduled jobs (one scheduler per deployment).")
clients_cli = AppGroup("clients", help="Clients: importing a book of business.")


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


# -- devices ---------------------------------------------------------------------------------

def _passkey_kind(device: Device) -> str:
    return "synced" if device.is_synced_passkey else "device-bound"


def _device_row(device: Device) -> dict[str, str | None]:
    return {
        "id": device.id,
        "owner_email": device.owner.email,
        "label": device.label,
        "platform": device.platform,
        "passkey": _passkey_kind(device),
        "status": device.status.value,
        "last_seen_at": device.last_seen_at.isoformat(),
        "first_seen_at": device.first_seen_at.isoformat(),
        "status_changed_at": device.status_changed_at.isoformat(),
    }


_COLUMNS = (("ID", "id"), ("OWNER", "owner_email"), ("LABEL", "label"),
            ("PLATFORM", "platform"), ("PASSKEY", "passkey"), ("STATUS", "status"),
            ("LAST SEEN (UTC)", "last_seen"))


@devices_cli.command("list")
@click.option("--user", "owner_email", metavar="EMAIL", help="Only this person's devices.")
@click.option("--status", type=click.Choice([s.value for s in DeviceStatus]),
              help="Only devices in this state.")
@click.option("--json", "as_json", is_flag=True,
              help="A JSON list of objects (ISO 8601 UTC timestamps) instead of a table.")
def devices_list(owner_email: str | None, status: str | None, as_json: bool) -> None:
    """List devices, most recently seen first: id, owner, label, platform, passkey type
    (synced or device-bound), status and last seen."""
    devices = registry.all_devices(get_session(), status=status, owner_email=owner_email)
    if as_json:
        click.echo(json.dumps([_device_row(d) for d in devices], indent=2))
        return
    if not devices:
        click.echo("No devices match.")
        return
    rows = [{**_device_row(d), "last_seen": d.last_seen_at.strftime("%Y-%m-%d %H:%M")}
            for d in devices]
    widths = [max(len(title), *(len(str(row[key])) for row in rows)) for title, key in _COLUMNS]
    click.echo("  ".join(title.ljust(w) for (title, _), w in zip(_COLUMNS, widths, strict=True))
               .rstrip())
    for row in rows:
        click.echo("  ".join(str(row[key]).ljust(w)
                             for (_, key), w in zip(_COLUMNS, widths, strict=True)).rstrip())
    click.echo(f"{len(rows)} device{'s' if len(rows) != 1 else ''}.")


# Record ids are URL-safe base64 and may start with "-": an unknown "option" is the id.
_ID_ARGUMENT = {"ignore_unknown_options": True}


def _find_device(device_id: str) -> Device:
    device = get_session().get(Device, device_id.strip())
    if device is None:
        raise click.UsageError(f"No device with id {device_id!r} (`flask devices list` shows "
                               "the ids).")
    return device


def _change_device(device_id: str, change: Callable[..., object]) -> tuple[Device, object]:
    """Apply one registry service as the operator; commit, or roll back and exit 1 with the
    service's reason."""
    session = get_session()
    device = _find_device(device_id)
    try:
        result = change(session, current_app.extensions["safeharbor.keyring"], device,
                        actor=operator(), now=current_app.extensions["safeharbor.clock"].now())
    except registry.DeviceError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    session.commit()
    return device, result


def _named(device: Device) -> str:
    return f"{device.id} ({device.label}, {device.owner.email})"


def _closed_message(verb: str, device: Device, ended: object, had_key: bool) -> str:
    key = "; its offline-cache key is destroyed" if had_key else ""
    return f"{verb} {_named(device)}: {ended} session(s) ended{key}."


@devices_cli.command("approve", context_settings=_ID_ARGUMENT)
@click.argument("device_id", metavar="ID")
def devices_approve(device_id: str) -> None:
    """Approve a device waiting for approval: it may open PHI from now on.

    Exit 2 if no device has this id; exit 1 if it is not waiting for approval."""
    device, _ = _change_device(device_id, registry.approve)
    click.echo(f"Approved {_named(device)}.")


@devices_cli.command("lost", context_settings=_ID_ARGUMENT)
@click.argument("device_id", metavar="ID")
def devices_lost(device_id: str) -> None:
    """Mark a device lost: its sessions end and its offline-cache key is destroyed now; it is
    wiped on its next request.

    Exit 2 if no device has this id; exit 1 if it is already closed (lost, wipe pending,
    wiped or revoked)."""
    had_key = _find_device(device_id).cache_key_id is not None
    device, ended = _change_device(device_id, registry.mark_lost)
    click.echo(_closed_message("Marked lost:", device, ended, had_key))


@devices_cli.command("wipe", context_settings=_ID_ARGUMENT)
@click.argument("device_id", metavar="ID")
def devices_wipe(device_id: str) -> None:
    """Order a remote wipe: sessions end and the offline-cache key is destroyed now; the
    device deletes its data on its next request.

    Exit 2 if no device has this id; exit 1 if it is already wipe pending, wiped or revoked
    (a lost device is wiped anyway: the order is recorded)."""
    before = _find_device(device_id)
    was_lost, had_key = before.status == DeviceStatus.LOST, before.cache_key_id is not None
    device, ended = _change_device(device_id, registry.order_wipe)
    if was_lost:
        click.echo(f"Wipe order recorded for {_named(device)}: it is lost, so already wiped "
                   "on its next request.")
    else:
        click.echo(_closed_message("Wipe ordered:", device, ended, had_key))


@devices_cli.command("revoke", context_settings=_ID_ARGUMENT)
@click.argument("device_id", metavar="ID")
def devices_revoke(device_id: str) -> None:
    """Revoke a device for good: its sessions end and its offline-cache key is destroyed.

    Exit 2 if no device has this id; exit 1 if it is already closed (lost, wipe pending,
    wiped or revoked)."""
    had_key = _find_device(device_id).cache_key_id is not None
    device, ended = _change_device(device_id, registry.revoke)
    click.echo(_closed_message("Revoked:", device, ended, had_key))


# -- clients ---------------------------------------------------------------------------------

IMPORT_ERRORS_SHOWN = 50


@clients_cli.command("import")
@click.argument("csv_file", metavar="FILE.csv",
                type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--agent", "agent_email", required=True, metavar="EMAIL",
              help="The agent whose book receives the clients.")
def clients_import(csv_file: Path, agent_email: str) -> None:
    """Import a book of business from a CSV file (columns: see the README) into an agent's
    book. All or nothing: any bad cell is reported by line and column and nothing is
    imported (exit 1)."""
    session = get_session()
    agent = session.scalar(select(User).where(
        func.lower(User.email) == agent_email.strip().lower()))
    if agent is None:
        raise click.UsageError(f"No user with email {agent_email!r}; `flask users invite EMAIL "
                               "--role agent` invites one.")
    try:
        importer.check_agent(agent)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    zone = agency_zone(session)
    now = current_app.extensions["safeharbor.clock"].now()
    started = time.perf_counter()
    try:
        book = importer.parse_book(csv_file.read_bytes(), zone=zone, now=now)
    except importer.ImportRefused as refused:
        session.rollback()
        importer.record_refusal(session, refused, agent=agent, actor=operator())
        session.commit()
        count = len(refused.errors)
        more = " (reading stopped there)" if refused.truncated else ""
        click.echo(f"Nothing was imported: {count} problem{'s' if count != 1 else ''} in "
                   f"{csv_file.name}{more}.", err=True)
        for line in importer.error_lines(refused.errors, IMPORT_ERRORS_SHOWN):
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    with click.progressbar(length=len(book.clients), label="Importing clients",
                           file=sys.stderr) as bar:
        summary = importer.write_book(session, current_app.extensions["safeharbor.keyring"],
                                      book, agent=agent, now=now, actor=operator(),
                                      progress=bar.update)
        session.commit()
    refresh_planner_statistics(session)
    session.commit()
    elapsed = time.perf_counter() - started
    click.echo(f"Imported into {agent.email}'s book: {summary.describe()} "
               f"in {elapsed:.1f} s.")


# -- scheduler -------------------------------------------------------------------------------

@scheduler_cli.command("run")
@click.option("--once", is_flag=True,
              help="Run every job once, print what each did, and exit (1 if one failed).")
@click.option("--retry-seconds", type=click.FloatRange(min=1), default=60, show_default=True,
              help="While another scheduler holds the lock, try to take it this often.")
def scheduler_run(once: bool, retry_seconds: float) -> None:
    """Run the scheduled jobs in the foreground (production: one per deployment).

    Jobs: expire pending devices, wipe unseen devices (hourly), sweep ended sessions. Only the
    holder of the scheduler lock (PostgreSQL advisory lock; SQLite: scheduler.lock beside the
    database) runs them: another scheduler idles and takes over when the first stops. Ctrl-C
    or SIGTERM stops cleanly. With --once, exit 1 if another scheduler holds the lock."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not once:
        jobs.run_scheduler(app, retry_seconds=retry_seconds, say=click.echo)
        return
    with jobs.SchedulerLock.for_app(app) as lock:
        if not lock.acquire():
            raise click.ClickException(f"Another scheduler holds the {lock.describe()}; its "
                                       "jobs run there. Nothing was run.")
        failed = False
        for name, result in jobs.run_all_once(app).items():
            if isinstance(result, Exception):
                failed = True
                click.echo(f"{name}: FAILED ({type(result).__name__}: {result})", err=True)
            else:
                click.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    if failed:
        sys.exit(1)


# -- development server with the scheduler --------------------------------------------------

@click.command("serve", params=[
    *run_command.params,
    click.Option(["--scheduler/--no-scheduler"], default=True, show_default=True,
                 help="Run the scheduled jobs in this process (if no other scheduler holds "
                      "the lock)."),
])
@pass_script_info
@click.pass_context
def serve_command(ctx: click.Context, info: ScriptInfo, scheduler: bool, **run_options) -> None:
    """`flask run` (same options) with the scheduled jobs in a background thread.

    The jobs start once: in the serving process, not in the reloader's watcher; and not at
    all while another scheduler holds the lock. For development; production runs
    `flask scheduler run` beside gunicorn."""
    reloader = run_options.get("reload")
    if reloader is None:
        reloader = get_debug_flag()
    if scheduler and (not reloader or os.environ.get("WERKZEUG_RUN_MAIN") == "true"):
        app = info.load_app()
        if jobs.start_background_scheduler(app) is None:
            click.echo(" * Scheduled jobs: another scheduler holds the lock; not started here.")
        else:
            click.echo(" * Scheduled jobs: running in the background.")
    ctx.invoke(run_command, **run_options)


def init_app(app: Flask) -> None:
    for group in (db_cli, demo_cli, keys_cli, audit_cli, users_cli, devices_cli, scheduler_cli,
                  clients_cli):
        app.cli.add_command(group)
    app.cli.add_command(serve_command)
