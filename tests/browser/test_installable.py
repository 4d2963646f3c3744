"""The installable app in a real Chromium: the manifest and worker pass Chrome's own
installability check, the worker takes control, Cache Storage never holds anything but the app
shell (not after signing in, opening Today and a client's card), a page that cannot load
offline shows the offline page, a new version waits for the person's Reload, a WIPE message
empties the caches, and the first load of Today stays under 60 KB on the wire.

Installability needs a persistent profile: an incognito context (`browser.new_context()`)
always reports `in-incognito`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import CHROMIUM_ARGS, PHONE_VIEWPORT, chromium_path
from webapp.auth.models import User
from webapp.clock import FrozenClock
from webapp.views import pwa

CANARY = "Inst4W"
CLIENT_NAME = f"First{CANARY} Last{CANARY}"
FIRST_LOAD_BUDGET = 60 * 1024  # bytes on the wire: HTML, CSS, JS and htmx; icons excluded
PAGE_RESOURCES = {"Document", "Stylesheet", "Script"}  # CDP resource types; data is not counted

SHELL_URLS = """
async () => {
  const result = {};
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    result[name] = (await cache.keys()).map((request) => new URL(request.url).pathname);
  }
  return result;
}
"""
CACHED_TEXT = """
async () => {
  let text = "";
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      const type = response.headers.get("Content-Type") || "";
      if (!type.startsWith("image/")) text += await response.text();
    }
  }
  return text;
}
"""
WORKER_READY = """
async () => {
  const registration = await navigator.serviceWorker.ready;
  return {scope: registration.scope, script: registration.active.scriptURL};
}
"""
CONTROLLER = "() => (navigator.serviceWorker.controller || {}).scriptURL || null"


@pytest.fixture
def clock():
    return FrozenClock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))  # 9:00 in New York


class InstalledPhone:
    """A phone with a persistent profile (installable, keeps its worker), a virtual
    authenticator, and a log of console errors."""

    def __init__(self, context, base_url: str):
        self.context = context
        self.base_url = base_url
        self.page = context.pages[0] if context.pages else context.new_page()
        self.cdp = context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable")
        self.authenticator_id = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
            "hasUserVerification": True, "isUserVerified": True,
            "automaticPresenceSimulation": True}})["authenticatorId"]
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(
            f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.console_errors.append(f"pageerror: {e}"))

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str):
        return self.page.goto(self.url(path))

    def enroll(self, token: str) -> None:
        self.goto(f"/enroll/{token}")
        self.page.get_by_role("button", name="Create my passkey").click()
        self.page.wait_for_url(self.url("/"))

    def sign_out(self) -> None:
        # Presence off first: the login page's passkey autofill would otherwise sign straight
        # back in (see test_passkey_flow.sign_out).
        self.cdp.send("WebAuthn.setAutomaticPresenceSimulation",
                      {"authenticatorId": self.authenticator_id, "enabled": False})
        self.page.get_by_role("banner").get_by_role("button", name="Sign out").click()
        self.page.wait_for_url(self.url("/login?signed_out=1"))

    def installability_errors(self) -> list[dict]:
        return self.cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]

    def workers(self) -> int:
        return self.page.evaluate(
            "async () => (await navigator.serviceWorker.getRegistrations()).length")

    def wait_for_worker(self) -> dict:
        return self.page.evaluate(WORKER_READY)

    def caches(self) -> dict[str, list[str]]:
        return self.page.evaluate(SHELL_URLS)


@pytest.fixture
def installed_phone(playwright, live_url, tmp_path):
    context = playwright.chromium.launch_persistent_context(
        user_data_dir=str(tmp_path / "profile"), executable_path=chromium_path(),
        headless=True, args=CHROMIUM_ARGS, viewport=PHONE_VIEWPORT, is_mobile=True,
        has_touch=True, base_url=live_url)
    try:
        yield InstalledPhone(context, live_url)
    finally:
        context.close()


def shell_paths(app) -> list[str]:
    with app.test_request_context():
        return [url for url, _path in pwa.shell_files()]


def agents_client(session, factories):
    session.expire_all()
    owner = session.scalar(select(User).where(User.email == "agent@example.com"))
    client = factories.full_client(owner, canary=CANARY,
                                   appointment_at=datetime(2026, 12, 3, 15, 0, tzinfo=UTC))
    session.commit()
    return client


def test_installable_and_the_worker_controls_signed_in_pages(installed_phone, invite,
                                                             live_app):
    phone = installed_phone
    page = phone.page
    phone.goto("/login")
    assert phone.installability_errors() == []
    manifest = phone.cdp.send("Page.getAppManifest")
    assert manifest["url"] == phone.url("/manifest.webmanifest")
    assert manifest.get("errors", []) == []
    page.wait_for_load_state("load")
    assert phone.workers() == 0  # a signed-out page installs no worker

    phone.enroll(invite("agent@example.com", "agent"))  # lands on Today, signed in
    worker = phone.wait_for_worker()
    assert worker == {"scope": phone.url("/"), "script": phone.url("/sw.js")}
    assert phone.installability_errors() == []
    page.reload()
    assert page.evaluate(CONTROLLER) == phone.url("/sw.js")
    caches = phone.caches()
    assert len(caches) == 1
    [(name, urls)] = caches.items()
    assert name.startswith("safeharbor-shell-")
    assert sorted(urls) == sorted(shell_paths(live_app))
    assert phone.console_errors == []


def test_cache_storage_holds_only_the_shell_after_today_and_a_client_card(
        installed_phone, invite, session, factories, live_app):
    phone = installed_phone
    page = phone.page
    phone.enroll(invite("agent@example.com", "agent"))
    client = agents_client(session, factories)

    phone.wait_for_worker()  # active: the reload below is under its control
    page.reload()  # Today, with the appointment
    expect(page.locator(".card-next")).to_contain_text(CLIENT_NAME)
    assert page.evaluate(CONTROLLER) == phone.url("/sw.js")
    # Open the client's card (a boosted htmx navigation), then load it in full too.
    page.locator(".card-next").get_by_role("link", name="Open client").click()
    page.wait_for_url(phone.url(f"/clients/{client.id}"))
    expect(page.get_by_role("heading", name=CLIENT_NAME)).to_be_visible()
    page.reload()
    expect(page.locator("#medications")).to_contain_text(f"{CANARY}mg")

    caches = phone.caches()
    assert len(caches) == 1
    assert sorted(next(iter(caches.values()))) == sorted(shell_paths(live_app))
    cached_text = page.evaluate(CACHED_TEXT)
    assert CANARY not in cached_text and "agent@example.com" not in cached_text
    assert '<meta name="csrf-token"' not in cached_text  # no page's token either
    assert phone.console_errors == []


def test_a_page_that_cannot_load_offline_shows_the_offline_page(
        installed_phone, invite, session, factories):
    phone = installed_phone
    page = phone.page
    phone.enroll(invite("agent@example.com", "agent"))
    client = agents_client(session, factories)
    phone.wait_for_worker()
    page.reload()
    assert page.evaluate(CONTROLLER) == phone.url("/sw.js")

    phone.context.set_offline(True)
    try:
        response = phone.goto(f"/clients/{client.id}")
        assert response.status == 200 and response.from_service_worker
        expect(page.get_by_role("heading", name="You're offline")).to_be_visible()
        expect(page.get_by_text("The data on this phone needs a connection to unlock")
               ).to_be_visible()
        assert CANARY not in page.content()
        assert page.url == phone.url(f"/clients/{client.id}")
    finally:
        phone.context.set_offline(False)
    phone.goto(f"/clients/{client.id}")
    expect(page.get_by_role("heading", name=CLIENT_NAME)).to_be_visible()


def test_a_new_version_waits_for_the_persons_reload(installed_phone, invite, tmp_path,
                                                    monkeypatch):
    phone = installed_phone
    page = phone.page
    phone.enroll(invite("agent@example.com", "agent"))
    phone.wait_for_worker()
    page.reload()
    [old_cache] = phone.caches()
    expect(page.locator("[data-update-banner]")).to_have_count(0)

    # The deploy: app.css changes, so the served worker's version and bytes change.
    real_files = pwa.shell_files
    new_css = tmp_path / "app.css"
    new_css.write_text("/* the next release */")
    monkeypatch.setattr(pwa, "shell_files", lambda: [
        (url, new_css if url.endswith("/app.css") else path) for url, path in real_files()])

    page.evaluate("async () => (await navigator.serviceWorker.getRegistration()).update()")
    banner = page.locator("[data-update-banner]")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "status")
    expect(banner).to_contain_text("A new version is ready.")
    # Nothing took over by itself: the old version still controls the page.
    assert old_cache in phone.caches()

    with page.expect_event("load"):
        banner.get_by_role("button", name="Reload").click()
    expect(page.locator("[data-update-banner]")).to_have_count(0)
    caches = phone.caches()
    assert len(caches) == 1 and old_cache not in caches
    assert page.evaluate(CONTROLLER) == phone.url("/sw.js")
    assert phone.console_errors == []


def test_a_wipe_message_empties_every_cache_and_sign_out_leaves_no_worker(installed_phone,
                                                                          invite):
    phone = installed_phone
    page = phone.page
    phone.enroll(invite("agent@example.com", "agent"))
    phone.wait_for_worker()
    page.reload()
    page.evaluate("async () => (await caches.open('other')).put('/x', new Response('x'))")
    assert len(phone.caches()) == 2
    reply = page.evaluate("""
        () => new Promise((resolve) => {
          const channel = new MessageChannel();
          channel.port1.onmessage = (event) => resolve(event.data);
          navigator.serviceWorker.controller.postMessage({type: "WIPE"}, [channel.port2]);
        })
    """)
    assert reply == {"type": "WIPED"}
    assert phone.caches() == {}

    # Signing out removes the worker (app.js), and the login page does not bring it back.
    assert phone.workers() == 1
    phone.sign_out()
    page.wait_for_load_state("load")
    page.wait_for_timeout(500)  # time enough for a registration, were there one
    assert phone.workers() == 0 and phone.caches() == {}


def test_first_load_of_today_is_light(new_phone, invite, session, factories):
    """A phone that has never loaded the app (no HTTP cache, no worker) opens Today: the bytes
    on the wire (headers included, compressed) for the page, its CSS and scripts."""
    phone = new_phone()
    page = phone.page
    enroll_token = invite("agent@example.com", "agent")
    phone.goto(f"/enroll/{enroll_token}")
    page.get_by_role("button", name="Create my passkey").click()
    page.wait_for_url(phone.url("/"))
    agents_client(session, factories)

    # Forget everything the enrollment pages left: HTTP cache, worker, Cache Storage.
    page.evaluate("""async () => {
        for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
        for (const name of await caches.keys()) await caches.delete(name);
    }""")
    page.goto("about:blank")
    phone.cdp.send("Network.enable")
    phone.cdp.send("Network.clearBrowserCache")
    responses: dict[str, tuple[str, str]] = {}  # request id -> (path, resource type)
    sizes: dict[str, float] = {}
    phone.cdp.on("Network.responseReceived", lambda event: responses.__setitem__(
        event["requestId"], (event["response"]["url"].removeprefix(phone.base_url),
                             event["type"])))
    phone.cdp.on("Network.loadingFinished",
                 lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]))

    page.goto(phone.url("/"), wait_until="networkidle")
    expect(page.locator(".card-next")).to_contain_text(CLIENT_NAME)

    loaded = [(*responses[rid], size) for rid, size in sizes.items() if rid in responses]
    counted = [(path, kind, size) for path, kind, size in loaded
               if kind in PAGE_RESOURCES and not path.startswith("/static/icons/")]
    total = sum(size for _path, _kind, size in counted)
    print(f"\nfirst load of Today: {total / 1024:.1f} KB on the wire for the page, its CSS "
          f"and scripts ({len(counted)} responses; icons and data excluded)")
    for path, kind, size in sorted(loaded, key=lambda item: -item[2]):
        note = "" if (path, kind, size) in counted else "  (not counted)"
        print(f"  {size / 1024:6.1f} KB  {kind:<10} {path}{note}")
    assert {"/", "/static/app.css", "/static/app.js", "/static/vendor/htmx.min.js",
            "/static/pwa.js"} <= {path for path, _kind, _size in counted}
    assert total <= FIRST_LOAD_BUDGET


def test_installed_app_blurs_in_the_background_and_locks(installed_phone, invite, session,
                                                         factories):
    """The privacy screen in the installed app's profile: the content is blurred while the
    app is in the background (the app switcher's snapshot), and the lock overlay hides it and
    takes it out of reach. (Chromium's CDP cannot emulate display-mode: standalone; nothing
    in app.js or app.css depends on it.)"""
    phone = installed_phone
    page = phone.page
    phone.enroll(invite("agent@example.com", "agent"))
    agents_client(session, factories)
    page.reload()
    expect(page.locator(".card-next")).to_contain_text(CLIENT_NAME)
    blur = "() => getComputedStyle(document.getElementById('app')).filter"

    assert page.evaluate(blur) == "none"
    page.evaluate("() => window.dispatchEvent(new Event('blur'))")  # app switcher
    assert page.evaluate(blur) == "blur(24px)"
    page.evaluate("() => window.dispatchEvent(new Event('focus'))")  # back in the app
    assert page.evaluate(blur) == "none"

    page.evaluate("() => window.SafeHarbor.showLock()")
    overlay = page.locator("#lock-overlay")
    expect(overlay).to_be_visible()
    expect(overlay.get_by_role("button", name="Unlock")).to_be_focused()
    assert page.locator("#app").evaluate("element => element.inert") is True
    assert page.locator("#app").get_attribute("aria-hidden") == "true"
