"""Scheduled jobs, and the one scheduler per deployment that runs them.

The jobs are plain functions of ``(session, keyring, now)``: idempotent (a second run finds
nothing left to do), transactional (``run_job`` commits or rolls back the whole run) and audited
(each run records one ``system:job:run`` event with its counts, actor "scheduler"; the registry
services record their own device events). Time comes from the app's clock, so tests move it.

One scheduler per deployment (DESIGN.md, "Production and scale"): whoever holds the
``SchedulerLock`` runs the jobs; another scheduler idles and retries. On PostgreSQL the lock is
a session advisory lock held on a dedicated connection; on SQLite an exclusive ``flock`` on
``scheduler.lock`` next to the database file.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from .access.agency_settings import get_setting
from .audit import Actor, AuditTag, record_event
from .auth.sessions import sweep_ended
from .crypto import Keyring
from .db import get_session
from .devices.registry import DeviceError, order_wipe, revoke, stale_pending, unseen_since

logger = logging.getLogger(__name__)

SCHEDULER_ACTOR = Actor(label="scheduler")
ENDED_SESSION_RETENTION = timedelta(days=7)

Counts = dict[str, int]
JobFunction = Callable[[Session, Keyring, datetime], Counts]


# -- the jobs -------------------------------------------------------------------------------

def _record_run(session: Session, name: str, now: datetime, counts: Counts,
                **extra: Any) -> None:
    record_event(session, AuditTag.SYSTEM_JOB_RUN, actor=SCHEDULER_ACTOR, record_type="job",
                 record_id=name, details={"job": name, "as_of": now.isoformat(), **counts,
                                          **extra})


def expire_pending_devices(session: Session, keyring: Keyring, now: datetime) -> Counts:
    """Revoke devices still waiting for approval after `device_pending_expire_days`."""
    days = get_setting(session, "device_pending_expire_days")
    counts = {"devices_revoked": 0, "sessions_ended": 0, "refused": 0}
    for device in stale_pending(session, now - timedelta(days=days)):
        try:
            counts["sessions_ended"] += revoke(session, keyring, device, actor=SCHEDULER_ACTOR,
                                               now=now, reason="pending_expired")
        except DeviceError:  # raised before any change: skip this device, keep the run
            counts["refused"] += 1
            continue
        counts["devices_revoked"] += 1
    _record_run(session, "expire_pending_devices", now, counts, pending_expire_days=days)
    return counts


def wipe_unseen_devices(session: Session, keyring: Keyring, now: datetime) -> Counts:
    """Order a wipe of active or pending devices unseen for `device_wipe_unseen_days`: their
    sessions end and their offline-cache key is destroyed now."""
    days = get_setting(session, "device_wipe_unseen_days")
    counts = {"devices_wiped": 0, "sessions_ended": 0, "refused": 0}
    for device in unseen_since(session, now - timedelta(days=days)):
        try:
            counts["sessions_ended"] += order_wipe(session, keyring, device,
                                                   actor=SCHEDULER_ACTOR, now=now,
                                                   reason="unseen")
        except DeviceError:
            counts["refused"] += 1
            continue
        counts["devices_wiped"] += 1
    _record_run(session, "wipe_unseen_devices", now, counts, wipe_unseen_days=days)
    return counts


def sweep_ended_sessions(session: Session, keyring: Keyring, now: datetime) -> Counts:
    """Forget the token hashes of sessions that ended more than a week ago."""
    counts = {"sessions_swept": sweep_ended(session, older_than=now - ENDED_SESSION_RETENTION)}
    _record_run(session, "sweep_ended_sessions", now, counts)
    return counts


@dataclass(frozen=True)
class JobSpec:
    name: str
    function: JobFunction
    every: timedelta


# Order matters for `run_all_once`: a stale pending device is revoked (it never held PHI)
# before the unseen-device sweep would order it wiped.
JOBS: tuple[JobSpec, ...] = (
    JobSpec("expire_pending_devices", expire_pending_devices, timedelta(hours=1)),
    JobSpec("wipe_unseen_devices", wipe_unseen_devices, timedelta(hours=1)),
    JobSpec("sweep_ended_sessions", sweep_ended_sessions, timedelta(hours=6)),
)


def run_job(app: Flask, job: JobFunction) -> Counts:
    """Run one job in its own app context and transaction, at the app clock's time.

    A failed run is rolled back, recorded as a `system:job:run` event with outcome failure,
    and re-raised (the scheduler logs it; the next run tries again).
    """
    name = job.__name__
    with app.app_context():
        session = get_session()
        keyring: Keyring = app.extensions["safeharbor.keyring"]
        now = app.extensions["safeharbor.clock"].now()
        try:
            counts = job(session, keyring, now)
            session.commit()
        except Exception as error:
            session.rollback()
            # A rolled-back run may have marked cache keys destroyed in the keyring's memory.
            keyring.forget_cached_keys()
            try:
                record_event(session, AuditTag.SYSTEM_JOB_RUN, actor=SCHEDULER_ACTOR,
                             outcome="failure", record_type="job", record_id=name,
                             details={"job": name, "as_of": now.isoformat(),
                                      "error": type(error).__name__})
                session.commit()
            except Exception:  # the database may be what failed: keep the original error
                session.rollback()
                logger.exception("could not record the failed run of job %s", name)
            raise
    logger.info("job %s: %s", name, counts)
    return counts


def run_all_once(app: Flask) -> dict[str, Counts | Exception]:
    """Every job once, in order; a failing job does not stop the others."""
    results: dict[str, Counts | Exception] = {}
    for spec in JOBS:
        try:
            results[spec.name] = run_job(app, spec.function)
        except Exception as error:
            logger.exception("job %s failed", spec.name)
            results[spec.name] = error
    return results


# -- one scheduler per deployment -------------------------------------------------------------

ADVISORY_LOCK_KEY = 0x5AFE_4A2B_0C0D_E001  # pg_try_advisory_lock(bigint): "the scheduler"
LOCK_FILE_NAME = "scheduler.lock"


class SchedulerLock:
    """The right to run the scheduled jobs, held by at most one process of a deployment.

    PostgreSQL: a session-level advisory lock on a dedicated connection kept open for the
    scheduler's life (it vanishes with the connection, so a crashed scheduler frees it).
    SQLite (one host): an exclusive, non-blocking ``flock`` on ``scheduler.lock`` in the
    database file's folder (the instance folder for an in-memory database); the kernel frees it
    when the process dies.
    """

    def __init__(self, engine: Engine, *, fallback_dir: Path | str):
        self.engine = engine
        self._connection: Connection | None = None
        self._fd: int | None = None
        if engine.dialect.name == "postgresql":
            self.path = None
        else:
            database = engine.url.database
            folder = (Path(database).resolve().parent
                      if database and database != ":memory:" and not database.startswith("file:")
                      else Path(fallback_dir))
            self.path = folder / LOCK_FILE_NAME

    @classmethod
    def for_app(cls, app: Flask) -> SchedulerLock:
        return cls(app.extensions["safeharbor.engine"], fallback_dir=app.instance_path)

    @property
    def held(self) -> bool:
        return self._connection is not None or self._fd is not None

    def describe(self) -> str:
        if self.path is None:
            return f"PostgreSQL advisory lock {ADVISORY_LOCK_KEY}"
        return f"lock file {self.path}"

    def acquire(self) -> bool:
        """Take the lock without waiting: True if this process now holds it."""
        if self.held:
            return True
        if self.path is None:
            return self._acquire_postgres()
        return self._acquire_file()

    def _acquire_postgres(self) -> bool:
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = connection.execute(text("SELECT pg_try_advisory_lock(CAST(:key AS bigint))"),
                                     {"key": ADVISORY_LOCK_KEY}).scalar()
        except Exception:
            connection.close()
            raise
        if got:
            self._connection = connection
            return True
        connection.close()
        return False

    def _acquire_file(self) -> bool:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return True

    def verify(self) -> bool:
        """Is the lock still ours? (A dropped PostgreSQL connection loses it.)"""
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
            except Exception:
                logger.warning("scheduler lock connection lost; the advisory lock is gone")
                self._drop_connection()
                return False
            return True
        return self._fd is not None

    def holder(self) -> str | None:
        """Who holds the lock, as far as can be told (for the idle message)."""
        try:
            if self.path is None:
                with self.engine.connect() as connection:
                    pid = connection.execute(text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND classid::bigint = :high AND objid::bigint = :low "
                        "AND objsubid = 1"),
                        {"high": ADVISORY_LOCK_KEY >> 32,
                         "low": ADVISORY_LOCK_KEY & 0xFFFF_FFFF}).scalar()
                return f"database backend pid {pid}" if pid else None
            return self.path.read_text().strip() or None
        except Exception:
            return None

    def release(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.execute(text("SELECT pg_advisory_unlock(CAST(:key AS bigint))"),
                                   {"key": ADVISORY_LOCK_KEY})
                connection.close()
            except Exception:  # a broken connection: the lock went with it
                self._connection = connection
                self._drop_connection()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.invalidate()
                connection.close()

    def __enter__(self) -> SchedulerLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


# -- the scheduler ----------------------------------------------------------------------------

MISFIRE_GRACE = timedelta(minutes=15)
JOB_STAGGER = timedelta(seconds=1)


def _scheduled_run(app: Flask, spec: JobSpec, lock: SchedulerLock | None,
                   report: Callable[[str], None] | None) -> None:
    if lock is not None and not lock.verify() and not lock.acquire():
        logger.warning("job %s skipped: another scheduler holds the lock now", spec.name)
        return
    counts = run_job(app, spec.function)
    if report is not None:
        report(f"{spec.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def build_scheduler(app: Flask, *, blocking: bool = False, lock: SchedulerLock | None = None,
                    report: Callable[[str], None] | None = None,
                    ) -> BackgroundScheduler | BlockingScheduler:
    """A scheduler (not started) with every job of `JOBS`, each run in an app context.

    Jobs run one at a time (one worker thread), first at start-up (a second apart, in the
    order of `JOBS`) and then at their interval; missed runs coalesce into one, never two at
    once, and a run more than 15 minutes late is skipped for the next. With `lock`, each run
    first checks the lock is still held.
    """
    scheduler_class = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = scheduler_class(timezone=UTC,
                                executors={"default": ThreadPoolExecutor(max_workers=1)})
    start = datetime.now(UTC)
    for index, spec in enumerate(JOBS):
        scheduler.add_job(
            _scheduled_run, "interval", args=(app, spec, lock, report), id=spec.name,
            name=spec.name, seconds=spec.every.total_seconds(),
            next_run_time=start + index * JOB_STAGGER,  # first runs in the order of JOBS
            coalesce=True, max_instances=1,
            misfire_grace_time=int(MISFIRE_GRACE.total_seconds()), replace_existing=True,
        )
    return scheduler


def _idle(seconds: float) -> None:
    time.sleep(seconds)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_scheduler(app: Flask, *, retry_seconds: float = 60.0,
                  say: Callable[[str], None] = print) -> None:
    """Run the scheduler in the foreground until Ctrl-C (or SIGTERM).

    Without the lock it idles, trying again every `retry_seconds`, so a second scheduler of
    the deployment never runs the jobs twice but takes over when the first one stops.
    """
    lock = SchedulerLock.for_app(app)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        if not lock.acquire():
            holder = lock.holder()
            say(f"Another scheduler holds the {lock.describe()}"
                f"{f' ({holder})' if holder else ''}; idling, trying again every "
                f"{retry_seconds:g} s. Ctrl-C stops.")
            while True:
                _idle(retry_seconds)
                if lock.acquire():
                    break
            say("Lock acquired: this scheduler runs the jobs now.")
        scheduler = build_scheduler(app, blocking=True, lock=lock, report=say)
        say(f"Scheduler running ({', '.join(s.name for s in JOBS)}); Ctrl-C stops.")
        try:
            scheduler.start()
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=True)
    except KeyboardInterrupt:
        say("Scheduler stopped.")
    finally:
        lock.release()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


# -- in the development server ----------------------------------------------------------------

_BACKGROUND = "safeharbor.scheduler"


def start_background_scheduler(app: Flask) -> BackgroundScheduler | None:
    """Start the jobs in a background thread of this process if it gets the lock.

    Returns the running scheduler, or None when another scheduler holds the lock. Stopped by
    `stop_background_scheduler(app)`, which also runs at interpreter exit.
    """
    running = app.extensions.get(_BACKGROUND)
    if running is not None:
        return running[0]
    lock = SchedulerLock.for_app(app)
    if not lock.acquire():
        logger.info("scheduled jobs not started here: another scheduler holds the %s",
                    lock.describe())
        return None
    try:
        scheduler = build_scheduler(app, lock=lock)
        scheduler.start()
    except BaseException:
        lock.release()
        raise
    at_exit = functools.partial(stop_background_scheduler, app, wait=False)
    atexit.register(at_exit)
    app.extensions[_BACKGROUND] = (scheduler, lock, at_exit)
    return scheduler


def stop_background_scheduler(app: Flask, *, wait: bool = True) -> None:
    running = app.extensions.pop(_BACKGROUND, None)
    if running is None:
        return
    scheduler, lock, at_exit = running
    atexit.unregister(at_exit)
    try:
        if scheduler.running:
            scheduler.shutdown(wait=wait)
    finally:
        lock.release()


__all__ = ["JOBS", "SchedulerLock", "build_scheduler", "expire_pending_devices", "run_all_once",
           "run_job", "run_scheduler", "start_background_scheduler", "stop_background_scheduler",
           "sweep_ended_sessions", "wipe_unseen_devices"]
