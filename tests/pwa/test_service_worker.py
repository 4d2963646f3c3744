"""The service worker as served at /sw.js: headers, the shell it precaches, its version, and
a static check that nothing but the shell can ever be written to Cache Storage."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from webapp.views import pwa

SOURCE = pwa.SERVICE_WORKER_SOURCE.read_text()


def served(app) -> tuple[str, list[str]]:
    """(version, shell URLs) as the served worker names them."""
    text = app.test_client().get("/sw.js").get_data(as_text=True)
    version = re.search(r'^const VERSION = "([0-9a-f]+)";$', text, re.M).group(1)
    urls = json.loads(re.search(r"^const SHELL_URLS = (\[.*\]);$", text, re.M).group(1))
    return version, urls


def test_headers(app):
    response = app.test_client().get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "Set-Cookie" not in response.headers


def test_unchanged_worker_revalidates_with_304(app):
    client = app.test_client()
    first = client.get("/sw.js")
    again = client.get("/sw.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_placeholders_are_filled(app):
    text = app.test_client().get("/sw.js").get_data(as_text=True)
    assert "__SHELL_VERSION__" not in text and "__SHELL_URLS__" not in text
    assert "__OFFLINE_URL__" not in text and 'const OFFLINE_URL = "/offline";' in text


def test_the_shell_is_exactly_the_static_shell_and_the_offline_page(app):
    _version, urls = served(app)
    assert urls == ["/static/app.css", "/static/app.js", "/static/pwa.js",
                    "/static/offline.js", "/static/vendor/htmx.min.js",
                    "/static/icons/icon-192.png",
                    "/static/icons/icon-512.png", "/static/icons/maskable-192.png",
                    "/static/icons/maskable-512.png", "/static/icons/apple-touch-icon.png",
                    "/static/icons/favicon-32.png", "/offline"]


def test_every_script_stylesheet_and_icon_of_the_layout_is_in_the_shell(app):
    """A script or stylesheet added to base.html but not to the shell would be fetched
    from the network on every page, and missing offline."""
    _version, urls = served(app)
    page = app.test_client().get("/login").get_data(as_text=True)
    linked = set(re.findall(r'<script src="([^"]+)"', page))
    linked |= set(re.findall(r'<link rel="(?:stylesheet|icon|apple-touch-icon)" href="([^"]+)"',
                             page))
    assert linked and linked <= set(urls)


def test_every_shell_url_answers_200_without_cookies(app):
    """The worker precaches with credentials omitted and all-or-nothing: each URL must
    answer a cookie-less request, and none may set a cookie."""
    _version, urls = served(app)
    client = app.test_client(use_cookies=False)
    for url in urls:
        with client.get(url) as response:
            assert response.status_code == 200, url
            assert "Set-Cookie" not in response.headers, url


def test_served_worker_is_valid_javascript(app, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = tmp_path / "sw.js"
    script.write_bytes(app.test_client().get("/sw.js").data)
    result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


# -- the version --------------------------------------------------------------------------------

def test_version_is_a_hash_of_the_shell_files(tmp_path):
    worker = tmp_path / "sw.js"
    worker.write_text("// worker")
    first, second = tmp_path / "app.js", tmp_path / "app.css"
    first.write_text("one")
    second.write_text("two")
    files = [("/static/app.js", first), ("/static/app.css", second)]
    version = pwa.shell_version(files, worker)
    assert re.fullmatch(r"[0-9a-f]{16}", version)
    assert pwa.shell_version(list(reversed(files)), worker) == version  # order-free
    second.write_text("two, changed")
    assert pwa.shell_version(files, worker) != version
    second.write_text("two")
    assert pwa.shell_version(files, worker) == version  # content, not time
    worker.write_text("// worker, changed")
    assert pwa.shell_version(files, worker) != version


def test_shell_version_covers_every_shell_file(app):
    with app.test_request_context():
        files = dict(pwa.shell_files())
    names = {path.name for path in files.values()}
    assert {"app.css", "app.js", "pwa.js", "htmx.min.js", "offline.html",
            "icon-192.png", "maskable-512.png", "apple-touch-icon.png"} <= names
    assert all(path.is_file() for path in files.values())


def test_a_deploy_that_changes_a_shell_file_changes_the_served_worker(app, tmp_path,
                                                                      monkeypatch):
    extra = tmp_path / "extra.css"
    extra.write_text("body {}")
    real = pwa.shell_files
    monkeypatch.setattr(pwa, "shell_files", lambda: [*real(), ("/static/extra.css", extra)])
    client = app.test_client()
    before = client.get("/sw.js")
    version, urls = served(app)
    assert "/static/extra.css" in urls
    assert served(app)[0] == version  # stable while nothing changes
    extra.write_text("body { color: red }")  # the deploy
    after = client.get("/sw.js")
    assert served(app)[0] != version
    assert after.headers["ETag"] != before.headers["ETag"]
    assert "safeharbor-shell-${VERSION}" in after.get_data(as_text=True)


# -- nothing but the shell is ever stored ----------------------------------------------------------

def _code(source: str) -> str:
    """The worker's code without its comments."""
    return re.sub(r"//[^\n]*", "", source)


def _function_body(source: str, name: str) -> str:
    start = source.index(f"function {name}(")
    opening = source.index("{", source.index(")", start))
    depth = 0
    for index in range(opening, len(source)):
        depth += {"{": 1, "}": -1}.get(source[index], 0)
        if depth == 0:
            return source[opening:index + 1]
    raise AssertionError(f"unbalanced braces in {name}")


def test_only_the_install_step_writes_to_cache_storage():
    code = _code(SOURCE)
    writes = re.findall(r"\.(put|add|addAll)\s*\(", code)
    assert writes == ["addAll"], f"cache writes in sw.js: {writes}"
    assert re.search(r"\bcache\.addAll\(requests\)", _function_body(code, "precacheShell"))
    # precacheShell runs from the install event only, on the shell's URLs only.
    assert code.count("precacheShell(") == 2  # its definition and the install handler's call
    install = code[code.index('addEventListener("install"'):]
    assert install.index("precacheShell()") < install.index("});")
    assert "SHELL_URLS.map(" in _function_body(code, "precacheShell")


def test_the_shell_is_fetched_without_cookies():
    body = _function_body(_code(SOURCE), "precacheShell")
    assert 'credentials: "omit"' in body


def test_nothing_else_reaches_any_storage():
    code = _code(SOURCE)
    for api in ("indexedDB", "localStorage", "sessionStorage", "cookieStore", "importScripts",
                "eval(", "Function("):
        assert api not in code, api


def test_only_same_origin_gets_are_handled():
    fetch = _code(SOURCE)[_code(SOURCE).index('addEventListener("fetch"'):]
    assert 'if (request.method !== "GET") return;' in fetch
    assert "if (url.origin !== self.location.origin) return;" in fetch
