"""Blind indexes: normalization, and search that finds the right client however it is typed."""

from __future__ import annotations

from datetime import date

import pytest

from webapp.crm.search import parse_query, search_clients
from webapp.crypto.blind_index import (
    normalize_date,
    normalize_identifier,
    normalize_name,
    normalize_phone,
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("García", "garcia"),
        ("  GARCIA ", "garcia"),
        ("García-López", "garcia lopez"),
        ("O'Brien", "o brien"),
        ("Nguyễn", "nguyen"),
        ("Müller", "muller"),
        ("Straße", "strasse"),
        ("Zoë  Ann", "zoe ann"),
        ("   ", None),
    ],
)
def test_names_fold_case_accents_and_punctuation(typed, expected):
    assert normalize_name(typed) == expected


@pytest.mark.parametrize(
    "typed", ["(555) 201-3344", "555-201-3344", "555.201.3344", "+1 555 201 3344",
              "1-555-201-3344", "5552013344"],
)
def test_phones_become_e164(typed):
    assert normalize_phone(typed) == "+15552013344"


@pytest.mark.parametrize("typed", ["12", "not a phone", ""])
def test_impossible_phones_index_nothing(typed):
    assert normalize_phone(typed) is None


@pytest.mark.parametrize(
    "typed", ["1950-03-04", "03/04/1950", "3/4/1950", "03-04-1950", "March 4, 1950",
              "Mar 4 1950", "4 March 1950", "3/4/50", date(1950, 3, 4)],
)
def test_dates_become_iso(typed):
    assert normalize_date(typed) == "1950-03-04"


def test_identifiers_drop_separators_and_case():
    assert normalize_identifier("1eg4-te5-mk73") == normalize_identifier("1EG4TE5MK73")


@pytest.mark.parametrize(
    ("query", "kind"),
    [("03/04/1950", "date_of_birth"), ("(555) 201-3344", "phone"), ("1EG4-TE5-MK73",
     "medicare_id"), ("José García", "name"), ("", "empty")],
)
def test_query_kind_is_recognised(query, kind):
    assert parse_query(query).kind == kind


@pytest.fixture
def book(session, factories):
    agent = factories.user()
    wanted = factories.client(
        agent, first_name="José", last_name="García-López", date_of_birth=date(1950, 3, 4),
        phone="(555) 201-3344", medicare_id="1EG4-TE5-MK73",
    )
    factories.client(agent, first_name="Josefa", last_name="Garcia", date_of_birth=date(1950, 4, 3),
                     phone="555-201-3345")
    factories.client(agent, first_name="Ana", last_name="Lopez", date_of_birth=date(1949, 3, 4),
                     phone="555 999 0000")
    session.commit()
    return agent, wanted


@pytest.mark.parametrize(
    "query",
    [
        "garcia lopez", "GARCÍA-LÓPEZ", "José García-López", "jose garcia lopez",  # names
        "555-201-3344", "(555) 201 3344", "+15552013344", "1 555 201 3344",  # phones
        "1950-03-04", "03/04/1950", "March 4, 1950",  # dates of birth
        "1eg4te5mk73",  # Medicare id
    ],
)
def test_search_finds_the_right_client_however_it_is_typed(session, keyring, book, query):
    _agent, wanted = book
    found = search_clients(session, keyring, query)
    assert [c.id for c in found] == [wanted.id]


def test_search_respects_the_agents_book(session, keyring, factories, book):
    other_agent = factories.user()
    assert search_clients(session, keyring, "García-López", agent_ids=[other_agent.id]) == []


@pytest.mark.parametrize("query", ["Garcí", "555-201", "1950", "nobody", "   "])
def test_partial_or_unknown_input_finds_nothing(session, keyring, book, query):
    assert search_clients(session, keyring, query) == []


def test_same_value_in_different_columns_indexes_differently(session, factories):
    client = factories.client(first_name="Jordan", last_name="Jordan")
    assert client.first_name_bidx != client.last_name_bidx
