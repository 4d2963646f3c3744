"""What field encryption costs: per field, per client record, per list page, per seeded client.

    .venv/bin/python bench/crypto_overhead.py [--clients N] [--repeats R] [--profile PHASE]

Everything runs in a throwaway instance (a temporary folder: SQLite database and key file),
never ./instance. Every figure is printed beside a plaintext baseline measured in the same
run on the same data, with their ratio, because the machine is shared and noisy: absolute
times wander from run to run, ratios much less. Nothing asserts on time.

The plaintext baseline is a parallel set of ordinary SQLAlchemy tables (`plain_clients`,
`plain_conditions`, ... in their own MetaData, in the same database) derived from the models:
same non-PHI columns, types and indexes, and every `Encrypted` attribute as a plain
Text/Date/Numeric/Integer column of the same name (no blind indexes, no data keys). They are
mapped with the ORM too, with the same relationships, so both sides load the same way and only
the encryption differs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import time
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    MS,
    PER_S,
    US,
    Instance,
    Report,
    Row,
    Target,
    clock,
    interleaved,
    machine_line,
    median,
    per_op,
    progress,
    throwaway_instance,
    timed,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    delete,
    exists,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import registry, relationship, selectinload

from webapp.access.agency_settings import get_setting
from webapp.audit import Actor
from webapp.auth.models import Role, User
from webapp.crm import models as crm
from webapp.crm import seeding
from webapp.crm.demo_data import DemoAgencyGenerator, DemoClient
from webapp.crm.seeding import BATCH, seed_demo_agency
from webapp.crypto import DATE, DATETIME, DECIMAL, INTEGER, TEXT, Keyring
from webapp.crypto.keyring import HEADER_BYTES
from webapp.db import NAMING_CONVENTION, new_record_id, utcnow

# SQLite has no decimal type; the plaintext Numeric columns convert through float, which
# SQLAlchemy warns about once. The amounts have two places and survive the trip.
warnings.filterwarnings("ignore", category=sa_exc.SAWarning, message=".*Decimal objects natively")

SEED = 2026
PAGE = 50
MODELS = (crm.Client, *crm.CLIENT_RECORD_MODELS)
INSERT_ORDER = (crm.Client, crm.PlanEnrollment, crm.PremiumPayment, crm.Condition,
                crm.Medication, crm.Provider, crm.Claim, crm.Appointment, crm.Note,
                crm.Communication)
LIST_FIELDS = ("first_name", "last_name", "date_of_birth", "phone")

# ============================================================================================
# The plaintext twin of the PHI tables
# ============================================================================================

PLAIN_TYPES = {
    TEXT.name: Text,
    DATE.name: Date,
    DECIMAL.name: lambda: Numeric(12, 2),
    INTEGER.name: Integer,
    DATETIME.name: lambda: DateTime(timezone=True),
}


class PlainSchema:
    """`plain_<table>` for the client table and every client-record table, ORM-mapped."""

    def __init__(self) -> None:
        self.metadata = MetaData(naming_convention=NAMING_CONVENTION)
        # Only a target for the foreign keys to users; the real table exists and is not created.
        Table("users", self.metadata, Column("id", String(24), primary_key=True))
        self.tables = {model: self._table(model) for model in MODELS}
        self.registry = registry(metadata=self.metadata)
        self.classes: dict[type, type] = {}
        for model in crm.CLIENT_RECORD_MODELS:
            cls = type(f"Plain{model.__name__}", (), {})
            self.registry.map_imperatively(cls, self.tables[model])
            self.classes[model] = cls
        properties = {}
        for rel in inspect(crm.Client).relationships:
            if rel.mapper.class_ in self.classes:
                properties[rel.key] = relationship(self.classes[rel.mapper.class_])
        cls = type("PlainClient", (), {})
        self.registry.map_imperatively(cls, self.tables[crm.Client], properties=properties)
        self.classes[crm.Client] = cls
        # The sections of a client record: relationship name -> model.
        self.sections = {
            rel.key: rel.mapper.class_
            for rel in inspect(crm.Client).relationships
            if rel.mapper.class_ in crm.CLIENT_RECORD_MODELS
        }

    def _table(self, model) -> Table:
        sealed = model.__sealed_fields__
        skip = {f.index_attr for f in sealed.values() if f.blind_index is not None}
        skip.add("data_key_id")
        columns = []
        for col in model.__table__.columns:
            if col.name in skip:
                continue
            field = sealed.get(col.name)
            if field is not None:
                columns.append(Column(col.name, PLAIN_TYPES[field.codec.name](), nullable=True))
                continue
            keys = [
                ForeignKey("plain_clients.id" if fk.column.table.name == "clients"
                           else fk.target_fullname, ondelete=fk.ondelete)
                for fk in col.foreign_keys
            ]
            columns.append(Column(
                col.name, col.type.copy(), *keys, primary_key=col.primary_key,
                nullable=col.nullable, index=col.index,
                default=col.default.arg if col.default is not None else None,
                onupdate=col.onupdate.arg if col.onupdate is not None else None,
            ))
        table = Table(f"plain_{model.__tablename__}", self.metadata, *columns)
        for index in model.__table__.indexes:  # multi-column indexes too, so pages compare
            names = [c.name for c in index.columns]
            if len(names) > 1 and all(n in table.c for n in names):
                Index(f"plain_{index.name}", *(table.c[n] for n in names))
        return table

    def create(self, engine) -> None:
        self.metadata.create_all(engine, tables=list(self.tables.values()))


# ============================================================================================
# Seeding both sides
# ============================================================================================


def _core_executemany(connection, table, rows: list[dict]) -> None:
    if rows:
        connection.execute(insert(table), rows)


# The plaintext side inserts with the same function seeding uses (a driver-level bulk insert,
# `webapp.db.insert_many`, when seeding has one), so both sides pay the same per-row cost.
insert_rows = getattr(seeding, "insert_many", _core_executemany)
INSERT_PATH = ("webapp.db.insert_many" if insert_rows is not _core_executemany
               else "SQLAlchemy Core executemany")


def _agents(connection) -> list[str]:
    return list(connection.scalars(
        select(User.id).where(User.role == Role.AGENT).order_by(User.email)))


def _plain_client_rows(rows: dict, demo: DemoClient, agent_id: str, now: datetime,
                       zone: ZoneInfo) -> None:
    """The rows `seeding._add_client` writes for one demo client, as plaintext."""

    def add(model, **values) -> str:
        row_id = new_record_id()
        rows.setdefault(model, []).append({"id": row_id, **values})
        return row_id

    def utc(local: datetime) -> datetime:
        return local.replace(tzinfo=zone).astimezone(UTC)

    client_id = add(
        crm.Client, agent_id=agent_id, status=crm.ClientStatus.ACTIVE, created_at=now,
        updated_at=now, disposed_at=None, first_name=demo.first_name, last_name=demo.last_name,
        date_of_birth=demo.date_of_birth, ssn=demo.ssn, medicare_id=demo.medicare_id,
        street=demo.street, city=demo.city, state=demo.state, zip=demo.zip, phone=demo.phone,
        email=demo.email,
    )
    common = {"client_id": client_id, "created_at": now}
    plan = demo.plan
    add(crm.PlanEnrollment, **common, status="active", carrier=plan.carrier,
        plan_name=plan.plan_name, plan_type=plan.plan_type, member_id=plan.member_id,
        effective_date=plan.effective_date)
    premium = demo.premium
    add(crm.PremiumPayment, **common, premium_monthly=premium.premium_monthly,
        payment_method=premium.payment_method, billing_day=premium.billing_day)
    for condition in demo.conditions:
        add(crm.Condition, **common, name=condition.name, noted_on=condition.noted_on)
    for medication in demo.medications:
        add(crm.Medication, **common, name=medication.name, dosage=medication.dosage,
            frequency=medication.frequency)
    for provider in demo.providers:
        add(crm.Provider, **common, name=provider.name, specialty=provider.specialty,
            phone=provider.phone)
    for claim in demo.claims:
        add(crm.Claim, **common, status=claim.status, claim_number=claim.claim_number,
            service_date=claim.service_date, description=claim.description,
            amount=claim.amount)
    for appointment in demo.appointments:
        add(crm.Appointment, **common, agent_id=agent_id, starts_at=utc(appointment.starts_at),
            duration_minutes=appointment.duration_minutes,
            status=crm.AppointmentStatus.SCHEDULED, place=appointment.place,
            purpose=appointment.purpose)
    for note in demo.notes:
        add(crm.Note, **common, author_id=agent_id, body=note.body)
    for communication in demo.communications:
        add(crm.Communication, client_id=client_id, user_id=agent_id,
            channel=communication.channel, direction=communication.direction,
            occurred_at=utc(communication.occurred_at), summary=communication.summary)


def seed_plain(inst: Instance, schema: PlainSchema, *, clients: int, today: date,
               timezone: str) -> None:
    """`seed_demo_agency` without encryption: the same generator, the same rows, the same
    batches of BATCH clients, the same bulk insert and one commit per batch."""
    with inst.engine.connect() as connection:
        agents = _agents(connection)
        offset = connection.scalar(
            select(func.count()).select_from(schema.tables[crm.Client])) or 0
    generator = DemoAgencyGenerator(seed=SEED, today=today)
    zone, now = ZoneInfo(timezone), utcnow()
    done = 0
    while done < clients:
        size = min(BATCH, clients - done)
        rows: dict = {}
        for index in range(offset + done, offset + done + size):
            _plain_client_rows(rows, generator.client(index), agents[index % len(agents)], now,
                               zone)
        with inst.engine.begin() as connection:
            for model in INSERT_ORDER:
                insert_rows(connection, schema.tables[model], rows.get(model) or [])
        done += size


def seed_encrypted(inst: Instance, *, clients: int, today: date, timezone: str) -> None:
    with inst.sessions() as session:
        seed_demo_agency(session, inst.keyring, clients=clients, today=today,
                         timezone=timezone, actor=Actor(label="bench"), seed=SEED)


def row_counts(inst: Instance, schema: PlainSchema) -> dict[str, tuple[int, int]]:
    counts = {}
    with inst.engine.connect() as connection:
        for model in MODELS:
            counts[model.__tablename__] = (
                connection.scalar(select(func.count()).select_from(model.__table__)),
                connection.scalar(select(func.count()).select_from(schema.tables[model])),
            )
    return counts


def _place(model, row_id: str) -> SimpleNamespace:
    """What `SealedRecord._seal_context` / `_where` read from a record: its table and id."""
    return SimpleNamespace(__tablename__=model.__tablename__, id=row_id)


def copy_decrypted(inst: Instance, schema: PlainSchema, *, clients: int) -> None:
    """Replace the plain tables' rows with the decrypted values of the encrypted ones (same
    ids), so both sides hold exactly the same records."""
    # A keyring of our own, big enough to hold every client's key while copying.
    keyring = Keyring(inst.keyring.provider, inst.engine, cache_size=clients + 1000)
    with inst.engine.begin() as connection:
        for model in reversed(INSERT_ORDER):
            connection.execute(delete(schema.tables[model]))
        client_ids = list(connection.scalars(select(crm.Client.id).order_by(crm.Client.id)))
        for start in range(0, len(client_ids), 500):
            chunk = client_ids[start:start + 500]
            for model in INSERT_ORDER:
                source, target = model.__table__, schema.tables[model]
                owner = source.c.id if model is crm.Client else source.c.client_id
                names = [c.name for c in target.columns]
                sealed = model.__sealed_fields__
                out = []
                for row in connection.execute(select(source).where(owner.in_(chunk))):
                    values = row._mapping
                    plain = {}
                    for name in names:
                        value = values[name]
                        field = sealed.get(name)
                        if field is not None and value is not None:
                            place = _place(model, values["id"])
                            value = field.codec.decode(keyring.open(
                                value, context=model._seal_context(place, name),
                                where=model._where(place, name)))
                        plain[name] = value
                    out.append(plain)
                insert_rows(connection, target, out)


# ============================================================================================
# Loading
# ============================================================================================


def load_record(session, schema: PlainSchema, client_cls, client_id: str) -> int:
    """One client with every section, reading every PHI attribute; returns fields read."""
    options = [selectinload(getattr(client_cls, name)) for name in schema.sections]
    client = session.scalars(
        select(client_cls).where(client_cls.id == client_id).options(*options)).one()
    read = 0
    for name in crm.Client.__sealed_fields__:
        getattr(client, name)
        read += 1
    for section, model in schema.sections.items():
        fields = model.__sealed_fields__
        for record in getattr(client, section):
            for name in fields:
                getattr(record, name)
                read += 1
    return read


def list_page(session, client_cls, agent_id: str, offset: int, *, read: bool = True) -> list:
    """The client list: 50 clients of one agent in the order /clients uses (created, then
    id; names are sealed, so SQL cannot order by them). `read=False` stops after loading
    the rows, before any PHI attribute is read (so nothing is decrypted)."""
    clients = session.scalars(
        select(client_cls).where(client_cls.agent_id == agent_id)
        .order_by(client_cls.created_at, client_cls.id).limit(PAGE).offset(offset)).all()
    if not read:
        return clients
    if hasattr(client_cls, "data_key_id"):  # the encrypted side unwraps a page's keys at once,
        session.info["keyring"].prefetch(c.data_key_id for c in clients)  # as /clients does
    return [tuple(getattr(c, f) for f in LIST_FIELDS) for c in clients]


def list_page_by_name_encrypted(session, agent_id: str) -> list[tuple]:
    """The first page in name order: SQL cannot sort sealed names, so the whole book is
    loaded and decrypted, sorted in Python."""
    clients = list(session.scalars(select(crm.Client).where(crm.Client.agent_id == agent_id)))
    clients.sort(key=lambda c: (c.last_name, c.first_name))
    return [tuple(getattr(c, f) for f in LIST_FIELDS) for c in clients[:PAGE]]


def list_page_by_name_plain(session, client_cls, agent_id: str) -> list[tuple]:
    clients = session.scalars(
        select(client_cls).where(client_cls.agent_id == agent_id)
        .order_by(client_cls.last_name, client_cls.first_name).limit(PAGE)).all()
    return [tuple(getattr(c, f) for f in LIST_FIELDS) for c in clients]


# ============================================================================================
# The measurements
# ============================================================================================


class Bench:
    def __init__(self, inst: Instance, schema: PlainSchema, args, report: Report):
        self.inst, self.schema, self.args, self.report = inst, schema, args, report
        self.keyring = inst.keyring
        self.PlainClient = schema.classes[crm.Client]
        self.rng = random.Random(SEED)
        self.repeats = args.repeats

    def row(self, key, name, enc, base, unit, baseline_is, runs, target=None) -> Row:
        return self.report.add(Row(key, name, median(enc), median(base), unit, baseline_is,
                                   runs, target))

    # -- 1. per field ------------------------------------------------------------------------

    def fields(self) -> None:
        n, repeats = self.args.ops, self.repeats
        progress(f"1. per-field encrypt/decrypt ({repeats} x {n:,} ops)")
        Client, table = crm.Client, crm.Client.__table__
        with self.inst.engine.connect() as connection:
            ids = list(connection.scalars(select(table.c.id).order_by(table.c.id)))
            sample = self.rng.choice(ids)
            record = connection.execute(
                select(table.c.data_key_id, table.c.last_name).where(table.c.id == sample)
            ).one()
        place = _place(Client, sample)
        context, where = Client._seal_context(place, "last_name"), Client._where(place, "last_name")
        keyring, key_id, envelope = self.keyring, record.data_key_id, record.last_name
        plaintext = keyring.open(envelope, context=context, where=where)
        seal = keyring.sealer(key_id)
        # The floor: the AEAD call alone, same plaintext, same associated-data length.
        aes, nonce = AESGCM(AESGCM.generate_key(bit_length=256)), os.urandom(12)
        aad = envelope[:HEADER_BYTES] + context
        ciphertext = aes.encrypt(nonce, plaintext, aad)

        def floor_encrypt(k):
            for _ in range(k):
                aes.encrypt(nonce, plaintext, aad)

        def floor_decrypt(k):
            for _ in range(k):
                aes.decrypt(nonce, ciphertext, aad)

        def sealer(k):
            for _ in range(k):
                seal(plaintext, context)

        def seal_lookup(k):
            for _ in range(k):
                keyring.seal(plaintext, key_id=key_id, context=context)

        def open_(k):
            for _ in range(k):
                keyring.open(envelope, context=context, where=where)

        runs = f"{repeats}x{n:,} ops"
        enc, base = interleaved(repeats, lambda: per_op(sealer, n),
                                lambda: per_op(floor_encrypt, n))
        self.row("1a", "field encrypt: keyring.sealer(key_id)(pt, ctx)", enc, base, US,
                 "raw AESGCM.encrypt", runs)
        floor_enc = base
        enc, base = interleaved(repeats, lambda: per_op(seal_lookup, n),
                                lambda: per_op(floor_encrypt, n))
        self.row("1b", "field encrypt: keyring.seal (key looked up per call)", enc, base, US,
                 "raw AESGCM.encrypt", runs)
        floor_enc += base
        enc, base = interleaved(repeats, lambda: per_op(open_, n), lambda: per_op(floor_decrypt, n))
        self.row("1c", "field decrypt: keyring.open(envelope, ...)", enc, base, US,
                 "raw AESGCM.decrypt", runs, Target("<= 5 µs", 5e-6))
        floor_dec = base

        # Through the model: rows loaded by one query (not timed), then the attribute reads.
        k_read = min(self.args.model_rows, len(ids))
        read_ids = self.rng.sample(ids, k_read)

        def model_read(client_cls):
            def run() -> float:
                with self.inst.sessions() as session:
                    rows = session.scalars(
                        select(client_cls).where(client_cls.id.in_(read_ids))).all()
                    return timed(lambda: [r.last_name for r in rows]) / len(rows)
            return run

        model_read(Client)()  # warm: every sampled client's key in the keyring's cache
        enc, base = interleaved(repeats, model_read(Client), model_read(self.PlainClient))
        runs_read = f"{repeats}x{k_read:,} rows"
        self.row("1d", "field decrypt: read client.last_name, fresh row", enc, base, US,
                 "plain ORM read", runs_read, Target("<= 5 µs", 5e-6))
        self.row("1e", "  1d minus its plain read (the model-path decrypt)",
                 [e - b for e, b in zip(enc, base, strict=True)], floor_dec, US,
                 "raw AESGCM.decrypt", runs_read, Target("<= 5 µs", 5e-6))

        k_write = min(self.args.model_rows // 2, len(ids))
        write_ids = self.rng.sample(ids, k_write)

        def model_write(client_cls):
            def run() -> float:
                with self.inst.sessions() as session:
                    rows = session.scalars(
                        select(client_cls).where(client_cls.id.in_(write_ids))).all()
                    values = [r.last_name + "x" for r in rows]  # a change, so the ORM flushes

                    def write():
                        for r, v in zip(rows, values, strict=True):
                            r.last_name = v
                        session.flush()

                    seconds = timed(write) / len(rows)
                    session.rollback()
                    return seconds
            return run

        model_write(Client)()
        enc, base = interleaved(repeats, model_write(Client), model_write(self.PlainClient))
        runs_write = f"{repeats}x{k_write:,} rows"
        self.row("1f", "field encrypt: set client.last_name + flush", enc, base, US,
                 "plain ORM set+flush", runs_write)
        self.row("1g", "  1f minus its plain set+flush (the model-path encrypt)",
                 [e - b for e, b in zip(enc, base, strict=True)], floor_enc, US,
                 "raw AESGCM.encrypt", runs_write)

    # -- 2. one full client record -----------------------------------------------------------

    def record(self) -> None:
        repeats = self.repeats
        Client = crm.Client
        with self.inst.engine.connect() as connection:
            complete = [
                exists().where(model.__table__.c.client_id == Client.__table__.c.id)
                for model in crm.CLIENT_RECORD_MODELS
            ]
            candidates = list(connection.scalars(
                select(Client.__table__.c.id).where(*complete).order_by(Client.__table__.c.id)
                .limit(5000)))
        if not candidates:
            progress("2. no client has a row in every section; skipping the record load")
            return
        ids = self.rng.sample(candidates, min(self.args.records, len(candidates)))
        progress(f"2. full client record ({repeats} x {len(ids)} records, "
                 f"{len(candidates)} clients have every section)")
        fields_read = []

        def load_all(client_cls, cold: bool):
            def run() -> float:
                total = 0.0
                for client_id in ids:
                    if cold:
                        self.keyring.forget_cached_keys()
                    with self.inst.sessions() as session:
                        start = clock()
                        fields_read.append(load_record(session, self.schema, client_cls,
                                                       client_id))
                        total += clock() - start
                return total / len(ids)
            return run

        load_all(Client, False)()  # warm the keys and SQLite's page cache
        load_all(self.PlainClient, False)()
        runs = f"{repeats}x{len(ids)} records"
        enc, base = interleaved(repeats, load_all(Client, False),
                                load_all(self.PlainClient, False))
        self.row("2a", "load + decrypt 1 full client record (key cached)", enc, base, MS,
                 "plain tables", runs)
        enc, base = interleaved(repeats, load_all(Client, True),
                                load_all(self.PlainClient, False))
        self.row("2b", "load + decrypt 1 full client record (key not cached)", enc, base, MS,
                 "plain tables", runs)
        self.report.notes.append(
            f"2: a full record = the client + {len(self.schema.sections)} sections loaded with "
            f"selectinload, every PHI attribute read: {min(fields_read)}-{max(fields_read)} "
            "fields per record (median "
            f"{int(median([float(f) for f in fields_read]))}).")

    # -- 3. the 50-row client list -----------------------------------------------------------

    def list_pages(self) -> None:
        repeats = self.repeats
        with self.inst.engine.connect() as connection:
            agent_id = _agents(connection)[0]
            book = connection.scalar(select(func.count()).select_from(crm.Client.__table__)
                                     .where(crm.Client.__table__.c.agent_id == agent_id))
        pages = max(1, min(self.args.pages, book // PAGE))
        progress(f"3. list page ({repeats} x {pages} pages of {PAGE}; the agent has {book:,} "
                 "clients)")

        def pages_run(client_cls, cold: bool, read: bool = True):
            def run() -> float:
                total = 0.0
                for page in range(pages):
                    if cold:
                        self.keyring.forget_cached_keys()
                    with self.inst.sessions() as session:
                        start = clock()
                        list_page(session, client_cls, agent_id, page * PAGE, read=read)
                        total += clock() - start
                return total / pages
            return run

        pages_run(crm.Client, False)()
        pages_run(self.PlainClient, False)()
        target = Target("<= 1.5x", 1.5, on="ratio")
        runs = f"{repeats}x{pages} pages"
        enc, base = interleaved(repeats, pages_run(crm.Client, False),
                                pages_run(self.PlainClient, False))
        self.row("3a", f"list page: {PAGE} clients of 1 agent, 4 fields (keys cached)", enc,
                 base, MS, "plain table", runs, target)
        enc, base = interleaved(repeats, pages_run(crm.Client, True),
                                pages_run(self.PlainClient, False))
        self.row("3b", f"list page: {PAGE} clients of 1 agent, 4 fields (keys not cached)", enc,
                 base, MS, "plain table", runs, target)
        enc, base = interleaved(repeats, pages_run(crm.Client, False, read=False),
                                pages_run(self.PlainClient, False, read=False))
        self.row("3c", "  3a's query alone: rows loaded, nothing decrypted", enc, base, MS,
                 "plain table", runs)

        by_name_repeats = max(3, repeats // 2)

        def by_name(encrypted: bool):
            def run() -> float:
                with self.inst.sessions() as session:
                    if encrypted:
                        return timed(lambda: list_page_by_name_encrypted(session, agent_id))
                    return timed(lambda: list_page_by_name_plain(session, self.PlainClient,
                                                                 agent_id))
            return run

        by_name(True)()
        enc, base = interleaved(by_name_repeats, by_name(True), by_name(False))
        self.row("3d", f"list page in name order (decrypts the agent's {book:,} clients)", enc,
                 base, MS, "plain ORDER BY", f"{by_name_repeats} pages", target)

    # -- 4. seeding --------------------------------------------------------------------------

    def seed(self, *, today: date, timezone: str) -> None:
        clients, chunks = self.args.clients, max(1, min(self.args.seed_chunks, self.args.clients))
        sizes = [clients // chunks + (1 if i < clients % chunks else 0) for i in range(chunks)]
        progress(f"4. seeding {clients:,} clients on each side, in {chunks} interleaved chunks "
                 f"of ~{sizes[0]:,}")
        enc_rates, plain_rates = [], []
        enc_total = plain_total = 0.0
        for i, size in enumerate(sizes):
            def encrypted(size=size) -> float:
                return timed(lambda: seed_encrypted(self.inst, clients=size, today=today,
                                                    timezone=timezone))

            def plain(size=size) -> float:
                return timed(lambda: seed_plain(self.inst, self.schema, clients=size,
                                                today=today, timezone=timezone))

            order = (("enc", encrypted), ("plain", plain))
            for side, run in order if i % 2 == 0 else reversed(order):
                seconds = run()
                if side == "enc":
                    enc_rates.append(size / seconds)
                    enc_total += seconds
                else:
                    plain_rates.append(size / seconds)
                    plain_total += seconds
            progress(f"   chunk {i + 1}/{chunks}: encrypted {enc_rates[-1]:,.0f} clients/s, "
                     f"plain {plain_rates[-1]:,.0f} clients/s")
        target = Target(">= 2,000/s", 2000, at_most=False)
        self.row("4a", f"demo seed: seed_demo_agency, {clients:,} clients (median chunk)",
                 enc_rates, plain_rates, PER_S, "plain, same insert",
                 f"{chunks} chunks of ~{sizes[0]:,}", target)
        self.row("4b", f"demo seed: seed_demo_agency, {clients:,} clients (whole run)",
                 [clients / enc_total], [clients / plain_total], PER_S, "plain, same insert",
                 f"1 run, {enc_total:.0f} s vs {plain_total:.0f} s", target)


# ============================================================================================
# Profiling (--profile): one extra run of the encrypted side of a phase, under cProfile
# ============================================================================================


def profile(bench: Bench, phase: str, *, today: date, timezone: str) -> str:
    inst, schema = bench.inst, bench.schema
    with inst.engine.connect() as connection:
        agent_id = _agents(connection)[0]
        ids = list(connection.scalars(select(crm.Client.id).limit(2000)))
    profiler = cProfile.Profile()
    if phase == "seed":
        profiler.runcall(seed_encrypted, inst, clients=bench.args.profile_clients, today=today,
                         timezone=timezone)
    elif phase == "record":
        def records():
            for client_id in ids[:200]:
                with inst.sessions() as session:
                    load_record(session, schema, crm.Client, client_id)
        records()
        profiler.runcall(records)
    elif phase == "list":
        def pages():
            for page in range(10):
                with inst.sessions() as session:
                    list_page(session, crm.Client, agent_id, page * PAGE)
        pages()
        profiler.runcall(pages)
    elif phase == "read":
        with inst.sessions() as session:
            rows = session.scalars(select(crm.Client).where(crm.Client.id.in_(ids))).all()
            profiler.runcall(lambda: [[getattr(r, f) for f in crm.Client.__sealed_fields__]
                                      for r in rows])
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)
    return out.getvalue()


# ============================================================================================


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=20_000,
                        help="clients to seed on each side (default 20,000)")
    parser.add_argument("--repeats", type=int, default=7,
                        help="repeated runs per measurement; the table shows medians")
    parser.add_argument("--seed-chunks", type=int, default=5,
                        help="the seed is timed in this many interleaved chunks")
    parser.add_argument("--ops", type=int, default=20_000, help="operations per field sample")
    parser.add_argument("--model-rows", type=int, default=1_000,
                        help="rows per model-path field sample (half of it for writes)")
    parser.add_argument("--records", type=int, default=50, help="client records per sample")
    parser.add_argument("--pages", type=int, default=10, help="list pages per sample")
    parser.add_argument("--profile", choices=("seed", "record", "list", "read"),
                        help="also profile the encrypted side of one phase (cProfile)")
    parser.add_argument("--profile-clients", type=int, default=2_000,
                        help="clients seeded under the profiler with --profile seed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance")
    args = parser.parse_args(argv)
    if args.clients < 1:
        parser.error("--clients must be at least 1")

    started = time.perf_counter()
    load_before = machine_line()
    with throwaway_instance(keep=args.keep) as inst:
        schema = PlainSchema()
        schema.create(inst.engine)
        with inst.sessions() as session:
            timezone = get_setting(session, "agency_timezone")
        today = datetime.now(ZoneInfo(timezone)).date()
        report = Report("")
        bench = Bench(inst, schema, args, report)

        bench.seed(today=today, timezone=timezone)
        counts = row_counts(inst, schema)
        same = all(enc == plain for enc, plain in counts.values())
        rows_per_client = sum(enc for enc, _ in counts.values()) / counts["clients"][0]
        progress("   copying the decrypted rows into the plain tables (not timed)")
        copy_decrypted(inst, schema, clients=args.clients)
        copied = row_counts(inst, schema)
        if copied != {name: (enc, enc) for name, (enc, _) in copied.items()}:
            raise SystemExit(f"the decrypted copy does not match the encrypted rows: {copied}")

        bench.fields()
        bench.record()
        bench.list_pages()
        # Seeding ran first (on an empty database, like `flask demo seed`); show it last.
        report.rows.sort(key=lambda row: row.key)
        elapsed = time.perf_counter() - started

        report.title = "\n".join([
            f"SafeHarbor encryption overhead: {args.clients:,} demo clients "
            f"({rows_per_client:.1f} PHI rows each), SQLite in a temporary folder",
            f"{machine_line()} (at start: {load_before.split('load average ')[1]})",
            "Each figure is the median of the runs named on its line; encrypted and plaintext "
            "runs are interleaved.",
            "ratio = encrypted cost / plaintext cost (for rates: plaintext rate / encrypted "
            "rate); > 1 means slower.",
        ])
        report.notes += [
            "1a-1c use one real client's last_name (same bytes, same associated data) through "
            "the Keyring API; 1d/1f go through the model attribute on rows loaded by one query.",
            "1e/1g subtract the plaintext ORM figure from the encrypted one, leaving the cost "
            "the model path adds per field, shown beside the bare AES-GCM call.",
            "'key cached': the client's data key is in the keyring's in-process cache "
            "(20,000 keys, 5 min); 'not cached': forget_cached_keys() before each "
            "record/page, as after an idle period or a restart.",
            "3a-3c list clients in id order (the order search_clients uses; SQL cannot order "
            "sealed names); 3c stops before reading any PHI attribute, so it is the cost of the "
            "wider encrypted rows alone. 3d is the first page in name order.",
            "4: both sides generate the same demo clients (DemoAgencyGenerator, seed "
            f"{SEED}) and insert them in batches of {BATCH:,} clients with {INSERT_PATH}, one "
            "commit per batch; the plaintext side writes no data keys and no blind indexes. "
            + ("Both sides inserted the same number of rows in every table."
               if same else f"Row counts differ: {counts}"),
            f"Total run time {elapsed:.0f} s; the temporary instance is deleted on exit.",
        ]
        print(report.render())
        sys.stdout.flush()
        if args.profile:
            progress(f"profiling the encrypted side of '{args.profile}'")
            print(f"\ncProfile, encrypted side of '{args.profile}':\n")
            print(profile(bench, args.profile, today=today, timezone=timezone))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
