"""The append-only, hash-chained audit trail. See DESIGN.md, "Audit trail"."""

from .tags import AuditTag
from .trail import (
    SYSTEM,
    Actor,
    ChainBreak,
    PendingEvent,
    VerifyResult,
    record_event,
    record_events,
    verify_chain,
)

__all__ = ["SYSTEM", "Actor", "AuditTag", "ChainBreak", "PendingEvent", "VerifyResult",
           "record_event", "record_events", "verify_chain"]
