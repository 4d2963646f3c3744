"""Reading and writing a client's record for a viewer: every read goes through the access
policy and comes back as projections; every read and write is audited (ids, never values)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..access.models import EmergencyAccess
from ..access.policy import (
    allowed_classes,
    allowed_fields,
    may_open_client_card,
    schedule_agent_ids,
)
from ..access.projections import Projection, project
from ..audit import Actor, AuditTag, PendingEvent, record_event, record_events
from ..auth.models import Role, User
from ..crypto import DISPOSED, Keyring
from .models import (
    Appointment,
    AppointmentStatus,
    Channel,
    Client,
    ClientStatus,
    Communication,
    Direction,
    Note,
)
from .search import client_search_statement

EMERGENCY_WINDOW = timedelta(hours=1)
NOTE_MAX = 4000
SUMMARY_MAX = 1000


class ClientNotVisible(LookupError):
    """The client does not exist, or this person may not see them: the same answer (404) for
    both, so ids cannot be probed."""


class InvalidInput(ValueError):
    """Bad input from a person; `field` names the form field, the message says what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# -- who may see which client --------------------------------------------------------------------

def active_grant(db: Session, user_id: str, client_id: str, now: datetime
                 ) -> EmergencyAccess | None:
    return db.scalar(select(EmergencyAccess).where(
        EmergencyAccess.user_id == user_id, EmergencyAccess.client_id == client_id,
        EmergencyAccess.expires_at > now).limit(1))


def visible_client(db: Session, viewer: User, client_id: str, *, now: datetime,
                   actor: Actor) -> Client:
    client = db.get(Client, client_id) if isinstance(client_id, str) and len(client_id) <= 24 \
        else None
    visible = (client is not None and client.status != ClientStatus.DISPOSED
               and may_open_client_card(viewer, client.agent_id, emergency_grant=(
                   client.agent_id != viewer.id
                   and active_grant(db, viewer.id, client.id, now) is not None)))
    if not visible:
        record_event(db, AuditTag.CLIENT_RECORD_VIEW, actor=actor, outcome="refused",
                     reason="not_visible", record_type="client",
                     record_id=client_id[:40] if isinstance(client_id, str) else None)
        raise ClientNotVisible(client_id)  # the view commits the refusal event
    return client


def grant_emergency_access(db: Session, *, viewer: User, client_id: str, reason: str,
                           now: datetime, actor: Actor) -> EmergencyAccess:
    """Break the glass: an agent opens another agent's client for an hour, with a reason.
    The grant is audited (and so shown to compliance); the reason stays in the grant."""
    reason = " ".join((reason or "").split())
    if not 10 <= len(reason) <= 500:
        raise InvalidInput("reason", "Say why you need this client's record (10 to 500 "
                                     "characters).")
    client = db.get(Client, client_id) if len(client_id or "") <= 24 else None
    if viewer.role != Role.AGENT or client is None or client.status == ClientStatus.DISPOSED:
        raise ClientNotVisible(client_id)
    if client.agent_id == viewer.id:
        raise InvalidInput("reason", "This is your own client: no emergency access is needed.")
    grant = EmergencyAccess(user_id=viewer.id, client_id=client.id, reason=reason,
                            granted_at=now, expires_at=now + EMERGENCY_WINDOW)
    db.add(grant)
    db.flush()
    record_event(db, AuditTag.CLIENT_EMERGENCY_GRANT, actor=actor, record_type="emergency",
                 record_id=grant.id, client_id=client.id,
                 details={"minutes": int(EMERGENCY_WINDOW.total_seconds() // 60),
                          "owner_agent_id": client.agent_id})
    return grant


def record_view(db: Session, actor: Actor, client_ids: Sequence[str], what: str, *,
                after: Sequence[PendingEvent] = ()) -> None:
    """One view event per client shown (each client's own access history stays complete),
    appended in one batch with the `after` events (the search that found them, say)."""
    record_events(db, [*after, *(
        PendingEvent(AuditTag.CLIENT_RECORD_VIEW, actor, record_type="client",
                     record_id=client_id, client_id=client_id, details={"view": what})
        for client_id in dict.fromkeys(client_ids))])


# -- projections ---------------------------------------------------------------------------------

class _ClientFields:
    """The client as projections read it: the SSN only as its last four digits."""

    def __init__(self, client: Client):
        self._client = client

    def __getattr__(self, name: str):
        if name == "ssn_last4":
            ssn = self._client.ssn
            if not ssn or ssn is DISPOSED:
                return None
            digits = "".join(ch for ch in ssn if ch.isdigit())
            return f"•••-••-{digits[-4:]}" if len(digits) >= 4 else None
        if name == "ssn":
            raise AttributeError(name)  # revealing is its own audited action
        return getattr(self._client, name)


_CLIENT_VIEW_FIELDS = ("first_name", "last_name", "date_of_birth", "ssn_last4", "medicare_id",
                       "street", "city", "state", "zip", "phone", "email")


def client_projection(client: Client, classes) -> Projection:
    fields = _ClientFields(client)
    values = {}
    for name in allowed_fields("client", classes):
        if name in _CLIENT_VIEW_FIELDS:
            values[name] = getattr(fields, name)
    return project("client", values, classes, always={"id": client.id})


@dataclass(frozen=True)
class ClientCard:
    client: Projection
    sections: dict[str, list[Projection]] = field(default_factory=dict)


SECTION_KINDS = {
    "enrollments": "enrollment", "conditions": "condition", "medications": "medication",
    "providers": "provider", "claims": "claim", "premiums": "premium",
    "appointments": "appointment", "notes": "note", "communications": "communication",
}


def _sort_key(kind: str):
    return {
        "note": lambda r: r.created_at, "communication": lambda r: r.occurred_at,
        "appointment": lambda r: r.starts_at,
    }.get(kind, lambda r: r.created_at)


def section_projections(client: Client, section: str, classes) -> list[Projection]:
    kind = SECTION_KINDS[section]
    rows = sorted(getattr(client, section), key=_sort_key(kind),
                  reverse=kind in ("note", "communication"))
    if kind == "appointment":
        rows = [r for r in rows if r.status != AppointmentStatus.CANCELLED]
    return [project(kind, row, classes, always={"id": row.id}) for row in rows]


def client_card(viewer: User, client: Client) -> ClientCard:
    classes = allowed_classes(viewer.role)
    return ClientCard(client_projection(client, classes),
                      {name: section_projections(client, name, classes)
                       for name in SECTION_KINDS})


def appointment_projection(appointment: Appointment, classes, zone: ZoneInfo) -> Projection:
    client = appointment.client
    values = {
        "starts_at": appointment.starts_at.astimezone(zone),
        "duration_minutes": appointment.duration_minutes,
        "status": appointment.status.value,
        "place": appointment.place,
        "purpose": appointment.purpose,
        "client_name": f"{client.first_name} {client.last_name}",
        "client_phone": client.phone,
    }
    return project("appointment", values, classes,
                   always={"id": appointment.id, "client_id": client.id,
                           "agent_id": appointment.agent_id})


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class TodayPage:
    day: datetime
    appointments: list[Projection]
    next_appointment: Projection | None


def today_page(db: Session, viewer: User, *, now: datetime, zone: ZoneInfo) -> TodayPage:
    """The viewer's appointments for today in the agency's time zone, and the next one."""
    start, end = day_bounds(now.astimezone(zone).date(), zone)
    appointments = appointments_between(db, viewer, start, end, zone)
    upcoming = [a for a in appointments if a.starts_at >= now.astimezone(zone)]
    return TodayPage(start, appointments, upcoming[0] if upcoming else None)


OFFLINE_CARDS_MAX = 40  # more appointments than that in a day is not a day in the field


def offline_cards(db: Session, viewer: User, today: TodayPage, *, now: datetime,
                  actor: Actor) -> list[ClientCard]:
    """The cards of today's clients that the viewer may open, for the phone's offline copy.
    The same projections as the card pages: the offline copy holds nothing more."""
    cards = []
    for client_id in list(dict.fromkeys(a.client_id for a in today.appointments))[
            :OFFLINE_CARDS_MAX]:
        try:
            client = visible_client(db, viewer, client_id, now=now, actor=actor)
        except ClientNotVisible:
            continue  # the refusal is audited; the rest of the day still goes offline
        cards.append(client_card(viewer, client))
    return cards


def appointments_between(db: Session, viewer: User, start: datetime, end: datetime,
                         zone: ZoneInfo, *, agent_ids: Sequence[str] | None = None
                         ) -> list[Projection]:
    """The appointments a person may see in [start, end), in order, as projections."""
    visible = schedule_agent_ids(db, viewer)
    if agent_ids is not None:
        wanted = set(agent_ids)
        visible = [a for a in visible if a in wanted]
    if not visible:
        return []
    # NOTE: the client must still belong to the appointment's agent (a reassigned client's
    # old appointments stay out of the old agent's view) and must not be disposed.
    rows = db.scalars(
        select(Appointment)
        .join(Client, Client.id == Appointment.client_id)
        .where(Appointment.agent_id.in_(visible), Client.agent_id == Appointment.agent_id,
               Client.status != ClientStatus.DISPOSED, Appointment.starts_at >= start,
               Appointment.starts_at < end,
               Appointment.status != AppointmentStatus.CANCELLED)
        .options(selectinload(Appointment.client))
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    classes = allowed_classes(viewer.role)
    return [appointment_projection(row, classes, zone) for row in rows]


# -- search --------------------------------------------------------------------------------------

def search_clients(db: Session, keyring: Keyring, viewer: User, query: str, *, page: int = 1,
                   per_page: int = 20) -> tuple[list[Projection], bool]:
    """An agent's own clients matching `query` (exact match through blind indexes)."""
    if viewer.role != Role.AGENT:
        return [], False
    statement = client_search_statement(keyring, query[:100])
    if statement is None:
        return [], False
    page = max(1, min(page, 1000))
    rows = db.scalars(statement.where(Client.agent_id == viewer.id).order_by(Client.id)
                      .limit(per_page + 1).offset((page - 1) * per_page)).all()
    keyring.prefetch(c.data_key_id for c in rows)
    classes = allowed_classes(viewer.role)
    listed = [project("client", {"first_name": c.first_name, "last_name": c.last_name,
                                 "date_of_birth": c.date_of_birth, "phone": c.phone},
                      classes, always={"id": c.id}) for c in rows[:per_page]]
    return listed, len(rows) > per_page


def list_clients(db: Session, viewer: User, *, page: int = 1, per_page: int = 50
                 ) -> tuple[list[Projection], bool]:
    if viewer.role != Role.AGENT:
        return [], False
    page = max(1, min(page, 10_000))
    rows = db.scalars(select(Client).where(Client.agent_id == viewer.id,
                                           Client.status != ClientStatus.DISPOSED)
                      .order_by(Client.created_at, Client.id)
                      .limit(per_page + 1).offset((page - 1) * per_page)).all()
    db.info["keyring"].prefetch(c.data_key_id for c in rows)
    classes = allowed_classes(viewer.role)
    listed = [project("client", {"first_name": c.first_name, "last_name": c.last_name,
                                 "date_of_birth": c.date_of_birth, "phone": c.phone},
                      classes, always={"id": c.id}) for c in rows[:per_page]]
    return listed, len(rows) > per_page


# -- writes --------------------------------------------------------------------------------------

def add_note(db: Session, *, viewer: User, client: Client, body: str, now: datetime,
             actor: Actor) -> Note:
    body = (body or "").strip()
    if not body:
        raise InvalidInput("body", "Write the note first.")
    if len(body) > NOTE_MAX:
        raise InvalidInput("body", f"A note is at most {NOTE_MAX} characters.")
    note = Note(client=client, author_id=viewer.id, body=body, created_at=now)
    db.add(note)
    db.flush()
    record_event(db, AuditTag.CLIENT_NOTE_CREATE, actor=actor, record_type="note",
                 record_id=note.id, client_id=client.id)
    return note


def log_communication(db: Session, *, viewer: User, client: Client, channel: str,
                      direction: str, summary: str, now: datetime,
                      actor: Actor) -> Communication:
    try:
        channel_value = Channel(channel)
    except ValueError:
        raise InvalidInput("channel", "Choose call, text or email.") from None
    try:
        direction_value = Direction(direction)
    except ValueError:
        raise InvalidInput("direction", "Choose inbound or outbound.") from None
    summary = (summary or "").strip()
    if not summary:
        raise InvalidInput("summary", "Say what the call was about.")
    if len(summary) > SUMMARY_MAX:
        raise InvalidInput("summary", f"A summary is at most {SUMMARY_MAX} characters.")
    entry = Communication(client=client, user_id=viewer.id, channel=channel_value,
                          direction=direction_value, summary=summary, occurred_at=now)
    db.add(entry)
    db.flush()
    record_event(db, AuditTag.CLIENT_COMMUNICATION_CREATE, actor=actor,
                 record_type="communication", record_id=entry.id, client_id=client.id,
                 details={"channel": channel_value.value})
    return entry


def reveal_ssn(db: Session, *, client: Client, actor: Actor) -> str | None:
    """The full SSN, for a step-up-verified agent; audited every time."""
    record_event(db, AuditTag.CLIENT_SSN_REVEAL, actor=actor, record_type="client",
                 record_id=client.id, client_id=client.id)
    ssn = client.ssn
    return None if ssn is DISPOSED else ssn
