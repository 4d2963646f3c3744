"""The one place every request passes through: the session cookie, timeouts and idle lock,
default-deny sign-in, CSRF, rate limits, security headers and `no-store`.

Views behind it can rely on: `g.user_session` (a live, unlocked session) and `current_user`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import timedelta

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
)
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import security_headers
from ..audit import Actor, AuditTag, record_event
from ..auth.flows import RequestMeta
from ..auth.models import Role, SessionEndReason, User
from ..auth.sessions import (
    SessionPolicy,
    SessionState,
    actor_for,
    end_session,
    evaluate,
    find_session,
    recently_verified,
)
from ..db import get_session
from ..devices.registry import find_device, note_seen, phi_access
from . import pwa

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
login_manager = LoginManager()
CEREMONY_LIMIT = "30 per minute"
ENROLL_LIMIT = "10 per minute"

# Endpoints anyone may reach. Everything else needs a live session (default deny).
PUBLIC_ENDPOINTS = {
    "static", "health.healthz", "auth.login", "auth.login_options", "auth.login_verify",
    "auth.enroll", "auth.enroll_options", "auth.enroll_verify", "auth.lock",
    "device_api.confirm_wipe_view", "pwa.manifest", "pwa.service_worker", "pwa.offline",
}
# The app shell's own files (no PHI): fetching them is the browser's doing, not the person's.
SHELL_ENDPOINTS = {"static", "pwa.manifest", "pwa.service_worker", "pwa.offline"}
# What a locked session may still do: see the lock screen, unlock, or leave.
LOCKED_ENDPOINTS = {"auth.lock", "auth.unlock_options", "auth.unlock_verify", "auth.logout"}
BACKGROUND_HEADER = "X-Background"  # polling sets it: not user activity


def session_cookie_name() -> str:
    settings = current_app.config["SETTINGS"]
    # NOTE: __Host- needs Secure; plain http://localhost in development cannot set it.
    return "__Host-sh-session" if settings.uses_https else "sh-session"


def device_cookie_name() -> str:
    settings = current_app.config["SETTINGS"]
    return "__Host-device" if settings.uses_https else "sh-device"


DEVICE_COOKIE_MAX_AGE = 400 * 24 * 60 * 60  # browsers cap cookie lifetimes at 400 days


def clock():
    return current_app.extensions["safeharbor.clock"]


def keyring():
    return current_app.extensions["safeharbor.keyring"]


def request_meta() -> RequestMeta:
    return RequestMeta(user_agent=request.headers.get("User-Agent", "")[:200],
                       ip_address=request.remote_addr,
                       device_cookie=request.cookies.get(device_cookie_name()))


def wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def set_session_cookie(token: str) -> None:
    """Send a new session token with this response (sign-in, unlock: the id rotates)."""
    g.new_session_token = token


def clear_session_cookie() -> None:
    g.clear_session_cookie = True


def set_device_cookie(token: str) -> None:
    g.new_device_token = token


_REQUEST_STATE = ("_login_user", "csrf_token", "new_session_token", "clear_session_cookie",
                  "new_device_token", "user_session", "session_state", "idle_lock_seconds",
                  "device")
# Endpoints a device ordered wiped may still reach: the wipe confirmation, and static files.
WIPE_ENDPOINTS = {"static", "device_api.confirm_wipe_view"}
# Blueprints whose views show PHI: each request to them passes the device check below.
PHI_BLUEPRINTS: set[str] = {"device_api", "crm", "records", "schedule", "imports"}
SEEN_WRITE_INTERVAL = timedelta(minutes=1)


# Every path parameter in this app is an opaque id, a token or a section name.
_PATH_VALUE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _check_path_values() -> None:
    """Junk in a path parameter (NUL bytes, slashes, SQL) is a plain 404 before any view or
    query sees it; PostgreSQL would otherwise refuse a NUL byte with an error."""
    if request.endpoint == "static":
        return
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and not _PATH_VALUE.match(value):
            abort(404)


def _load_session() -> Response | None:
    _check_path_values()
    # NOTE: start from nothing even if an app context outlives a request (tests, CLI-driven
    # requests): no identity may leak from one request into the next.
    for name in _REQUEST_STATE:
        g.pop(name, None)
    g.user_session = None
    g.session_state = None
    db = get_session()
    now = clock().now()
    device = g.device = find_device(db, request.cookies.get(device_cookie_name()))
    if device is not None and device.status.must_wipe and request.endpoint not in WIPE_ENDPOINTS:
        return wiped_response(device)
    token = request.cookies.get(session_cookie_name())
    row = find_session(db, token)
    if row is not None and row.device_id is not None and (device is None
                                                          or row.device_id != device.id):
        # NOTE: a session is bound to the device it was opened on; its cookie replayed from
        # another browser opens nothing.
        end_session(db, row, SessionEndReason.REVOKED, now=now,
                    actor=actor_for(row, ip_address=request.remote_addr))
        db.commit()
        row = None
    if row is not None:
        policy = SessionPolicy.for_role(db, row.user.role.value)
        background = request.headers.get(BACKGROUND_HEADER) == "1"
        user_activity = not background and request.endpoint not in SHELL_ENDPOINTS
        state = evaluate(db, row, now=now, policy=policy, user_activity=user_activity,
                         ip_address=request.remote_addr)
        if device is not None and user_activity and now - device.last_seen_at > \
                SEEN_WRITE_INTERVAL:
            note_seen(device, now=now)
        db.commit()
        g.session_state = state
        if state == SessionState.ENDED:
            clear_session_cookie()
            row = None
        else:
            g.user_session = row
            g.idle_lock_seconds = int(policy.idle_lock.total_seconds())
    endpoint = request.endpoint or ""
    if endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if row is None:
        return _signed_out_response(ended=token is not None)
    if g.session_state == SessionState.LOCKED and endpoint not in LOCKED_ENDPOINTS:
        return locked_response()
    if request.blueprint in PHI_BLUEPRINTS:
        return _device_gate(db, device, row)
    return None


def verified_within_idle_lock(row) -> bool:
    """Whether the session's last user-verified assertion (sign-in, unlock) is within the
    role's idle-lock window: the offline-cache key is handed out only then."""
    idle_lock = SessionPolicy.for_role(get_session(), row.user.role.value).idle_lock
    return recently_verified(row, now=clock().now(), within=idle_lock)


def offline_store_state() -> str | None:
    """For the page's offline store: None (not for this person or device), "sealed" (keep the
    copy, but no key until the next unlock) or "key" (the key may be fetched now)."""
    row, device = g.get("user_session"), g.get("device")
    if row is None or device is None or row.user.role != Role.AGENT:
        return None
    if not phi_access(get_session(), device, row).allowed:
        return None
    return "key" if verified_within_idle_lock(row) else "sealed"


def _device_gate(db, device, row) -> Response | None:
    """The screen-lock attestation: PHI only on an active device that proved its screen lock
    for this session. Anything else gets the lock screen or a device page, never data."""
    access = phi_access(db, device, row)
    if access.allowed:
        return None
    record_event(db, AuditTag.DEVICE_PHI_REFUSE, outcome="refused", reason=access.reason,
                 actor=Actor(user_id=row.user_id, session_ref=row.id,
                             device_id=device.id if device else None,
                             ip_address=request.remote_addr),
                 record_type="endpoint", record_id=request.endpoint)
    db.commit()
    if access.reason == "not_verified":
        return locked_response()
    message = DEVICE_REFUSALS.get(access.reason, DEVICE_REFUSALS["revoked"])
    if wants_json() or is_htmx() or request.method != "GET":
        return jsonify(error=message, device=access.reason), 403
    return Response(render_template("device_refused.html",
                                    message=message, reason=access.reason), status=403)


DEVICE_REFUSALS = {
    "pending": "This device is waiting for your administrator's approval before it can open "
               "client information.",
    "no_device": "This browser is not a registered device. Sign in again on it.",
    "revoked": "This device was revoked. Ask your administrator to approve a new enrollment.",
    "wiped": "This device was wiped. Ask your administrator to approve a new enrollment.",
    "synced_passkey": "Your agency requires a passkey kept on this device only (not synced). "
                      "Add a device-bound passkey to open client information.",
    "aaguid": "Your agency does not allow this kind of passkey. Ask your administrator.",
}


def wiped_response(device) -> Response:
    """What a lost or wiped-on-order device gets for any request: the browser is told to
    clear its caches and storage, and the page's script confirms the wipe."""
    if wants_json() or is_htmx() or request.method != "GET":
        response = jsonify(error="This device was wiped.", wiped=True)
        response.status_code = 410
        if is_htmx():
            response.headers["HX-Redirect"] = "/"
    else:
        response = Response(render_template("device_wiped.html"), status=410)
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    clear_session_cookie()
    return response


def _signed_out_response(*, ended: bool) -> Response:
    message = ("Your session ended. Sign in again." if ended else "Sign in to continue.")
    if is_htmx():
        response = Response(status=401)
        response.headers["HX-Redirect"] = "/login"
        response.headers["HX-Trigger"] = "session-ended"
        return response
    if wants_json() or request.method != "GET":
        return jsonify(error=message, redirect="/login"), 401
    return redirect("/login")


def locked_response() -> Response:
    """The lock screen instead of what was asked for: no data in it, ever."""
    if is_htmx():
        response = Response(render_template("auth/_lock.html"))
        response.headers["HX-Retarget"] = "#lock-overlay"
        response.headers["HX-Reswap"] = "outerHTML"
        response.headers["HX-Trigger"] = "session-locked"
        return response
    if wants_json() or request.method != "GET":
        return jsonify(error="The screen is locked. Unlock with your passkey.", locked=True), 423
    return Response(render_template("auth/lock.html"), status=423)


def _finish_response(response: Response) -> Response:
    settings = current_app.config["SETTINGS"]
    token = g.get("new_session_token")
    device_token = g.get("new_device_token")
    if device_token:
        response.set_cookie(device_cookie_name(), device_token, max_age=DEVICE_COOKIE_MAX_AGE,
                            secure=settings.uses_https, httponly=True, samesite="Lax", path="/")
    if token:
        response.set_cookie(session_cookie_name(), token, secure=settings.uses_https,
                            httponly=True, samesite="Lax", path="/")
    elif g.get("clear_session_cookie"):
        response.delete_cookie(session_cookie_name(), secure=settings.uses_https,
                               httponly=True, samesite="Lax", path="/")
    if request.endpoint != "static":
        # NOTE: nothing the app renders may be kept by the browser, a proxy or the
        # back-forward cache: PHI lives only on the screen.
        response.headers["Cache-Control"] = security_headers.NO_STORE
        response.headers["Pragma"] = "no-cache"
    return response


def roles_required(*roles: str) -> Callable:
    """Allow a view to the given roles only; others get 403 (and nothing else)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated or current_user.role.value not in roles:
                return render_template("errors/403.html"), 403
            return view(*args, **kwargs)

        return wrapper

    return decorate


def step_up_required(view):
    """Require a user-verified passkey assertion within the last 2 minutes (exports, SSN
    reveals), whatever the idle state. Otherwise: 403 with `step_up: true`, nothing else."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        row = g.get("user_session")
        if row is None or not recently_verified(row, now=clock().now()):
            message = "Confirm it's you with your passkey to continue."
            if wants_json() or is_htmx() or request.method != "GET":
                return jsonify(error=message, step_up=True), 403
            return render_template("auth/step_up.html", message=message), 403
        return view(*args, **kwargs)

    return wrapper


def init_app(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    if settings.is_production:
        # Behind the TLS-terminating proxy: trust its X-Forwarded-For/-Proto (one hop).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url or "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.update(
        SESSION_COOKIE_NAME="__Host-sh-flask" if settings.uses_https else "sh-flask",
        SESSION_COOKIE_SECURE=settings.uses_https,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the (server-limited) session
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    Talisman(
        app,
        force_https=False,  # the proxy redirects; HSTS keeps browsers on https
        strict_transport_security=True,
        strict_transport_security_max_age=security_headers.HSTS_MAX_AGE,
        strict_transport_security_include_subdomains=True,
        content_security_policy=security_headers.CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=security_headers.CSP_NONCE_IN,
        referrer_policy=security_headers.REFERRER_POLICY,
        frame_options="DENY",
        permissions_policy=security_headers.PERMISSIONS_POLICY,
        session_cookie_secure=settings.uses_https,
        session_cookie_http_only=True,
    )

    @login_manager.request_loader
    def _user_from_session(_request) -> User | None:
        row = g.get("user_session")
        return row.user if row is not None else None

    app.before_request(_load_session)
    pwa.init_app(app)  # compression of the shell's JS/CSS; its hook runs after the one below
    app.after_request(_finish_response)

    @app.errorhandler(CSRFError)
    def _csrf_refused(error: CSRFError):
        message = "This form expired or was not sent by the app. Reload the page and try again."
        if wants_json() or is_htmx():
            return jsonify(error=message), 400
        return render_template("errors/400.html", message=message), 400

    @app.errorhandler(429)
    def _too_many(_error):
        message = "Too many attempts. Wait a minute, then try again."
        if wants_json():
            return jsonify(error=message), 429
        return render_template("errors/400.html", message=message), 429

    @app.errorhandler(413)
    def _too_large(_error):
        message = "That is more data than this page accepts."
        if wants_json() or is_htmx():
            return jsonify(error=message), 413
        return render_template("errors/400.html", message=message), 413

    @app.errorhandler(404)
    def _not_found(_error):
        return render_template("errors/404.html"), 404

    @app.errorhandler(405)
    def _method_not_allowed(_error):
        return render_template("errors/400.html", message="That action is not allowed here."), 405

    @app.errorhandler(500)
    def _server_error(_error):
        # NOTE: a fixed page: never the exception, which could quote a value.
        return render_template("errors/500.html"), 500

    @app.context_processor
    def _template_globals():
        active = g.get("session_state") == SessionState.ACTIVE
        return {"idle_lock_seconds": g.get("idle_lock_seconds") if active else None,
                "offline_store": offline_store_state() if active else None}
