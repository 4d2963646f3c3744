"""What a role may see: every client field's data class (one table), every role's data classes
(one table), and whose clients a person may see at all.

Projections (`webapp.access.projections`) apply these tables; nothing else decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import AssistantLink, Role, User


class DataClass(StrEnum):
    IDENTITY = "identity"
    CONTACT = "contact"
    SCHEDULE = "schedule"
    PLAN = "plan"
    MEDICAL = "medical"
    FINANCIAL = "financial"
    CLAIMS = "claims"
    GOVERNMENT_ID = "government_id"


IDENTITY, CONTACT, SCHEDULE, PLAN, MEDICAL, FINANCIAL, CLAIMS, GOVERNMENT_ID = DataClass

# Every PHI field, by record kind, and its data class. A field missing here is shown to no one.
FIELD_CLASSES: dict[str, dict[str, DataClass]] = {
    "client": {
        "first_name": IDENTITY, "last_name": IDENTITY, "date_of_birth": IDENTITY,
        "ssn": GOVERNMENT_ID, "ssn_last4": GOVERNMENT_ID, "medicare_id": GOVERNMENT_ID,
        "street": CONTACT, "city": CONTACT, "state": CONTACT, "zip": CONTACT,
        "phone": CONTACT, "email": CONTACT,
    },
    "enrollment": {name: PLAN for name in ("carrier", "plan_name", "plan_type", "member_id",
                                           "effective_date", "end_date", "status")},
    "condition": {"name": MEDICAL, "noted_on": MEDICAL},
    "medication": {"name": MEDICAL, "dosage": MEDICAL, "frequency": MEDICAL},
    "provider": {"name": MEDICAL, "specialty": MEDICAL, "phone": MEDICAL},
    "claim": {name: CLAIMS for name in ("claim_number", "service_date", "description",
                                        "amount", "status")},
    "premium": {"premium_monthly": FINANCIAL, "payment_method": FINANCIAL,
                "billing_day": FINANCIAL},
    # NOTE: the schedule carries the client's name and phone as schedule data, so an assistant
    # can call ahead without seeing the client record itself (no date of birth, no address
    # beyond the appointment's place).
    "appointment": {name: SCHEDULE for name in ("starts_at", "duration_minutes", "status",
                                                "place", "purpose", "client_name",
                                                "client_phone")},
    "note": {"body": MEDICAL, "created_at": MEDICAL},
    "communication": {"channel": CONTACT, "direction": CONTACT, "summary": CONTACT,
                      "occurred_at": CONTACT},
}

# Which data classes each role may see (of the clients it may see at all).
ROLE_CLASSES: dict[Role, frozenset[DataClass]] = {
    Role.AGENT: frozenset(DataClass),
    Role.ASSISTANT: frozenset({DataClass.SCHEDULE}),
    Role.ADMIN: frozenset(),  # manages people and devices; no PHI by default
    Role.COMPLIANCE: frozenset(),  # audit data, not PHI
}


def allowed_classes(role: Role | str) -> frozenset[DataClass]:
    return ROLE_CLASSES[Role(role)]


def allowed_fields(kind: str, classes: Iterable[DataClass]) -> frozenset[str]:
    granted = set(classes)
    return frozenset(name for name, data_class in FIELD_CLASSES[kind].items()
                     if data_class in granted)


def schedule_agent_ids(db: Session, viewer: User) -> list[str]:
    """Whose schedules a person may see and book: an agent their own, an assistant those of
    the agents they support, anyone else nobody's."""
    if viewer.role == Role.AGENT:
        return [viewer.id]
    if viewer.role == Role.ASSISTANT:
        return list(db.scalars(select(AssistantLink.agent_id)
                               .where(AssistantLink.assistant_id == viewer.id)))
    return []


def may_open_client_card(viewer: User, client_agent_id: str, *,
                         emergency_grant: bool = False) -> bool:
    """Only agents open client cards: their own clients, or another agent's under an active
    emergency ("break the glass") grant."""
    if viewer.role != Role.AGENT:
        return False
    return client_agent_id == viewer.id or emergency_grant
