"""The compliance officer's start page (/): what needs a look, counted, without PHI."""

from __future__ import annotations

import re

from tests.support.pages import start_item

from .conftest import CANARY

GRANTS = "Emergency access grants active now"
CHAIN = "Audit trail chain"


def test_active_emergency_grants_are_counted_and_flagged(agency):
    before = agency.officer.client.get("/").get_data(as_text=True)
    assert "<strong>0</strong>" in start_item(before, GRANTS)
    assert "needs a look" not in start_item(before, GRANTS)

    granted = agency.glass.post_form(f"/clients/{agency.client.id}/emergency",
                                     {"reason": "Covering for a colleague on leave"})
    assert granted.status_code == 302
    page = agency.officer.client.get("/").get_data(as_text=True)
    item = start_item(page, GRANTS)
    assert "<strong>1</strong>" in item and "needs a look" in item
    assert 'href="/compliance/emergency-access"' in item
    assert CANARY not in page and agency.client.id not in page  # counts only


def test_the_chain_says_never_checked_until_a_check_runs(agency):
    item = start_item(agency.officer.client.get("/").get_data(as_text=True), CHAIN)
    assert "Never checked" in item and "needs a look" in item and 'href="/audit"' in item

    assert agency.officer.post_form("/audit/verify", {}).status_code == 302
    agency.owner.client.get(f"/clients/{agency.client.id}")  # one more event after the check
    item = start_item(agency.officer.client.get("/").get_data(as_text=True), CHAIN)
    assert "intact on" in item and "needs a look" not in item
    assert re.search(r"; [1-9][0-9,]* newer events not yet checked", item)
