"""Compression of the app shell's text files only, and the cache policy of public files.

NOTE: HTML and JSON are never compressed: they carry the CSRF token, PHI and reflected input,
and a compressed response's length leaks secrets sitting beside attacker-chosen text (BREACH).
"""

from __future__ import annotations

import gzip

import brotli
import pytest

BOTH = {"Accept-Encoding": "gzip, deflate, br"}


def decoded(response) -> bytes:
    encoding = response.headers.get("Content-Encoding")
    data = response.get_data()
    if encoding == "br":
        return brotli.decompress(data)
    if encoding == "gzip":
        return gzip.decompress(data)
    assert encoding is None, encoding
    return data


@pytest.mark.parametrize("path", ["/static/app.js", "/static/app.css", "/static/pwa.js",
                                  "/static/vendor/htmx.min.js", "/sw.js",
                                  "/manifest.webmanifest"])
@pytest.mark.parametrize(("accept", "expected"), [("gzip, deflate, br", "br"),
                                                  ("gzip", "gzip")])
def test_shell_text_files_are_compressed(app, path, accept, expected):
    client = app.test_client()
    with client.get(path) as plain:
        identity = plain.get_data()
        assert "Content-Encoding" not in plain.headers
    with client.get(path, headers={"Accept-Encoding": accept}) as response:
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == expected
        assert "Accept-Encoding" in response.headers["Vary"]
        assert decoded(response) == identity
        assert len(response.get_data()) < len(identity)


def test_icons_are_not_recompressed(app):
    with app.test_client().get("/static/icons/icon-512.png", headers=BOTH) as response:
        assert "Content-Encoding" not in response.headers


@pytest.mark.parametrize("path", ["/login", "/offline"])
def test_public_html_is_never_compressed(app, path):
    response = app.test_client().get(path, headers=BOTH)
    assert response.mimetype == "text/html"
    assert len(response.get_data()) > 500  # big enough that size is not why
    assert "Content-Encoding" not in response.headers


def test_signed_in_html_and_json_are_never_compressed(signed_in):
    phone = signed_in()
    page = phone.client.get("/", headers=BOTH)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Content-Encoding" not in page.headers
    fragment = phone.client.get("/clients", headers={**BOTH, "HX-Request": "true"})
    assert "Content-Encoding" not in fragment.headers
    options = phone.post_json("/step-up/options", headers=BOTH)
    assert options.mimetype == "application/json"
    assert "Content-Encoding" not in options.headers


def test_compressed_types_are_only_scripts_styles_and_the_manifest(app):
    assert set(app.config["COMPRESS_MIMETYPES"]) == {
        "text/css", "text/javascript", "application/javascript", "application/manifest+json"}


# -- cache policy ------------------------------------------------------------------------

def test_static_files_are_revalidated_not_stored_blindly(app):
    """Shell files hold no PHI: the browser may keep them but asks each time (ETag)."""
    client = app.test_client()
    with client.get("/static/app.js", headers=BOTH) as first:
        assert first.headers["Cache-Control"] == "no-cache"
        etag = first.headers["ETag"]
    with client.get("/static/app.js", headers={**BOTH, "If-None-Match": etag}) as again:
        assert again.status_code == 304


@pytest.mark.parametrize(("path", "policy"), [("/sw.js", "no-cache"),
                                              ("/manifest.webmanifest", "no-cache"),
                                              ("/offline", "no-store"),
                                              ("/login", "no-store")])
def test_public_pwa_files_cache_policy(app, path, policy):
    assert app.test_client().get(path).headers["Cache-Control"] == policy


def test_authenticated_pages_stay_no_store(signed_in):
    phone = signed_in()
    for path in ("/", "/clients", "/account"):
        assert phone.client.get(path, headers=BOTH).headers["Cache-Control"] == "no-store"
