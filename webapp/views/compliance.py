"""Compliance officer pages: the audit trail (`/audit`) and emergency-access review
(`/compliance/emergency-access`). Audit data only, never PHI: thin views over
`webapp.audit.review`, which hands back plain projections. Looking is itself audited."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from ..access.agency_settings import agency_zone
from ..audit import Actor, review
from ..db import get_session
from .guard import clock, roles_required

blueprint = Blueprint("compliance", __name__)


def _actor() -> Actor:
    row = g.user_session
    return Actor(user_id=row.user_id, session_ref=row.id, device_id=row.device_id,
                 ip_address=request.remote_addr)


def _page_number() -> int:
    value = request.args.get("page", "1")
    if len(value) > 6 or not value.isascii() or not value.isdigit():
        return 1
    return max(1, min(int(value), 10_000))


@blueprint.get("/audit")
@roles_required("compliance")
def audit_trail():
    """The audit trail, newest first, 50 a page, filtered by tag area and staff member.

    The chain status at the top is the last recorded check, not a fresh one: walking the
    chain costs about 60 µs an event here (a minute for a million events, and a busy agency
    writes tens of thousands a day), far too slow for every page load, and a page view must
    not be able to tie up a worker. The check runs when the officer asks (POST below) and its
    result is itself an audit event, so every worker and `flask audit verify` users see it.
    """
    db = get_session()
    zone = agency_zone(db)
    wanted = review.TrailFilter.parse(db, area=request.args.get("area"),
                                      staff=request.args.get("staff"),
                                      before=request.args.get("before"))
    page = review.trail_page(db, wanted, zone=zone)
    chain = review.last_chain_status(db, zone=zone)
    review.record_trail_view(db, _actor(), wanted)
    db.commit()
    return render_template("compliance/audit.html", page=page, chain=chain, wanted=wanted,
                           areas=review.area_choices(), staff=review.staff_choices(db))


@blueprint.post("/audit/verify")
@roles_required("compliance")
def verify_now():
    """Walk the whole hash chain now and record the result (shown at the top of /audit)."""
    db = get_session()
    # NOTE: a session of its own: the walk expunges its session as it goes, which would
    # detach the signed-in user and session from this request's.
    with current_app.extensions["safeharbor.sessions"]() as verifier:
        review.check_chain(db, verifier=verifier, actor=_actor())
    db.commit()
    return redirect(url_for("compliance.audit_trail"))


@blueprint.get("/compliance/emergency-access")
@roles_required("compliance")
def emergency_access():
    """Every emergency ("break the glass") grant, active ones first, with what was done
    under it."""
    db = get_session()
    page_number = _page_number()
    grants = review.emergency_grants(db, now=clock().now(), zone=agency_zone(db),
                                     page=page_number)
    review.record_grants_view(db, _actor(), page=page_number, shown=len(grants.grants))
    db.commit()
    return render_template("compliance/emergency_access.html", grants=grants)
