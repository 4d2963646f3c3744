"""Today, clients, the client card, notes and communications: thin views over
`webapp.crm.service`. Every view here is behind the device gate (PHI_BLUEPRINTS)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from ..access.agency_settings import agency_zone as settings_zone
from ..access.policy import allowed_classes
from ..audit import Actor, AuditTag, PendingEvent, review
from ..auth.accounts import list_users
from ..auth.models import Role, UserStatus
from ..crm import schedule as booking
from ..crm import service
from ..crm.service import ClientNotVisible, InvalidInput
from ..db import get_session
from ..devices import registry
from ..devices.models import DeviceStatus
from .guard import clock, is_htmx, keyring, step_up_required

blueprint = Blueprint("crm", __name__)


def actor() -> Actor:
    row = g.user_session
    return Actor(user_id=row.user_id, session_ref=row.id, device_id=row.device_id,
                 ip_address=request.remote_addr)


def agency_zone() -> ZoneInfo:
    return settings_zone(get_session())


def _not_found():
    return render_template("errors/404.html"), 404


def _client_or_404(client_id: str):
    return service.visible_client(get_session(), current_user, client_id, now=clock().now(),
                                  actor=actor())


@blueprint.errorhandler(ClientNotVisible)
def _client_not_visible(_error):
    # NOTE: keep the audited refusal: nothing else was written before a visibility check.
    get_session().commit()
    return _not_found()


def _page_number() -> int:
    try:
        return max(1, min(int(request.values.get("page", 1)), 10_000))
    except ValueError:
        return 1


# -- Today ---------------------------------------------------------------------------------------

@blueprint.get("/")
def today():
    """Today's appointments, the next one as a card: an agent's own, or, for an assistant,
    those of the agents they support (schedule fields only). Other roles' start page."""
    if current_user.role not in (Role.AGENT, Role.ASSISTANT):
        return render_template("home.html", items=_start_items(),
                               me={"display_name": current_user.display_name,
                                   "role": current_user.role.value})
    db = get_session()
    page = service.today_page(db, current_user, now=clock().now(), zone=agency_zone())
    service.record_view(db, actor(), [a.client_id for a in page.appointments], "today")
    db.commit()
    return render_template("crm/today.html", **today_context(db, page))


@dataclass(frozen=True)
class StartItem:
    """One line of an admin's or compliance officer's start page: what needs a look."""

    label: str
    value: str
    href: str
    attention: bool = False


def _start_items() -> list[StartItem]:
    """What an admin or a compliance officer has to act on, counted (no PHI: counts, states)."""
    db = get_session()
    if current_user.role == Role.ADMIN:
        devices = registry.status_counts(db)
        people = sum(1 for user in list_users(db) if user.status == UserStatus.ACTIVE)

        def devices_item(label: str, status: DeviceStatus) -> StartItem:
            count = devices[status]
            return StartItem(label, f"{count:,}",
                             url_for("devices_admin.index", status=status.value), count > 0)

        return [devices_item("Devices waiting for your approval", DeviceStatus.PENDING),
                devices_item("Phones reported lost", DeviceStatus.LOST),
                devices_item("Wipes waiting for the phone to come online",
                             DeviceStatus.WIPE_PENDING),
                StartItem("People with access", f"{people:,}", url_for("admin.users"))]
    if current_user.role == Role.COMPLIANCE:
        zone = agency_zone()
        grants = review.active_grant_count(db, now=clock().now())
        chain = review.last_chain_status(db, zone=zone)
        if chain.checked_at is None:
            checked, attention = "Never checked", True
        else:
            verdict = "intact" if chain.intact else f"broken at event {chain.broken_seq}"
            checked = f"{verdict} on {chain.checked_at.strftime('%m/%d/%Y %-I:%M %p')}"
            if chain.newer_events:
                checked += f"; {chain.newer_events:,} newer events not yet checked"
            attention = not chain.intact
        return [StartItem("Emergency access grants active now", f"{grants:,}",
                          url_for("compliance.emergency_access"), grants > 0),
                StartItem("Audit trail chain", checked, url_for("compliance.audit_trail"),
                          attention)]
    return []


def today_context(db, page: service.TodayPage) -> dict:
    """What crm/today.html needs: an agent's rows open the client card; an assistant's open
    nothing and say whose appointment it is when they support several agents."""
    opens_cards = current_user.role == Role.AGENT
    agents = [] if opens_cards else booking.schedule_agents(db, current_user)
    return {"appointments": page.appointments, "next_appointment": page.next_appointment,
            "day": page.day, "opens_cards": opens_cards,
            "agent_names": {a.id: a.name for a in agents} if len(agents) > 1 else {}}


# -- Clients -------------------------------------------------------------------------------------

@blueprint.get("/clients")
def clients():
    """The client list (paginated) with an active search box."""
    if current_user.role != Role.AGENT:
        return render_template("errors/403.html"), 403
    db = get_session()
    page = _page_number()
    listed, has_more = service.list_clients(db, current_user, page=page)
    service.record_view(db, actor(), [c.id for c in listed], "client_list")
    db.commit()
    return render_template("crm/clients.html", clients=listed, page=page, has_more=has_more,
                           query="")


@blueprint.post("/clients/search")
def search():
    """Active search: the query travels in the POST body, never in a URL."""
    if current_user.role != Role.AGENT:
        return render_template("errors/403.html"), 403
    db = get_session()
    query = request.form.get("q", "")[:100]
    page = _page_number()
    searched = []
    if query.strip():
        found, has_more = service.search_clients(db, keyring(), current_user, query, page=page)
        searched = [PendingEvent(AuditTag.CLIENT_SEARCH, actor(),
                                 details={"results": len(found)})]
    else:
        found, has_more = service.list_clients(db, current_user, page=page)
    service.record_view(db, actor(), [c.id for c in found], "client_search", after=searched)
    db.commit()
    template = "crm/_results.html" if is_htmx() else "crm/clients.html"
    return render_template(template, clients=found, page=page, has_more=has_more, query=query)


# -- Client card ---------------------------------------------------------------------------------

@blueprint.get("/clients/<client_id>")
def client(client_id: str):
    db = get_session()
    record = _client_or_404(client_id)
    card = service.client_card(current_user, record)
    service.record_view(db, actor(), [record.id], "client_card")
    db.commit()
    return render_template("crm/client.html", card=card, section_names=service.SECTION_KINDS)


@blueprint.get("/clients/<client_id>/sections/<section>")
def section(client_id: str, section: str):
    """One section of the card, as a fragment (htmx refreshes and lazy loading)."""
    if section not in service.SECTION_KINDS:
        return _not_found()
    db = get_session()
    record = _client_or_404(client_id)
    rows = service.section_projections(record, section, allowed_classes(current_user.role))
    service.record_view(db, actor(), [record.id], f"section:{section}")
    db.commit()
    return render_template("crm/_section.html", name=section, rows=rows,
                           client_id=record.id)


@blueprint.post("/clients/<client_id>/notes")
def add_note(client_id: str):
    db = get_session()
    record = _client_or_404(client_id)
    try:
        service.add_note(db, viewer=current_user, client=record, body=request.form.get("body"),
                         now=clock().now(), actor=actor())
    except InvalidInput as error:
        db.rollback()
        return _section_with_error(record, "notes", error), 422
    db.commit()
    return _section_fragment(record, "notes")


@blueprint.post("/clients/<client_id>/communications")
def log_communication(client_id: str):
    db = get_session()
    record = _client_or_404(client_id)
    try:
        service.log_communication(db, viewer=current_user, client=record,
                                  channel=request.form.get("channel", ""),
                                  direction=request.form.get("direction", ""),
                                  summary=request.form.get("summary"), now=clock().now(),
                                  actor=actor())
    except InvalidInput as error:
        db.rollback()
        return _section_with_error(record, "communications", error), 422
    db.commit()
    return _section_fragment(record, "communications")


def _section_fragment(record, name: str, errors: dict | None = None, values: dict | None = None):
    get_session().refresh(record)
    rows = service.section_projections(record, name, allowed_classes(current_user.role))
    html = render_template("crm/_section.html", name=name, rows=rows, client_id=record.id,
                           errors=errors or {}, values=values or {})
    if is_htmx():
        return html
    return redirect(url_for("crm.client", client_id=record.id) + f"#{name}")


def _section_with_error(record, name: str, error: InvalidInput):
    rows = service.section_projections(record, name, allowed_classes(current_user.role))
    return render_template("crm/_section.html", name=name, rows=rows, client_id=record.id,
                           errors={error.field: error.message}, values=request.form)


@blueprint.post("/clients/<client_id>/ssn")
@step_up_required
def reveal_ssn(client_id: str):
    """The full SSN, after a fresh passkey check; shown for 30 seconds, then masked again."""
    db = get_session()
    record = _client_or_404(client_id)
    ssn = service.reveal_ssn(db, client=record, actor=actor())
    masked = service.client_projection(record, allowed_classes(current_user.role)).get(
        "ssn_last4")
    db.commit()
    return render_template("crm/_ssn.html", ssn=ssn, masked=masked or "")


@blueprint.post("/clients/<client_id>/emergency")
def emergency_access(client_id: str):
    """Break the glass: another agent's client for one hour, with a reason (audited)."""
    db = get_session()
    try:
        service.grant_emergency_access(db, viewer=current_user, client_id=client_id,
                                       reason=request.form.get("reason", ""),
                                       now=clock().now(), actor=actor())
    except InvalidInput as error:
        db.rollback()
        return jsonify(error=error.message, field=error.field), 422
    db.commit()
    return redirect(url_for("crm.client", client_id=client_id))
