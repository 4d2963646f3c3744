"""Self-check of the fake agency data generator (pure Python, no database)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from webapp.crm.demo_data import (
    AGENCY_OFFICE,
    TODAY_POOL,
    DemoAgencyGenerator,
    DemoClient,
    demo_assistant_links,
    demo_staff,
)

TODAY = date(2026, 3, 10)
N = 2000

# CMS MBI format: letters exclude S, L, O, I, B, Z.
_L = "[AC-HJKMNP-RT-Y]"
_A = "[AC-HJKMNP-RT-Y0-9]"
MBI_RE = re.compile(rf"^[1-9]{_L}{_A}[0-9]{_L}{_A}[0-9]{_L}{_L}[0-9][0-9]$")
SSN_RE = re.compile(r"^(9\d\d)-(\d\d)-(\d{4})$")
EMAIL_RE = re.compile(r"^[a-z0-9._-]+@example\.(com|org)$")


@pytest.fixture(scope="module")
def clients() -> list[DemoClient]:
    gen = DemoAgencyGenerator(seed=2026, today=TODAY)
    return [gen.client(i) for i in range(N)]


def test_deterministic_for_a_seed_and_independent_of_call_order(clients):
    gen = DemoAgencyGenerator(seed=2026, today=TODAY)
    assert [gen.client(i) for i in (1999, 7, 0)] == [clients[1999], clients[7], clients[0]]
    assert list(gen.clients(3, start=5)) == clients[5:8]
    other = DemoAgencyGenerator(seed=7, today=TODAY)
    assert [other.client(i) for i in range(20)] != clients[:20]


def test_identifier_shapes(clients):
    for c in clients:
        assert MBI_RE.match(c.medicare_id), c.medicare_id
        m = SSN_RE.match(c.ssn)
        assert m, c.ssn
        assert 900 <= int(m.group(1)) <= 999
        assert m.group(2) != "00" and m.group(3) != "0000"
        assert re.fullmatch(r"\d{5}", c.zip), c.zip
        assert re.fullmatch(r"[A-Z]{2}", c.state), c.state
        assert EMAIL_RE.match(c.email), c.email
        digits = re.sub(r"\D", "", c.phone)
        assert len(digits) == 10 or (len(digits) == 11 and digits[0] == "1"), c.phone
        assert digits[-7:-4] == "555", c.phone
        assert date(1935, 1, 1) <= c.date_of_birth <= date(1961, 12, 31)
        assert c.first_name and c.last_name and c.street and c.city


def test_sub_records(clients):
    for c in clients:
        assert 0 <= len(c.conditions) <= 4
        assert len({x.name for x in c.conditions}) == len(c.conditions)
        assert 0 <= len(c.medications) <= 6
        assert 1 <= len(c.providers) <= 3
        assert 0 <= len(c.claims) <= 4
        assert 0 <= len(c.notes) <= 2
        assert 0 <= len(c.communications) <= 3
        assert c.plan.effective_date <= TODAY + timedelta(days=31)
        assert isinstance(c.premium.premium_monthly, Decimal)
        assert c.premium.premium_monthly >= 0
        assert 1 <= c.premium.billing_day <= 28
        for claim in c.claims:
            assert claim.status in {"paid", "pending", "denied"}
            assert c.plan.effective_date <= claim.service_date < TODAY
            assert claim.amount > 0
        for comm in c.communications:
            assert comm.channel in {"call", "text", "email"}
            assert comm.direction in {"inbound", "outbound"}
            assert comm.occurred_at.tzinfo is None and comm.occurred_at.date() < TODAY
        for p in c.providers:
            assert p.name and p.specialty and p.phone.startswith("+1 ")
        names = {m.name for m in c.medications}
        conditions = {x.name for x in c.conditions}
        if "Metformin" in names:
            assert "Type 2 diabetes" in conditions
        if "Levothyroxine" in names:
            assert "Hypothyroidism" in conditions


def test_appointments(clients):
    today_count = 0
    for c in clients:
        for appt in c.appointments:
            start = appt.starts_at
            assert isinstance(start, datetime) and start.tzinfo is None
            assert TODAY <= start.date() <= TODAY + timedelta(days=21)
            assert start.minute % 15 == 0 and start.second == 0
            end = start + timedelta(minutes=appt.duration_minutes)
            assert time(8, 0) <= start.time() and end.time() <= time(17, 30)
            assert appt.purpose
            assert appt.place in (AGENCY_OFFICE, f"{c.street}, {c.city}, {c.state} {c.zip}") or (
                "Library" in appt.place
            )
        today_count += any(a.starts_at.date() == TODAY for a in c.appointments)
    # A real day whatever the size of the book: only the first TODAY_POOL clients, ~1 in 8.
    assert 0.05 <= today_count / TODAY_POOL <= 0.25
    assert not any(a.starts_at.date() == TODAY for c in clients[TODAY_POOL:]
                   for a in c.appointments)
    assert any(not c.appointments for c in clients)


def test_variety(clients):
    assert len({c.last_name for c in clients}) >= 100
    assert len({c.first_name for c in clients}) >= 100
    assert any(not c.last_name.isascii() for c in clients)
    assert any(not c.first_name.isascii() for c in clients)
    assert len({c.state for c in clients}) >= 10
    assert len({c.plan.plan_type for c in clients}) == 6
    assert len({c.medicare_id for c in clients}) == N
    assert len({c.ssn for c in clients}) == N


def test_staff_and_assistant_links():
    staff = demo_staff()
    roles = [s.role for s in staff]
    assert roles.count("admin") == 1 and roles.count("compliance") == 1
    assert roles.count("agent") == 3 and roles.count("assistant") == 2
    by_email = {s.email: s for s in staff}
    assert by_email["admin@example.com"].role == "admin"
    assert by_email["compliance@example.com"].role == "compliance"
    links = demo_assistant_links()
    assert links
    for assistant, agent in links:
        assert by_email[assistant].role == "assistant"
        assert by_email[agent].role == "agent"
    assert {a for a, _ in links} == {s.email for s in staff if s.role == "assistant"}
