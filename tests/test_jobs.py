"""Scheduled jobs: what they change, that a second run changes nothing, that every run is
audited, and that one scheduler per deployment holds the lock."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, timedelta

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import func, select

from tests.devices import ANDROID, signed_in_device
from webapp import jobs
from webapp.audit import verify_chain
from webapp.audit.models import AuditEvent
from webapp.auth.models import Role, UserSession
from webapp.cli import scheduler_cli, serve_command
from webapp.crypto.models import DataKey
from webapp.devices.models import Device, DeviceStatus
from webapp.devices.registry import approve, note_seen, order_wipe


def events(session, tag: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.tag == tag)
                                .order_by(AuditEvent.seq)))


def job_runs(session, name: str | None = None) -> list[dict]:
    runs = [json.loads(e.details_json) | {"_actor": e.actor_label, "_outcome": e.outcome}
            for e in events(session, "system:job:run")]
    return [r for r in runs if name is None or r["job"] == name]


def see_committed(session) -> None:
    """End this session's transaction and forget what it loaded: read what other sessions
    (the job's, in its own app context) committed."""
    session.commit()
    session.expire_all()


def wrapped_key(session, key_id: int) -> bytes | None:
    return session.scalar(select(DataKey.wrapped).where(DataKey.id == key_id))


# -- wipe_unseen_devices --------------------------------------------------------------------

def test_devices_unseen_past_the_limit_are_wiped_and_shredded(app, session, keyring, clock,
                                                               factories):
    active, active_session = signed_in_device(factories, keyring, clock.now())
    pending, pending_session = signed_in_device(factories, keyring, clock.now(),
                                                role=Role.AGENT, user_agent=ANDROID)
    recent, recent_session = signed_in_device(factories, keyring, clock.now())
    session.commit()
    key_id = active.cache_key_id
    assert active.status == DeviceStatus.ACTIVE and pending.status == DeviceStatus.PENDING
    assert wrapped_key(session, key_id) is not None

    clock.advance(days=31)
    note_seen(recent, now=clock.now() - timedelta(days=1))
    session.commit()
    counts = jobs.wipe_unseen_devices(session, keyring, clock.now())
    session.commit()

    assert counts == {"devices_wiped": 2, "sessions_ended": 2, "refused": 0}
    assert active.status == pending.status == DeviceStatus.WIPE_PENDING
    assert active.status_changed_at == clock.now()
    assert wrapped_key(session, key_id) is None
    assert active_session.ended_at == pending_session.ended_at == clock.now()
    assert active_session.end_reason == "revoked"
    assert recent.status == DeviceStatus.ACTIVE and recent_session.ended_at is None
    assert wrapped_key(session, recent.cache_key_id) is not None

    wipes = events(session, "device:registry:wipe")
    assert {e.record_id for e in wipes} == {active.id, pending.id}
    assert {(e.reason, e.actor_label) for e in wipes} == {("unseen", "scheduler")}
    assert len(events(session, "auth:session:revoke")) == 2
    [run] = job_runs(session)
    assert run["job"] == "wipe_unseen_devices" and run["_actor"] == "scheduler"
    assert run["devices_wiped"] == 2 and run["sessions_ended"] == 2
    assert run["wipe_unseen_days"] == 30 and run["_outcome"] == "success"
    assert verify_chain(session).ok


def test_wiping_unseen_devices_twice_changes_nothing_but_is_recorded(app, session, keyring,
                                                                     clock, factories):
    device, _row = signed_in_device(factories, keyring, clock.now())
    session.commit()
    clock.advance(days=31)
    jobs.wipe_unseen_devices(session, keyring, clock.now())
    session.commit()
    changed_at = device.status_changed_at
    before = session.scalar(select(func.count()).select_from(AuditEvent))

    clock.advance(hours=1)
    counts = jobs.wipe_unseen_devices(session, keyring, clock.now())
    session.commit()

    assert counts == {"devices_wiped": 0, "sessions_ended": 0, "refused": 0}
    assert device.status == DeviceStatus.WIPE_PENDING and device.status_changed_at == changed_at
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before + 1
    assert [r["devices_wiped"] for r in job_runs(session)] == [1, 0]


def test_the_unseen_limit_is_the_agency_setting(app, session, keyring, clock, factories):
    from webapp.access.agency_settings import AgencySetting

    session.add(AgencySetting(name="device_wipe_unseen_days", value_json="60"))
    device, _row = signed_in_device(factories, keyring, clock.now())
    session.commit()
    clock.advance(days=31)
    assert jobs.wipe_unseen_devices(session, keyring, clock.now())["devices_wiped"] == 0
    clock.advance(days=30)
    assert jobs.wipe_unseen_devices(session, keyring, clock.now())["devices_wiped"] == 1
    session.commit()
    assert device.status == DeviceStatus.WIPE_PENDING


def test_closed_devices_are_left_alone(app, session, keyring, clock, factories):
    from webapp.audit import Actor

    lost, _row = signed_in_device(factories, keyring, clock.now())
    order_wipe(session, keyring, lost, actor=Actor(label="test"), now=clock.now())
    session.commit()
    clock.advance(days=90)
    assert jobs.wipe_unseen_devices(session, keyring, clock.now())["devices_wiped"] == 0
    assert jobs.expire_pending_devices(session, keyring, clock.now())["devices_revoked"] == 0


# -- expire_pending_devices -----------------------------------------------------------------

def test_devices_pending_too_long_are_revoked_once(app, session, keyring, clock, factories):
    from webapp.audit import Actor

    stale, stale_session = signed_in_device(factories, keyring, clock.now(), role=Role.AGENT)
    approved, _row = signed_in_device(factories, keyring, clock.now(), role=Role.AGENT)
    approve(session, keyring, approved, actor=Actor(label="test"), now=clock.now())
    clock.advance(days=10)
    fresh, _row = signed_in_device(factories, keyring, clock.now(), role=Role.AGENT)
    session.commit()

    clock.advance(days=5)  # stale: 15 days pending; fresh: 5
    counts = jobs.expire_pending_devices(session, keyring, clock.now())
    session.commit()

    assert counts == {"devices_revoked": 1, "sessions_ended": 1, "refused": 0}
    assert stale.status == DeviceStatus.REVOKED and stale_session.ended_at == clock.now()
    assert approved.status == DeviceStatus.ACTIVE and fresh.status == DeviceStatus.PENDING
    [revoked] = events(session, "device:registry:revoke")
    assert (revoked.record_id, revoked.reason, revoked.actor_label) == (
        stale.id, "pending_expired", "scheduler")

    again = jobs.expire_pending_devices(session, keyring, clock.now())
    session.commit()
    assert again["devices_revoked"] == 0 and len(events(session, "device:registry:revoke")) == 1
    runs = job_runs(session, "expire_pending_devices")
    assert [r["devices_revoked"] for r in runs] == [1, 0]
    assert runs[0]["pending_expire_days"] == 14


# -- sweep_ended_sessions -------------------------------------------------------------------

def test_sessions_ended_over_a_week_ago_lose_their_token_hash(app, session, keyring, clock,
                                                              factories):
    _device, old = signed_in_device(factories, keyring, clock.now())
    _device, recent = signed_in_device(factories, keyring, clock.now())
    _device, live = signed_in_device(factories, keyring, clock.now())
    old.ended_at, old.end_reason = clock.now() - timedelta(days=8), "logout"
    recent.ended_at, recent.end_reason = clock.now() - timedelta(days=2), "logout"
    session.commit()

    assert jobs.sweep_ended_sessions(session, keyring, clock.now()) == {"sessions_swept": 1}
    session.commit()
    hashes = dict(session.execute(select(UserSession.id, UserSession.token_hash)).all())
    assert hashes[old.id] == f"ended:{old.id}"
    assert not hashes[recent.id].startswith("ended:") and not hashes[live.id].startswith("ended:")
    assert jobs.sweep_ended_sessions(session, keyring, clock.now()) == {"sessions_swept": 0}
    session.commit()
    assert [r["sessions_swept"] for r in job_runs(session)] == [1, 0]


# -- run_job: app context, clock, transaction -----------------------------------------------

def test_run_job_uses_the_app_clock_and_commits(app, session, keyring, clock, factories):
    device, _row = signed_in_device(factories, keyring, clock.now())
    session.commit()
    clock.advance(days=31)

    assert jobs.run_job(app, jobs.wipe_unseen_devices)["devices_wiped"] == 1

    see_committed(session)
    assert session.get(Device, device.id).status == DeviceStatus.WIPE_PENDING
    [run] = job_runs(session)
    assert run["as_of"] == clock.now().isoformat()


def test_a_failed_run_changes_nothing_and_is_recorded(app, session, keyring, clock, factories):
    device, _row = signed_in_device(factories, keyring, clock.now())
    session.commit()
    key_id = device.cache_key_id
    clock.advance(days=31)

    def wipe_unseen_then_fail(db, ring, now):
        jobs.wipe_unseen_devices(db, ring, now)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        jobs.run_job(app, wipe_unseen_then_fail)

    see_committed(session)
    assert session.get(Device, device.id).status == DeviceStatus.ACTIVE
    assert wrapped_key(session, key_id) is not None
    assert keyring.export_data_key(key_id) is not None
    assert events(session, "device:registry:wipe") == []
    [run] = job_runs(session)
    assert run["job"] == "wipe_unseen_then_fail" and run["_outcome"] == "failure"
    assert run["error"] == "RuntimeError"
    assert verify_chain(session).ok


def test_run_all_once_runs_every_job_in_order(app, session):
    results = jobs.run_all_once(app)
    assert list(results) == [spec.name for spec in jobs.JOBS]
    see_committed(session)
    assert [r["job"] for r in job_runs(session)] == [spec.name for spec in jobs.JOBS]


# -- the scheduler lock ---------------------------------------------------------------------

def test_only_one_scheduler_lock_holder_at_a_time(app):
    first, second = jobs.SchedulerLock.for_app(app), jobs.SchedulerLock.for_app(app)
    try:
        assert first.acquire() is True
        assert first.acquire() is True  # re-entrant for its holder
        assert second.acquire() is False and not second.held
        assert first.verify() is True
        first.release()
        assert not first.held and first.verify() is False
        assert second.acquire() is True
        assert first.acquire() is False
    finally:
        first.release()
        second.release()


def test_the_sqlite_lock_file_sits_beside_the_database(app, database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    with jobs.SchedulerLock.for_app(app) as lock:
        assert lock.path == (tmp_path / "scheduler.lock").resolve()
        assert lock.acquire()
        assert "pid" in jobs.SchedulerLock.for_app(app).holder()
    assert lock.describe().startswith("lock file ")


@pytest.mark.postgres
def test_the_postgres_lock_is_an_advisory_lock(app, database_url):
    with jobs.SchedulerLock.for_app(app) as lock:
        assert lock.path is None and lock.acquire()
        assert "pid" in jobs.SchedulerLock.for_app(app).holder()
        assert "advisory lock" in lock.describe()


# -- the scheduler ----------------------------------------------------------------------------

def test_build_scheduler_adds_every_job_once_coalesced(app):
    scheduler = jobs.build_scheduler(app)
    assert isinstance(scheduler, BackgroundScheduler)
    assert str(scheduler.timezone) == "UTC"
    scheduler.start(paused=True)
    try:
        listed = {job.id: job for job in scheduler.get_jobs()}
        assert set(listed) == {spec.name for spec in jobs.JOBS}
        for job in listed.values():
            assert job.coalesce is True and job.max_instances == 1
            assert job.misfire_grace_time == 900
        assert listed["wipe_unseen_devices"].trigger.interval == timedelta(hours=1)
    finally:
        scheduler.shutdown(wait=False)
    assert isinstance(jobs.build_scheduler(app, blocking=True), BlockingScheduler)


def test_the_background_scheduler_runs_the_jobs_in_app_contexts(app, session, keyring, clock,
                                                                factories):
    device, _row = signed_in_device(factories, keyring, clock.now())
    session.commit()
    clock.advance(days=31)
    done, errors = threading.Event(), []
    finished: list[str] = []

    def listen(event):
        if event.exception:
            errors.append(event.exception)
        finished.append(event.job_id)
        if len(finished) == len(jobs.JOBS):
            done.set()

    scheduler = jobs.start_background_scheduler(app)
    assert scheduler is not None and scheduler.running
    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    try:
        assert done.wait(20), finished
    finally:
        jobs.stop_background_scheduler(app)
    assert not scheduler.running and errors == []
    see_committed(session)
    assert session.get(Device, device.id).status == DeviceStatus.WIPE_PENDING
    assert {r["job"] for r in job_runs(session)} == {spec.name for spec in jobs.JOBS}


def test_a_second_background_scheduler_does_not_start(app):
    with jobs.SchedulerLock.for_app(app) as other:
        assert other.acquire()
        assert jobs.start_background_scheduler(app) is None
    scheduler = jobs.start_background_scheduler(app)
    try:
        assert scheduler is not None
        assert jobs.start_background_scheduler(app) is scheduler  # once per app
        assert jobs.SchedulerLock.for_app(app).acquire() is False
    finally:
        jobs.stop_background_scheduler(app)
    with jobs.SchedulerLock.for_app(app) as after:
        assert after.acquire()


# -- flask scheduler run ------------------------------------------------------------------------

def test_scheduler_run_once(app, session, keyring, clock, factories):
    signed_in_device(factories, keyring, clock.now())
    signed_in_device(factories, keyring, clock.now(), role=Role.AGENT)
    session.commit()
    clock.advance(days=31)

    result = app.test_cli_runner().invoke(scheduler_cli, ["run", "--once"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines == [
        "expire_pending_devices: devices_revoked 1, sessions_ended 1, refused 0",
        "wipe_unseen_devices: devices_wiped 1, sessions_ended 1, refused 0",
        "sweep_ended_sessions: sessions_swept 0",
    ]
    see_committed(session)
    assert [(r["job"], r["_actor"]) for r in job_runs(session)] == [
        (spec.name, "scheduler") for spec in jobs.JOBS]


def test_scheduler_run_once_refuses_while_another_holds_the_lock(app, session):
    with jobs.SchedulerLock.for_app(app) as other:
        assert other.acquire()
        result = app.test_cli_runner().invoke(scheduler_cli, ["run", "--once"])
    assert result.exit_code == 1
    assert "Another scheduler holds the" in result.output and "Nothing was run" in result.output
    assert job_runs(session) == []


def test_scheduler_run_idles_while_another_holds_the_lock(app, session, monkeypatch):
    waits = []

    def idle(seconds):
        waits.append(seconds)
        if len(waits) == 2:
            raise KeyboardInterrupt  # Ctrl-C while idling

    monkeypatch.setattr(jobs, "_idle", idle)
    before = signal.getsignal(signal.SIGTERM)
    with jobs.SchedulerLock.for_app(app) as other:
        assert other.acquire()
        result = app.test_cli_runner().invoke(scheduler_cli, ["run", "--retry-seconds", "5"])
    assert result.exit_code == 0, result.output
    assert "Another scheduler holds the" in result.output
    assert "trying again every 5 s" in result.output and "Scheduler stopped." in result.output
    assert waits == [5, 5] and job_runs(session) == []
    assert signal.getsignal(signal.SIGTERM) == before
    with jobs.SchedulerLock.for_app(app) as lock:
        assert lock.acquire()


def test_scheduler_run_takes_over_when_the_lock_frees(app, session, monkeypatch):
    other = jobs.SchedulerLock.for_app(app)
    assert other.acquire()
    monkeypatch.setattr(jobs, "_idle", lambda _seconds: other.release())
    real_build = jobs.build_scheduler

    def build_stopping_after_one_round(*args, **kwargs):
        scheduler = real_build(*args, **kwargs)
        finished = []

        def listen(event):
            finished.append(event.job_id)
            if len(finished) == len(jobs.JOBS):
                scheduler.shutdown(wait=False)

        scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        return scheduler

    monkeypatch.setattr(jobs, "build_scheduler", build_stopping_after_one_round)
    result = app.test_cli_runner().invoke(scheduler_cli, ["run"])

    assert result.exit_code == 0, result.output
    assert "Lock acquired" in result.output and "Scheduler running" in result.output
    assert "wipe_unseen_devices: devices_wiped 0" in result.output
    see_committed(session)
    assert len(job_runs(session)) == len(jobs.JOBS)
    with jobs.SchedulerLock.for_app(app) as lock:
        assert lock.acquire()  # released on the way out


def test_scheduler_run_rejects_a_silly_retry_interval(app):
    result = app.test_cli_runner().invoke(scheduler_cli, ["run", "--retry-seconds", "0"])
    assert result.exit_code == 2 and "--retry-seconds" in result.output


# -- flask serve ------------------------------------------------------------------------------

@pytest.fixture
def served(app, monkeypatch):
    """Invoke `flask serve ARGS` without serving: what run_simple and the scheduler got."""
    import flask.cli

    calls = {"run_simple": [], "scheduler": []}
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    monkeypatch.setattr(flask.cli, "run_simple",
                        lambda host, port, _app, **kw: calls["run_simple"].append(
                            (host, port, _app, kw["use_reloader"])))
    monkeypatch.setattr(jobs, "start_background_scheduler",
                        lambda an_app: calls["scheduler"].append(an_app))

    def serve(*args: str):
        result = app.test_cli_runner().invoke(serve_command, list(args))
        assert result.exit_code == 0, result.output
        return calls

    return serve


def test_serve_starts_the_scheduler_then_the_server(app, served):
    calls = served("--host", "localhost", "--port", "5123")
    assert calls["scheduler"] == [app]
    assert calls["run_simple"] == [("localhost", 5123, app, False)]


def test_serve_with_the_reloader_starts_the_scheduler_only_in_the_serving_child(
        app, served, monkeypatch):
    assert served("--reload")["scheduler"] == []  # the watcher process
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    calls = served("--reload")
    assert calls["scheduler"] == [app] and calls["run_simple"][-1][3] is True


def test_serve_without_the_scheduler(served):
    calls = served("--no-scheduler")
    assert calls["scheduler"] == [] and len(calls["run_simple"]) == 1


def test_scheduler_times_are_utc(app):
    scheduler = jobs.build_scheduler(app)
    scheduler.start(paused=True)
    try:
        assert all(job.next_run_time.utcoffset() == timedelta(0) for job in scheduler.get_jobs())
        assert all(job.next_run_time.tzinfo is not None and
                   job.next_run_time.astimezone(UTC) == job.next_run_time
                   for job in scheduler.get_jobs())
    finally:
        scheduler.shutdown(wait=False)
