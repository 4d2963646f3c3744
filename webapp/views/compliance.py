"""Compliance officer pages: the audit trail and emergency-access review (no PHI)."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("compliance", __name__)
