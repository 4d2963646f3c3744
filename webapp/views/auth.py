"""Sign-in, enrollment, lock/unlock, step-up and logout: thin views over `webapp.auth`."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, session
from flask_login import current_user

from ..auth import flows
from ..auth.errors import AuthRefused, InviteRefused
from ..auth.invites import find_invite
from ..auth.models import SessionEndReason
from ..auth.passkeys import RelyingParty
from ..auth.sessions import actor_for, end_session, lock_session
from ..db import get_session
from .guard import (
    CEREMONY_LIMIT,
    ENROLL_LIMIT,
    clear_session_cookie,
    clock,
    keyring,
    limiter,
    locked_response,
    request_meta,
    set_device_cookie,
    set_session_cookie,
)

blueprint = Blueprint("auth", __name__)
_CEREMONY_KEY = "ceremony"


def relying_party() -> RelyingParty:
    settings = current_app.config["SETTINGS"]
    return RelyingParty(id=settings.rp_id, name="SafeHarbor CRM", origin=settings.origin)


def _options_response(options_json: str, ceremony_id: str):
    session[_CEREMONY_KEY] = ceremony_id  # signed cookie: binds the challenge to this browser
    return jsonify(options=json.loads(options_json))


def _credential_from_request() -> object:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "credential" not in body:
        raise AuthRefused("malformed", "The browser sent no passkey answer. Try again.")
    return body["credential"]


def _refused(refusal: AuthRefused, status: int = 400):
    get_session().commit()  # keep the audit event and the consumed challenge
    return jsonify(error=refusal.message, reason=refusal.reason), status


# -- sign-in -------------------------------------------------------------------------------------

@blueprint.get("/login")
def login():
    """The sign-in page: one button (and autofill where the browser offers it)."""
    if g.get("user_session") is not None:
        return redirect("/")
    return render_template("auth/login.html")


@blueprint.post("/login/options")
@limiter.limit(CEREMONY_LIMIT)
def login_options():
    db = get_session()
    options, ceremony_id = flows.assertion_options(db, rp=relying_party(), purpose="sign_in",
                                                   now=clock().now())
    db.commit()
    return _options_response(options, ceremony_id)


@blueprint.post("/login/verify")
@limiter.limit(CEREMONY_LIMIT)
def login_verify():
    db = get_session()
    try:
        credential = _credential_from_request()
        signed_in = flows.finish_sign_in(
            db, keyring(), rp=relying_party(), ceremony_id=session.pop(_CEREMONY_KEY, None),
            credential=credential, now=clock().now(), meta=request_meta())
    except AuthRefused as refusal:
        return _refused(refusal)
    db.commit()
    _send_cookies(signed_in)
    return jsonify(redirect="/")


def _send_cookies(signed_in: flows.SignedIn) -> None:
    set_session_cookie(signed_in.session_token)
    if signed_in.device_token:
        set_device_cookie(signed_in.device_token)


# -- enrollment ----------------------------------------------------------------------------------

@blueprint.get("/enroll/<token>")
@limiter.limit(ENROLL_LIMIT)
def enroll(token: str):
    """Where an invite link lands: register a passkey for the invited account."""
    db = get_session()
    try:
        invite = find_invite(db, token, now=clock().now(), actor=request_meta().actor())
    except InviteRefused as refusal:
        db.commit()
        return render_template("auth/invite_refused.html", message=refusal.message), 410
    person = invite.user
    return render_template("auth/enroll.html", token=token,
                           person={"display_name": person.display_name, "email": person.email,
                                   "role": person.role.value})


@blueprint.post("/enroll/<token>/options")
@limiter.limit(ENROLL_LIMIT)
def enroll_options(token: str):
    db = get_session()
    try:
        options, ceremony_id = flows.enrollment_options(
            db, rp=relying_party(), token=token, now=clock().now(), meta=request_meta())
    except AuthRefused as refusal:
        return _refused(refusal, 410)
    db.commit()
    return _options_response(options, ceremony_id)


@blueprint.post("/enroll/<token>/verify")
@limiter.limit(ENROLL_LIMIT)
def enroll_verify(token: str):
    db = get_session()
    try:
        credential = _credential_from_request()
        signed_in = flows.finish_enrollment(
            db, keyring(), rp=relying_party(), token=token,
            ceremony_id=session.pop(_CEREMONY_KEY, None), credential=credential,
            now=clock().now(), meta=request_meta())
    except AuthRefused as refusal:
        return _refused(refusal)
    db.commit()
    _send_cookies(signed_in)
    return jsonify(redirect="/")


# -- lock and unlock -----------------------------------------------------------------------------

@blueprint.get("/lock")
def lock():
    """The lock screen (also where a locked request lands)."""
    if g.get("user_session") is None:
        return redirect("/login")
    return locked_response()


@blueprint.post("/lock")
def lock_now():
    """Lock at once (the page's idle timer or the user's own "lock" button)."""
    db = get_session()
    row = g.user_session
    lock_session(db, row, now=clock().now(), actor=actor_for(row, ip_address=request.remote_addr),
                 reason="idle" if request.form.get("reason") == "idle" else "user")
    db.commit()
    return locked_response()


@blueprint.post("/unlock/options")
@limiter.limit(CEREMONY_LIMIT)
def unlock_options():
    db = get_session()
    row = g.user_session
    options, ceremony_id = flows.assertion_options(db, rp=relying_party(), purpose="unlock",
                                                   now=clock().now(), user=row.user,
                                                   subject=row.id)
    db.commit()
    return _options_response(options, ceremony_id)


@blueprint.post("/unlock/verify")
@limiter.limit(CEREMONY_LIMIT)
def unlock_verify():
    db = get_session()
    try:
        credential = _credential_from_request()
        token = flows.finish_unlock(db, rp=relying_party(), row=g.user_session,
                                    ceremony_id=session.pop(_CEREMONY_KEY, None),
                                    credential=credential, now=clock().now(),
                                    meta=request_meta())
    except AuthRefused as refusal:
        return _refused(refusal)
    db.commit()
    set_session_cookie(token)
    return jsonify(redirect=request.args.get("next", "/") if _safe_next() else "/")


def _safe_next() -> bool:
    target = request.args.get("next", "/")
    return target.startswith("/") and not target.startswith("//")


# -- step-up -------------------------------------------------------------------------------------

@blueprint.post("/step-up/options")
@limiter.limit(CEREMONY_LIMIT)
def step_up_options():
    db = get_session()
    row = g.user_session
    options, ceremony_id = flows.assertion_options(db, rp=relying_party(), purpose="step_up",
                                                   now=clock().now(), user=row.user,
                                                   subject=row.id)
    db.commit()
    return _options_response(options, ceremony_id)


@blueprint.post("/step-up/verify")
@limiter.limit(CEREMONY_LIMIT)
def step_up_verify():
    db = get_session()
    try:
        credential = _credential_from_request()
        flows.finish_step_up(db, rp=relying_party(), row=g.user_session,
                             ceremony_id=session.pop(_CEREMONY_KEY, None),
                             credential=credential, now=clock().now(), meta=request_meta())
    except AuthRefused as refusal:
        return _refused(refusal)
    db.commit()
    return jsonify(verified=True, redirect=request.args.get("next", "/") if _safe_next() else "/")


# -- logout --------------------------------------------------------------------------------------

@blueprint.post("/logout")
def logout():
    db = get_session()
    row = g.user_session
    end_session(db, row, SessionEndReason.LOGOUT, now=clock().now(),
                actor=actor_for(row, ip_address=request.remote_addr))
    db.commit()
    clear_session_cookie()
    session.clear()
    return redirect("/login?signed_out=1")


__all__ = ["blueprint", "current_user"]
