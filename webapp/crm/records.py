"""Adding, editing and deleting what a client's card holds: the contact details, and the plan
enrollments, conditions, medications, providers, claims and premiums.

Every editable field has one `Rule` here (`RULES`, by record kind, like the access tables in
`webapp.access.policy`). Values arrive typed (str, date, Decimal, int) from a form or any other
caller and are cleaned against their rules before anything is assigned, so a bad value changes
nothing and no caller can store what a form would refuse. Messages name the field and say what
to fix; they never quote the value.

Every write is audited with the names of the fields it changed, never their values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from ..access.projections import Projection, project
from ..audit import Actor, AuditTag, record_event
from ..crypto.blind_index import normalize_phone
from .importer import US_STATES
from .models import (
    Claim,
    ClaimStatus,
    Client,
    ClientRecord,
    Condition,
    EnrollmentStatus,
    Medication,
    PlanEnrollment,
    PremiumPayment,
    Provider,
)
from .service import SECTION_KINDS, InvalidInput, client_projection

# The card's sections that have add/edit forms, and the model behind each.
SECTION_MODELS: dict[str, type[ClientRecord]] = {
    "enrollments": PlanEnrollment, "conditions": Condition, "medications": Medication,
    "providers": Provider, "claims": Claim, "premiums": PremiumPayment,
}
SECTIONS: tuple[str, ...] = tuple(SECTION_MODELS)
_SECTION_OF_MODEL = {model: section for section, model in SECTION_MODELS.items()}

CENT = Decimal("0.01")
EARLIEST_YEAR = 1900
LATEST_YEAR = 2100


class RecordNotFound(LookupError):
    """No such record on this client's card: the same answer (404) whether the id is unknown or
    belongs to someone else's client, so record ids cannot be probed either."""


# -- the rules -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """What one field accepts.

    `type` is the Python type stored (the `Encrypted` codec's); text is trimmed and its runs of
    whitespace made single spaces. `shape` checks and normalizes text further, raising
    ValueError with the message to show. `least`/`most` bound numbers; `past_only` keeps dates
    out of the future. `store` converts a clean value for its column (plain enum columns).
    """

    label: str
    type: type = str
    required: bool = False
    max_length: int = 80
    choices: tuple[str, ...] = ()
    shape: Callable[[str], str] | None = None
    least: int | Decimal | None = None
    most: int | Decimal | None = None
    past_only: bool = False
    missing: str | None = None
    out_of_range: str | None = None
    store: Callable[[Any], Any] | None = None

    @property
    def wrong_type(self) -> str:
        if self.type is date:
            return f"Enter the {self.label} as a real date, like 1950-03-04."
        if self.type is Decimal:
            return f"Enter the {self.label} in dollars and cents, like 120.50."
        if self.type is int:
            return self.out_of_range or f"Enter the {self.label} as a whole number."
        return f"Enter the {self.label} as text."


def _phone(value: str) -> str:
    if normalize_phone(value) is None:
        raise ValueError("Enter a phone number with its area code, like (555) 201-3344.")
    return value  # as typed, like the importer: the blind index normalizes it


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("That is not an email address (name@example.com).") from None


def _state(value: str) -> str:
    code = value.upper()
    if code not in US_STATES:
        raise ValueError("Use the two-letter state code, like FL.")
    return code


_ZIP = re.compile(r"(\d{5})(?:[- ]?(\d{4}))?")


def _zip(value: str) -> str:
    match = _ZIP.fullmatch(value)
    if match is None:
        raise ValueError("Enter a 5-digit ZIP code, or ZIP+4 like 33101-1234.")
    return match.group(1) + (f"-{match.group(2)}" if match.group(2) else "")


# CMS's Medicare Beneficiary Identifier: 11 characters, each position a digit (the first never
# 0), a letter, or either; the letters S, L, O, I, B and Z are never used.
_MBI_LETTER = "AC-HJKMNP-RT-Y"
_MBI = re.compile(
    rf"[1-9][{_MBI_LETTER}][0-9{_MBI_LETTER}]\d[{_MBI_LETTER}][0-9{_MBI_LETTER}]\d"
    rf"[{_MBI_LETTER}][{_MBI_LETTER}]\d\d")


def _medicare_id(value: str) -> str:
    compact = re.sub(r"[\s-]", "", value).upper()
    if not _MBI.fullmatch(compact):
        raise ValueError("A Medicare id (MBI) is 11 letters and digits, like 1EG4-TE5-MK73.")
    return compact


_SSN = re.compile(r"(\d{3})[- ]?(\d{2})[- ]?(\d{4})")


def _ssn(value: str) -> str:
    match = _SSN.fullmatch(value)
    # Never issued: area 000, 666 or 900-999, group 00, serial 0000.
    if match is None or match.group(1) in ("000", "666") or match.group(1)[0] == "9" \
            or match.group(2) == "00" or match.group(3) == "0000":
        raise ValueError("Enter a Social Security number like 123-45-6789.")
    return "-".join(match.groups())


_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]*")


def _reference(value: str) -> str:
    """Member ids and claim numbers: letters and digits, with dashes, dots, slashes, spaces."""
    if not _REFERENCE.fullmatch(value):
        raise ValueError("Use letters, digits and dashes only.")
    return value


def _choice(choices: tuple[str, ...]) -> str:
    *first, last = choices
    return f"Choose {', '.join(first)} or {last}."


ENROLLMENT_STATUSES = tuple(s.value for s in EnrollmentStatus)
CLAIM_STATUSES = tuple(s.value for s in ClaimStatus)

RULES: dict[str, dict[str, Rule]] = {
    "client": {
        "first_name": Rule("first name", required=True),
        "last_name": Rule("last name", required=True),
        "date_of_birth": Rule("date of birth", date, past_only=True),
        "phone": Rule("phone number", max_length=40, shape=_phone),
        "email": Rule("email address", max_length=254, shape=_email),
        "street": Rule("street address", max_length=120),
        "city": Rule("city"),
        "state": Rule("state", max_length=20, shape=_state),
        "zip": Rule("ZIP code", max_length=10, shape=_zip),
        "medicare_id": Rule("Medicare id", max_length=20, shape=_medicare_id),
        # NOTE: write-only: `update_contact` leaves the SSN on file when none is given.
        "ssn": Rule("Social Security number", max_length=11, shape=_ssn),
    },
    "enrollment": {
        "carrier": Rule("carrier", required=True),
        "plan_name": Rule("plan name", required=True, max_length=120),
        "plan_type": Rule("plan type", max_length=40),
        "member_id": Rule("member id", max_length=40, shape=_reference),
        "effective_date": Rule("effective date", date),
        "end_date": Rule("end date", date),
        "status": Rule("status", required=True, choices=ENROLLMENT_STATUSES,
                       missing=_choice(ENROLLMENT_STATUSES), store=EnrollmentStatus),
    },
    "condition": {
        "name": Rule("condition", required=True, max_length=120),
        "noted_on": Rule("date noted", date, past_only=True),
    },
    "medication": {
        "name": Rule("medication", required=True),
        "dosage": Rule("dosage", max_length=40),
        "frequency": Rule("frequency", max_length=40),
    },
    "provider": {
        "name": Rule("provider's name", required=True),
        "specialty": Rule("specialty"),
        "phone": Rule("phone number", max_length=40, shape=_phone),
    },
    "claim": {
        "claim_number": Rule("claim number", max_length=40, shape=_reference),
        "service_date": Rule("date of service", date, required=True, past_only=True),
        "description": Rule("description", max_length=200),
        "amount": Rule("amount", Decimal, required=True, most=Decimal("1000000")),
        "status": Rule("status", required=True, choices=CLAIM_STATUSES,
                       missing=_choice(CLAIM_STATUSES)),
    },
    "premium": {
        "premium_monthly": Rule("monthly premium", Decimal, required=True,
                                most=Decimal("100000")),
        "payment_method": Rule("payment method", max_length=40),
        "billing_day": Rule("billing day", int, least=1, most=28,
                            out_of_range="Choose a billing day from 1 to 28."),
    },
}


# -- cleaning ------------------------------------------------------------------------------------

def _text(name: str, rule: Rule, value: Any, today: date) -> str:
    if not isinstance(value, str):
        raise InvalidInput(name, rule.wrong_type)
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidInput(name, f"Remove the control characters from the {rule.label}.")
    if len(value) > rule.max_length:
        raise InvalidInput(name, f"The {rule.label} is at most {rule.max_length} characters.")
    if rule.choices and value not in rule.choices:
        raise InvalidInput(name, _choice(rule.choices))
    if rule.shape is not None:
        try:
            value = rule.shape(value)
        except ValueError as error:
            raise InvalidInput(name, str(error)) from None
    return value


def _date(name: str, rule: Rule, value: Any, today: date) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidInput(name, rule.wrong_type)
    if value.year < EARLIEST_YEAR:
        raise InvalidInput(name, f"The {rule.label} must be in {EARLIEST_YEAR} or later.")
    if rule.past_only and value > today:
        raise InvalidInput(name, f"The {rule.label} cannot be in the future.")
    if value.year > LATEST_YEAR:
        raise InvalidInput(name, f"The {rule.label} must be before {LATEST_YEAR + 1}.")
    return value


def _money(name: str, rule: Rule, value: Any, today: date) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidInput(name, rule.wrong_type)
    if value < 0:
        raise InvalidInput(name, f"The {rule.label} cannot be negative.")
    if rule.most is not None and value > rule.most:
        raise InvalidInput(name, f"The {rule.label} is at most ${rule.most:,}.")
    if value != value.quantize(CENT):
        raise InvalidInput(name, f"Give the {rule.label} with at most two decimals (cents).")
    return value.quantize(CENT) if value else Decimal("0.00")  # never "-0.00"


def _integer(name: str, rule: Rule, value: Any, today: date) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(name, rule.wrong_type)
    if (rule.least is not None and value < rule.least) or \
            (rule.most is not None and value > rule.most):
        raise InvalidInput(name, rule.out_of_range or f"The {rule.label} is out of range.")
    return value


_CLEANERS = {str: _text, date: _date, Decimal: _money, int: _integer}


def clean_value(name: str, rule: Rule, value: Any, *, today: date) -> Any:
    """One value cleaned by its rule (None when empty), or InvalidInput naming the field."""
    if isinstance(value, str):
        value = " ".join(value.split()) or None
    if value is None:
        if rule.required:
            raise InvalidInput(name, rule.missing or f"Enter the {rule.label}.")
        return None
    return _CLEANERS[rule.type](name, rule, value, today)


def _check_together(kind: str, values: Mapping[str, Any]) -> tuple[str, str] | None:
    """Rules across fields: (field, message) for the first one broken, else None."""
    if kind == "enrollment":
        start, end = values.get("effective_date"), values.get("end_date")
        if isinstance(start, date) and isinstance(end, date) and end < start:
            return "end_date", "The end date cannot be before the effective date."
    return None


def clean(kind: str, values: Mapping[str, Any], *, today: date, partial: bool = False
          ) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields of `kind` in `values`, cleaned: (clean values, messages by field name).

    Every field is checked, so a form can show every problem at once. Unless `partial`, a field
    missing from `values` counts as empty (and so a required one as missing).
    """
    rules = RULES[kind]
    unknown = set(values) - set(rules)
    if unknown:
        raise ValueError(f"{kind} has no editable field(s) {sorted(unknown)}")
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, rule in rules.items():
        if partial and name not in values:
            continue
        try:
            cleaned[name] = clean_value(name, rule, values.get(name), today=today)
        except InvalidInput as error:
            errors[name] = error.message
    broken = _check_together(kind, cleaned)
    if broken and broken[0] not in errors:
        errors[broken[0]] = broken[1]
    return cleaned, errors


def _cleaned_or_refused(kind: str, values: Mapping[str, Any], *, today: date,
                        partial: bool) -> dict[str, Any]:
    cleaned, errors = clean(kind, values, today=today, partial=partial)
    if errors:
        name = next(iter(errors))
        raise InvalidInput(name, errors[name])
    return cleaned


# -- reading for a form --------------------------------------------------------------------------

def kind_of(section: str) -> str:
    return SECTION_KINDS[section]


def contact_projection(client: Client, classes) -> Projection:
    """The contact details a form starts from: the SSN only as its last four digits."""
    return client_projection(client, classes)


def record_projection(record: ClientRecord, classes) -> Projection:
    kind = kind_of(_SECTION_OF_MODEL[type(record)])
    return project(kind, record, classes, always={"id": record.id})


def find_record(db: Session, *, client: Client, section: str, record_id: str,
                actor: Actor) -> ClientRecord:
    """The record `record_id` of `section` on this client's card, or RecordNotFound (audited)."""
    model = SECTION_MODELS.get(section)
    record = db.get(model, record_id) if model is not None and isinstance(record_id, str) \
        and len(record_id) <= 24 else None
    if record is None or record.client_id != client.id:  # type: ignore[attr-defined]
        record_event(db, AuditTag.CLIENT_RECORD_VIEW, actor=actor, outcome="refused",
                     reason="not_visible", record_type=SECTION_KINDS.get(section, "record"),
                     record_id=record_id[:40] if isinstance(record_id, str) else None,
                     client_id=client.id)
        raise RecordNotFound(record_id)  # the view commits the refusal event
    return record


# -- writes --------------------------------------------------------------------------------------

def _assign(row: Client | ClientRecord, kind: str, cleaned: Mapping[str, Any]) -> list[str]:
    """Set each value that differs from what is stored; the names of those that did."""
    changed = []
    for name, value in cleaned.items():
        if getattr(row, name) == value:
            continue
        store = RULES[kind][name].store
        setattr(row, name, store(value) if store is not None and value is not None else value)
        changed.append(name)
    return changed


def update_contact(db: Session, *, client: Client, values: Mapping[str, Any], today: date,
                   actor: Actor) -> list[str]:
    """Change the client's contact details; the names of the fields that changed.

    Fields missing from `values` are left as they are; an empty SSN keeps the one on file.
    """
    values = dict(values)
    if values.get("ssn") is None or not str(values["ssn"]).strip():
        values.pop("ssn", None)
    cleaned = _cleaned_or_refused("client", values, today=today, partial=True)
    changed = _assign(client, "client", cleaned)
    if changed:
        record_event(db, AuditTag.CLIENT_RECORD_EDIT, actor=actor, record_type="client",
                     record_id=client.id, client_id=client.id, details={"fields": changed})
    return changed


def create_record(db: Session, *, client: Client, section: str, values: Mapping[str, Any],
                  today: date, actor: Actor) -> tuple[ClientRecord, list[str]]:
    """Add a record to a section of the client's card: (the record, the fields given)."""
    kind = kind_of(section)
    cleaned = _cleaned_or_refused(kind, values, today=today, partial=False)
    record = SECTION_MODELS[section](client=client)
    fields = _assign(record, kind, cleaned)
    db.add(record)
    db.flush()
    record_event(db, AuditTag.CLIENT_RECORD_CREATE, actor=actor, record_type=kind,
                 record_id=record.id, client_id=client.id, details={"fields": fields})
    return record, fields


def update_record(db: Session, *, record: ClientRecord, values: Mapping[str, Any], today: date,
                  actor: Actor) -> list[str]:
    """Change a record (fields missing from `values` are left); the names of those changed."""
    kind = kind_of(_SECTION_OF_MODEL[type(record)])
    cleaned = _cleaned_or_refused(kind, values, today=today, partial=True)
    merged = {name: cleaned.get(name, getattr(record, name)) for name in RULES[kind]}
    broken = _check_together(kind, merged)
    if broken:
        raise InvalidInput(*broken)
    changed = _assign(record, kind, cleaned)
    if changed:
        record_event(db, AuditTag.CLIENT_RECORD_EDIT, actor=actor, record_type=kind,
                     record_id=record.id, client_id=record.client_id,  # type: ignore[attr-defined]
                     details={"fields": changed})
    return changed


def delete_record(db: Session, *, record: ClientRecord, actor: Actor) -> list[str]:
    """Delete a record from the client's card; the names of the fields that held a value."""
    section = _SECTION_OF_MODEL[type(record)]
    kind = kind_of(section)
    fields = [name for name in RULES[kind] if getattr(record, name) is not None]
    client = record.client  # type: ignore[attr-defined]
    record_event(db, AuditTag.CLIENT_RECORD_DELETE, actor=actor, record_type=kind,
                 record_id=record.id, client_id=client.id,  # type: ignore[attr-defined]
                 details={"fields": fields})
    db.delete(record)
    db.flush()
    db.expire(client, [section])  # the card's list reloads without it
    return fields
