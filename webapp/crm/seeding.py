"""Seeding a demo agency: staff, and clients with every kind of PHI, inserted in bulk.

Rows go in through `executemany` with the same envelopes and blind indexes the ORM path
writes (`SealedRecord.sealed_row`), so seeded data is indistinguishable from typed-in data.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..audit import Actor, AuditTag, record_event
from ..auth.models import AssistantLink, Role, User, UserStatus
from ..crypto import Keyring
from ..crypto.models import DataKey
from ..db import insert_many, new_record_id, refresh_planner_statistics, utcnow
from .demo_data import DemoAgencyGenerator, DemoClient, demo_assistant_links, demo_staff
from .models import (
    Appointment,
    AppointmentStatus,
    Claim,
    Client,
    ClientStatus,
    Communication,
    Condition,
    Medication,
    Note,
    PlanEnrollment,
    PremiumPayment,
    Provider,
)

BATCH = 1000


def ensure_demo_staff(session: Session) -> dict[str, User]:
    """The demo agency's people, by email; created the first time."""
    people = {u.email: u for u in session.scalars(select(User))}
    for member in demo_staff():
        if member.email not in people:
            user = User(email=member.email, display_name=member.display_name,
                        role=Role(member.role), status=UserStatus.INVITED)
            session.add(user)
            people[member.email] = user
    session.flush()
    existing = {
        (link.assistant_id, link.agent_id) for link in session.scalars(select(AssistantLink))
    }
    for assistant_email, agent_email in demo_assistant_links():
        pair = (people[assistant_email].id, people[agent_email].id)
        if pair not in existing:
            session.add(AssistantLink(assistant_id=pair[0], agent_id=pair[1]))
    session.flush()
    return people


class _Rows:
    """Rows for one batch, per model, ready for executemany."""

    def __init__(self, keyring: Keyring, zone: ZoneInfo):
        self.keyring, self.zone = keyring, zone
        self.by_model: dict[type, list[dict]] = {}

    def add(self, model, *, seal, **values) -> str:
        row_id = new_record_id()
        row = model.sealed_row_with(self.keyring, seal, row_id=row_id, **values)
        self.by_model.setdefault(model, []).append(row)
        return row_id

    def utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.zone).astimezone(ZoneInfo("UTC"))


def _add_client(rows: _Rows, demo: DemoClient, agent_id: str, now: datetime) -> None:
    key = rows.keyring.new_data_key("client")
    rows.by_model.setdefault(DataKey, []).append(key.as_row())
    k = key.id
    seal = rows.keyring.sealer(k)
    client_id = rows.add(
        Client, seal=seal, agent_id=agent_id, data_key_id=k, status=ClientStatus.ACTIVE,
        created_at=now, updated_at=now,
        first_name=demo.first_name, last_name=demo.last_name, date_of_birth=demo.date_of_birth,
        ssn=demo.ssn, medicare_id=demo.medicare_id, street=demo.street, city=demo.city,
        state=demo.state, zip=demo.zip, phone=demo.phone, email=demo.email,
    )
    common = {"seal": seal, "client_id": client_id, "created_at": now}
    plan = demo.plan
    rows.add(PlanEnrollment, **common, status="active", carrier=plan.carrier,
             plan_name=plan.plan_name, plan_type=plan.plan_type, member_id=plan.member_id,
             effective_date=plan.effective_date)
    premium = demo.premium
    rows.add(PremiumPayment, **common, premium_monthly=premium.premium_monthly,
             payment_method=premium.payment_method, billing_day=premium.billing_day)
    for condition in demo.conditions:
        rows.add(Condition, **common, name=condition.name, noted_on=condition.noted_on)
    for medication in demo.medications:
        rows.add(Medication, **common, name=medication.name, dosage=medication.dosage,
                 frequency=medication.frequency)
    for provider in demo.providers:
        rows.add(Provider, **common, name=provider.name, specialty=provider.specialty,
                 phone=provider.phone)
    for claim in demo.claims:
        rows.add(Claim, **common, status=claim.status, claim_number=claim.claim_number,
                 service_date=claim.service_date, description=claim.description,
                 amount=claim.amount)
    for appointment in demo.appointments:
        rows.add(Appointment, **common, agent_id=agent_id,
                 starts_at=rows.utc(appointment.starts_at),
                 duration_minutes=appointment.duration_minutes,
                 status=AppointmentStatus.SCHEDULED, place=appointment.place,
                 purpose=appointment.purpose)
    for note in demo.notes:
        rows.add(Note, **common, author_id=agent_id, body=note.body)
    for communication in demo.communications:
        rows.add(Communication, seal=seal, client_id=client_id, user_id=agent_id,
                 channel=communication.channel, direction=communication.direction,
                 occurred_at=rows.utc(communication.occurred_at), summary=communication.summary)


_INSERT_ORDER = (DataKey, Client, PlanEnrollment, PremiumPayment, Condition, Medication, Provider,
                 Claim, Appointment, Note, Communication)


def seed_demo_agency(
    session: Session,
    keyring: Keyring,
    *,
    clients: int,
    today: date,
    timezone: str,
    actor: Actor,
    seed: int = 2026,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Create the demo staff (first time) and `clients` more clients spread over the agents.

    Commits after each batch so a large seed shows progress and holds little memory; the
    audit event (a count, never values) commits with the last batch.
    """
    if clients < 0:
        raise ValueError("the number of clients cannot be negative")
    people = ensure_demo_staff(session)
    agents = sorted((u for u in people.values() if u.role == Role.AGENT), key=lambda u: u.email)
    if not agents:
        raise ValueError("the demo agency has no agents")
    session.commit()
    offset = session.scalar(select(func.count()).select_from(Client)) or 0  # new people each run
    generator = DemoAgencyGenerator(seed=seed, today=today)
    zone, now = ZoneInfo(timezone), utcnow()
    done = 0
    while done < clients:
        size = min(BATCH, clients - done)
        rows = _Rows(keyring, zone)
        for index in range(offset + done, offset + done + size):
            _add_client(rows, generator.client(index), agents[index % len(agents)].id, now)
        connection = session.connection()
        for model in _INSERT_ORDER:
            batch = rows.by_model.get(model)
            insert_many(connection, model.__table__, batch or [])
        done += size
        if done == clients:
            record_event(session, AuditTag.SYSTEM_DEMO_SEED, actor=actor,
                         details={"clients": clients})
        session.commit()
        progress(size)
    if clients:
        refresh_planner_statistics(session)
        session.commit()
    if clients == 0:
        record_event(session, AuditTag.SYSTEM_DEMO_SEED, actor=actor, details={"clients": 0})
        session.commit()
    return clients
