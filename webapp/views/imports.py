"""Importing a book of business (upload page)."""

from flask import Blueprint

blueprint = Blueprint("imports", __name__)
