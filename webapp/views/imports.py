"""Importing a book of business (upload page): `/import`, for agents (into their own book) and
admins (into the agent they choose). Thin over `webapp.crm.importer`; behind the device gate
(PHI_BLUEPRINTS).

The upload is parsed only after the session, the device and the role have been checked, with a
size limit, and entirely in memory: Werkzeug would otherwise spool a file over 500 KB to a
temporary file on disk, unencrypted. That is why this view takes the CSRF check over from the
app-wide hook (which would parse the body first) and runs it itself, right after setting up
the parser.
"""

from __future__ import annotations

import io

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from ..auth.models import Role, User, UserStatus
from ..crm import importer
from ..db import get_session
from .crm import actor, agency_zone
from .guard import clock, csrf, keyring, roles_required

blueprint = Blueprint("imports", __name__)

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
ERRORS_SHOWN = 200


class _InMemoryFormDataParser(FormDataParser):
    """Werkzeug's parser, with every uploaded file kept in memory (never a temporary file)."""

    def __init__(self, stream_factory=None, *args, **kwargs):
        super().__init__(_memory_stream, *args, **kwargs)


def _memory_stream(*_args, **_kwargs) -> io.BytesIO:
    return io.BytesIO()


def _agents(db) -> list[User]:
    return list(db.scalars(select(User).where(User.role == Role.AGENT,
                                              User.status != UserStatus.DISABLED)
                           .order_by(User.display_name)))


def _page(*, status: int = 200, errors=None, error_count: int = 0, message: str | None = None,
          chosen_agent: str | None = None):
    db = get_session()
    is_admin = current_user.role == Role.ADMIN
    return render_template(
        "imports/upload.html", columns=importer.COLUMNS, required=importer.REQUIRED,
        agents=_agents(db) if is_admin else None, chosen_agent=chosen_agent,
        errors=errors or [], error_count=error_count, message=message,
        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024)), status


def _too_large():
    return render_template("imports/too_large.html",
                           max_mb=MAX_UPLOAD_BYTES // (1024 * 1024)), 413


def _read_upload() -> None:
    """Parse the multipart body in memory, refusing more than MAX_UPLOAD_BYTES (413), then
    check the CSRF token exactly as the app-wide hook does (CSRFError: 400)."""
    request.max_content_length = MAX_UPLOAD_BYTES  # this request only (Flask 3.1)
    request.form_data_parser_class = _InMemoryFormDataParser
    csrf.protect()  # reads request.form: the body is parsed here, under the limits above


@blueprint.route("/import", methods=["GET", "POST"])
@roles_required("agent", "admin")
def upload():
    """GET: the upload form. POST: import the file (all or nothing), then back to the form
    with a summary; or the list of problems (422), or 413 for a file over the limit."""
    if request.method == "GET":
        return _page()
    try:
        _read_upload()
        upload_file = request.files.get("file")
        chosen = request.form.get("agent", "")
        data = upload_file.stream.read() if upload_file is not None else b""
    except RequestEntityTooLarge:
        return _too_large()
    db = get_session()
    if current_user.role == Role.ADMIN:
        agent = db.get(User, chosen) if chosen and len(chosen) <= 24 else None
        try:
            agent = importer.check_agent(agent)
        except ValueError:
            return _page(status=422, message="Choose the agent whose book receives the "
                                             "clients.", chosen_agent=chosen)
    else:
        agent = db.get(User, g.user_session.user_id)
    if not data:
        return _page(status=422, message="Choose a CSV file to import.", chosen_agent=chosen)
    now = clock().now()
    try:
        summary = importer.import_book(db, keyring(), data, agent=agent, zone=agency_zone(),
                                       now=now, actor=actor())
    except importer.ImportRefused as refused:
        db.rollback()
        importer.record_refusal(db, refused, agent=agent, actor=actor())
        db.commit()
        count = len(refused.errors)
        more = " (reading stopped there)" if refused.truncated else ""
        return _page(status=422, errors=refused.errors[:ERRORS_SHOWN], error_count=count,
                     message=f"Nothing was imported: the file has {count} "
                             f"problem{'s' if count != 1 else ''}{more}. Fix them and upload "
                             "it again.", chosen_agent=chosen)
    db.commit()
    whose = "your book" if agent.id == current_user.id else f"{agent.display_name}'s book"
    # NOTE: counts only: the flash travels in the (signed, not encrypted) session cookie.
    flash(f"Imported into {whose}: {summary.describe()}.", "success")
    return redirect(url_for("imports.upload"))


csrf.exempt(upload)  # checked in _read_upload, after the limits are in place
