"""The schedule: day and week views; create, move and cancel appointments. A thin layer over
`webapp.crm.schedule`, behind the device gate (PHI_BLUEPRINTS) and open to agents and
assistants only."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.models import Role
from ..crm import schedule as booking
from ..crm import service
from ..crm.schedule import (
    AppointmentInvalid,
    BadScheduleRequest,
    ScheduleAgent,
    ScheduleNotVisible,
    ScheduleView,
)
from ..db import get_session
from .crm import actor, agency_zone
from .guard import clock, is_htmx, roles_required

blueprint = Blueprint("schedule", __name__)

may_schedule = roles_required("agent", "assistant")


@blueprint.errorhandler(ScheduleNotVisible)
def _not_visible(_error):
    # NOTE: the refusal was audited in the request's transaction: keep it, nothing else was
    # written before a visibility check.
    get_session().commit()
    return render_template("errors/404.html"), 404


@blueprint.errorhandler(BadScheduleRequest)
def _bad_request(error):
    get_session().rollback()
    return render_template("errors/400.html", message=str(error)), 400


def _today() -> date:
    return clock().now().astimezone(agency_zone()).date()


def _wants_fragment() -> bool:
    """An htmx request for part of the page (a boosted navigation wants the whole page)."""
    return is_htmx() and request.headers.get("HX-Boosted") != "true"


def _day_url(day: date) -> str:
    """Back to a day of the schedule, all the viewer's agents shown."""
    return url_for("schedule.index", view=ScheduleView.DAY.value, date=day.isoformat())


# -- day and week --------------------------------------------------------------------------------

@blueprint.get("/schedule")
@may_schedule
def index():
    """The appointments of the agents the viewer may act for, one day or one week."""
    db = get_session()
    zone = agency_zone()
    today = _today()
    view = booking.parse_view(request.args.get("view"))
    day = booking.parse_day(request.args.get("date"), today)
    agent_id = booking.check_agent_id(request.args.get("agent"))
    agents = booking.agents_to_show(db, current_user, agent_id, actor=actor())
    period = booking.schedule_period(view, day)
    days = booking.schedule_days(db, current_user, period, agents, zone)
    service.record_view(db, actor(), booking.shown_client_ids(days), "schedule")
    db.commit()
    context = {
        "period": period, "days": days, "today": today, "agent_id": agent_id,
        "agents": booking.schedule_agents(db, current_user),
        "is_assistant": current_user.role == Role.ASSISTANT,
    }
    template = "schedule/_schedule.html" if _wants_fragment() else "schedule/index.html"
    return render_template(template, **context)


# -- booking -------------------------------------------------------------------------------------

def _booking_form(agent: ScheduleAgent | None, *, errors=None, values=None, status=200):
    db = get_session()
    clients = booking.bookable_clients(db, current_user, agent) if agent else []
    service.record_view(db, actor(), [c.id for c in clients], "schedule_booking")
    db.commit()
    return render_template(
        "schedule/new.html", agent=agent, agents=booking.schedule_agents(db, current_user),
        clients=clients, errors=errors or {}, values=values or {},
        limits={"duration_min": booking.DURATION_MIN, "duration_max": booking.DURATION_MAX,
                "place": booking.PLACE_MAX, "purpose": booking.PURPOSE_MAX},
    ), status


@blueprint.get("/schedule/appointments/new")
@may_schedule
def new_appointment():
    """The booking form for one agent (first the choice of agent, for an assistant with
    several)."""
    db = get_session()
    agent_id = booking.check_agent_id(request.args.get("agent"))
    agent = booking.agent_for_booking(db, current_user, agent_id, actor=actor())
    values = {"duration": "60"}
    prefill = request.args.get("date", "")
    try:
        if prefill and booking.parse_day(prefill, _today()) >= _today():
            values["date"] = prefill
    except BadScheduleRequest:
        pass  # only a default for the form: a bad one is simply not used
    return _booking_form(agent, values=values)


@blueprint.post("/schedule/appointments")
@may_schedule
def create_appointment():
    """Book an appointment; back to that day's schedule, or the form with its errors (422)."""
    db = get_session()
    form = request.form
    try:
        appointment = booking.book_appointment(
            db, viewer=current_user, agent_id=form.get("agent"), client_id=form.get("client"),
            day=form.get("date"), start_time=form.get("time"), duration=form.get("duration"),
            place=form.get("place"), purpose=form.get("purpose"), zone=agency_zone(),
            now=clock().now(), actor=actor())
    except AppointmentInvalid as error:
        db.rollback()
        agent = booking.agent_for_booking(db, current_user, form.get("agent") or None,
                                          actor=actor())
        return _booking_form(agent, errors=error.errors, values=form, status=422)
    db.commit()
    # NOTE: flashed messages travel in the (signed, not encrypted) Flask session cookie:
    # never a name, place or purpose in them.
    flash("Appointment booked.", "success")
    return redirect(_day_url(appointment.starts_at.astimezone(agency_zone()).date()), 303)


# -- moving and cancelling -----------------------------------------------------------------------

def _move_form(appointment, *, errors=None, values=None, status=200):
    db = get_session()
    zone = agency_zone()
    shown = booking.appointment_for(current_user, appointment, zone)
    service.record_view(db, actor(), [appointment.client_id], "schedule_move")
    db.commit()
    return render_template("schedule/move.html", a=shown, errors=errors or {},
                           values=values or {
                               "date": shown.starts_at.date().isoformat(),
                               "time": shown.starts_at.strftime("%H:%M")}), status


@blueprint.get("/schedule/appointments/<appointment_id>/move")
@may_schedule
def move_form(appointment_id: str):
    """The form to move an appointment to another date or time."""
    appointment = booking.visible_appointment(get_session(), current_user, appointment_id,
                                              actor=actor())
    return _move_form(appointment)


@blueprint.post("/schedule/appointments/<appointment_id>/move")
@may_schedule
def move_appointment(appointment_id: str):
    """Move an appointment; back to its new day, or the form with its errors (422)."""
    db = get_session()
    appointment = booking.visible_appointment(db, current_user, appointment_id, actor=actor())
    try:
        booking.move_appointment(db, viewer=current_user, appointment=appointment,
                                 day=request.form.get("date"),
                                 start_time=request.form.get("time"), zone=agency_zone(),
                                 now=clock().now(), actor=actor())
    except AppointmentInvalid as error:
        db.rollback()
        return _move_form(appointment, errors=error.errors, values=request.form, status=422)
    db.commit()
    flash("Appointment moved.", "success")
    return redirect(_day_url(appointment.starts_at.astimezone(agency_zone()).date()), 303)


@blueprint.post("/schedule/appointments/<appointment_id>/cancel")
@may_schedule
def cancel_appointment(appointment_id: str):
    """Cancel an appointment: htmx swaps its row for a notice; without JS, back to its day."""
    db = get_session()
    appointment = booking.visible_appointment(db, current_user, appointment_id, actor=actor())
    try:
        booking.cancel_appointment(db, viewer=current_user, appointment=appointment,
                                   actor=actor())
    except AppointmentInvalid as error:
        db.rollback()
        return render_template("errors/400.html", message=error.message), 422
    db.commit()
    local = appointment.starts_at.astimezone(agency_zone())
    if is_htmx():
        return render_template("schedule/_cancelled.html", starts_at=local)
    flash("Appointment cancelled.", "success")
    return redirect(_day_url(local.date()), 303)
