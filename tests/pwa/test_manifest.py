"""The web app manifest and the icons it names: what makes SafeHarbor installable."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from webapp.views import pwa

STATIC = Path(pwa.__file__).resolve().parents[1] / "static"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first, by the format's rules)."""
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def manifest(app):
    response = app.test_client().get("/manifest.webmanifest")
    assert response.status_code == 200
    return response


def test_manifest_is_public_and_typed(manifest):
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.headers["Cache-Control"] == "no-cache"  # no PHI: revalidated, not no-store
    assert manifest.headers.get("ETag")


def test_manifest_fields(manifest):
    body = manifest.json
    assert body["name"] == "SafeHarbor CRM"
    assert body["short_name"] == "SafeHarbor"
    assert body["id"] == body["start_url"] == body["scope"] == "/"
    assert body["display"] == "standalone"
    assert body["description"]
    assert body["theme_color"] == "#ffffff"
    assert body["background_color"] == "#f4f6f8"


def test_theme_colour_matches_the_page(app, manifest):
    page = app.test_client().get("/login").get_data(as_text=True)
    light = re.search(r'<meta name="theme-color" content="([^"]+)" '
                      r'media="\(prefers-color-scheme: light\)">', page)
    assert light and light.group(1) == manifest.json["theme_color"]
    css = (STATIC / "app.css").read_text()
    assert f"--bg: {manifest.json['background_color']};" in css


@pytest.mark.parametrize(("purpose", "size"), [("any", 192), ("any", 512),
                                               ("maskable", 192), ("maskable", 512)])
def test_icons_exist_with_their_declared_size(app, manifest, purpose, size):
    [icon] = [i for i in manifest.json["icons"]
              if i["purpose"] == purpose and i["sizes"] == f"{size}x{size}"]
    assert icon["type"] == "image/png"
    assert icon["src"].startswith("/static/icons/")
    assert png_size(STATIC / icon["src"].removeprefix("/static/")) == (size, size)
    with app.test_client().get(icon["src"]) as served:
        assert served.status_code == 200 and served.mimetype == "image/png"


def test_any_and_maskable_icons_are_separate_files(manifest):
    icons = manifest.json["icons"]
    assert all(" " not in icon["purpose"] for icon in icons)  # never "any maskable"
    any_files = {i["src"] for i in icons if i["purpose"] == "any"}
    maskable_files = {i["src"] for i in icons if i["purpose"] == "maskable"}
    assert any_files and maskable_files and not any_files & maskable_files


def test_maskable_icons_are_full_bleed(manifest):
    """A maskable icon fills its square (the platform cuts its own shape): no transparent
    corner. The "any" icons have rounded, transparent corners."""
    import zlib

    def corner_alpha(path: Path) -> int:
        data = path.read_bytes()
        chunks, offset = b"", 8
        while offset < len(data):
            (length,) = struct.unpack(">I", data[offset:offset + 4])
            kind = data[offset + 4:offset + 8]
            if kind == b"IDAT":
                chunks += data[offset + 8:offset + 8 + length]
            offset += 12 + length
        raw = zlib.decompress(chunks)
        assert raw[0] == 0, "first row unfiltered (as scripts/make_icons.py writes it)"
        return raw[1 + 3]  # the first pixel's alpha

    for icon in manifest.json["icons"]:
        alpha = corner_alpha(STATIC / icon["src"].removeprefix("/static/"))
        assert alpha == (255 if icon["purpose"] == "maskable" else 0), icon["src"]


def test_pages_link_a_real_favicon_and_an_apple_touch_icon(app):
    page = app.test_client().get("/login").get_data(as_text=True)
    assert 'href="data:,"' not in page
    favicon = re.search(r'<link rel="icon" href="([^"]+)"', page).group(1)
    apple = re.search(r'<link rel="apple-touch-icon" href="([^"]+)"', page).group(1)
    assert png_size(STATIC / apple.removeprefix("/static/")) == (180, 180)
    assert png_size(STATIC / favicon.removeprefix("/static/")) == (32, 32)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page


def test_csp_lets_the_page_use_the_manifest_worker_and_icons(app):
    policy = app.test_client().get("/login").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["manifest-src"] == "'self'"
    assert directives["worker-src"] == "'self'"
    assert "'self'" in directives["img-src"].split()
    assert directives["default-src"] == "'none'"
