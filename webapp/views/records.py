"""Add and edit forms for each section of the client card."""

from flask import Blueprint

blueprint = Blueprint("records", __name__)
