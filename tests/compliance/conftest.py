"""An agency for compliance review: a client's agent, a second agent who may break the glass,
and a compliance officer, all signed in on approved phones; the client's every PHI field
carries the canary `CANARY`."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from webapp.auth.models import User

CANARY = "Cmp1~"


@dataclass
class Agency:
    owner: object  # Phone
    glass: object  # Phone: the agent who asks for emergency access
    officer: object  # Phone: the compliance officer
    client: object  # the canary client (a model: tests only read its id)

    def user_id(self, session, email: str) -> str:
        return session.scalar(select(User.id).where(User.email == email))


@pytest.fixture
def agency(session, factories, signed_in) -> Agency:
    owner = signed_in("owner@example.com", "agent")
    glass = signed_in("glass@example.com", "agent")
    officer = signed_in("officer@example.com", "compliance")
    owner_user = session.scalar(select(User).where(User.email == "owner@example.com"))
    client = factories.full_client(owner_user, canary=CANARY)
    session.commit()
    return Agency(owner=owner, glass=glass, officer=officer, client=client)
