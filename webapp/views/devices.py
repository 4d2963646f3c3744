"""Devices: the admin console (`/admin/devices`), the device policy
(`/admin/devices/policy`) and a person's own devices (`/devices`).

Two blueprints, registered by the app factory:
- `admin_blueprint` ("devices_admin", url_prefix "/admin/devices"): admins only.
- `owner_blueprint` ("devices"): any signed-in person, their own devices only.

Views parse, call the registry services in `webapp.devices.registry`, and render plain dicts.
"""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import and_, or_, select
from wtforms import BooleanField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import StopValidation, ValidationError

from ..access.agency_settings import SETTINGS, get_setting, set_setting
from ..audit import AuditTag, record_event
from ..audit.models import AuditEvent
from ..auth.models import Role, User
from ..auth.sessions import actor_for
from ..db import get_session
from ..devices import registry
from ..devices.models import Device, DeviceStatus
from .formatting import local_time as _when
from .guard import clear_session_cookie, clock, is_htmx, roles_required

admin_blueprint = Blueprint("devices_admin", __name__, url_prefix="/admin/devices")
owner_blueprint = Blueprint("devices", __name__)

HISTORY_LIMIT = 200

# -- words -------------------------------------------------------------------------------------

STATUS_LABELS = {
    DeviceStatus.PENDING: "Pending",
    DeviceStatus.ACTIVE: "Active",
    DeviceStatus.LOST: "Lost",
    DeviceStatus.WIPE_PENDING: "Wipe ordered",
    DeviceStatus.WIPED: "Wiped",
    DeviceStatus.REVOKED: "Revoked",
}
ADMIN_STATUS_TEXT = {
    DeviceStatus.PENDING: "Waiting for approval.",
    DeviceStatus.ACTIVE: "In use.",
    DeviceStatus.LOST: "Reported lost: it will be wiped the next time it connects.",
    DeviceStatus.WIPE_PENDING: "Wipe ordered: it will be wiped the next time it connects.",
    DeviceStatus.WIPED: "Wiped: the phone confirmed it deleted its data.",
    DeviceStatus.REVOKED: "Revoked: it can no longer be used.",
}
OWNER_STATUS_TEXT = {
    DeviceStatus.PENDING: "Waiting for your administrator's approval.",
    DeviceStatus.ACTIVE: "Ready to use.",
    DeviceStatus.LOST: "Reported lost. Anything SafeHarbor kept on it is unreadable now, and "
                       "it will be wiped the next time it connects.",
    DeviceStatus.WIPE_PENDING: "Your administrator ordered a wipe. It will be wiped the next "
                               "time it connects.",
    DeviceStatus.WIPED: "Wiped. SafeHarbor deleted everything it kept on this device.",
    DeviceStatus.REVOKED: "Revoked by your administrator. It can no longer open SafeHarbor.",
}
# Reasons an admin can give for a wipe or a revoke: a fixed list, so nothing typed (and so no
# PHI) ever reaches the audit trail.
CLOSE_REASONS = [
    SelectChoice("lost_or_stolen", "Lost or stolen"),
    SelectChoice("left_agency", "The person left the agency"),
    SelectChoice("replaced", "Replaced by another device"),
    SelectChoice("policy", "Does not meet the device policy"),
    SelectChoice("other", "Other"),
]
_OPEN = (DeviceStatus.PENDING, DeviceStatus.ACTIVE)


def _keyring():
    return current_app.extensions["safeharbor.keyring"]


def _actor():
    return actor_for(g.user_session, ip_address=request.remote_addr)


def _current_device_id() -> str | None:
    return g.user_session.device_id


def _device_view(device: Device, *, owner_words: bool = False) -> dict:
    """A device as the templates see it: a plain dict, never the model."""
    status = device.status
    texts = OWNER_STATUS_TEXT if owner_words else ADMIN_STATUS_TEXT
    return {
        "id": device.id,
        "label": device.label,
        "platform": device.platform,
        "passkey_type": "synced" if device.backup_eligible else "device-bound",
        "status": status.value,
        "status_label": STATUS_LABELS[status],
        "status_text": texts[status],
        "owner_name": device.owner.display_name,
        "owner_email": device.owner.email,
        "first_seen": _when(device.first_seen_at),
        "last_seen": _when(device.last_seen_at),
        "last_verified": _when(device.last_verified_at),
        "status_changed": _when(device.status_changed_at),
        "is_current": device.id == _current_device_id(),
        "can_approve": status == DeviceStatus.PENDING,
        "can_mark_lost": status in _OPEN,
        "can_wipe": status in _OPEN,
        "can_revoke": status in _OPEN,
    }


def _device_details(db, device: Device) -> dict:
    view = _device_view(device)
    approver = device.approved_by
    if approver and approver != "policy":
        person = db.get(User, approver)
        approver = person.display_name if person else approver
    view.update({
        "aaguid": device.aaguid,
        "attestation_format": device.attestation_format,
        "backed_up": device.backup_state,
        "approved_by": approver or "",
        "approved_at": _when(device.approved_at) if device.approved_at else "",
        "wiped_at": _when(device.wiped_at) if device.wiped_at else "",
        "has_cache_key": device.cache_key_id is not None,
    })
    return view


def _history(db, device_id: str) -> list[dict]:
    """The device's audit events, newest first: what it did and what was done to it."""
    events = db.scalars(
        select(AuditEvent)
        .where(or_(AuditEvent.device_id == device_id,
                   and_(AuditEvent.record_type == "device", AuditEvent.record_id == device_id)))
        .order_by(AuditEvent.seq.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    people_ids = {e.actor_user_id for e in events if e.actor_user_id}
    people = {u.id: u for u in db.scalars(select(User).where(User.id.in_(people_ids)))} \
        if people_ids else {}

    def actor_name(event: AuditEvent) -> str:
        person = people.get(event.actor_user_id)
        if person is not None:
            return f"{person.display_name} ({person.email})"
        return event.actor_label or event.actor_user_id or "unknown"

    return [{"seq": e.seq, "when": _when(e.occurred_at), "tag": e.tag, "outcome": e.outcome,
             "reason": e.reason or "", "actor": actor_name(e)} for e in events]


def _not_found():
    return render_template("errors/404.html"), 404


def _signed_out():
    """Closing the device this very session runs on ended the session too."""
    clear_session_cookie()
    return redirect(url_for("auth.login"))


def _already_there(device: Device, status: DeviceStatus) -> str | None:
    # NOTE: the registry treats a repeated close as a silent no-op; say so instead of
    # flashing a success that did nothing.
    if device.status == status:
        return f"This device is already {STATUS_LABELS[status].lower()}."
    return None


# -- admin console -----------------------------------------------------------------------------

FILTERS = [("", "All")] + [(s.value, label) for s, label in STATUS_LABELS.items()]


@admin_blueprint.get("")
@roles_required("admin")
def index():
    """Every device in the agency, newest activity first; `?status=` filters."""
    db = get_session()
    wanted = request.args.get("status", "").strip().lower()
    known = {value for value, _label in FILTERS}
    problem = None
    if wanted not in known:
        problem = "There is no device status by that name. Choose one of the filters."
        devices = []
        http_status = 400
    else:
        devices = [_device_view(d) for d in registry.all_devices(db, status=wanted or None)]
        http_status = 200
    pending = registry.status_counts(db)[DeviceStatus.PENDING]
    context = {"devices": devices, "filters": FILTERS, "current_filter": wanted,
               "pending_count": pending, "problem": problem}
    # The filter links swap #device-console only; a boosted navigation gets the whole page.
    template = ("devices/_console.html"
                if is_htmx() and request.headers.get("HX-Target") == "device-console"
                else "devices/admin_index.html")
    return render_template(template, **context), http_status


def _admin_target(device_id: str) -> Device | None:
    return get_session().get(Device, device_id)


def _back(device_id: str):
    """Where an admin action returns: the device page or the console (never a given URL)."""
    if request.form.get("return_to") == "detail":
        return redirect(url_for("devices_admin.detail", device_id=device_id))
    return redirect(url_for("devices_admin.index"))


@admin_blueprint.get("/<device_id>")
@roles_required("admin")
def detail(device_id: str):
    """One device: its details, the actions, and its history."""
    db = get_session()
    device = _admin_target(device_id)
    if device is None:
        return _not_found()
    return render_template("devices/admin_detail.html", device=_device_details(db, device),
                           history=_history(db, device.id))


@admin_blueprint.post("/<device_id>/approve")
@roles_required("admin")
def approve(device_id: str):
    """A pending device may open PHI from now on; it gets its offline-cache key."""
    db = get_session()
    device = _admin_target(device_id)
    if device is None:
        return _not_found()
    label, owner = device.label, device.owner.display_name
    try:
        registry.approve(db, _keyring(), device, actor=_actor(), now=clock().now())
    except registry.DeviceError as error:
        db.rollback()
        flash(str(error), "error")
        return _back(device_id)
    db.commit()
    flash(f"Approved {label} of {owner}.", "success")
    return _back(device_id)


@admin_blueprint.post("/<device_id>/rename")
@roles_required("admin")
def rename(device_id: str):
    """Give a device a name people recognise ("Ann's work phone")."""
    db = get_session()
    device = _admin_target(device_id)
    if device is None:
        return _not_found()
    try:
        registry.rename(db, device, request.form.get("label", ""), actor=_actor())
    except registry.DeviceError as error:
        db.rollback()
        flash(str(error), "error")
        return _back(device_id)
    label = device.label
    db.commit()
    flash(f"Renamed to {label}.", "success")
    return _back(device_id)


class CloseForm(FlaskForm):
    reason = SelectField("Reason", choices=CLOSE_REASONS)


# What each closing action is called, says and does. `reason` marks the services that take one.
_CLOSE_ACTIONS = {
    "lost": {
        "title": "Mark this device lost",
        "button": "Mark this device lost",
        "explain": "Its sessions end now and its offline data key is destroyed, so whatever "
                   "it cached can no longer be read. It is wiped the next time it connects.",
        "done": "marked lost",
        "endpoint": "devices_admin.mark_lost",
        "target": DeviceStatus.LOST,
        "reason": False,
    },
    "wipe": {
        "title": "Wipe this device",
        "button": "Wipe this device",
        "explain": "Its sessions end now and its offline data key is destroyed. The next time "
                   "it connects, SafeHarbor deletes everything it kept on it.",
        "done": "ordered wiped",
        "endpoint": "devices_admin.wipe",
        "target": DeviceStatus.WIPE_PENDING,
        "reason": True,
    },
    "revoke": {
        "title": "Revoke this device",
        "button": "Revoke this device",
        "explain": "Its sessions end now, its offline data key is destroyed, and it can never "
                   "be used again. Signing in on it later makes a new device that waits for "
                   "approval.",
        "done": "revoked",
        "endpoint": "devices_admin.revoke",
        "target": DeviceStatus.REVOKED,
        "reason": True,
    },
}


def _close_service(action: str):
    return {"lost": registry.mark_lost, "wipe": registry.order_wipe,
            "revoke": registry.revoke}[action]


def _admin_close(device_id: str, action: str):
    """GET: the confirmation step. POST: do it."""
    db = get_session()
    device = _admin_target(device_id)
    if device is None:
        return _not_found()
    spec = _CLOSE_ACTIONS[action]
    form = CloseForm()
    if request.method == "GET":
        return render_template(
            "devices/confirm.html", device=_device_view(device), spec=spec,
            form=form if spec["reason"] else None,
            action_url=url_for(spec["endpoint"], device_id=device.id),
            cancel_url=url_for("devices_admin.detail", device_id=device.id))
    if spec["reason"] and not form.validate_on_submit():
        flash("Choose a reason from the list.", "error")
        return _back(device_id)
    label, owner = device.label, device.owner.display_name
    was_current = device.id == _current_device_id()
    repeated = _already_there(device, spec["target"])
    if repeated:
        flash(repeated, "error")
        return _back(device_id)
    kwargs = {"reason": form.reason.data} if spec["reason"] else {}
    try:
        _close_service(action)(db, _keyring(), device, actor=_actor(), now=clock().now(),
                               **kwargs)
    except registry.DeviceError as error:
        db.rollback()
        flash(str(error), "error")
        return _back(device_id)
    db.commit()
    if was_current:
        return _signed_out()
    flash(f"{label} of {owner} {spec['done']}.", "success")
    return _back(device_id)


@admin_blueprint.route("/<device_id>/lost", methods=["GET", "POST"])
@roles_required("admin")
def mark_lost(device_id: str):
    """Lost: sessions end, the cache key is destroyed, wiped on its next request."""
    return _admin_close(device_id, "lost")


@admin_blueprint.route("/<device_id>/wipe", methods=["GET", "POST"])
@roles_required("admin")
def wipe(device_id: str):
    """Order a wipe: sessions end, the cache key is destroyed, wiped on its next request."""
    return _admin_close(device_id, "wipe")


@admin_blueprint.route("/<device_id>/revoke", methods=["GET", "POST"])
@roles_required("admin")
def revoke(device_id: str):
    """Never again: sessions end and the cache key is destroyed."""
    return _admin_close(device_id, "revoke")


# -- device policy -----------------------------------------------------------------------------

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
APPROVAL_ROLES = [(Role.AGENT, "Agents"), (Role.ASSISTANT, "Assistants"), (Role.ADMIN, "Admins"),
                  (Role.COMPLIANCE, "Compliance officers")]


class WholeNumberField(IntegerField):
    """An integer field whose every refusal says what to type (`message`)."""

    def __init__(self, label=None, validators=None, *, message: str, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(self.message) from None


def _within_setting_bounds(form, field):
    if field.data is None:
        # Not a number (its message is already there) or not sent at all.
        raise StopValidation(None if field.errors else field.message)
    spec = SETTINGS[POLICY_FIELDS[field.name]]
    if not spec.minimum <= field.data <= spec.maximum:
        raise ValidationError(field.message)


def _number_field(label: str, setting: str, unit: str) -> WholeNumberField:
    spec = SETTINGS[setting]
    return WholeNumberField(
        label, validators=[_within_setting_bounds],
        message=f"Enter a whole number of {unit} from {spec.minimum} to {spec.maximum}.",
        description=f"From {spec.minimum} to {spec.maximum} {unit}.",
        render_kw={"min": spec.minimum, "max": spec.maximum, "inputmode": "numeric"})


def parse_aaguids(text: str) -> list[str]:
    """One AAGUID per line, lower case, duplicates dropped; raises ValueError naming the line."""
    aaguids: list[str] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        value = line.strip().lower()
        if not value:
            continue
        if not _UUID.match(value):
            raise ValueError(f"Line {number} is not an AAGUID. Write each as a UUID, like "
                             "adce0002-35bc-c60a-648b-0b25f1f05503.")
        if value not in aaguids:
            aaguids.append(value)
    return aaguids


class DevicePolicyForm(FlaskForm):
    approval_agent = BooleanField("Agents")
    approval_assistant = BooleanField("Assistants")
    approval_admin = BooleanField("Admins")
    approval_compliance = BooleanField("Compliance officers")
    allow_synced = BooleanField("Allow synced passkeys (iCloud Keychain, Google Password "
                                "Manager and the like)")
    aaguid_allowlist = TextAreaField(
        "Allowed authenticator models (AAGUIDs)", render_kw={"rows": 4, "spellcheck": "false",
                                                             "autocapitalize": "off"})
    wipe_unseen_days = _number_field("Wipe devices not seen for (days)",
                                     "device_wipe_unseen_days", "days")
    pending_expire_days = _number_field("Revoke devices still waiting for approval after (days)",
                                        "device_pending_expire_days", "days")
    offline_lock_minutes = _number_field("Delete a device's offline data after this long "
                                         "offline (minutes)", "device_offline_lock_minutes",
                                         "minutes")

    def validate_aaguid_allowlist(self, field):
        try:
            parse_aaguids(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None


# Form field -> agency setting.
POLICY_FIELDS = {
    **{f"approval_{role.value}": f"device_approval_required.{role.value}"
       for role, _label in APPROVAL_ROLES},
    "allow_synced": "device_allow_synced_passkeys",
    "aaguid_allowlist": "device_aaguid_allowlist",
    "wipe_unseen_days": "device_wipe_unseen_days",
    "pending_expire_days": "device_pending_expire_days",
    "offline_lock_minutes": "device_offline_lock_minutes",
}


def _policy_values(form: DevicePolicyForm) -> dict:
    values = {setting: form[name].data for name, setting in POLICY_FIELDS.items()}
    values["device_aaguid_allowlist"] = parse_aaguids(form.aaguid_allowlist.data)
    return values


def _fill_policy_form(db, form: DevicePolicyForm) -> None:
    for name, setting in POLICY_FIELDS.items():
        form[name].data = get_setting(db, setting)
    form.aaguid_allowlist.data = "\n".join(get_setting(db, "device_aaguid_allowlist"))


@admin_blueprint.route("/policy", methods=["GET", "POST"])
@roles_required("admin")
def policy():
    """The agency's device rules; each changed setting is stored and audited."""
    db = get_session()
    form = DevicePolicyForm()
    if request.method == "GET":
        _fill_policy_form(db, form)
    elif form.validate_on_submit():
        actor = _actor()
        changed = 0
        try:
            for setting, value in _policy_values(form).items():
                if get_setting(db, setting) == value:
                    continue
                set_setting(db, setting, value, updated_by=current_user.id)
                details = ({"setting": setting, "entries": len(value)} if isinstance(value, list)
                           else {"setting": setting, "value": value})
                record_event(db, AuditTag.DEVICE_POLICY_CHANGE, actor=actor, details=details)
                changed += 1
        except ValueError as error:
            db.rollback()
            flash(str(error), "error")
            return render_template("devices/policy.html", form=form,
                                   roles=APPROVAL_ROLES), 422
        db.commit()
        flash(f"Device policy saved ({changed} setting(s) changed)." if changed
              else "Nothing changed.", "success")
        return redirect(url_for("devices_admin.policy"))
    status = 422 if form.errors else 200
    return render_template("devices/policy.html", form=form, roles=APPROVAL_ROLES), status


# -- a person's own devices --------------------------------------------------------------------

def _own_device(device_id: str) -> Device | None:
    device = get_session().get(Device, device_id)
    # NOTE: someone else's device is "not found", not "forbidden": ids are not confirmed.
    if device is None or device.owner_id != current_user.id:
        return None
    return device


@owner_blueprint.get("/devices")
def mine():
    """My devices: which one this is, and what state each is in."""
    devices = [_device_view(d, owner_words=True)
               for d in registry.devices_of(get_session(), current_user.id)]
    return render_template("devices/mine.html", devices=devices)


@owner_blueprint.route("/devices/<device_id>/lost", methods=["GET", "POST"])
def mark_own_lost(device_id: str):
    """GET: are you sure? POST: my phone is lost: sign it out and make its data unreadable."""
    db = get_session()
    device = _own_device(device_id)
    if device is None:
        return _not_found()
    if request.method == "GET":
        view = _device_view(device, owner_words=True)
        spec = {"title": "Mark this device lost", "button": "Mark this device lost",
                "explain": "It is signed out now and whatever SafeHarbor kept on it becomes "
                           "unreadable. It is wiped the next time it connects. "
                           + ("This is the phone you are using: you will be signed out."
                              if view["is_current"] else "")}
        return render_template("devices/confirm.html", device=view, spec=spec, form=None,
                               action_url=url_for("devices.mark_own_lost", device_id=device.id),
                               cancel_url=url_for("devices.mine"))
    repeated = _already_there(device, DeviceStatus.LOST)
    if repeated:
        flash(repeated, "error")
        return redirect(url_for("devices.mine"))
    label, was_current = device.label, device.id == _current_device_id()
    try:
        registry.mark_lost(db, _keyring(), device, actor=_actor(), now=clock().now())
    except registry.DeviceError as error:
        db.rollback()
        flash(str(error), "error")
        return redirect(url_for("devices.mine"))
    db.commit()
    if was_current:
        return _signed_out()
    flash(f"{label} is marked lost. It is signed out and its SafeHarbor data is unreadable.",
          "success")
    return redirect(url_for("devices.mine"))


__all__ = ["admin_blueprint", "owner_blueprint"]
