"""The installable app's public files: the web app manifest and the service worker."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("pwa", __name__)
