"""What the compliance officer reads: the audit trail, the chain's last check, and emergency
("break the glass") grants with what was done under each.

Queries only (plus the audited chain check); nothing here knows about HTTP. Every function
returns plain projections: ids, tags, staff emails, times in the agency's zone. No client
name or any other PHI value is read here, so none can reach a page: clients appear as their
opaque ids. The one free-text field shown is the reason an agent typed for an emergency grant,
which is kept for exactly this review (see `EmergencyAccess`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ..access.models import EmergencyAccess
from ..auth.models import User
from ..crm.models import Client
from ..devices.models import Device
from .models import AuditEvent, AuditHead
from .tags import AuditTag
from .trail import Actor, record_event, verify_chain

PAGE_SIZE = 50
MAX_SEQ = 2**62  # larger cursors are junk: SQLite cannot even bind them
OPERATORS = "system"  # the staff filter's value for events with no signed-in user
_USER_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")

# Tag areas a reviewer filters by: each "area:subject:action" tag's first part, plus
# "emergency" (a subject, in whichever area) because break-the-glass is what gets asked about.
_AREA_LABELS = {
    "client": "Clients and their records",
    "emergency": "Emergency access",
    "auth": "Sign-in, passkeys and sessions",
    "user": "People and roles",
    "device": "Devices",
    "compliance": "Compliance review",
    "system": "System, operators and jobs",
}


def _area_patterns() -> dict[str, str]:
    patterns = {area: f"{area}:%" for area in sorted({tag.split(":")[0] for tag in AuditTag})}
    patterns["emergency"] = "%:emergency:%"
    return patterns


AREA_PATTERNS = _area_patterns()


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


def area_choices() -> list[Choice]:
    ordered = [a for a in _AREA_LABELS if a in AREA_PATTERNS]
    ordered += [a for a in AREA_PATTERNS if a not in _AREA_LABELS]
    return [Choice(a, _AREA_LABELS.get(a, a)) for a in ordered]


def staff_choices(db: Session) -> list[Choice]:
    """Everyone who can appear as an actor, by email, and the operators/jobs bucket."""
    rows = db.execute(select(User.id, User.email, User.role).order_by(User.email)).all()
    return [Choice(r.id, f"{r.email} ({r.role.value})") for r in rows] + [
        Choice(OPERATORS, "Operators and scheduled jobs")]


# -- the trail -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrailFilter:
    """A validated filter: unknown areas, staff or cursors are dropped, never passed on."""

    area: str | None = None
    staff: str | None = None
    before: int | None = None

    @classmethod
    def parse(cls, db: Session, *, area: str | None, staff: str | None,
              before: str | None) -> TrailFilter:
        area = area if area in AREA_PATTERNS else None
        if staff and staff != OPERATORS:
            # NOTE: shape first, then the lookup: junk (a NUL byte, say) never reaches SQL.
            known = _USER_ID.fullmatch(staff) and db.get(User, staff) is not None
            staff = staff if known else None
        return cls(area=area, staff=staff or None, before=_cursor(before))


def _cursor(value: str | None) -> int | None:
    if not value or len(value) > 20 or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 1 <= number <= MAX_SEQ else None


@dataclass(frozen=True)
class TrailEvent:
    seq: int
    occurred_at: datetime  # in the agency's zone
    tag: str
    outcome: str
    reason: str | None
    actor: str  # "email (role)", an operator label, or the bare id of a removed user
    device: str | None  # the device's label
    ip_address: str | None
    record_type: str | None
    record_id: str | None
    client_ref: str | None  # the client's opaque id, never a name


@dataclass(frozen=True)
class TrailPage:
    events: list[TrailEvent]
    older_than: int | None  # the cursor for the next (older) page, if there is one


def trail_page(db: Session, wanted: TrailFilter, *, zone: ZoneInfo) -> TrailPage:
    """One page of the trail, newest first. Keyset pagination on `seq`: a page stays the
    same while new events arrive, and deep pages cost what the first one does."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE + 1)
    if wanted.area:
        query = query.where(AuditEvent.tag.like(AREA_PATTERNS[wanted.area]))
    if wanted.staff == OPERATORS:
        query = query.where(AuditEvent.actor_user_id.is_(None))
    elif wanted.staff:
        query = query.where(AuditEvent.actor_user_id == wanted.staff)
    if wanted.before:
        query = query.where(AuditEvent.seq < wanted.before)
    rows = db.scalars(query).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    people = _people(db, {r.actor_user_id for r in rows})
    devices = _device_labels(db, {r.device_id for r in rows})
    events = [TrailEvent(
        seq=r.seq, occurred_at=r.occurred_at.astimezone(zone), tag=r.tag, outcome=r.outcome,
        reason=r.reason,
        actor=(people.get(r.actor_user_id, r.actor_user_id) if r.actor_user_id
               else r.actor_label or "unknown"),
        device=devices.get(r.device_id, r.device_id) if r.device_id else None,
        ip_address=r.ip_address, record_type=r.record_type, record_id=r.record_id,
        client_ref=r.client_id) for r in rows]
    return TrailPage(events=events, older_than=rows[-1].seq if more and rows else None)


def _people(db: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = db.execute(select(User.id, User.email, User.role).where(User.id.in_(wanted)))
    return {r.id: f"{r.email} ({r.role.value})" for r in rows}


def _device_labels(db: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    return dict(db.execute(select(Device.id, Device.label).where(Device.id.in_(wanted))).all())


def record_trail_view(db: Session, actor: Actor, wanted: TrailFilter) -> None:
    record_event(db, AuditTag.COMPLIANCE_TRAIL_VIEW, actor=actor, record_type="audit_trail",
                 details={"area": wanted.area, "staff": wanted.staff, "before": wanted.before})


# -- the chain check -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainStatus:
    """The latest recorded check of the hash chain (None fields: never checked)."""

    checked_at: datetime | None = None
    checked_by: str | None = None
    intact: bool | None = None
    events: int = 0
    broken_seq: int | None = None
    problem: str | None = None
    newer_events: int = 0  # appended since that check, so not covered by it


def check_chain(db: Session, *, verifier: Session, actor: Actor) -> bool:
    """Walk the whole chain and record the result as a `system:audit:verify` event in `db`'s
    transaction (the caller commits). `verifier` must be a session of its own: the walk
    expunges its session as it goes and reads only committed events."""
    result = verify_chain(verifier)
    broken = result.first_break
    record_event(db, AuditTag.SYSTEM_AUDIT_VERIFY, actor=actor,
                 outcome="success" if broken is None else "failure",
                 reason=broken.problem[:120] if broken else None, record_type="audit_trail",
                 details={"events": result.events,
                          "broken_seq": broken.seq if broken else None})
    return result.ok


def last_chain_status(db: Session, *, zone: ZoneInfo) -> ChainStatus:
    event = db.scalar(select(AuditEvent)
                      .where(AuditEvent.tag == str(AuditTag.SYSTEM_AUDIT_VERIFY))
                      .order_by(AuditEvent.seq.desc()).limit(1))
    if event is None:
        return ChainStatus()
    try:
        details = json.loads(event.details_json or "{}")
    except ValueError:
        details = {}
    events = details.get("events") if isinstance(details.get("events"), int) else 0
    broken = details.get("broken_seq") if isinstance(details.get("broken_seq"), int) else None
    actor = (_people(db, [event.actor_user_id]).get(event.actor_user_id, event.actor_user_id)
             if event.actor_user_id else event.actor_label)
    head_seq = db.scalar(select(func.max(AuditHead.seq))) or event.seq
    return ChainStatus(checked_at=event.occurred_at.astimezone(zone), checked_by=actor,
                       intact=event.outcome == "success", events=events, broken_seq=broken,
                       problem=event.reason,
                       newer_events=max(0, head_seq - event.seq))


# -- emergency grants ----------------------------------------------------------------------------

@dataclass(frozen=True)
class GrantReview:
    id: str
    agent: str  # the agent's email
    owner_agent: str | None  # whose client it is (email)
    client_ref: str  # the client's opaque id, never a name
    reason: str
    granted_at: datetime  # in the agency's zone
    expires_at: datetime
    active: bool
    views: int  # client views audited under the grant
    other_actions: int  # notes, calls, SSN reveals, edits... under the grant


@dataclass(frozen=True)
class GrantPage:
    grants: list[GrantReview]
    active_count: int
    page: int
    has_more: bool


def emergency_grants(db: Session, *, now: datetime, zone: ZoneInfo, page: int = 1) -> GrantPage:
    """Every emergency grant: the active ones first, then newest first."""
    active_first = case((EmergencyAccess.expires_at > now, 0), else_=1)
    rows = db.execute(
        select(EmergencyAccess, User.email, Client.agent_id)
        .join(User, User.id == EmergencyAccess.user_id)
        .join(Client, Client.id == EmergencyAccess.client_id)
        .order_by(active_first, EmergencyAccess.granted_at.desc(), EmergencyAccess.id)
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    ).all()
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    counts = _activity_under(db, [row.EmergencyAccess.id for row in rows])
    owners = dict(db.execute(select(User.id, User.email).where(
        User.id.in_({row.agent_id for row in rows}))).all()) if rows else {}
    grants = []
    for grant, email, owner_id in rows:
        views, others = counts.get(grant.id, (0, 0))
        grants.append(GrantReview(
            id=grant.id, agent=email, owner_agent=owners.get(owner_id), client_ref=grant.client_id,
            reason=grant.reason, granted_at=grant.granted_at.astimezone(zone),
            expires_at=grant.expires_at.astimezone(zone), active=grant.expires_at > now,
            views=views, other_actions=others))
    return GrantPage(grants=grants, active_count=active_grant_count(db, now=now), page=page,
                     has_more=has_more)


def active_grant_count(db: Session, *, now: datetime) -> int:
    return db.scalar(select(func.count()).select_from(EmergencyAccess)
                     .where(EmergencyAccess.expires_at > now)) or 0


def _activity_under(db: Session, grant_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Per grant: (client views, other client actions) its agent's audit events show for
    that client between the grant and its expiry. The grant event itself is not counted."""
    if not grant_ids:
        return {}
    is_view = AuditEvent.tag == str(AuditTag.CLIENT_RECORD_VIEW)
    rows = db.execute(
        select(EmergencyAccess.id,
               func.count(case((is_view, 1))),
               func.count(case((~is_view, 1))))
        .join(AuditEvent, and_(
            AuditEvent.actor_user_id == EmergencyAccess.user_id,
            AuditEvent.client_id == EmergencyAccess.client_id,
            AuditEvent.occurred_at >= EmergencyAccess.granted_at,
            AuditEvent.occurred_at < EmergencyAccess.expires_at,
            AuditEvent.outcome == "success",
            AuditEvent.tag != str(AuditTag.CLIENT_EMERGENCY_GRANT)))
        .where(EmergencyAccess.id.in_(grant_ids))
        .group_by(EmergencyAccess.id)
    ).all()
    return {grant_id: (views, others) for grant_id, views, others in rows}


def record_grants_view(db: Session, actor: Actor, *, page: int, shown: int) -> None:
    record_event(db, AuditTag.COMPLIANCE_EMERGENCY_VIEW, actor=actor, record_type="emergency",
                 details={"page": page, "grants": shown})
