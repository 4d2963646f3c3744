"""Who may open the compliance pages, and that they never show PHI."""

from __future__ import annotations

import pytest

from tests.compliance.conftest import CANARY

PAGES = ["/audit", "/compliance/emergency-access"]


@pytest.fixture
def staff(agency, signed_in):
    return {
        "agent": agency.owner,
        "assistant": signed_in("helper@example.com", "assistant",
                               agent_emails=("owner@example.com",)),
        "admin": signed_in("boss@example.com", "admin"),
    }


@pytest.mark.parametrize("role", ["agent", "assistant", "admin"])
@pytest.mark.parametrize("path", PAGES)
def test_other_roles_are_refused(staff, role, path):
    response = staff[role].client.get(path)
    assert response.status_code == 403
    assert "Your role does not give access to this page." in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["agent", "assistant", "admin"])
def test_other_roles_cannot_run_a_chain_check(session, staff, role):
    from sqlalchemy import func, select

    from webapp.audit.models import AuditEvent

    assert staff[role].post_form("/audit/verify").status_code == 403
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.tag == "system:audit:verify")) == 0


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_people_go_to_login(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_the_officer_gets_the_pages(agency):
    for path in PAGES:
        assert agency.officer.client.get(path).status_code == 200


def test_no_phi_reaches_the_officer(session, agency):
    """Everything an agent does to the canary client (a refused look, emergency access, the
    card and its sections, a note and a call quoting the canary, a search by its name) leaves
    events; no page of the trail or the grants quotes any PHI."""
    client_id = agency.client.id
    glass, owner = agency.glass, agency.owner
    assert glass.client.get(f"/clients/{client_id}").status_code == 404
    glass.post_form(f"/clients/{client_id}/emergency",
                    {"reason": "Covering for a colleague on leave"})
    assert glass.client.get(f"/clients/{client_id}").status_code == 200
    for section in ("medications", "notes", "claims"):
        glass.client.get(f"/clients/{client_id}/sections/{section}")
    glass.post_form(f"/clients/{client_id}/notes", {"body": f"Asked about Med{CANARY}"},
                    headers={"HX-Request": "true"})
    owner.post_form(f"/clients/{client_id}/communications",
                    {"channel": "call", "direction": "inbound", "summary": f"Dr{CANARY}"},
                    headers={"HX-Request": "true"})
    owner.post_form("/clients/search", {"q": f"Last{CANARY}"}, headers={"HX-Request": "true"})
    owner.client.get("/")
    agency.officer.post_form("/audit/verify")

    officer = agency.officer.client
    urls = ["/audit", "/compliance/emergency-access"]
    urls += [f"/audit?area={a}" for a in ("client", "auth", "device", "emergency", "user",
                                          "system", "compliance")]
    urls += [f"/audit?staff={agency.user_id(session, e)}"
             for e in ("owner@example.com", "glass@example.com")]
    seen = 0
    for url in urls:
        response = officer.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        seen += body.count("data-event=")
        for fragment in (CANARY, "Cmp1", "Cmp1&#126;"):
            assert fragment not in body, (url, fragment)
        assert all(CANARY not in value for value in response.headers.values())
    assert seen > 20  # the pages did show events
