"""Importing a book of business: one CSV file, one agent, all or nothing.

`parse_book` reads and checks every cell of the file and collects every problem as an
`ImportError(line, column, message)`; if there is any, it raises `ImportRefused` and nothing is
written. `write_book` then inserts the clients and their records in bulk (the seeding path:
`sealed_row_with` + `insert_many`, one data key per client) in the caller's transaction and
records one `client:import:create` audit event with counts. The caller commits.

Cells are PHI: no message here ever quotes a cell. A message names the line (as a spreadsheet
shows it: the header is line 1), the column, and what the column expects.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..audit import Actor, AuditTag, record_event
from ..auth.models import Role, User, UserStatus
from ..crypto import Keyring
from ..crypto.blind_index import normalize_phone, parse_date
from ..crypto.models import DataKey
from ..db import insert_many, new_record_id
from .models import (
    Appointment,
    AppointmentStatus,
    Client,
    ClientStatus,
    Condition,
    EnrollmentStatus,
    Medication,
    Note,
    PlanEnrollment,
    PremiumPayment,
    Provider,
)

# The columns, in the order the README documents them. Only the first three are required.
COLUMNS: tuple[str, ...] = (
    "first_name", "last_name", "date_of_birth", "phone", "email", "street", "city", "state",
    "zip", "ssn", "medicare_id", "plan_carrier", "plan_name", "plan_type",
    "plan_effective_date", "premium_monthly", "payment_method", "conditions", "medications",
    "providers", "note", "appointment_at",
)
REQUIRED: tuple[str, ...] = ("first_name", "last_name", "date_of_birth")
LIST_SEPARATOR = ";"

MAX_ROWS = 100_000
MAX_LIST_ITEMS = 50
MAX_ERRORS = 10_000  # past this many, reading on only costs time: the file needs fixing anyway
BATCH = 1000  # clients per executemany round trip
APPOINTMENT_MINUTES = 60

# Longest accepted text, per column (list columns: per item).
MAX_LENGTH = {
    "first_name": 100, "last_name": 100, "phone": 40, "email": 254, "street": 200, "city": 100,
    "medicare_id": 20, "plan_carrier": 120, "plan_name": 200, "plan_type": 80,
    "payment_method": 80, "conditions": 200, "medications": 200, "providers": 200,
    "note": 4000,
}
MAX_PREMIUM = Decimal("100000")

# The states, DC, the territories and the military post codes.
US_STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP",
})


# -- problems -------------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class ImportError:  # NOTE: shadows the builtin inside this module (the name for it)
    """One problem in the file: where it is and what is expected, never the cell's value.

    `line` counts rows as a spreadsheet shows them (the header is line 1); `column` is the
    column's name, or "" when the problem concerns the whole line or file.
    """

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class ImportRefused(Exception):
    """The file has problems; nothing was imported. `errors` lists them, by line."""

    def __init__(self, errors: Sequence[ImportError], *, truncated: bool = False):
        self.errors = sorted(errors, key=_error_order)
        self.truncated = truncated
        super().__init__(f"{len(self.errors)} problem(s) in the file; nothing was imported")


def _error_order(error: ImportError) -> tuple[int, int]:
    position = COLUMNS.index(error.column) if error.column in COLUMNS else -1
    return (error.line, position)


def error_lines(errors: Sequence[ImportError], limit: int = 50) -> list[str]:
    """The first `limit` problems as text lines, then "and N more" if there are more."""
    lines = [str(error) for error in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"and {len(errors) - limit} more")
    return lines


# -- what a row becomes --------------------------------------------------------------------------

@dataclass(slots=True)
class ImportedMedication:
    name: str
    dosage: str | None
    frequency: str | None


@dataclass(slots=True)
class ImportedClient:
    line: int
    client: dict[str, object]
    enrollment: dict[str, object] | None = None
    premium: dict[str, object] | None = None
    conditions: list[str] = field(default_factory=list)
    medications: list[ImportedMedication] = field(default_factory=list)
    providers: list[tuple[str, str | None]] = field(default_factory=list)
    note: str | None = None
    appointment_at: datetime | None = None  # UTC


@dataclass(frozen=True)
class Book:
    """A checked file, ready to write."""

    clients: list[ImportedClient]


@dataclass(frozen=True)
class ImportSummary:
    clients: int
    appointments: int
    enrollments: int
    conditions: int
    medications: int
    providers: int
    notes: int

    def describe(self) -> str:
        parts = [f"{self.clients} client{'s' if self.clients != 1 else ''}"]
        for count, what in ((self.enrollments, "plan"), (self.conditions, "condition"),
                            (self.medications, "medication"), (self.providers, "provider"),
                            (self.notes, "note"), (self.appointments, "appointment")):
            if count:
                parts.append(f"{count} {what}{'s' if count != 1 else ''}")
        return ", ".join(parts)


# -- reading the file ----------------------------------------------------------------------------

class _Collector:
    def __init__(self) -> None:
        self.errors: list[ImportError] = []

    def add(self, line: int, column: str, message: str) -> None:
        self.errors.append(ImportError(line, column, message))

    @property
    def full(self) -> bool:
        return len(self.errors) >= MAX_ERRORS


def _decode(data: bytes | str, problems: _Collector) -> str | None:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.add(1, "", "the file is UTF-16 text; save it as \"CSV UTF-8 (comma "
                            "delimited)\"")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        problems.add(line, "", "this line is not UTF-8 text; save the file as \"CSV UTF-8 "
                               "(comma delimited)\"")
        return None


def _header_key(cell: str) -> str:
    return re.sub(r"[\s-]+", "_", cell.strip().lower())


# What people often call a column instead: only used to suggest the right name.
_ALIASES = {
    "dob": "date_of_birth", "birthdate": "date_of_birth", "birth_date": "date_of_birth",
    "birthday": "date_of_birth", "first": "first_name", "firstname": "first_name",
    "given_name": "first_name", "last": "last_name", "lastname": "last_name",
    "surname": "last_name", "family_name": "last_name", "mobile": "phone", "cell": "phone",
    "phone_number": "phone", "telephone": "phone", "email_address": "email", "e_mail": "email",
    "address": "street", "street_address": "street", "address1": "street",
    "zipcode": "zip", "zip_code": "zip", "postal_code": "zip", "social_security": "ssn",
    "mbi": "medicare_id", "medicare_number": "medicare_id", "carrier": "plan_carrier",
    "plan": "plan_name", "effective_date": "plan_effective_date", "premium": "premium_monthly",
    "notes": "note", "appointment": "appointment_at", "medication": "medications",
    "condition": "conditions", "provider": "providers", "doctors": "providers",
}


def _read_header(cells: list[str], problems: _Collector) -> dict[str, int] | None:
    keys = [_header_key(cell) for cell in cells]
    known = [k for k in keys if k in COLUMNS]
    if not known:
        if len(cells) == 1 and any(sep in cells[0] for sep in ";\t"):
            problems.add(1, "", "the columns are not separated by commas; save the file as "
                                "\"CSV UTF-8 (comma delimited)\"")
        else:
            # NOTE: without a single known column this line is most likely a client, not a
            # header: its cells are not quoted back.
            problems.add(1, "", "the first line must name the columns (first_name, last_name, "
                                "date_of_birth, ...); none of its cells is a known column")
        return None
    columns: dict[str, int] = {}
    ok = True
    for index, (cell, key) in enumerate(zip(cells, keys, strict=True)):
        if not key:
            continue  # an unnamed column is allowed as long as it stays empty (checked per row)
        if key not in COLUMNS:
            shown = cell.strip()[:60]
            guess = _ALIASES.get(key) or next(iter(difflib.get_close_matches(key, COLUMNS, n=1)),
                                              None)
            hint = f" (did you mean {guess}?)" if guess else ""
            problems.add(1, "", f"unknown column \"{shown}\"{hint}; the columns are listed in "
                                "the README")
            ok = False
        elif key in columns:
            problems.add(1, key, "this column appears more than once")
            ok = False
        else:
            columns[key] = index
    for name in REQUIRED:
        if name not in columns:
            problems.add(1, name, "this required column is missing from the header")
            ok = False
    return columns if ok else None


def parse_book(data: bytes | str, *, zone: ZoneInfo, now: datetime) -> Book:
    """Check every row of a CSV file (UTF-8, optional BOM, header first).

    Raises `ImportRefused` with every problem found; returns the book when there is none.
    """
    problems = _Collector()
    text = _decode(data, problems)
    if text is None:
        raise ImportRefused(problems.errors)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = _records(reader, problems)
    header = next(rows, None)
    if header is None:
        if not problems.errors:
            problems.add(1, "", "the file is empty; its first line must name the columns")
        raise ImportRefused(problems.errors)
    columns = _read_header(header[1], problems)
    if columns is None:
        raise ImportRefused(problems.errors)
    width = len(header[1])
    unnamed = [i for i, cell in enumerate(header[1]) if not _header_key(cell)]
    checker = _RowChecker(columns, zone=zone, now=now, problems=problems)
    clients: list[ImportedClient] = []
    count = 0
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        count += 1
        if count > MAX_ROWS:
            problems.add(line, "", f"the file has more than {MAX_ROWS:,} clients; split it")
            break
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            problems.add(line, "", f"this line has {len(cells)} cells but the header names "
                                   f"{width} columns (a comma inside a cell needs quotes)")
            continue
        for index in unnamed:
            if index < len(cells) and cells[index].strip():
                problems.add(line, f"column {index + 1}", "this column has no name in the "
                                                          "header; name it or delete it")
        imported = checker.check(line, cells)
        if imported is not None:
            clients.append(imported)
        if problems.full:
            break
    if problems.errors:
        raise ImportRefused(problems.errors, truncated=problems.full)
    if not clients:
        raise ImportRefused([ImportError(1, "", "the file names the columns but holds no "
                                                "clients")])
    return Book(clients)


def _records(reader, problems: _Collector):
    """(line, cells) per CSV record; lines count records, as a spreadsheet numbers its rows."""
    line = 0
    while True:
        line += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            # NOTE: the csv module's message is not shown: it may describe the cell.
            problems.add(line, "", "this line is not valid CSV (a quote that is never closed, "
                                   "or a cell longer than 128 KB)")
            return
        yield line, cells


# -- checking one row -----------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]{2,}$")
_ZIP = re.compile(r"^(\d{5})(?:[-\s]?(\d{4}))?$")
_SSN = re.compile(r"^(\d{3})[-\s]?(\d{2})[-\s]?(\d{4})$")
_MEDICARE_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\s-]*$")
_MONEY = re.compile(r"^\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?$")
_APPOINTMENT = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n\t]")

# A medication is "name dosage [frequency]": the dosage is the first number that carries a
# unit ("500 mg", "10mg", "0.5 mg", "1,000 IU", "5/325 mg", "2 puffs", "20 mg/mL").
_UNIT = (r"(?:mcg|µg|ug|mg|g|ml|l|meq|mmol|iu|units?|u|%|puffs?|sprays?|drops?|tabs?|"
         r"tablets?|caps?|capsules?|patch(?:es)?|applications?|sachets?|vials?)")
_AMOUNT = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*[-/]\s*\d+(?:\.\d+)?)*"
_PER = r"(?:\s*/\s*(?:\d+(?:\.\d+)?\s*)?(?:ml|l|hr|h|hours?|day|dose|actuation|spray|kg))?"
_MEDICATION = re.compile(
    rf"^(?P<name>.*?\S)\s+(?P<dosage>{_AMOUNT}\s*{_UNIT}{_PER})(?=\s|$)(?:\s+(?P<frequency>.+))?$",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(rf"^(?P<name>.*?\S)\s+{_AMOUNT}$")
_DOSAGE_ONLY = re.compile(rf"^{_AMOUNT}\s*{_UNIT}", re.IGNORECASE)
_PROVIDER = re.compile(r"^(?P<name>[^()]*?\S)\s*\((?P<specialty>[^()]*)\)$")


class _RowChecker:
    def __init__(self, columns: dict[str, int], *, zone: ZoneInfo, now: datetime,
                 problems: _Collector):
        self.columns = columns
        self.zone = zone
        self.now = now
        self.today = now.astimezone(zone).date()
        self.problems = problems
        self.line: int = 0
        self.cells: list[str] = []

    # -- helpers ----------------------------------------------------------------------------

    def _fail(self, column: str, message: str) -> None:
        self.problems.add(self.line, column, message)

    def _text(self, column: str, *, one_line: bool = True) -> str | None:
        index = self.columns.get(column)
        if index is None or index >= len(self.cells):
            return None
        value = self.cells[index].strip()
        if not value:
            return None
        if not one_line:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        limit = MAX_LENGTH.get(column)
        if limit is not None and len(value) > limit:
            self._fail(column, f"is too long (at most {limit} characters)")
            return None
        if _CONTROL.search(value) or (one_line and _LINE_BREAK.search(value)):
            self._fail(column, "must be one line of text, without tabs or control characters")
            return None
        return value

    def _items(self, column: str) -> list[str]:
        index = self.columns.get(column)
        if index is None or index >= len(self.cells) or not self.cells[index].strip():
            return []
        limit = MAX_LENGTH[column]
        items = [item.strip() for item in self.cells[index].split(LIST_SEPARATOR)]
        items = [item for item in items if item]
        if len(items) > MAX_LIST_ITEMS:
            self._fail(column, f"has more than {MAX_LIST_ITEMS} entries")
            return []
        for position, item in enumerate(items, start=1):
            if len(item) > limit:
                self._fail(column, f"entry {position} is too long (at most {limit} characters)")
                return []
            if _CONTROL.search(item) or _LINE_BREAK.search(item):
                self._fail(column, f"entry {position} must be one line of text, without tabs "
                                   "or control characters")
                return []
        return items

    def _date(self, column: str, *, past_only: bool) -> date | None:
        value = self._text(column)
        if value is None:
            return None
        parsed = parse_date(value)
        if parsed is None:
            self._fail(column, "is not a date; use YYYY-MM-DD (or MM/DD/YYYY)")
            return None
        if parsed.year < 1900:
            self._fail(column, "is before 1900")
            return None
        if past_only and parsed > self.today:
            self._fail(column, "is in the future")
            return None
        return parsed

    # -- one row ----------------------------------------------------------------------------

    def check(self, line: int, cells: list[str]) -> ImportedClient | None:
        self.line, self.cells = line, cells
        before = len(self.problems.errors)
        first_name = self._text("first_name")
        last_name = self._text("last_name")
        date_of_birth = self._date("date_of_birth", past_only=True)
        for column, value in (("first_name", first_name), ("last_name", last_name),
                              ("date_of_birth", date_of_birth)):
            if value is None and not self._has_error(before, column):
                self._fail(column, "is required")
        client = {
            "first_name": first_name, "last_name": last_name, "date_of_birth": date_of_birth,
            "phone": self._phone(), "email": self._email(), "street": self._text("street"),
            "city": self._text("city"), "state": self._state(), "zip": self._zip(),
            "ssn": self._ssn(), "medicare_id": self._medicare_id(),
        }
        enrollment = self._enrollment()
        premium = self._premium()
        conditions = self._items("conditions")
        medications = self._medications()
        providers = self._providers()
        note = self._text("note", one_line=False)
        appointment_at = self._appointment()
        if len(self.problems.errors) > before:
            return None
        return ImportedClient(line, client, enrollment, premium, conditions, medications,
                              providers, note, appointment_at)

    def _has_error(self, since: int, column: str) -> bool:
        return any(e.column == column for e in self.problems.errors[since:])

    def _phone(self) -> str | None:
        value = self._text("phone")
        if value is not None and normalize_phone(value) is None:
            self._fail("phone", "is not a phone number; use 10 digits, e.g. (555) 010-2233, "
                                "or +country code for a number abroad")
            return None
        return value  # as typed: the blind index normalizes it

    def _email(self) -> str | None:
        value = self._text("email")
        if value is not None and not _EMAIL.match(value):
            self._fail("email", "is not an email address (name@example.com)")
            return None
        return value

    def _state(self) -> str | None:
        value = self._text("state")
        if value is None:
            return None
        code = value.upper()
        if code not in US_STATES:
            self._fail("state", "is not a US state code; use its two letters, e.g. FL")
            return None
        return code

    def _zip(self) -> str | None:
        value = self._text("zip")
        if value is None:
            return None
        match = _ZIP.match(value)
        if match is None:
            hint = (" (a spreadsheet may have dropped a leading zero: format the column as "
                    "text)") if value.isdigit() and len(value) in (3, 4, 7, 8) else ""
            self._fail("zip", f"is not a ZIP code; use 5 digits or ZIP+4 (12345-6789){hint}")
            return None
        return match.group(1) + (f"-{match.group(2)}" if match.group(2) else "")

    def _ssn(self) -> str | None:
        value = self._text("ssn")
        if value is None:
            return None
        match = _SSN.match(value)
        if match is None:
            hint = (" (a spreadsheet may have dropped a leading zero: format the column as "
                    "text)") if value.isdigit() and len(value) in (7, 8) else ""
            self._fail("ssn", f"is not a Social Security number; use 9 digits, e.g. "
                              f"123-45-6789{hint}")
            return None
        return "-".join(match.groups())

    def _medicare_id(self) -> str | None:
        value = self._text("medicare_id")
        if value is None:
            return None
        compact = re.sub(r"[\s-]", "", value)
        if not _MEDICARE_ID.match(value) or not 8 <= len(compact) <= 14:
            self._fail("medicare_id", "is not a Medicare number; use the 11 letters and digits "
                                      "on the Medicare card")
            return None
        return value.upper()

    def _enrollment(self) -> dict[str, object] | None:
        values = {
            "carrier": self._text("plan_carrier"), "plan_name": self._text("plan_name"),
            "plan_type": self._text("plan_type"),
            "effective_date": self._date("plan_effective_date", past_only=False),
        }
        if all(v is None for v in values.values()):
            return None
        effective = values["effective_date"]
        pending = isinstance(effective, date) and effective > self.today
        values["status"] = EnrollmentStatus.PENDING if pending else EnrollmentStatus.ACTIVE
        return values

    def _premium(self) -> dict[str, object] | None:
        amount = self._money("premium_monthly")
        method = self._text("payment_method")
        if amount is None and method is None:
            return None
        return {"premium_monthly": amount, "payment_method": method}

    def _money(self, column: str) -> Decimal | None:
        value = self._text(column)
        if value is None:
            return None
        if value.lstrip().startswith("-"):
            self._fail(column, "must be 0 or more")
            return None
        match = _MONEY.match(value)
        try:
            amount = Decimal(match.group(1).replace(",", "") + (match.group(2) or "")) \
                if match else None
        except InvalidOperation:
            amount = None
        if amount is None:
            self._fail(column, "is not an amount in dollars; use digits like 129.50")
            return None
        if amount > MAX_PREMIUM:
            self._fail(column, f"is more than {MAX_PREMIUM:,} a month")
            return None
        return amount.quantize(Decimal("0.01"))

    def _medications(self) -> list[ImportedMedication]:
        found = []
        for position, item in enumerate(self._items("medications"), start=1):
            match = _MEDICATION.match(item)
            if match is not None:
                found.append(ImportedMedication(match["name"], match["dosage"],
                                                match["frequency"]))
            elif _DOSAGE_ONLY.match(item):
                self._fail("medications", f"entry {position} has a dosage but no name; write "
                                          "it as \"name dosage\", e.g. Metformin 500 mg")
            elif _BARE_NUMBER.match(item):
                self._fail("medications", f"entry {position} has a dosage without a unit; "
                                          "write it as e.g. Metformin 500 mg")
            else:
                found.append(ImportedMedication(item, None, None))  # no dosage known: fine
        return found

    def _providers(self) -> list[tuple[str, str | None]]:
        found: list[tuple[str, str | None]] = []
        for item in self._items("providers"):
            match = _PROVIDER.match(item)
            if match is not None and match["specialty"].strip():
                found.append((match["name"], match["specialty"].strip()))
            else:
                found.append((item, None))
        return found

    def _appointment(self) -> datetime | None:
        value = self._text("appointment_at")
        if value is None:
            return None
        expected = "use ISO 8601 local time, e.g. 2027-03-04T10:30"
        if not _APPOINTMENT.match(value):
            self._fail("appointment_at", f"is not a date and time; {expected}")
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self._fail("appointment_at", f"is not a date and time; {expected}")
            return None
        if parsed.tzinfo is None:
            local = parsed.replace(tzinfo=self.zone)
            round_trip = local.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
            if round_trip != parsed:
                self._fail("appointment_at", "does not exist in the agency's time zone (the "
                                             "clocks move forward that night)")
                return None
            parsed = local
        starts_at = parsed.astimezone(UTC)
        if starts_at <= self.now:
            self._fail("appointment_at", "is in the past; only future appointments can be "
                                         "booked")
            return None
        return starts_at


# -- writing --------------------------------------------------------------------------------------

_INSERT_ORDER = (DataKey, Client, PlanEnrollment, PremiumPayment, Condition, Medication,
                 Provider, Appointment, Note)


def check_agent(agent: User | None) -> User:
    """The agent whose book receives the clients; ValueError says why another cannot."""
    if agent is None:
        raise ValueError("There is no such user.")
    if agent.role != Role.AGENT:
        raise ValueError(f"{agent.email} has the {agent.role.value} role; clients belong to "
                         "agents.")
    if agent.status == UserStatus.DISABLED:
        raise ValueError(f"{agent.email} is disabled; enable them before importing clients "
                         "into their book.")
    return agent


def write_book(session: Session, keyring: Keyring, book: Book, *, agent: User, now: datetime,
               actor: Actor, progress: Callable[[int], None] = lambda n: None) -> ImportSummary:
    """Insert a checked book into `agent`'s book of business, in the caller's transaction
    (the caller commits; a rollback leaves nothing, data keys included), and audit it."""
    check_agent(agent)
    counts = dict.fromkeys(("enrollments", "conditions", "medications", "providers", "notes",
                            "appointments"), 0)
    connection = session.connection()
    for start in range(0, len(book.clients), BATCH):
        batch = book.clients[start:start + BATCH]
        rows: dict[type, list[dict]] = {}
        for imported in batch:
            _add_client(rows, keyring, imported, agent.id, now, counts)
        for model in _INSERT_ORDER:
            insert_many(connection, model.__table__, rows.get(model, []))
        progress(len(batch))
    record_event(session, AuditTag.CLIENT_IMPORT, actor=actor, record_type="user",
                 record_id=agent.id,
                 details={"clients": len(book.clients), "appointments": counts["appointments"]})
    return ImportSummary(clients=len(book.clients), **counts)


def _add_client(rows: dict[type, list[dict]], keyring: Keyring, imported: ImportedClient,
                agent_id: str, now: datetime, counts: dict[str, int]) -> None:
    key = keyring.new_data_key("client")
    rows.setdefault(DataKey, []).append(key.as_row())
    seal = keyring.sealer(key.id)

    def add(model, **values) -> str:
        row_id = new_record_id()
        rows.setdefault(model, []).append(
            model.sealed_row_with(keyring, seal, row_id=row_id, **values))
        return row_id

    client_id = add(Client, agent_id=agent_id, data_key_id=key.id, status=ClientStatus.ACTIVE,
                    created_at=now, updated_at=now, **imported.client)
    common = {"client_id": client_id, "created_at": now}
    if imported.enrollment is not None:
        add(PlanEnrollment, **common, member_id=None, end_date=None, **imported.enrollment)
        counts["enrollments"] += 1
    if imported.premium is not None:
        add(PremiumPayment, **common, billing_day=None, **imported.premium)
    for name in imported.conditions:
        add(Condition, **common, name=name, noted_on=None)
    counts["conditions"] += len(imported.conditions)
    for medication in imported.medications:
        add(Medication, **common, name=medication.name, dosage=medication.dosage,
            frequency=medication.frequency)
    counts["medications"] += len(imported.medications)
    for name, specialty in imported.providers:
        add(Provider, **common, name=name, specialty=specialty, phone=None)
    counts["providers"] += len(imported.providers)
    if imported.appointment_at is not None:
        add(Appointment, **common, agent_id=agent_id, starts_at=imported.appointment_at,
            duration_minutes=APPOINTMENT_MINUTES, status=AppointmentStatus.SCHEDULED,
            place=None, purpose=None)
        counts["appointments"] += 1
    if imported.note is not None:
        add(Note, **common, author_id=agent_id, body=imported.note)
        counts["notes"] += 1


def import_book(session: Session, keyring: Keyring, data: bytes | str, *, agent: User,
                zone: ZoneInfo, now: datetime, actor: Actor,
                progress: Callable[[int], None] = lambda n: None) -> ImportSummary:
    """`parse_book` then `write_book`: raises `ImportRefused` (nothing written) or imports
    the whole file in the caller's transaction."""
    check_agent(agent)
    return write_book(session, keyring, parse_book(data, zone=zone, now=now), agent=agent,
                      now=now, actor=actor, progress=progress)


def record_refusal(session: Session, refused: ImportRefused, *, agent: User | None,
                   actor: Actor) -> None:
    """Audit a refused file (how many problems, never what they were about); caller commits."""
    record_event(session, AuditTag.CLIENT_IMPORT, actor=actor, outcome="refused",
                 reason="invalid_file", record_type="user",
                 record_id=agent.id if agent is not None else None,
                 details={"errors": len(refused.errors)})
