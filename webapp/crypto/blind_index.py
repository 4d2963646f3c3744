"""Normalizers for blind indexes: the same person typed differently must index the same.

Names are case- and accent-folded ("José  GARCÍA-López" == "jose garcia lopez"), phones become
E.164 (US numbers by default), dates become ISO 8601 whatever the input format.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers


@dataclass(frozen=True)
class Normalizer:
    """Turns a value into its canonical text, or None if it cannot be one (nothing to index)."""

    name: str
    normalize: Callable[[object], str | None]


# Letters some languages write without a Unicode decomposition to a base letter.
_NO_DECOMPOSITION = str.maketrans(
    {"ß": "ss", "ø": "o", "đ": "d", "ł": "l", "æ": "ae", "œ": "oe", "\u0131": "i"}
)
_NOT_LETTER_OR_DIGIT = re.compile(r"[^0-9a-z]+")


def normalize_name(value: str) -> str | None:
    if not isinstance(value, str):
        return None
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.translate(_NO_DECOMPOSITION)
    folded = _NOT_LETTER_OR_DIGIT.sub(" ", stripped).split()
    return " ".join(folded) or None


_NANP_TYPED = re.compile(r"^\s*(?:\+?1[\s.-]*)?\(?(\d{3})\)?[\s.-]*(\d{3})[\s.-]*(\d{4})\s*$")


def normalize_phone(value: str, region: str = "US") -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    if region == "US":
        # Fast path for the common shapes of a US number; anything else goes to libphonenumber.
        typed = _NANP_TYPED.match(value)
        if typed and typed.group(1)[0] not in "01" and typed.group(2)[0] not in "01":
            return "+1" + "".join(typed.groups())
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# US order first: this is a US agency product (Medicare), so 03/04/1950 is March 4.
_DATE_FORMATS = (
    "%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y", "%m.%d.%Y", "%Y/%m/%d", "%Y%m%d",
    "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y",
)


def parse_date(value) -> date | None:
    """A date from the formats people type; None if it is none of them."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not any(ch.isdigit() for ch in value):
        return None  # every format has a day and a year: a name need not try all 13
    text = " ".join(value.replace(",", ", ").split()).replace(" ,", ",")
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if fmt == "%m/%d/%y" and parsed.year > date.today().year:
            parsed = parsed.replace(year=parsed.year - 100)  # 01/02/45 is a birth in 1945
        return parsed
    return None


def normalize_date(value) -> str | None:
    parsed = parse_date(value)
    return parsed.isoformat() if parsed else None


_ID = re.compile(r"[^0-9A-Z]+")


def normalize_identifier(value: str) -> str | None:
    """Member ids, Medicare ids, SSNs: upper case, separators dropped."""
    if not isinstance(value, str):
        return None
    return _ID.sub("", value.upper()) or None


def normalize_email(value: str) -> str | None:
    if not isinstance(value, str) or "@" not in value:
        return None
    return value.strip().casefold()


NAME = Normalizer("name", normalize_name)
PHONE = Normalizer("phone", normalize_phone)
DATE_OF_BIRTH = Normalizer("date", normalize_date)
IDENTIFIER = Normalizer("identifier", normalize_identifier)
EMAIL = Normalizer("email", normalize_email)
