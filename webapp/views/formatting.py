"""Template filters for values as people read them.

Phone numbers are stored as typed (the blind index normalizes them for search), so one client's
number reads "5705550805" and another's "407-555-0883". Pages show every number one way: US
numbers as (570) 555-0805, others in international form; `tel:` links get the E.164 digits.
"""

from __future__ import annotations

from datetime import datetime

import phonenumbers
from flask import Flask

from ..access.agency_settings import agency_zone
from ..crypto.blind_index import normalize_phone
from ..db import get_session


def phone_display(value: str | None) -> str:
    if not value:
        return ""
    e164 = normalize_phone(value)
    if e164 is None:
        return value  # not a number we can read: as typed rather than a guess
    if e164.startswith("+1") and len(e164) == 12:
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return phonenumbers.format_number(phonenumbers.parse(e164),
                                      phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def tel_href(value: str | None) -> str:
    if not value:
        return ""
    e164 = normalize_phone(value)
    return "tel:" + (e164 or "".join(ch for ch in value if ch.isdigit() or ch == "+"))


def local_time(moment: datetime | None, *, with_year: bool = True) -> str:
    """A stored (UTC) moment as the agency's staff read it: "Dec 4, 2026 9:32 AM EST"."""
    if moment is None:
        return "never"
    shown = moment.astimezone(agency_zone(get_session()))
    return shown.strftime("%b %-d, %Y %-I:%M %p %Z" if with_year else "%b %-d, %-I:%M %p %Z")


def init_app(app: Flask) -> None:
    app.add_template_filter(phone_display, "phone")
    app.add_template_filter(tel_href, "tel")
