"""`/`: the signed-in start page. (The agent's Today schedule replaces it with the CRM.)"""

from flask import Blueprint, render_template
from flask_login import current_user

blueprint = Blueprint("home", __name__)


@blueprint.get("/")
def index():
    """Where sign-in lands."""
    return render_template("home.html", me={"display_name": current_user.display_name,
                                            "role": current_user.role.value})
