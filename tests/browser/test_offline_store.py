"""The encrypted offline store in a real Chromium: an agent's day opens offline from ciphertext,
the key lives in page memory only, and a wipe or a logout leaves the phone with nothing.

Canary values sit in every text field of the client; the tests read every IndexedDB record and
every Cache Storage entry out of the page and search them for the canaries.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from playwright.sync_api import expect
from sqlalchemy import select

from webapp.audit import Actor
from webapp.auth.models import User
from webapp.clock import FrozenClock
from webapp.devices import registry
from webapp.devices.models import DeviceStatus

C = "Offl9~"  # factories.full_client(canary=C): every text field carries it
CLIENT_NAME = f"First{C} Last{C}"
CANARIES = [f"First{C}", f"Last{C}", f"Note{C}", f"{C}mg", f"Med{C}", f"Place{C}",
            f"Purpose{C}", f"MBI{C}", f"Summary{C}", C]

# Every record of every IndexedDB database, binary members as base64.
READ_INDEXED_DB = """
async () => {
  const encode = (value) => {
    if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
      const bytes = value instanceof ArrayBuffer ? new Uint8Array(value)
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      let binary = "";
      for (const byte of bytes) binary += String.fromCharCode(byte);
      return { base64: btoa(binary) };
    }
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v)]));
    }
    return value;
  };
  const out = [];
  for (const { name } of await indexedDB.databases()) {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open(name);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    for (const store of db.objectStoreNames) {
      const rows = await new Promise((resolve) => {
        const request = db.transaction(store).objectStore(store).getAll();
        request.onsuccess = () => resolve(request.result);
      });
      for (const row of rows) out.push({ database: name, store, row: encode(row) });
    }
    db.close();
  }
  return out;
}
"""
READ_CACHE_STORAGE = """
async () => {
  const out = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      out.push({ cache: name, url: request.url, body: await response.text() });
    }
  }
  return out;
}
"""
LOCAL_STATE = """
async () => ({
  databases: (await indexedDB.databases()).map((db) => db.name),
  caches: await caches.keys(),
  workers: (await navigator.serviceWorker.getRegistrations()).length,
  local: localStorage.length,
  session: sessionStorage.length,
  keyHeld: !!(window.SafeHarbor && window.SafeHarbor.offlineKeyHeld
              && window.SafeHarbor.offlineKeyHeld()),
})
"""


@pytest.fixture
def clock():
    return FrozenClock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))  # 9:00 in New York


@pytest.fixture
def phone_factory(phone):
    """Flask test-client phones (the conftest's `phone`): named apart from the browser phones."""
    return phone


@pytest.fixture
def agent_day(new_phone, invite, session, factories):
    """An agent enrolled on a real phone, with a client seen at 10:00 today and the offline
    copy saved: returns (phone, client)."""
    phone = new_phone()
    phone.goto(f"/enroll/{invite('agent@example.com', 'agent')}")
    phone.page.get_by_role("button", name="Create my passkey").click()
    phone.page.wait_for_url(phone.url("/"))
    session.expire_all()
    owner = session.scalar(select(User).where(User.email == "agent@example.com"))
    client = factories.full_client(owner, canary=C,
                                   appointment_at=datetime(2026, 12, 3, 15, 0, tzinfo=UTC))
    session.commit()
    page = phone.page
    page.reload()
    expect(page.locator("[data-appointments]")).to_contain_text(CLIENT_NAME)
    page.wait_for_function("() => document.documentElement.dataset.offlineCopySavedAt")
    return phone, client


def _device(session, phone):
    session.expire_all()
    cookie = next(c for c in phone.context.cookies() if c["name"] == "sh-device")
    return registry.find_device(session, cookie["value"])


def _assert_no_canary(phone) -> list[dict]:
    records = phone.page.evaluate(READ_INDEXED_DB)
    cached = phone.page.evaluate(READ_CACHE_STORAGE)
    stored = json.dumps(records) + json.dumps(cached)
    raw = b"".join(base64.b64decode(value["base64"]) for record in records
                   for value in record["row"].values() if isinstance(value, dict))
    for canary in CANARIES:
        assert canary not in stored, canary
        assert canary.encode() not in raw, canary
    return records


def _sealed_pages(records: list[dict]) -> dict[str, dict]:
    return {r["row"]["path"]: r["row"] for r in records if r["store"] == "pages"}


def _open(key: bytes, device_id: str, record: dict) -> dict:
    iv = base64.b64decode(record["iv"]["base64"])
    ciphertext = base64.b64decode(record["ciphertext"]["base64"])
    ad = f"safeharbor-offline|{device_id}|{record['path']}".encode()
    return json.loads(AESGCM(key).decrypt(iv, ciphertext, ad))


def test_today_and_the_card_open_offline_from_ciphertext_only(agent_day, session, keyring):
    phone, client = agent_day
    page = phone.page
    assert page.evaluate(LOCAL_STATE)["keyHeld"] is True

    # At rest: only ciphertext, for Today and today's client, nothing else.
    records = _assert_no_canary(phone)
    sealed = _sealed_pages(records)
    assert set(sealed) == {"/", f"/clients/{client.id}"}
    # The server's key for this device opens them: the store really holds today's pages.
    device = _device(session, phone)
    key = registry.cache_key(session, keyring, device)
    card = _open(key, device.id, sealed[f"/clients/{client.id}"])
    assert CLIENT_NAME in card["main"] and f"Note{C}" in card["main"]
    # A record moved to another path does not open (the path is bound in).
    moved = {**sealed["/"], "path": f"/clients/{client.id}"}
    with pytest.raises(InvalidTag):
        _open(key, device.id, moved)

    # The signal drops while the app is open and unlocked.
    phone.context.set_offline(True)
    page.locator("[data-appointments] a").first.click()
    expect(page.locator("#app[data-offline-copy]")).to_be_visible()
    expect(page.get_by_role("heading", name=CLIENT_NAME)).to_be_visible()
    expect(page.locator("#medications")).to_contain_text(f"{C}mg")
    expect(page.locator("[data-offline-banner]")).to_contain_text("Offline")
    assert page.url == phone.url(f"/clients/{client.id}")

    page.locator(".bottom-nav").get_by_role("link", name="Today").click()
    expect(page.locator("[data-appointments]")).to_contain_text(CLIENT_NAME)
    expect(page.locator(".bottom-nav a[aria-current=page]")).to_have_text("Today")
    assert page.url == phone.url("/")

    # A page that is not in the copy says so, and shows nothing else.
    page.locator(".bottom-nav").get_by_role("link", name="Clients").click()
    expect(page.locator("[data-offline-banner]")).to_contain_text("not in the copy")
    _assert_no_canary(phone)

    # Back online, navigation is the network's again.
    phone.context.set_offline(False)
    page.locator(".bottom-nav").get_by_role("link", name="Clients").click()
    expect(page.locator("[data-offline-banner]")).to_have_count(0)
    expect(page.locator("#app[data-offline-copy]")).to_have_count(0)


def test_a_locked_app_drops_the_key_and_cannot_open_the_copy(agent_day):
    phone, _client = agent_day
    page = phone.page
    page.evaluate("() => window.SafeHarbor.showLock()")
    assert page.evaluate(LOCAL_STATE)["keyHeld"] is False
    page.evaluate("() => window.SafeHarbor.refreshOfflineCopy()")  # no key offered again
    assert page.evaluate(LOCAL_STATE)["keyHeld"] is False


def test_a_restarted_app_has_no_key_until_it_is_unlocked_online(agent_day, clock):
    phone, _client = agent_day
    clock.advance(minutes=4)
    assert phone.page.request.get(phone.url("/account")).ok  # in use: the session stays open
    clock.advance(minutes=2)  # ... but the last passkey check is now past the idle-lock time
    page = phone.context.new_page()  # the app started again: a new document, no key in memory
    page.goto(phone.url("/account"))
    assert page.locator("body").get_attribute("data-offline-store") == "sealed"
    state = page.evaluate(LOCAL_STATE)
    assert state["keyHeld"] is False and "safeharbor-offline" in state["databases"]
    assert page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    phone.context.set_offline(True)
    page.locator(".bottom-nav").get_by_role("link", name="Today").click()
    expect(page.locator("[data-offline-banner]")).to_contain_text("needs a connection to unlock")
    expect(page.get_by_text(CLIENT_NAME)).to_have_count(0)

    # Opened from the home screen with no signal at all: the service worker's offline page.
    cold = phone.context.new_page()
    cold.goto(phone.url("/"))
    expect(cold.get_by_role("heading", name="You're offline")).to_be_visible()
    expect(cold.get_by_text("needs a connection to unlock")).to_be_visible()
    expect(cold.get_by_text(CLIENT_NAME)).to_have_count(0)


def test_the_copy_is_deleted_after_the_offline_limit(new_phone, invite, session, factories):
    from webapp.access.agency_settings import set_setting

    set_setting(session, "device_offline_lock_minutes", 5, updated_by=None)
    session.commit()
    phone = new_phone(fake_clock=True)
    phone.goto(f"/enroll/{invite('agent@example.com', 'agent')}")
    phone.page.get_by_role("button", name="Create my passkey").click()
    phone.page.wait_for_url(phone.url("/"))
    phone.page.wait_for_function("() => document.documentElement.dataset.offlineCopySavedAt")
    assert "safeharbor-offline" in phone.page.evaluate(LOCAL_STATE)["databases"]
    phone.page.clock.run_for(6 * 60 * 1000)  # the page's own clock: 6 minutes on
    phone.page.wait_for_function("""async () =>
        !(await indexedDB.databases()).some((db) => db.name === "safeharbor-offline")""")


def test_a_wiped_phone_is_left_with_nothing(agent_day, session, keyring, clock, invite,
                                            live_url, phone_factory):
    phone, client = agent_day
    page = phone.page
    records = _assert_no_canary(phone)
    device = _device(session, phone)
    old_key = registry.cache_key(session, keyring, device)
    copied_out = _sealed_pages(records)[f"/clients/{client.id}"]
    assert CLIENT_NAME in _open(old_key, device.id, copied_out)["main"]

    # The admin wipes the phone; its next request finds out.
    registry.order_wipe(session, keyring, device, actor=Actor(label="test-admin"),
                        now=clock.now())
    session.commit()
    page.locator(".bottom-nav").get_by_role("link", name="Clients").click()
    expect(page.get_by_role("heading", name="This device was wiped")).to_be_visible()
    expect(page.locator("[data-wipe-confirmed=true]")).to_be_visible()
    state = page.evaluate(LOCAL_STATE)
    assert state == {"databases": [], "caches": [], "workers": 0, "local": 0, "session": 0,
                     "keyHeld": False}
    session.expire_all()
    assert _device(session, phone).status == DeviceStatus.WIPED

    # Nothing handed out any more opens the copy taken before the wipe: the phone gets no key,
    # the server's copy of the key is gone, and a new device's key is another key.
    refused = page.request.get(phone.url("/devices/cache-key"), max_redirects=0,
                               headers={"Accept": "application/json"})
    assert refused.status in (401, 410) and "key" not in refused.json()
    assert registry.cache_key(session, keyring, _device(session, phone)) is None
    other = phone_factory()
    assert other.enroll(invite("new@example.com", "agent"), origin=live_url).status_code == 200
    fresh = other.client.get("/devices/cache-key").json
    new_key = base64.urlsafe_b64decode(fresh["key"] + "==")
    assert new_key != old_key
    for key, device_id in ((new_key, device.id), (new_key, fresh["device_id"])):
        with pytest.raises(InvalidTag):
            _open(key, device_id, copied_out)


def test_logout_leaves_nothing_behind(agent_day):
    phone, _client = agent_day
    page = phone.page
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(phone.url("/login?signed_out=1"))
    state = page.evaluate(LOCAL_STATE)
    assert state["databases"] == [] and state["caches"] == [] and state["workers"] == 0
    assert state["keyHeld"] is False
