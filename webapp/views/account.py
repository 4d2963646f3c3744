"""A person's own passkeys and sessions (`/account`)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.accounts import AccountError, remove_passkey, rename_passkey
from ..auth.models import SessionEndReason, UserSession
from ..auth.sessions import actor_for, end_session, live_sessions
from ..db import get_session
from ..devices.registry import label_for
from .formatting import local_time
from .guard import clock

blueprint = Blueprint("account", __name__)


def _when(moment: datetime | None) -> str:
    return local_time(moment, with_year=False)


def session_view(row: UserSession, current_id: str | None) -> dict:
    return {"id": row.id, "device": label_for(row.user_agent),
            "signed_in": _when(row.created_at), "last_seen": _when(row.last_activity_at),
            "current": row.id == current_id}


@blueprint.get("/account")
def index():
    """My passkeys and my sessions."""
    user = current_user
    passkeys = [{"id": p.id, "name": p.name, "synced": p.is_synced,
                 "created": _when(p.created_at), "last_used": _when(p.last_used_at)}
                for p in user.passkeys]
    sessions = [session_view(row, g.user_session.id) for row in live_sessions(get_session(),
                                                                                user.id)]
    return render_template("account/index.html", passkeys=passkeys, sessions=sessions,
                           me={"display_name": user.display_name, "email": user.email,
                               "role": user.role.value})


@blueprint.post("/account/passkeys/<passkey_id>/rename")
def rename(passkey_id: str):
    db = get_session()
    try:
        rename_passkey(db, user=current_user, passkey_id=passkey_id,
                       name=request.form.get("name", ""), actor=actor_for(g.user_session))
    except LookupError:
        return render_template("errors/404.html"), 404
    except AccountError as error:
        db.rollback()
        flash(str(error), "error")
        return redirect(url_for("account.index"))
    db.commit()
    flash("Passkey renamed.", "success")
    return redirect(url_for("account.index"))


@blueprint.post("/account/passkeys/<passkey_id>/remove")
def remove(passkey_id: str):
    db = get_session()
    try:
        remove_passkey(db, user=current_user, passkey_id=passkey_id,
                       actor=actor_for(g.user_session), now=clock().now())
    except LookupError:
        return render_template("errors/404.html"), 404
    except AccountError as error:
        db.rollback()
        flash(str(error), "error")
        return redirect(url_for("account.index"))
    db.commit()
    flash("Passkey removed.", "success")
    return redirect(url_for("account.index"))


@blueprint.post("/account/sessions/<session_id>/end")
def end(session_id: str):
    """End one of my sessions (another phone, a forgotten desktop)."""
    db = get_session()
    row = db.get(UserSession, session_id)
    if row is None or row.user_id != current_user.id or row.ended_at is not None:
        return render_template("errors/404.html"), 404
    end_session(db, row, SessionEndReason.REVOKED, now=clock().now(),
                actor=actor_for(g.user_session, ip_address=request.remote_addr))
    db.commit()
    if row.id == g.user_session.id:
        return redirect("/login")
    flash("Session ended.", "success")
    return redirect(url_for("account.index"))
