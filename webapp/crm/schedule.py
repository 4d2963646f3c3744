"""The schedule: whose appointments a person may see and book, the day and week views, and
booking, moving and cancelling appointments. No HTTP here: the view parses the request, calls
these functions and renders what they return.

Who may act for whom comes from `access.policy.schedule_agent_ids` (an agent: themself; an
assistant: the agents they support); rows come from `service.appointments_between`, so a
viewer only ever holds projections of the fields their role may see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..access.policy import allowed_classes, may_open_client_card, schedule_agent_ids
from ..access.projections import Projection, project
from ..audit import Actor, AuditTag, record_event
from ..auth.models import Role, User
from .models import Appointment, AppointmentStatus, Client, ClientStatus
from .service import InvalidInput, appointment_projection, appointments_between, day_bounds

DURATION_MIN, DURATION_MAX = 15, 240
PLACE_MAX = PURPOSE_MAX = 200
BOOKING_HORIZON = timedelta(days=2 * 366)  # how far ahead an appointment may be booked
BROWSE_YEARS = 10  # how far back and ahead the schedule can be browsed

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::\d{2})?")
_RECORD_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")
_MINUTES = re.compile(r"[0-9]{1,4}")


class ScheduleView(StrEnum):
    DAY = "day"
    WEEK = "week"


class ScheduleNotVisible(LookupError):
    """An agent, client or appointment this person may not act for, or none at all: one
    answer (404) for every case, so ids cannot be probed."""


class BadScheduleRequest(ValueError):
    """A malformed view, date or agent id in a schedule address (400); says what to fix."""


class AppointmentInvalid(InvalidInput):
    """Bad input on an appointment form: every field's message at once (`errors`), the first
    also as `field`/`message` like any InvalidInput."""

    def __init__(self, errors: dict[str, str]):
        first_field, first_message = next(iter(errors.items()))
        super().__init__(first_field, first_message)
        self.errors = dict(errors)


# -- who may act for whom ------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduleAgent:
    """An agent whose schedule a person may see and book. Staff names are not PHI."""

    id: str
    name: str


def schedule_agents(db: Session, viewer: User) -> list[ScheduleAgent]:
    """The agents this person may act for, by name. A link to someone who is no longer an
    agent opens nothing."""
    ids = schedule_agent_ids(db, viewer)
    if not ids:
        return []
    users = db.scalars(select(User).where(User.id.in_(ids), User.role == Role.AGENT)
                       .order_by(User.display_name, User.id))
    return [ScheduleAgent(id=u.id, name=u.display_name) for u in users]


def check_agent_id(value: str | None) -> str | None:
    """An agent id from an address: None when absent; BadScheduleRequest when it cannot be an
    id at all (an id that merely is not the viewer's is a lookup matter, decided later)."""
    if value is None or value == "":
        return None
    if not _RECORD_ID.fullmatch(value):
        raise BadScheduleRequest("That agent link is not valid. Choose an agent from the list.")
    return value


def agents_to_show(db: Session, viewer: User, agent_id: str | None, *, actor: Actor
                   ) -> list[ScheduleAgent]:
    """All the viewer's agents, or the one asked for; ScheduleNotVisible (audited) if the
    viewer may not act for that one."""
    agents = schedule_agents(db, viewer)
    if agent_id is None:
        return agents
    chosen = [a for a in agents if a.id == agent_id]
    if not chosen:
        _refuse(db, AuditTag.CLIENT_RECORD_VIEW, actor, reason="agent_not_supported",
                record_type="schedule", record_id=agent_id)
        raise ScheduleNotVisible(agent_id)
    return chosen


def _refuse(db: Session, tag: AuditTag, actor: Actor, *, reason: str, record_type: str,
            record_id: str | None) -> None:
    """Audit a refusal (the caller commits it: nothing else was written)."""
    record_event(db, tag, actor=actor, outcome="refused", reason=reason,
                 record_type=record_type,
                 record_id=record_id[:40] if isinstance(record_id, str) else None)


# -- the day and week views ----------------------------------------------------------------------

@dataclass(frozen=True)
class SchedulePeriod:
    view: ScheduleView
    day: date  # the day asked for
    first: date
    last: date
    previous: date
    next: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def parse_view(value: str | None) -> ScheduleView:
    if not value:
        return ScheduleView.DAY
    try:
        return ScheduleView(value)
    except ValueError:
        raise BadScheduleRequest("Choose the day or the week view.") from None


def parse_day(value: str | None, today: date) -> date:
    """A date from an address (YYYY-MM-DD), within BROWSE_YEARS of today; today if absent."""
    if not value:
        return today
    parsed = _iso_date(value)
    if parsed is None:
        raise BadScheduleRequest("That date is not valid. Use the form YYYY-MM-DD.")
    if abs(parsed.year - today.year) > BROWSE_YEARS:
        raise BadScheduleRequest(f"Choose a date within {BROWSE_YEARS} years of today.")
    return parsed


def schedule_period(view: ScheduleView, day: date) -> SchedulePeriod:
    """The day itself, or its week from Monday to Sunday."""
    if view == ScheduleView.DAY:
        return SchedulePeriod(view, day, day, day, day - timedelta(days=1),
                              day + timedelta(days=1))
    monday = day - timedelta(days=day.weekday())
    return SchedulePeriod(view, day, monday, monday + timedelta(days=6),
                          monday - timedelta(days=7), monday + timedelta(days=7))


@dataclass(frozen=True)
class ScheduleEntry:
    appointment: Projection
    agent_name: str
    opens_card: bool  # only agents open client cards: an assistant's row links nowhere


@dataclass(frozen=True)
class ScheduleDay:
    day: date
    entries: list[ScheduleEntry] = field(default_factory=list)


def schedule_days(db: Session, viewer: User, period: SchedulePeriod,
                  agents: list[ScheduleAgent], zone: ZoneInfo) -> list[ScheduleDay]:
    """Every day of the period with its appointments, in order (cancelled ones left out)."""
    if not agents:
        return [ScheduleDay(day) for day in period.days]
    start = day_bounds(period.first, zone)[0]
    end = day_bounds(period.last, zone)[1]
    names = {a.id: a.name for a in agents}
    rows = appointments_between(db, viewer, start, end, zone, agent_ids=list(names))
    by_day: dict[date, list[ScheduleEntry]] = {day: [] for day in period.days}
    for row in rows:
        entry = ScheduleEntry(row, names.get(row.agent_id, ""),
                              may_open_client_card(viewer, row.agent_id))
        by_day.setdefault(row.starts_at.date(), []).append(entry)
    return [ScheduleDay(day, by_day[day]) for day in period.days]


def shown_client_ids(days: list[ScheduleDay]) -> list[str]:
    return [e.appointment.client_id for d in days for e in d.entries]


# -- booking -------------------------------------------------------------------------------------

def bookable_clients(db: Session, viewer: User, agent: ScheduleAgent) -> list[Projection]:
    """The agent's clients for the booking form's picker, by name.

    NOTE: projected as appointment data (`client_name`, a SCHEDULE field), so an assistant gets
    the name and nothing else of the client record.
    """
    clients = db.scalars(select(Client).where(Client.agent_id == agent.id,
                                              Client.status != ClientStatus.DISPOSED)).all()
    classes = allowed_classes(viewer.role)
    picked = sorted(((c.last_name or "", c.first_name or "", c) for c in clients),
                    key=lambda t: (t[0].casefold(), t[1].casefold(), t[2].id))
    return [project("appointment", {"client_name": f"{first} {last}".strip()}, classes,
                    always={"id": c.id}) for last, first, c in picked]


def agent_for_booking(db: Session, viewer: User, agent_id: str | None, *, actor: Actor,
                      tag: AuditTag = AuditTag.CLIENT_RECORD_VIEW) -> ScheduleAgent | None:
    """The agent a booking is for: the one named (ScheduleNotVisible, audited, if the viewer
    may not act for them), or the only one the viewer has; None if they must choose."""
    agents = schedule_agents(db, viewer)
    if agent_id:
        for agent in agents:
            if agent.id == agent_id:
                return agent
        _refuse(db, tag, actor, reason="agent_not_supported", record_type="appointment",
                record_id=agent_id)
        raise ScheduleNotVisible(agent_id)
    return agents[0] if len(agents) == 1 else None


def book_appointment(db: Session, *, viewer: User, agent_id: str | None, client_id: str | None,
                     day: str | None, start_time: str | None, duration: str | None,
                     place: str | None, purpose: str | None, zone: ZoneInfo, now: datetime,
                     actor: Actor) -> Appointment:
    """Book an appointment for an agent the viewer may act for, with one of that agent's
    clients. Refusals: ScheduleNotVisible (agent or client; audited, the caller commits the
    refusal) or AppointmentInvalid (nothing written, the caller rolls back)."""
    tag = AuditTag.CLIENT_RECORD_CREATE
    agent = agent_for_booking(db, viewer, agent_id, actor=actor, tag=tag)
    if agent is None:
        raise AppointmentInvalid({"agent": "Choose whose schedule this appointment is for."})
    if not client_id:
        client = None
    else:
        client = db.get(Client, client_id) if _RECORD_ID.fullmatch(client_id) else None
        if client is None or client.agent_id != agent.id \
                or client.status == ClientStatus.DISPOSED:
            _refuse(db, tag, actor, reason="client_not_visible", record_type="appointment",
                    record_id=client_id)
            raise ScheduleNotVisible(client_id)
    errors: dict[str, str] = {}
    if client is None:
        errors["client"] = "Choose the client."
    starts_at = _starts_at(day, start_time, zone, now, errors)
    minutes = _duration(duration, errors)
    place_text = _text(place, "place", PLACE_MAX, "Say where the appointment is.", errors)
    purpose_text = _text(purpose, "purpose", PURPOSE_MAX, "Say what the appointment is for.",
                         errors)
    if errors:
        raise AppointmentInvalid(errors)
    appointment = Appointment(client=client, agent_id=agent.id, starts_at=starts_at,
                              duration_minutes=minutes, status=AppointmentStatus.SCHEDULED,
                              created_at=now, place=place_text, purpose=purpose_text)
    db.add(appointment)
    db.flush()
    record_event(db, tag, actor=actor, record_type="appointment", record_id=appointment.id,
                 client_id=client.id,  # type: ignore[union-attr]
                 details={"fields": ["starts_at", "duration_minutes", "place", "purpose"]})
    return appointment


# -- moving and cancelling -----------------------------------------------------------------------

def visible_appointment(db: Session, viewer: User, appointment_id: str, *, actor: Actor,
                        tag: AuditTag = AuditTag.CLIENT_RECORD_EDIT) -> Appointment:
    """A live (not cancelled) appointment of an agent the viewer may act for; otherwise
    ScheduleNotVisible, audited as a refusal under `tag` (the caller commits it)."""
    appointment = (db.get(Appointment, appointment_id)
                   if isinstance(appointment_id, str) and _RECORD_ID.fullmatch(appointment_id)
                   else None)
    visible = (appointment is not None
               and appointment.status != AppointmentStatus.CANCELLED
               and appointment.client.status != ClientStatus.DISPOSED
               and appointment.agent_id in {a.id for a in schedule_agents(db, viewer)})
    if not visible:
        _refuse(db, tag, actor, reason="not_visible", record_type="appointment",
                record_id=appointment_id)
        raise ScheduleNotVisible(appointment_id)
    return appointment  # type: ignore[return-value]


def appointment_for(viewer: User, appointment: Appointment, zone: ZoneInfo) -> Projection:
    """One appointment as this viewer may see it."""
    return appointment_projection(appointment, allowed_classes(viewer.role), zone)


def move_appointment(db: Session, *, viewer: User, appointment: Appointment, day: str | None,
                     start_time: str | None, zone: ZoneInfo, now: datetime,
                     actor: Actor) -> Appointment:
    """Move a scheduled appointment (found with `visible_appointment`) to a new date and time.
    AppointmentInvalid on bad input, nothing changed."""
    errors: dict[str, str] = {}
    _must_be_scheduled(appointment, "moved", errors)
    starts_at = _starts_at(day, start_time, zone, now, errors)
    if starts_at is not None and not errors and starts_at == appointment.starts_at:
        errors["time"] = "The appointment is already at that time. Choose another."
    if errors:
        raise AppointmentInvalid(errors)
    appointment.starts_at = starts_at  # type: ignore[assignment]
    db.flush()
    record_event(db, AuditTag.CLIENT_RECORD_EDIT, actor=actor, record_type="appointment",
                 record_id=appointment.id, client_id=appointment.client_id,
                 details={"fields": ["starts_at"], "action": "move"})
    return appointment


def cancel_appointment(db: Session, *, viewer: User, appointment: Appointment,
                       actor: Actor) -> Appointment:
    """Cancel a scheduled appointment (found with `visible_appointment`)."""
    errors: dict[str, str] = {}
    _must_be_scheduled(appointment, "cancelled", errors)
    if errors:
        raise AppointmentInvalid(errors)
    appointment.status = AppointmentStatus.CANCELLED
    db.flush()
    record_event(db, AuditTag.CLIENT_RECORD_EDIT, actor=actor, record_type="appointment",
                 record_id=appointment.id, client_id=appointment.client_id,
                 details={"fields": ["status"], "action": "cancel"})
    return appointment


# -- field checks --------------------------------------------------------------------------------

def _must_be_scheduled(appointment: Appointment, done_to_it: str, errors: dict[str, str]):
    if appointment.status != AppointmentStatus.SCHEDULED:
        errors["status"] = f"This appointment is {appointment.status.value}: it cannot be " \
                           f"{done_to_it}."


def _iso_date(value: str) -> date | None:
    if not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _starts_at(day: str | None, start_time: str | None, zone: ZoneInfo, now: datetime,
               errors: dict[str, str]) -> datetime | None:
    """A local date and time in the agency's zone, as UTC; from now up to BOOKING_HORIZON."""
    parsed_day = _iso_date((day or "").strip())
    if parsed_day is None:
        errors["date"] = "Enter the date as YYYY-MM-DD (for example 2026-12-07)."
    match = _TIME.fullmatch((start_time or "").strip())
    parsed_time = None
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        parsed_time = time(int(match[1]), int(match[2]))
    else:
        errors["time"] = "Enter the time as HH:MM (for example 14:30)."
    if parsed_day is None or parsed_time is None:
        return None
    local = datetime.combine(parsed_day, parsed_time, tzinfo=zone)
    as_utc = local.astimezone(UTC)
    # NOTE: a wall-clock time skipped when the clocks go forward does not exist: refuse it
    # rather than silently booking an hour off.
    if as_utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        errors["time"] = "That time does not exist on that day (the clocks change). " \
                         "Choose another."
        return None
    if as_utc < now:
        errors["date"] = "That time has passed. Choose a date and time from now on."
        return None
    if as_utc > now + BOOKING_HORIZON:
        errors["date"] = "Choose a date within the next two years."
        return None
    return as_utc


def _duration(value: str | None, errors: dict[str, str]) -> int | None:
    text = (value or "").strip()
    minutes = int(text) if _MINUTES.fullmatch(text) else None
    if minutes is None or not DURATION_MIN <= minutes <= DURATION_MAX:
        errors["duration"] = f"An appointment lasts {DURATION_MIN} to {DURATION_MAX} minutes."
        return None
    return minutes


def _text(value: str | None, name: str, limit: int, missing: str,
          errors: dict[str, str]) -> str | None:
    text = " ".join((value or "").split())
    if not text:
        errors[name] = missing
        return None
    if len(text) > limit:
        errors[name] = f"At most {limit} characters."
        return None
    return text
