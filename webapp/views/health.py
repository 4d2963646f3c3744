"""`/healthz`: for load balancers and `make run`'s first check."""

from flask import Blueprint, jsonify
from sqlalchemy import text

from ..db import get_session

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    """200 when the app can reach its database; 503 (and no details) when it cannot."""
    try:
        get_session().execute(text("SELECT 1"))
    except Exception:
        return jsonify(status="unavailable"), 503
    return jsonify(status="ok")
