"""Exact-match client search through blind indexes: nothing is decrypted to search.

One box takes what a person types: a date of birth in any common format, a phone number in
any format, a Medicare id, or a name ("Garcia", "José García", "GARCIA").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from ..crypto import Keyring
from ..crypto.blind_index import normalize_name, normalize_phone, parse_date
from .models import Client, ClientStatus

_DIGITS = re.compile(r"\d")
_MBI_LIKE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9-]{8,15}$")


@dataclass(frozen=True)
class ParsedQuery:
    kind: str  # "date_of_birth" | "phone" | "medicare_id" | "name" | "empty"
    text: str


def parse_query(query: str) -> ParsedQuery:
    text = " ".join(query.split())
    if not text:
        return ParsedQuery("empty", "")
    if parse_date(text) is not None:
        return ParsedQuery("date_of_birth", text)
    if len(_DIGITS.findall(text)) >= 7 and normalize_phone(text) is not None:
        return ParsedQuery("phone", text)
    if _MBI_LIKE.match(text):
        return ParsedQuery("medicare_id", text)
    return ParsedQuery("name", text)


def _name_condition(keyring: Keyring, text: str):
    folded = normalize_name(text)
    if folded is None:
        return None
    index = Client.blind_index_of
    conditions = [
        Client.last_name_bidx == index(keyring, "last_name", folded),
        Client.first_name_bidx == index(keyring, "first_name", folded),
    ]
    words = folded.split()
    for split in range(1, len(words)):  # "maria de la cruz": first/last at each gap
        first, last = " ".join(words[:split]), " ".join(words[split:])
        conditions.append(and_(
            Client.first_name_bidx == index(keyring, "first_name", first),
            Client.last_name_bidx == index(keyring, "last_name", last),
        ))
    return or_(*conditions)


def client_search_statement(keyring: Keyring, query: str) -> Select | None:
    """A SELECT of the clients matching `query`, or None when nothing can match."""
    parsed = parse_query(query)
    if parsed.kind == "empty":
        return None
    if parsed.kind == "name":
        where = _name_condition(keyring, parsed.text)
    else:
        value = Client.blind_index_of(keyring, parsed.kind, parsed.text)
        where = None if value is None else getattr(Client, f"{parsed.kind}_bidx") == value
        if parsed.kind == "medicare_id":  # "Smith2" looks like an id too: try it as a name
            name = _name_condition(keyring, parsed.text)
            where = name if where is None else or_(where, name)
    if where is None:
        return None
    return select(Client).where(where, Client.status != ClientStatus.DISPOSED)


def search_clients(
    session: Session,
    keyring: Keyring,
    query: str,
    *,
    agent_ids: Sequence[str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Client]:
    """Clients matching `query`, limited to the given agents' books when `agent_ids` is set."""
    statement = client_search_statement(keyring, query)
    if statement is None:
        return []
    if agent_ids is not None:
        statement = statement.where(Client.agent_id.in_(agent_ids))
    return list(session.scalars(statement.order_by(Client.id).limit(limit).offset(offset)))
