"""The append-only, hash-chained audit trail. See DESIGN.md, "Audit trail"."""

from .tags import AuditTag
from .trail import SYSTEM, Actor, ChainBreak, VerifyResult, record_event, verify_chain

__all__ = ["SYSTEM", "Actor", "AuditTag", "ChainBreak", "VerifyResult", "record_event",
           "verify_chain"]
