"""The schedule: day and week views; create, move and cancel appointments."""

from flask import Blueprint

blueprint = Blueprint("schedule", __name__)
