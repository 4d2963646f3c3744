"""The installable app's public files: the web app manifest, the service worker and the offline
page. None of them holds PHI or depends on who asks (all three are in guard.PUBLIC_ENDPOINTS).

The worker's source is `service_worker/sw.js` at the repository root. It is served with the app
shell's version and URLs filled in; the version is a hash of every shell file's bytes, so a
deploy that changes any of them changes the worker, and the browser installs the new one beside
the old (pwa.js then offers "A new version is ready").

`init_app` (called by guard.init_app) compresses the shell's text files and gives the worker
and the manifest a revalidating cache policy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from flask_compress import Compress

blueprint = Blueprint("pwa", __name__)
compress = Compress()

NAME = "SafeHarbor CRM"
SHORT_NAME = "SafeHarbor"
DESCRIPTION = ("Your day's appointments and clients, kept safe on your phone: a CRM for "
               "health-insurance agents.")
THEME_COLOR = "#ffffff"  # base.html's light-scheme theme-color (the top bar's surface)
BACKGROUND_COLOR = "#f4f6f8"  # app.css --bg: the splash screen fades into the page

SERVICE_WORKER_SOURCE = Path(__file__).resolve().parents[2] / "service_worker" / "sw.js"
OFFLINE_TEMPLATE = "offline.html"


@dataclass(frozen=True)
class Icon:
    file: str  # under static/
    size: int
    purpose: str  # "any" | "maskable" | "" (linked from the page, not in the manifest)


ICONS = (
    Icon("icons/icon-192.png", 192, "any"),
    Icon("icons/icon-512.png", 512, "any"),
    Icon("icons/maskable-192.png", 192, "maskable"),
    Icon("icons/maskable-512.png", 512, "maskable"),
    Icon("icons/apple-touch-icon.png", 180, ""),
    Icon("icons/favicon-32.png", 32, ""),
)
# Static files of the app shell: what the worker precaches (with the offline page). Every
# stylesheet and script base.html loads belongs here (a test checks).
SHELL_STATIC = ("app.css", "app.js", "pwa.js", "offline.js", "vendor/htmx.min.js",
                *(icon.file for icon in ICONS))

# NOTE: compressed: the shell's scripts and styles, the manifest and the worker: the same
# bytes for everyone, no secret in them. Never HTML or JSON: they carry the CSRF token, PHI and
# reflected input, and compressing secrets beside attacker-chosen text is what BREACH reads.
# Both lists must agree for a response to be compressed.
COMPRESSED_ENDPOINTS = {"static", "pwa.manifest", "pwa.service_worker"}
COMPRESSED_MIMETYPES = ["text/css", "text/javascript", "application/javascript",
                        "application/manifest+json"]
# Public files that hold no PHI and may be revalidated rather than refetched each time (the
# guard sends `no-store` on everything but static files, which get Flask's own `no-cache`
# with an ETag).
REVALIDATED_ENDPOINTS = {"pwa.manifest", "pwa.service_worker"}
REVALIDATE = "no-cache"


def init_app(app: Flask) -> None:
    """Compression for the shell's text files, and the worker's and manifest's cache policy.

    Call it before registering the guard's own after-request hook: Flask runs after-request
    hooks in reverse order, so this one runs after the guard's `no-store`."""
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_MIMETYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    # Flask-Compress is not hooked to every response: `_shell_response` hands it the shell's.
    app.config["COMPRESS_REGISTER"] = False
    compress.init_app(app)
    app.after_request(_shell_response)


def _shell_response(response: Response) -> Response:
    endpoint = request.endpoint
    if endpoint in REVALIDATED_ENDPOINTS:
        response.headers["Cache-Control"] = REVALIDATE
        response.headers.pop("Pragma", None)
    if (endpoint in COMPRESSED_ENDPOINTS and response.status_code == 200
            and response.mimetype in COMPRESSED_MIMETYPES):
        if response.is_streamed:
            # A static file arrives as an open file: read it (the shell's files are small)
            # so it is compressed whole, sent with a Content-Length, and closed with the
            # response. A range request (206) never gets here.
            response.direct_passthrough = False
            response.make_sequence()
        response = compress.after_request(response)
    return response


# -- the app shell --------------------------------------------------------------------------------

def shell_files() -> list[tuple[str, Path]]:
    """(URL, file) for every file of the app shell; the offline page's file is its template."""
    static = Path(current_app.static_folder or "")
    templates = Path(current_app.root_path) / (current_app.template_folder or "templates")
    files = [(url_for("static", filename=name), static / name) for name in SHELL_STATIC]
    files.append((url_for("pwa.offline"), templates / OFFLINE_TEMPLATE))
    return files


def shell_version(files: list[tuple[str, Path]], worker: Path) -> str:
    """A short hash of the worker's source and of every shell file's URL and bytes."""
    digest = hashlib.sha256()
    for url, path in sorted([*files, ("/sw.js", worker)]):
        digest.update(url.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _fingerprint(paths: list[Path]) -> tuple:
    """Changes when any file changes (cheap: a stat per file, no reading)."""
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


def service_worker_script() -> str:
    """sw.js with the shell version and URLs filled in; rebuilt when any shell file changes."""
    files = shell_files()
    fingerprint = _fingerprint([SERVICE_WORKER_SOURCE, *(path for _url, path in files)])
    cached = current_app.extensions.get("safeharbor.service_worker")
    if cached and cached[0] == fingerprint:
        return cached[1]
    script = (SERVICE_WORKER_SOURCE.read_text(encoding="utf-8")
              .replace("__SHELL_VERSION__", shell_version(files, SERVICE_WORKER_SOURCE))
              .replace("__SHELL_URLS__", json.dumps([url for url, _path in files]))
              .replace("__OFFLINE_URL__", url_for("pwa.offline")))
    current_app.extensions["safeharbor.service_worker"] = (fingerprint, script)
    return script


# -- views ----------------------------------------------------------------------------------------

@blueprint.get("/manifest.webmanifest")
def manifest():
    """The web app manifest: what makes the app installable to a phone's home screen."""
    icons = [{"src": url_for("static", filename=icon.file), "sizes": f"{icon.size}x{icon.size}",
              "type": "image/png", "purpose": icon.purpose}
             for icon in ICONS if icon.purpose]
    body = {
        "id": "/",
        "name": NAME,
        "short_name": SHORT_NAME,
        "description": DESCRIPTION,
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "lang": "en",
        "dir": "ltr",
        "categories": ["business", "productivity"],
        "prefer_related_applications": False,
        "icons": icons,
    }
    response = Response(json.dumps(body, indent=2), mimetype="application/manifest+json")
    response.add_etag()
    return response.make_conditional(request)


@blueprint.get("/sw.js")
def service_worker():
    """The service worker, for scope "/": the app shell and the offline page, never PHI."""
    response = Response(service_worker_script(), mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.add_etag()
    return response.make_conditional(request)


@blueprint.get("/offline")
def offline():
    """What a page shows when the phone has no connection: no PHI, no session, no script."""
    return render_template(OFFLINE_TEMPLATE)
