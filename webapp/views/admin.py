"""`/admin/users`: invite people, change roles, disable accounts, end sessions."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..audit import Actor
from ..auth.accounts import (
    AccountError,
    change_role,
    list_users,
    set_supported_agents,
    set_user_status,
)
from ..auth.invites import invite_url, issue_invite
from ..auth.models import Role, SessionEndReason, User, UserSession
from ..auth.sessions import actor_for, end_user_sessions
from ..db import get_session
from .forms import InviteForm, RoleForm, SelectChoice
from .guard import clock, roles_required

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


def _agents(db) -> list[User]:
    return list(db.scalars(select(User).where(User.role == Role.AGENT)
                           .order_by(User.display_name)))


def _invite_form(db) -> InviteForm:
    form = InviteForm()
    form.agents.choices = [SelectChoice(u.email, u.display_name) for u in _agents(db)]
    return form


def _people(db) -> list[dict]:
    live = dict(db.execute(select(UserSession.user_id, func.count())
                           .where(UserSession.ended_at.is_(None))
                           .group_by(UserSession.user_id)).all())
    return [{"id": u.id, "display_name": u.display_name, "email": u.email,
             "role": u.role.value, "status": u.status.value, "passkeys": len(u.passkeys),
             "sessions": live.get(u.id, 0), "is_me": u.id == g.user_session.user_id,
             "supports": {a.id for a in u.supported_agents} if u.role == Role.ASSISTANT
             else None}
            for u in list_users(db)]


@blueprint.route("/users", methods=["GET", "POST"])
@roles_required("admin")
def users():
    """Everyone in the agency; the invite form posts here."""
    db = get_session()
    form = _invite_form(db)
    link = None
    if form.validate_on_submit():
        try:
            _user, token = issue_invite(
                db, email=form.email.data, role=form.role.data,
                display_name=form.display_name.data, agent_emails=tuple(form.agents.data or ()),
                actor=actor_for(g.user_session, ip_address=request.remote_addr),
                now=clock().now())
        except ValueError as error:
            db.rollback()
            form.email.errors.append(str(error))
        else:
            db.commit()
            link = invite_url(current_app.config["SETTINGS"].origin, token)
            flash("Invite created. Send the link to the person; it works once.", "success")
    status = 422 if form.errors else 200
    agents = [{"id": a.id, "display_name": a.display_name} for a in _agents(db)]
    return render_template("admin/users.html", form=form, people=_people(db), link=link,
                           role_form=RoleForm(), agents=agents), status


def _target(user_id: str) -> User | None:
    return get_session().get(User, user_id)


def _change_person(user_id: str, change: Callable[[Session, User, Actor], str]):
    """Apply `change(db, person, actor)` to the person `user_id` and flash the message it
    returns; a refusal (AccountError, ValueError) is flashed instead and changes nothing."""
    db = get_session()
    user = _target(user_id)
    if user is None:
        return render_template("errors/404.html"), 404
    try:
        message = change(db, user, actor_for(g.user_session, ip_address=request.remote_addr))
    except (AccountError, ValueError) as error:
        db.rollback()
        flash(str(error), "error")
    else:
        db.commit()
        flash(message, "success")
    return redirect(url_for("admin.users"))


@blueprint.post("/users/<user_id>/status")
@roles_required("admin")
def set_status(user_id: str):
    def change(db, user, actor):
        set_user_status(db, user=user, enabled=request.form.get("enabled") == "1", actor=actor,
                        now=clock().now())
        return f"{user.display_name} is now {user.status.value}."
    return _change_person(user_id, change)


@blueprint.post("/users/<user_id>/role")
@roles_required("admin")
def set_role(user_id: str):
    form = RoleForm()

    def change(db, user, actor):
        if not form.validate_on_submit():
            raise AccountError("Choose a role from the list.")
        change_role(db, user=user, role=form.role.data, actor=actor, now=clock().now())
        return f"{user.display_name} is now {user.role.value}; their sessions ended."
    return _change_person(user_id, change)


@blueprint.post("/users/<user_id>/agents")
@roles_required("admin")
def set_agents(user_id: str):
    """Which agents an assistant supports (the checkboxes on the person's entry)."""
    def change(db, user, actor):
        added, removed = set_supported_agents(db, user=user, actor=actor,
                                              agent_ids=request.form.getlist("agents"))
        if not (added or removed):
            return f"{user.display_name} already supports those agents."
        if not user.supported_agents:
            return f"{user.display_name} supports no agent now and sees no schedule."
        names = ", ".join(a.display_name for a in user.supported_agents)
        return f"{user.display_name} now supports {names}."
    return _change_person(user_id, change)


@blueprint.post("/users/<user_id>/sessions/end")
@roles_required("admin")
def end_sessions(user_id: str):
    db = get_session()
    user = _target(user_id)
    if user is None:
        return render_template("errors/404.html"), 404
    count = end_user_sessions(db, user.id, SessionEndReason.REVOKED, now=clock().now(),
                              actor=actor_for(g.user_session, ip_address=request.remote_addr))
    db.commit()
    flash(f"Ended {count} session(s) of {user.display_name}.", "success")
    return redirect(url_for("admin.users"))
