"""The agent's phone flow in a real Chromium at 390x844: Today -> the next appointment's card ->
open the client -> add a note -> log a call, with the note and the call swapped into the card
in place by htmx. Along the way: no sideways scrolling, thumb-sized tap targets, no console
errors or CSP refusals, and the note's text never lands in a URL or in web storage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from webapp.auth.models import User
from webapp.clock import FrozenClock

VIEWPORT_WIDTH = 390
NARROW_WIDTH = 360
MIN_TARGET = 44  # px: the smallest comfortable touch target
NOTE = "FlowNote7Q call back about the Part D switch"
CALL_SUMMARY = "FlowCall3K confirmed the visit at ten"
CLIENT_NAME = "FirstFlow1 LastFlow1"  # factories.full_client(canary="Flow1")
# The client's phone number in the card's facts list: an inline text link. (A provider's phone
# in the providers list is not exempt: `.list a` makes it a 44 px flex row.)
INLINE_PHONE_LINKS = frozenset({"(555) 010-7788"})
SECTIONS = ["Plan", "Conditions", "Medications", "Providers", "Claims", "Premium and payment",
            "Appointments", "Notes", "Calls, texts and emails"]

# Every visible link and button in <main>, with its box and how it is laid out.
TAP_TARGETS = """
() => [...document.querySelectorAll(
    "main a[href], main button, main [role=button], main input[type=submit], main summary")]
  .filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== "hidden";
  })
  .map(el => ({
    text: el.textContent.trim().replace(/\\s+/g, " "),
    href: el.getAttribute("href"),
    height: el.getBoundingClientRect().height,
    display: getComputedStyle(el).display,
    parent: el.parentElement.tagName.toLowerCase(),
  }))
"""
WEB_STORAGE = """
() => JSON.stringify({local: {...localStorage}, session: {...sessionStorage}})
"""


@pytest.fixture
def clock():
    return FrozenClock(datetime(2026, 12, 3, 14, 0, tzinfo=UTC))  # 9:00 in New York


def enroll(phone, token: str) -> None:
    phone.goto(f"/enroll/{token}")
    phone.page.get_by_role("button", name="Create my passkey").click()
    phone.page.wait_for_url(phone.url("/"))


def assert_phone_layout(page, *, inline_links: frozenset[str] = frozenset()) -> None:
    """No horizontal scroll at 390 px, and every visible link or button in <main> at least
    44 px high.

    Exempt (WCAG 2.5.8's inline exception): links that are plain text inside a line of text
    (display: inline inside a <dd> or list item), i.e. the client's phone number in the
    card's facts list. Its line height is the text's; a button-sized box would break the
    line. The caller names exactly the links that use the exemption, so a new small link
    fails and so does a stale name."""
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT_WIDTH
    targets = page.evaluate(TAP_TARGETS)
    assert targets, "no links or buttons found in <main>"
    inline = {t["text"] for t in targets
              if t["display"] == "inline" and t["parent"] in ("dd", "li")}
    assert inline == set(inline_links), f"inline text links: {inline}"
    too_small = [t for t in targets if t["height"] < MIN_TARGET and t["text"] not in inline]
    assert too_small == [], f"tap targets under {MIN_TARGET}px: {too_small}"


def test_today_to_client_card_add_note_and_log_a_call(new_phone, invite, session, factories):
    phone = new_phone()
    page = phone.page
    requested_urls: list[str] = []
    page.on("request", lambda request: requested_urls.append(request.url))

    # An agent enrolls through the real pages; their day is empty at first.
    enroll(phone, invite("agent@example.com", "agent"))
    expect(page.get_by_text("No appointments today.")).to_be_visible()

    # Their client, seen at 10:00 today (15:00 UTC; the clock says 9:00 in New York).
    session.expire_all()
    owner = session.scalar(select(User).where(User.email == "agent@example.com"))
    client = factories.full_client(owner, canary="Flow1",
                                   appointment_at=datetime(2026, 12, 3, 15, 0, tzinfo=UTC))
    session.commit()
    client_url = phone.url(f"/clients/{client.id}")

    # Today: the next appointment as a card, with a call link and a directions link that opens
    # the phone's own maps app.
    page.reload()
    card = page.locator(".card-next")
    expect(card).to_be_visible()
    expect(card.get_by_role("heading")).to_have_text("Next: 10:00 AM")
    expect(card).to_contain_text(CLIENT_NAME)
    expect(card.get_by_role("link", name="Call")).to_have_attribute("href", "tel:+15550107788")
    expect(card.get_by_role("link", name="Directions")).to_have_attribute(
        "href", "geo:0,0?q=PlaceFlow1")
    expect(page.locator("[data-appointments]")).to_contain_text(CLIENT_NAME)
    assert_phone_layout(page)

    # Tap "Open client": the card with the client's name and every section.
    card.get_by_role("link", name="Open client").tap()
    page.wait_for_url(client_url)
    expect(page.get_by_role("heading", name=CLIENT_NAME)).to_be_visible()
    expect(page.locator("[data-section] > h2")).to_have_text(SECTIONS)
    expect(page.locator("#medications")).to_contain_text("Flow1mg")
    assert_phone_layout(page, inline_links=INLINE_PHONE_LINKS)
    # A marker on this document: it survives htmx swaps, not a full page load.
    page.evaluate("() => { window.phoneFlowMarker = 'same document'; }")

    # Add a note: the notes section is swapped in place.
    notes = page.locator("#notes")
    notes.locator("#note-body").fill(NOTE)
    with page.expect_response(lambda r: r.url == phone.url(f"/clients/{client.id}/notes")
                              and r.request.method == "POST") as note_reply:
        notes.get_by_role("button", name="Add note").tap()
    assert note_reply.value.status == 200
    assert note_reply.value.request.header_value("HX-Request") == "true"
    expect(page.locator("#notes")).to_contain_text(NOTE)
    expect(page.locator("#notes")).to_have_count(1)
    expect(page.locator("#note-body")).to_have_value("")  # a fresh form for the next note
    assert page.url == client_url
    assert page.evaluate("() => window.phoneFlowMarker") == "same document"

    # Log an outbound call: the communications section is swapped in place.
    calls = page.locator("#communications")
    calls.locator("#comm-channel").select_option("call")
    calls.locator("#comm-direction").select_option("outbound")
    calls.locator("#comm-summary").fill(CALL_SUMMARY)
    with page.expect_response(
            lambda r: r.url == phone.url(f"/clients/{client.id}/communications")
            and r.request.method == "POST") as call_reply:
        calls.get_by_role("button", name="Log a call").tap()
    assert call_reply.value.status == 200
    assert call_reply.value.request.header_value("HX-Request") == "true"
    logged = page.locator("#communications li").filter(has_text=CALL_SUMMARY)
    expect(logged).to_have_count(1)
    expect(logged.locator(".badge")).to_have_text("call · outbound")
    expect(page.locator("#notes")).to_contain_text(NOTE)  # the other swap left it alone
    assert page.url == client_url
    assert page.evaluate("() => window.phoneFlowMarker") == "same document"
    assert_phone_layout(page, inline_links=INLINE_PHONE_LINKS)

    # The note went in a POST body only: never in a URL, never in web storage.
    assert NOTE not in page.url
    assert [url for url in requested_urls if "FlowNote7Q" in url] == []
    assert "FlowNote7Q" not in page.evaluate(WEB_STORAGE)
    assert "FlowCall3K" not in page.evaluate(WEB_STORAGE)

    # The narrowest common phone (360 px): every page of the flow still fits without
    # sideways scrolling, the client list and the schedule too.
    page.set_viewport_size({"width": NARROW_WIDTH, "height": 740})
    for path in ("/", f"/clients/{client.id}", "/clients", "/schedule", "/schedule?view=week"):
        page.goto(phone.url(path))
        expect(page.locator("main")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW_WIDTH, path

    # No script errors and no CSP refusals (Chromium logs those as console errors).
    assert phone.console_errors == []
