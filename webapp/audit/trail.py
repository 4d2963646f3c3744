"""Recording and verifying audit events.

`record_event` appends in the caller's transaction: the event commits or rolls back with the
change it describes. The chain is SHA-256 over a canonical JSON serialization of each event
plus its predecessor's hash; `verify_chain` recomputes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ..db import utcnow
from .models import AuditEvent, AuditHead
from .tags import AuditTag

GENESIS_HASH = "0" * 64
_HEAD_ID = 1


@dataclass(frozen=True)
class Actor:
    """Who did it: a signed-in user (with device, session and IP) or an operator/job."""

    user_id: str | None = None
    label: str | None = None
    device_id: str | None = None
    session_ref: str | None = None
    ip_address: str | None = None


SYSTEM = Actor(label="system")

_CHAINED_FIELDS = (
    "seq", "occurred_at", "tag", "outcome", "reason", "actor_user_id", "actor_label",
    "device_id", "session_ref", "ip_address", "record_type", "record_id", "client_id",
    "details_json",
)


def canonical_bytes(values: Mapping[str, Any]) -> bytes:
    """The exact bytes an event's hash covers: sorted keys, no whitespace, UTC timestamps."""
    document = {}
    for name in _CHAINED_FIELDS:
        value = values[name]
        if isinstance(value, datetime):
            value = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
        document[name] = value
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def chain_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"|" + canonical_bytes(values)).hexdigest()


def _check_details(details: Mapping[str, Any]) -> str:
    # NOTE: details carry counts, field names and ids, never values. Only scalars (and lists of
    # scalars) are accepted so a caller cannot drop a whole record in here by accident.
    for key, value in details.items():
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if not (item is None or isinstance(item, bool | int | float | str)):
                raise TypeError(f"audit detail {key!r} must be a scalar, not {type(item).__name__}")
    return json.dumps(dict(details), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class PendingEvent:
    """One event for `record_events`: the same fields `record_event` takes."""

    tag: AuditTag
    actor: Actor
    outcome: str = "success"
    reason: str | None = None
    record_type: str | None = None
    record_id: str | None = None
    client_id: str | None = None
    details: Mapping[str, Any] | None = None
    occurred_at: datetime | None = None


def record_event(
    session: Session,
    tag: AuditTag,
    *,
    actor: Actor,
    outcome: str = "success",
    reason: str | None = None,
    record_type: str | None = None,
    record_id: str | None = None,
    client_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> AuditEvent:
    """Append an event in `session`'s transaction (the caller commits)."""
    prev_hash, [values] = _claim(session, [PendingEvent(
        tag, actor, outcome, reason, record_type, record_id, client_id, details, occurred_at)])
    digest = chain_hash(prev_hash, values)
    event = AuditEvent(**values, prev_hash=prev_hash, hash=digest)
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == _HEAD_ID).values(hash=digest))
    return event


def record_events(session: Session, events: Sequence[PendingEvent]) -> None:
    """Append several events at once, in order, in `session`'s transaction.

    The same chain as one `record_event` call per event, in a handful of statements instead of
    four per event: a page listing 50 clients records 50 view events.
    """
    if not events:
        return
    prev_hash, rows = _claim(session, events)
    for values in rows:
        values["prev_hash"] = prev_hash
        values["hash"] = prev_hash = chain_hash(prev_hash, values)
    session.execute(insert(AuditEvent), rows)
    session.execute(update(AuditHead).where(AuditHead.id == _HEAD_ID).values(hash=prev_hash))


def _claim(session: Session, events: Sequence[PendingEvent]) -> tuple[str, list[dict]]:
    """Reserve the next len(events) sequence numbers; their column values and the hash of the
    event before the first. The head row stays locked until the caller's transaction ends."""
    for event in events:
        if event.outcome not in ("success", "failure", "refused"):
            raise ValueError(f"unknown outcome {event.outcome!r}")
    # Lock the head row first (row lock on PostgreSQL, the write lock on SQLite): appenders
    # queue here, so no two events ever claim the same predecessor.
    count = len(events)
    # The same statement reads the head's hash (the UPDATE leaves it as it was): the hash of
    # the event before the first of these.
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == _HEAD_ID)
        .values(seq=AuditHead.seq + count)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one_or_none()
    if head is None:
        session.add(AuditHead(id=_HEAD_ID, seq=count, hash=GENESIS_HASH))
        session.flush()
        last, prev_hash = count, GENESIS_HASH
    else:
        last, prev_hash = head
    now = utcnow()
    rows = [{
        "seq": last - count + 1 + index,
        "occurred_at": event.occurred_at or now,
        "tag": str(AuditTag(event.tag)),
        "outcome": event.outcome,
        "reason": event.reason,
        "actor_user_id": event.actor.user_id,
        "actor_label": event.actor.label,
        "device_id": event.actor.device_id,
        "session_ref": event.actor.session_ref,
        "ip_address": event.actor.ip_address,
        "record_type": event.record_type,
        "record_id": event.record_id,
        "client_id": event.client_id,
        "details_json": _check_details(event.details or {}),
    } for index, event in enumerate(events)]
    return prev_hash, rows


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"event {self.seq}: {self.problem}"


@dataclass(frozen=True)
class VerifyResult:
    events: int
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _stored_values(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in _CHAINED_FIELDS}


def _events_in_order(session: Session, batch: int = 2000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify_chain(session: Session) -> VerifyResult:
    """Walk the whole chain; report the first event that was edited, removed or moved."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for event in _events_in_order(session):
        count += 1
        if event.seq != expected_seq:
            return VerifyResult(count, ChainBreak(
                expected_seq, f"missing (the next stored event is {event.seq}): deleted"))
        if event.prev_hash != prev_hash:
            return VerifyResult(count, ChainBreak(
                event.seq, "does not follow its predecessor: deleted, reordered or replaced"))
        if chain_hash(prev_hash, _stored_values(event)) != event.hash:
            return VerifyResult(
                count, ChainBreak(event.seq, "content does not match its hash: edited"))
        prev_hash, expected_seq = event.hash, expected_seq + 1
    head = session.get(AuditHead, _HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        return VerifyResult(count, ChainBreak(
            expected_seq if head_seq >= expected_seq else head_seq,
            f"the chain ends at event {expected_seq - 1} but its head names event {head_seq}: "
            "the newest events were deleted",
        ))
    return VerifyResult(count, None)
