"""`/audit`: the trail, newest first, paged and filtered; the chain check; audited looking."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from webapp.audit import Actor, AuditTag, record_event
from webapp.audit.models import AuditEvent
from webapp.audit.review import PAGE_SIZE


def _seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'data-event="(\d+)"', html)]


def _events(session, seqs: list[int]) -> list[AuditEvent]:
    session.expire_all()
    return session.scalars(select(AuditEvent).where(AuditEvent.seq.in_(seqs))).all()


def _fill(session, n: int) -> None:
    actor = Actor(label="test")
    for i in range(n):
        record_event(session, AuditTag.CLIENT_RECORD_VIEW, actor=actor, record_type="client",
                     record_id=f"c{i}", client_id=f"c{i}")
    session.commit()


def test_trail_is_newest_first_and_pages_by_cursor(session, agency):
    _fill(session, PAGE_SIZE + 5)
    first = agency.officer.client.get("/audit")
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    seqs = _seqs(html)
    assert len(seqs) == PAGE_SIZE and seqs == sorted(seqs, reverse=True)
    older = re.search(r'href="(/audit\?before=(\d+))"', html)
    assert older and int(older.group(2)) == seqs[-1]
    second = _seqs(agency.officer.client.get(older.group(1)).get_data(as_text=True))
    assert second and max(second) < min(seqs) and second == sorted(second, reverse=True)


def test_events_show_time_tag_outcome_actor_device_and_record(session, agency):
    assert agency.glass.client.get(f"/clients/{agency.client.id}").status_code == 404
    html = agency.officer.client.get("/audit").get_data(as_text=True)
    refused = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "client:record:view", AuditEvent.outcome == "refused")).all()[-1]
    item = re.search(rf'data-event="{refused.seq}">(.*?)</li>', html, re.S).group(1)
    assert "client:record:view" in item and "refused" in item and "not_visible" in item
    assert "glass@example.com (agent)" in item and "device" in item
    assert agency.client.id in item  # the opaque id the agent asked for
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T", item)  # New York time


@pytest.mark.parametrize("area", ["auth", "client", "device", "emergency", "user", "compliance"])
def test_area_filter_shows_only_that_area(session, agency, area):
    agency.glass.post_form(f"/clients/{agency.client.id}/emergency",
                           {"reason": "Covering for a colleague on leave"})
    agency.officer.client.get("/compliance/emergency-access")
    html = agency.officer.client.get(f"/audit?area={area}").get_data(as_text=True)
    events = _events(session, _seqs(html))
    if area != "user":  # no people were changed in this agency
        assert events
    for event in events:
        assert (":emergency:" in event.tag) if area == "emergency" else \
            event.tag.startswith(f"{area}:")


def test_staff_filter_shows_only_that_persons_events(session, agency):
    glass_id = agency.user_id(session, "glass@example.com")
    agency.glass.client.get(f"/clients/{agency.client.id}")
    html = agency.officer.client.get(f"/audit?staff={glass_id}").get_data(as_text=True)
    events = _events(session, _seqs(html))
    assert events and all(e.actor_user_id == glass_id for e in events)
    assert f'<option value="{glass_id}" selected>glass@example.com (agent)</option>' in html

    _fill(session, 2)
    html = agency.officer.client.get("/audit?staff=system&area=client").get_data(as_text=True)
    events = _events(session, _seqs(html))
    assert len(events) == 2 and all(e.actor_user_id is None for e in events)


@pytest.mark.parametrize("query", [
    "before=abc", "before=-1", "before=0", "before=1e5", "before=99999999999999999999999",
    "before=" + "9" * 5000, "before=%00", "before=٣", "area=nope", "area=%00",
    "area=" + "x" * 3000, "staff=nope", "staff=%00", "staff=" + "x" * 300,
    "staff=1%20OR%201=1", "area=client&staff=system&before=2", "before=1",
])
def test_bad_query_values_never_fail(agency, query):
    response = agency.officer.client.get(f"/audit?{query}")
    assert response.status_code in (200, 404)


@pytest.mark.parametrize("query", ["page=abc", "page=-3", "page=0", "page=99999999",
                                   "page=" + "9" * 5000, "page=%00"])
def test_bad_grant_pages_never_fail(agency, query):
    assert agency.officer.client.get(
        f"/compliance/emergency-access?{query}").status_code in (200, 404)


def test_viewing_the_trail_is_audited_with_its_filter(session, agency):
    glass_id = agency.user_id(session, "glass@example.com")
    agency.officer.client.get(f"/audit?area=client&staff={glass_id}")
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "compliance:trail:view")).all()[-1]
    assert event.actor_user_id == agency.user_id(session, "officer@example.com")
    assert '"area":"client"' in event.details_json and glass_id in event.details_json


def test_the_trail_links_to_emergency_access(agency):
    html = agency.officer.client.get("/audit").get_data(as_text=True)
    assert 'href="/compliance/emergency-access"' in html


def _tamper(session, is_postgres: bool, sql: str) -> None:
    if is_postgres:
        session.execute(text("SET session_replication_role = replica"))
    session.execute(text(sql))
    session.commit()
    session.expunge_all()


def test_verify_now_records_and_shows_the_chain_status(session, is_postgres, agency):
    html = agency.officer.client.get("/audit").get_data(as_text=True)
    assert 'data-chain-status="unknown"' in html and "not been checked" in html

    checked = agency.officer.post_form("/audit/verify", follow_redirects=True)
    assert checked.status_code == 200
    html = checked.get_data(as_text=True)
    assert 'data-chain-status="intact"' in html and "officer@example.com" in html
    verify = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "system:audit:verify")).all()[-1]
    assert verify.outcome == "success"

    _tamper(session, is_postgres, "UPDATE audit_events SET reason = 'edited' WHERE seq = 3")
    html = agency.officer.post_form("/audit/verify", follow_redirects=True).get_data(
        as_text=True)
    assert 'data-chain-status="broken"' in html and "Broken at event 3" in html
    assert "content does not match its hash" in html
    assert "/audit?before=4" in html
    verify = session.scalars(select(AuditEvent).where(
        AuditEvent.tag == "system:audit:verify")).all()[-1]
    assert verify.outcome == "failure" and '"broken_seq":3' in verify.details_json
