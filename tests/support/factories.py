"""Test data factories: real models through the real sealing path."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from webapp.auth.models import Role, User, UserStatus
from webapp.crm.models import (
    Appointment,
    Claim,
    Client,
    Communication,
    Condition,
    Medication,
    Note,
    PlanEnrollment,
    PremiumPayment,
    Provider,
)

_numbers = itertools.count(1)


class Factories:
    def __init__(self, session):
        self.session = session

    def user(self, role: Role = Role.AGENT, **values) -> User:
        n = next(_numbers)
        user = User(
            email=values.pop("email", f"user{n}@example.com"),
            display_name=values.pop("display_name", f"User {n}"),
            role=role,
            status=values.pop("status", UserStatus.ACTIVE),
            **values,
        )
        self.session.add(user)
        self.session.flush()
        return user

    def client(self, agent: User | None = None, **values) -> Client:
        agent = agent or self.user(Role.AGENT)
        defaults = {
            "first_name": "Maria",
            "last_name": "Alvarez",
            "date_of_birth": date(1948, 6, 2),
            "phone": "(555) 010-2233",
        }
        client = Client(agent_id=agent.id, **{**defaults, **values})
        self.session.add(client)
        self.session.flush()
        return client

    def full_client(self, agent: User | None = None, canary: str = "",
                    appointment_at=None) -> Client:
        """A client with a row in every PHI table; every text field carries `canary`."""
        from datetime import UTC, datetime

        c = canary
        client = self.client(
            agent,
            first_name=f"First{c}", last_name=f"Last{c}", ssn=f"900-11-{c}ssn",
            medicare_id=f"MBI{c}", street=f"1 {c} Street", city=f"City{c}", state=f"S{c}",
            zip=f"Z{c}", phone="(555) 010-7788", email=f"{c}@example.org",
        )
        author = self.session.get(User, client.agent_id)
        self.session.add_all([
            PlanEnrollment(client=client, carrier=f"Carrier{c}", plan_name=f"Plan{c}",
                           plan_type=f"Type{c}", member_id=f"M{c}",
                           effective_date=date(2026, 1, 1)),
            Condition(client=client, name=f"Condition{c}", noted_on=date(2020, 5, 1)),
            Medication(client=client, name=f"Med{c}", dosage=f"{c}mg", frequency=f"Daily{c}"),
            Provider(client=client, name=f"Dr{c}", specialty=f"Spec{c}", phone=f"Ph{c}"),
            Claim(client=client, status=f"paid{c}", claim_number=f"CL{c}",
                  service_date=date(2026, 2, 3), description=f"Visit{c}",
                  amount=Decimal("120.50")),
            PremiumPayment(client=client, premium_monthly=Decimal("31.20"),
                           payment_method=f"Card{c}", billing_day=5),
            Appointment(client=client, agent_id=client.agent_id,
                        starts_at=appointment_at or datetime(2026, 12, 3, 15, 0, tzinfo=UTC),
                        place=f"Place{c}", purpose=f"Purpose{c}"),
            Note(client=client, author_id=author.id, body=f"Note{c}"),
            Communication(client=client, user_id=author.id, channel="call",
                          direction="outbound", summary=f"Summary{c}"),
        ])
        self.session.flush()
        return client
