"""Real-browser fixtures: Debian's Chromium driven by Playwright, the test app served
in-process on http://localhost:<free port>, and "phones" (browser contexts) that each hold
their own CDP virtual authenticator.

Every test in this folder is marked `browser`. Without Chromium they are skipped, unless
REQUIRE_BROWSER=1 (CI), which turns a missing Chromium into a usage error.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

HERE = Path(__file__).parent
DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}
INSTALL_HINT = "apt-get install chromium (see shared/recipes/browser-tests.md)"


def chromium_path() -> str | None:
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        return DEBIAN_CHROMIUM
    return shutil.which("chromium")


def _in_this_folder(item: pytest.Item) -> bool:
    return HERE in Path(item.path).parents


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # Before the other hooks (so `-m "not browser"` sees the marker) ...
    for item in items:
        if _in_this_folder(item):
            item.add_marker(pytest.mark.browser)
    result = yield
    # ... and after them, on what is left once deselection is done.
    selected = [item for item in items if _in_this_folder(item)]
    if selected and chromium_path() is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            raise pytest.UsageError(
                f"REQUIRE_BROWSER=1 but Chromium is missing ({DEBIAN_CHROMIUM} and `chromium` "
                f"on PATH): {INSTALL_HINT}")
        skip = pytest.mark.skip(reason=f"Chromium not found: {INSTALL_HINT}, "
                                       "or set REQUIRE_BROWSER=1 to fail instead")
        for item in selected:
            item.add_marker(skip)
    return result


# -- the browser (pytest-playwright's `browser` fixture, pointed at Debian's Chromium) ------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": chromium_path(), "headless": True,
            "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]}


# -- the app, served on a real socket from this process -------------------------------------------

class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass  # one line per request is noise in a test run


class _LateBoundApp:
    """The server needs its port before the app exists (the app's origin names the port)."""

    def __init__(self):
        self.app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture
def _listener() -> Iterator[BaseWSGIServer]:
    # NOTE: `localhost`, never 127.0.0.1: an IP address is not a valid WebAuthn RP ID. Port 0
    # lets the kernel pick a free port with no race.
    server = make_server("localhost", 0, _LateBoundApp(), threaded=True,
                         request_handler=_QuietHandler)
    # Request threads are joined at teardown, so none still holds a database connection when
    # the app's engine is disposed.
    server.daemon_threads = False
    yield server
    server.server_close()


@pytest.fixture
def app_config(app_config, _listener):
    """The shared test config with the origin the browser will really use, so `app`, `session`
    and `invite` all speak to the served app."""
    return {**app_config, "origin": f"http://localhost:{_listener.server_port}"}


@pytest.fixture
def live_app(app):
    """The app the browser talks to: tests/conftest.py's `app` built from the config above
    (its own database and instance folder, the test's FrozenClock, engine disposed after)."""
    return app


@pytest.fixture
def live_url(live_app, _listener) -> Iterator[str]:
    """Serve `live_app` from a background thread; yields its origin (http://localhost:PORT).
    The server shares the test's FrozenClock: `clock.advance(...)` moves server time."""
    _listener.app.app = live_app
    thread = threading.Thread(target=_listener.serve_forever, kwargs={"poll_interval": 0.05},
                              name="live-server", daemon=True)
    thread.start()
    yield live_app.config["SETTINGS"].origin
    _listener.shutdown()
    thread.join(timeout=10)
    for handler in list(getattr(_listener, "_threads", None) or []):
        handler.join(timeout=10)


@pytest.fixture(autouse=True)
def _agents_phones_need_no_approval(session):
    """The browser tests follow sign-in, the phone and the installed app, not device approval
    (tests/devices covers approval): an agent's new phone may open client data at once."""
    from webapp.access.agency_settings import set_setting

    set_setting(session, "device_approval_required.agent", False, updated_by=None)
    session.commit()


# -- phones: a browser context, a page, and a virtual authenticator --------------------------------

@dataclass
class BrowserPhone:
    """One person's phone: its own cookies, storage and passkey authenticator."""

    context: object
    page: object
    cdp: object
    authenticator_id: str
    base_url: str
    console_errors: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str):
        return self.page.goto(self.url(path))

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials",
                             {"authenticatorId": self.authenticator_id})["credentials"]

    def set_presence(self, simulated: bool) -> None:
        """Whether the authenticator "touches" itself for every request."""
        self.cdp.send("WebAuthn.setAutomaticPresenceSimulation",
                      {"authenticatorId": self.authenticator_id, "enabled": simulated})

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send("WebAuthn.setUserVerified", {"authenticatorId": self.authenticator_id,
                                                   "isUserVerified": verified})


# A browser that offers no passkey autofill (conditional mediation), as some still don't.
_NO_CONDITIONAL_MEDIATION = """
if (window.PublicKeyCredential) {
  PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
}
"""


def _record_console(phone: BrowserPhone) -> None:
    def on_console(message) -> None:
        if message.type == "error":
            phone.console_errors.append(f"console: {message.text}")

    phone.page.on("console", on_console)
    phone.page.on("pageerror", lambda error: phone.console_errors.append(f"pageerror: {error}"))


@pytest.fixture
def new_phone(browser, live_url) -> Iterator[Callable[..., BrowserPhone]]:
    """new_phone(fake_clock=False, passkey_autofill=True) -> a BrowserPhone at a 390x844
    viewport. With fake_clock=True Playwright's clock is installed before any page loads, so the
    test can fast-forward the page's own timers (the idle lock). passkey_autofill=False makes a
    browser without conditional mediation, so no background get() is pending on /login."""
    contexts = []

    def make(*, fake_clock: bool = False, passkey_autofill: bool = True) -> BrowserPhone:
        context = browser.new_context(viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True,
                                      base_url=live_url)
        contexts.append(context)
        if fake_clock:
            context.clock.install()
        if not passkey_autofill:
            context.add_init_script(_NO_CONDITIONAL_MEDIATION)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator_id = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
            "hasUserVerification": True, "isUserVerified": True,
            "automaticPresenceSimulation": True}})["authenticatorId"]
        phone = BrowserPhone(context=context, page=page, cdp=cdp,
                             authenticator_id=authenticator_id, base_url=live_url)
        _record_console(phone)
        return phone

    yield make
    for context in contexts:
        context.close()
