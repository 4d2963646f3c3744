"""What a page costs: server time for Today, a search, a client card and the client list,
each beside the same template rendered from plaintext rows in the same run.

    .venv/bin/python bench/pages.py [--clients N] [--requests R] [--budget S] [--profile PAGE]

Everything runs in a throwaway instance (a temporary folder: SQLite database and key file),
never ./instance. Nothing asserts on time.

The encrypted side is the real thing: requests through Flask's test client, as a seeded agent
signed in with a passkey on an approved device that proved its screen lock, so the guard
(session, idle lock, device gate), the access policy, the projections, decryption and the
audit writes are all in the figure. Its time is the server's: measured around the app's WSGI
callable, so the test client's own work (building the request, reading the response) is not.

The baseline renders the same template from plaintext rows, inside an app request context:
the plaintext twin tables of `crypto_overhead.py` (`plain_clients`, ...) hold a decrypted copy
of the same clients (same ids), loaded with the same queries, and handed to the template as
the same projection-shaped objects, built directly (no policy, no audit, no decryption, no
guard). A check before timing makes sure both sides render the same HTML (tokens aside).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import math
import pstats
import random
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    MS,
    Instance,
    Target,
    clock,
    machine_line,
    median,
    progress,
    throwaway_instance,
)
from crypto_overhead import SEED, PlainSchema, copy_decrypted, row_counts, seed_encrypted
from flask import Flask, g, render_template, request
from sqlalchemy import Index, func, inspect, or_, select
from sqlalchemy.orm import relationship, selectinload

from tests.support.browser import Phone
from webapp.access.agency_settings import get_setting
from webapp.access.projections import Projection
from webapp.audit import Actor
from webapp.audit.models import AuditEvent
from webapp.auth.invites import issue_invite
from webapp.auth.models import Role, User, UserSession
from webapp.auth.sessions import SessionPolicy, SessionState
from webapp.crm import models as crm
from webapp.crm.service import SECTION_KINDS, day_bounds
from webapp.devices import registry
from webapp.devices.models import Device, DeviceStatus

SEARCH_TERMS = 40  # distinct last names of the agent's clients, cycled through
CARDS = 50  # distinct clients of the agent, cycled through
LIST_PAGE = 50  # /clients shows 50 clients a page
SEARCH_PAGE = 20  # the search shows 20 a page

PAGES = ("today", "search", "card", "list")
PAGE_NAMES = {
    "today": "Today (GET /)",
    "search": "search (POST /clients/search, htmx)",
    "card": "client card (GET /clients/<id>)",
    "list": "client list (GET /clients, page 1)",
}

# What each page's template reads from a projection, per kind: the fields the agent's
# projections carry (an agent may see every data class).
FIELDS = {
    "enrollment": ("carrier", "plan_name", "plan_type", "member_id", "effective_date",
                   "end_date", "status"),
    "condition": ("name", "noted_on"),
    "medication": ("name", "dosage", "frequency"),
    "provider": ("name", "specialty", "phone"),
    "claim": ("claim_number", "service_date", "description", "amount", "status"),
    "premium": ("premium_monthly", "payment_method", "billing_day"),
    "appointment": ("starts_at", "duration_minutes", "status", "place", "purpose"),
    "note": ("body", "created_at"),
    "communication": ("channel", "direction", "summary", "occurred_at"),
}
CLIENT_FIELDS = ("first_name", "last_name", "date_of_birth", "medicare_id", "street", "city",
                 "state", "zip", "phone", "email")
LIST_FIELDS = ("first_name", "last_name", "date_of_birth", "phone")


# ============================================================================================
# Timing
# ============================================================================================


class ServerTimer:
    """Wraps the app's WSGI callable: `last` is the time the last request spent in the app
    (guard, view, template, after-request hooks, teardown), not in the test client."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.last = 0.0

    def __call__(self, environ, start_response):
        start = clock()
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            self.last = clock() - start


def p95(values: list[float]) -> float:
    """The 95th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


# ============================================================================================
# The encrypted side: real requests as a signed-in agent
# ============================================================================================


def sign_in_agent(app: Flask, inst: Instance, agent: User) -> Phone:
    """Enroll a passkey for the seeded agent through the real ceremony (as `flask demo
    invites` + the phone would), approve the device as an admin would, and load a CSRF token:
    the `signed_in` test fixture's flow."""
    settings = app.config["SETTINGS"]
    with inst.sessions() as db:
        _user, token = issue_invite(db, email=agent.email, role="agent",
                                    actor=Actor(label="bench"),
                                    now=app.extensions["safeharbor.clock"].now())
        db.commit()
    phone = Phone(app)
    response = phone.enroll(token, origin=settings.origin)
    if response.status_code != 200:
        raise SystemExit(f"enrollment failed: {response.status_code} "
                         f"{response.get_data(as_text=True)[:300]}")
    with inst.sessions() as db:
        for device in db.scalars(select(Device).where(Device.owner_id == agent.id)):
            if device.status == DeviceStatus.PENDING:
                registry.approve(db, inst.keyring, device, actor=Actor(label="bench"),
                                 now=app.extensions["safeharbor.clock"].now())
        db.commit()
    phone.load_csrf("/account")
    return phone


class EncryptedPages:
    def __init__(self, phone: Phone, timer: ServerTimer):
        self.phone, self.timer = phone, timer

    def _check(self, response, what: str) -> str:
        body = response.get_data(as_text=True)
        # A lock screen or a refusal is not the page: the figures would mean nothing.
        if response.status_code != 200 or "HX-Retarget" in response.headers:
            raise SystemExit(f"{what}: HTTP {response.status_code} "
                             f"{response.headers.get('HX-Retarget', '')} {body[:300]}")
        return body

    def today(self) -> str:
        return self._check(self.phone.client.get("/"), "GET /")

    def search(self, term: str) -> str:
        return self._check(self.phone.client.post(
            "/clients/search", data={"csrf_token": self.phone.csrf_token, "q": term},
            headers={"HX-Request": "true"}), "POST /clients/search")

    def card(self, client_id: str) -> str:
        return self._check(self.phone.client.get(f"/clients/{client_id}"), "GET /clients/<id>")

    def list(self) -> str:
        return self._check(self.phone.client.get("/clients"), "GET /clients")


# ============================================================================================
# The baseline: the same templates from plaintext rows
# ============================================================================================


def _ssn_last4(ssn: str | None) -> str | None:
    digits = "".join(ch for ch in ssn or "" if ch.isdigit())
    return f"•••-••-{digits[-4:]}" if len(digits) >= 4 else None


def _section_order(kind: str):
    return {"note": lambda r: r.created_at, "communication": lambda r: r.occurred_at,
            "appointment": lambda r: r.starts_at}.get(kind, lambda r: r.created_at)


class PlainPages:
    """Each page: plaintext rows loaded with the encrypted side's queries, put into
    projection-shaped objects directly, rendered with the same template."""

    def __init__(self, app: Flask, inst: Instance, schema: PlainSchema, agent: User,
                 zone: ZoneInfo, idle_lock_seconds: int):
        self.app, self.sessions, self.zone = app, inst.sessions, zone
        self.agent_id = agent.id
        self.Client = schema.classes[crm.Client]
        self.Appointment = schema.classes[crm.Appointment]
        # base.html reads these: the same signed-in, unlocked agent as the encrypted side.
        self.user = SimpleNamespace(id=agent.id, is_authenticated=True, is_active=True,
                                    is_anonymous=False, role=Role.AGENT,
                                    display_name=agent.display_name)
        self.idle_lock_seconds = idle_lock_seconds
        self.clock = app.extensions["safeharbor.clock"]
        with inst.sessions() as db:  # when the agent's passkey last proved the screen lock
            self.verified_at = db.scalar(select(func.max(UserSession.last_verified_at))
                                         .where(UserSession.user_id == agent.id))

    def layout(self) -> dict:
        """What base.html's context processor gives the agent's verified device: the offline
        store's state, "key" while the last user-verified sign-in is within the idle-lock
        window and "sealed" after, taken from that time rather than asked of the policy."""
        fresh = self.clock.now() - self.verified_at <= timedelta(seconds=self.idle_lock_seconds)
        return {"offline_store": "key" if fresh else "sealed"}

    @contextmanager
    def request(self, path: str, *, method: str = "GET", htmx: bool = False) -> Iterator[None]:
        headers = {"HX-Request": "true"} if htmx else {}
        with self.app.test_request_context(path, method=method, headers=headers):
            g._login_user = self.user
            g.session_state = SessionState.ACTIVE
            g.idle_lock_seconds = self.idle_lock_seconds
            request.csp_nonce = secrets.token_urlsafe(24)
            yield

    def _list_projection(self, c) -> Projection:
        return Projection("client", {"id": c.id, **{f: getattr(c, f) for f in LIST_FIELDS}})

    def today(self) -> str:
        A, C = self.Appointment, self.Client
        with self.request("/"), self.sessions() as db:
            now = self.clock.now()
            start, end = day_bounds(now.astimezone(self.zone).date(), self.zone)
            rows = db.scalars(
                select(A).join(C, C.id == A.client_id)
                .where(A.agent_id.in_([self.agent_id]), C.agent_id == A.agent_id,
                       C.status != crm.ClientStatus.DISPOSED, A.starts_at >= start,
                       A.starts_at < end, A.status != crm.AppointmentStatus.CANCELLED)
                .options(selectinload(A.client))
                .order_by(A.starts_at, A.id)).all()
            appointments = []
            for row in rows:
                client = row.client
                appointments.append(Projection("appointment", {
                    "id": row.id, "client_id": client.id, "agent_id": row.agent_id,
                    "starts_at": row.starts_at.astimezone(self.zone),
                    "duration_minutes": row.duration_minutes, "status": row.status.value,
                    "place": row.place, "purpose": row.purpose,
                    "client_name": f"{client.first_name} {client.last_name}",
                    "client_phone": client.phone,
                }))
            upcoming = [a for a in appointments if a.starts_at >= now.astimezone(self.zone)]
            return render_template("crm/today.html", appointments=appointments,
                                   next_appointment=upcoming[0] if upcoming else None, day=start,
                                   opens_cards=True, agent_names={}, **self.layout())

    def search(self, term: str) -> str:
        C = self.Client
        with self.request("/clients/search", method="POST", htmx=True), self.sessions() as db:
            rows = db.scalars(
                select(C).where(or_(C.last_name == term, C.first_name == term),
                                C.status != crm.ClientStatus.DISPOSED, C.agent_id == self.agent_id)
                .order_by(C.id).limit(SEARCH_PAGE + 1)).all()
            listed = [self._list_projection(c) for c in rows[:SEARCH_PAGE]]
            return render_template("crm/_results.html", clients=listed, page=1,
                                   has_more=len(rows) > SEARCH_PAGE, query=term)

    def card(self, client_id: str) -> str:
        with self.request(f"/clients/{client_id}"), self.sessions() as db:
            c = db.get(self.Client, client_id)  # sections load lazily, as on the encrypted side
            client = Projection("client", {"id": c.id, "ssn_last4": _ssn_last4(c.ssn),
                                           **{f: getattr(c, f) for f in CLIENT_FIELDS}})
            sections = {}
            for name, kind in SECTION_KINDS.items():
                rows = sorted(getattr(c, name), key=_section_order(kind),
                              reverse=kind in ("note", "communication"))
                if kind == "appointment":
                    rows = [r for r in rows if r.status != crm.AppointmentStatus.CANCELLED]
                sections[name] = [Projection(kind, {"id": r.id,
                                                    **{f: getattr(r, f) for f in FIELDS[kind]}})
                                  for r in rows]
            card = SimpleNamespace(client=client, sections=sections)
            return render_template("crm/client.html", card=card, section_names=SECTION_KINDS,
                                   **self.layout())

    def list(self) -> str:
        C = self.Client
        with self.request("/clients"), self.sessions() as db:
            rows = db.scalars(
                select(C).where(C.agent_id == self.agent_id,
                                C.status != crm.ClientStatus.DISPOSED)
                .order_by(C.created_at, C.id).limit(LIST_PAGE + 1)).all()
            listed = [self._list_projection(c) for c in rows[:LIST_PAGE]]
            return render_template("crm/clients.html", clients=listed, page=1,
                                   has_more=len(rows) > LIST_PAGE, query="", **self.layout())


def plain_schema() -> PlainSchema:
    """crypto_overhead's plaintext twin, plus what these pages need: an appointment's client
    (Today loads it with selectinload, as the encrypted side does) and plain name indexes for
    the search (the encrypted side has an index on each name's blind index)."""
    schema = PlainSchema()
    clients = schema.tables[crm.Client]
    Index("plain_ix_clients_last_name", clients.c.last_name)
    Index("plain_ix_clients_first_name", clients.c.first_name)
    inspect(schema.classes[crm.Appointment]).add_property(
        "client", relationship(schema.classes[crm.Client], viewonly=True))
    return schema


# ============================================================================================
# Same page on both sides?
# ============================================================================================

_TOKENS = (
    re.compile(r'(name="csrf_token" value=")[^"]*'),
    re.compile(r'(<meta name="csrf-token" content=")[^"]*'),
    re.compile(r'(nonce=")[^"]*'),
)


def normalized(html: str) -> str:
    for pattern in _TOKENS:
        html = pattern.sub(r"\1-", html)
    return html


def first_difference(a: str, b: str) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
              min(len(a), len(b)))
    return f"at character {at}: {a[max(0, at - 60):at + 60]!r} vs {b[max(0, at - 60):at + 60]!r}"


# ============================================================================================
# The run
# ============================================================================================


@dataclass
class Line:
    page: str
    enc: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)


def pick_agent(inst: Instance, zone: ZoneInfo) -> tuple[User, int, int]:
    """The agent with the most clients (ties: the most appointments today)."""
    with inst.sessions() as db:
        start, end = day_bounds(datetime.now(zone).date(), zone)
        best = None
        for agent in db.scalars(select(User).where(User.role == Role.AGENT)):
            book = db.scalar(select(func.count()).select_from(crm.Client)
                             .where(crm.Client.agent_id == agent.id))
            today = db.scalar(select(func.count()).select_from(crm.Appointment).where(
                crm.Appointment.agent_id == agent.id, crm.Appointment.starts_at >= start,
                crm.Appointment.starts_at < end))
            if best is None or (book, today) > best[1:]:
                best = (agent, book, today)
        db.expunge_all()
    assert best is not None
    return best


def audit_count(inst: Instance) -> int:
    with inst.sessions() as db:
        return db.scalar(select(func.count()).select_from(AuditEvent))


class Run:
    def __init__(self, args, inst: Instance, enc: EncryptedPages, plain: PlainPages,
                 timer: ServerTimer, terms: list[str], card_ids: list[str]):
        self.args, self.inst, self.timer = args, inst, timer
        self.enc, self.plain = enc, plain
        self.terms, self.card_ids = terms, card_ids
        self.notes: list[str] = []

    def calls(self, page: str, i: int) -> tuple[Callable[[], str], Callable[[], str]]:
        """The i-th request of a page on each side (the same term / client on both)."""
        if page == "search":
            term = self.terms[i % len(self.terms)]
            return (lambda: self.enc.search(term)), (lambda: self.plain.search(term))
        if page == "card":
            client_id = self.card_ids[i % len(self.card_ids)]
            return (lambda: self.enc.card(client_id)), (lambda: self.plain.card(client_id))
        return getattr(self.enc, page), getattr(self.plain, page)

    def check_same_html(self) -> None:
        """Both sides must render the same page from the same data; also the warm-up (every
        search term and client card once, so keys and SQLite pages are warm on both sides)."""
        for page in PAGES:
            count = {"search": len(self.terms), "card": len(self.card_ids)}.get(page, 1)
            before, differ, kept_terms = audit_count(self.inst), [], []
            for i in range(count):
                enc_call, plain_call = self.calls(page, i)
                a, b = normalized(enc_call()), normalized(plain_call())
                if page == "search" and a == b:
                    kept_terms.append(self.terms[i])
                if a != b:
                    differ.append(first_difference(a, b))
            events = (audit_count(self.inst) - before) / count
            self.notes.append(f"{page}: {events:,.0f} audit event(s) written per encrypted "
                              "request.")
            if page == "search" and differ and kept_terms:
                # A name whose folded form matches more than the exact plaintext does
                # (accents, case) finds other rows: keep the terms that match the same rows.
                self.notes.append(f"search: {len(differ)} of {len(self.terms)} terms found "
                                  "different rows on the plaintext side (accents or case) and "
                                  "were left out.")
                self.terms = kept_terms
            elif differ:
                progress(f"   {page}: the baseline HTML differs ({len(differ)} of {count}): "
                         f"{differ[0]}")
                self.notes.append(f"WARNING {page}: the baseline rendered different HTML on "
                                  f"{len(differ)} of {count} pages; see the progress log.")

    def measure(self, page: str) -> Line:
        args = self.args
        line = Line(page)
        for i in range(args.warmup):
            for call in self.calls(page, i):
                call()
        started = clock()
        i = 0
        while i < args.requests:
            enc_call, plain_call = self.calls(page, i)
            for side in ("enc", "plain") if i % 2 == 0 else ("plain", "enc"):
                gc.collect()  # a collection owed by the previous request is not billed here
                if side == "enc":
                    enc_call()
                    line.enc.append(self.timer.last)
                else:
                    start = clock()
                    plain_call()
                    line.plain.append(clock() - start)
            i += 1
            if i >= args.min_requests and clock() - started > args.budget:
                break
        return line


def render_table(title: list[str], lines: list[Line], notes: list[str]) -> str:
    ratio_target = Target("<= 2x", 2.0, on="ratio")
    search_target = Target("<= 20 ms", 0.020)
    header = ("#", "page", "encrypted median", "encrypted p95", "plain median", "plain p95",
              "ratio median", "ratio p95", "target", "", "requests")
    table = [header]
    for n, line in enumerate(lines, 1):
        em, ep, bm, bp = median(line.enc), p95(line.enc), median(line.plain), p95(line.plain)
        rm, rp = em / bm, ep / bp
        met = ratio_target.met(em, rm) and ratio_target.met(ep, rp)
        table.append((str(n), PAGE_NAMES[line.page], MS.show(em), MS.show(ep), MS.show(bm),
                      MS.show(bp), f"{rm:.2f}x", f"{rp:.2f}x", ratio_target.label,
                      "ok" if met else "over", f"{len(line.enc)} each"))
        if line.page == "search":
            table.append((f"{n}p", "  search p95, absolute", "", MS.show(ep), "", "", "", "",
                          search_target.label, "ok" if search_target.met(ep, rp) else "over",
                          ""))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    right = {2, 3, 4, 5, 6, 7}
    out = [*title, ""]
    for n, cells in enumerate(table):
        out.append("  ".join(c.rjust(widths[i]) if i in right and n else c.ljust(widths[i])
                             for i, c in enumerate(cells)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join([*out, "", *notes])


def profile(run: Run, page: str, requests: int) -> str:
    """`requests` more encrypted requests of one page under cProfile."""

    def go():
        for i in range(requests):
            run.calls(page, i)[0]()

    profiler = cProfile.Profile()
    profiler.runcall(go)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(r"webapp[/\\]", 30)  # the app's own functions
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100_000,
                        help="demo clients to seed (default 100,000)")
    parser.add_argument("--requests", type=int, default=200,
                        help="timed requests per page on each side (default 200)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="untimed requests per page on each side first (default 10)")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds per page: stop early (after --min-requests) past this")
    parser.add_argument("--min-requests", type=int, default=30,
                        help="timed requests per page per side, whatever the budget")
    parser.add_argument("--profile", choices=PAGES, action="append", default=[],
                        help="also profile the encrypted side of a page (cProfile; repeatable)")
    parser.add_argument("--profile-requests", type=int, default=20,
                        help="requests under the profiler with --profile")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests < 1:
        parser.error("--clients and --requests must be at least 1")
    args.min_requests = min(args.min_requests, args.requests)

    started = clock()
    load_before = machine_line()
    with throwaway_instance(keep=args.keep) as inst:
        app = inst.app
        assert app is not None
        with inst.sessions() as db:
            timezone = get_setting(db, "agency_timezone")
            idle_lock = int(SessionPolicy.for_role(db, "agent").idle_lock.total_seconds())
        zone = ZoneInfo(timezone)
        today = datetime.now(zone).date()

        progress(f"seeding {args.clients:,} demo clients (seed_demo_agency)")
        seed_started = clock()
        seed_encrypted(inst, clients=args.clients, today=today, timezone=timezone)
        seed_seconds = clock() - seed_started

        progress("copying the decrypted rows into the plain tables")
        schema = plain_schema()
        schema.create(inst.engine)
        copy_started = clock()
        copy_decrypted(inst, schema, clients=args.clients)
        # The same planner statistics on both sides: seeding ends with ANALYZE (the app does
        # that after every bulk load), so the plain twins get theirs too.
        with inst.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        copy_seconds = clock() - copy_started
        counts = row_counts(inst, schema)
        if any(enc != plain for enc, plain in counts.values()):
            raise SystemExit(f"the plaintext copy does not match the encrypted rows: {counts}")

        agent, book, today_count = pick_agent(inst, zone)
        progress(f"signing in {agent.email} ({book:,} clients, {today_count:,} appointments "
                 "today) with a passkey")
        rng = random.Random(SEED)
        with inst.sessions() as db:
            ids = list(db.scalars(select(crm.Client.id).where(crm.Client.agent_id == agent.id)
                                  .order_by(crm.Client.id)))
        card_ids = rng.sample(ids, min(CARDS, len(ids)))
        with inst.engine.connect() as connection:
            plain_clients = schema.tables[crm.Client]
            sample = rng.sample(ids, min(len(ids), SEARCH_TERMS * 20))
            names = list(connection.scalars(select(plain_clients.c.last_name)
                                            .where(plain_clients.c.id.in_(sample))))
        terms = list(dict.fromkeys(sorted(names, key=lambda _: rng.random())))[:SEARCH_TERMS]

        timer = ServerTimer(app.wsgi_app)
        app.wsgi_app = timer  # type: ignore[method-assign]
        phone = sign_in_agent(app, inst, agent)
        run = Run(args, inst, EncryptedPages(phone, timer),
                  PlainPages(app, inst, schema, agent, zone, idle_lock), timer, terms, card_ids)

        progress("checking both sides render the same HTML (and warming up)")
        run.check_same_html()
        with inst.engine.connect() as connection:
            found = [connection.scalar(select(func.count()).select_from(plain_clients).where(
                plain_clients.c.agent_id == agent.id,
                or_(plain_clients.c.last_name == t, plain_clients.c.first_name == t)))
                for t in run.terms]
        lines = []
        for page in PAGES:
            progress(f"timing {PAGE_NAMES[page]} (up to {args.requests} requests a side, "
                     f"budget {args.budget:.0f} s)")
            lines.append(run.measure(page))
            progress(f"   {len(lines[-1].enc)} requests a side: encrypted median "
                     f"{MS.show(median(lines[-1].enc))}, plain {MS.show(median(lines[-1].plain))}")
        elapsed = clock() - started

        title = [
            f"SafeHarbor page cost: {args.clients:,} demo clients, SQLite in a temporary folder; "
            f"the agent has {book:,} clients and {today_count:,} appointments today",
            f"{machine_line()} (at start: {load_before.split('load average ')[1]})",
            "Server time per request: median and 95th percentile of the requests on its line; "
            "encrypted and plaintext requests are interleaved.",
            "ratio = encrypted / plaintext; > 1 means slower. A line is ok when both of its "
            "ratios meet the target.",
        ]
        notes = [
            "Encrypted: Flask test client, signed-in agent on an approved device with a "
            "user-verified passkey; timed around the app's WSGI callable (guard, session, "
            "policy, projections, decryption, audit writes, template).",
            "Plaintext: the same template rendered in an app request context from the "
            "plain_* twin tables (same ids, same queries, same projection-shaped objects "
            "built directly: no guard, policy, audit or decryption).",
            f"search cycles {len(run.terms)} last names of the agent's clients "
            f"({min(found, default=0)}-{max(found, default=0)} matches each, first page of "
            f"{SEARCH_PAGE}); the card cycles {len(card_ids)} of the agent's clients; "
            f"Today lists {today_count:,} appointments; the list is the first {LIST_PAGE}.",
            *run.notes,
            f"Seeding took {seed_seconds:.0f} s, the plaintext copy {copy_seconds:.0f} s; "
            f"total run time {elapsed:.0f} s. "
            + ("The temporary instance is kept (--keep)." if args.keep
               else "The temporary instance is deleted on exit."),
        ]
        print(render_table(title, lines, notes))
        sys.stdout.flush()
        for page in args.profile:
            progress(f"profiling the encrypted side of '{page}'")
            print(f"\ncProfile, encrypted side of '{page}' ({args.profile_requests} requests):\n")
            print(profile(run, page, args.profile_requests))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
