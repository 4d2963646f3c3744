"""Security headers as data, and what every response carries."""

from __future__ import annotations

import re

import pytest

from webapp import security_headers


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
            for part in (p.strip() for p in policy.split(";")) if part}


def test_csp_is_strict_and_nonce_based(app):
    response = app.test_client().get("/login")
    csp = _csp(response)
    assert csp["default-src"] == "'none'"
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"
    nonce = re.search(r"'nonce-([^']+)'", csp["script-src"]).group(1)
    assert len(nonce) >= 22
    header = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in header and "unsafe-eval" not in header
    body = response.get_data(as_text=True)
    scripts = re.findall(r"<script[^>]*>", body)
    assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts)
    assert "style=" not in body  # no inline styles: style-src 'self' only


def test_nonce_changes_every_request(app):
    client = app.test_client()
    first = _csp(client.get("/login"))["script-src"]
    assert first != _csp(client.get("/login"))["script-src"]


def test_policy_data_never_allows_inline_or_eval():
    flat = " ".join(security_headers.CONTENT_SECURITY_POLICY.values())
    assert "unsafe" not in flat and "*" not in flat


@pytest.mark.parametrize(("header", "value"), [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
])
def test_every_page_carries_the_basic_headers(app, header, value):
    assert app.test_client().get("/login").headers[header] == value


def test_authenticated_responses_are_no_store(signed_in):
    device = signed_in()
    for path in ("/", "/account"):
        assert device.client.get(path).headers["Cache-Control"] == "no-store"


def test_hsts_only_over_https(app):
    client = app.test_client()
    assert "Strict-Transport-Security" not in client.get("/login").headers
    https = client.get("/login", base_url="https://localhost")
    assert https.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_session_cookie_flags(signed_in):
    device = signed_in()
    cookie = device.client.get_cookie("sh-session")
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.path == "/"


def test_https_origin_uses_host_prefixed_secure_cookies(app_config, invite, tmp_path):
    from webapp import create_app
    from webapp.config import Settings

    app = create_app({**app_config, "origin": "https://crm.example.com"})
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with app.test_request_context(base_url="https://crm.example.com"):
        from webapp.views.guard import session_cookie_name

        assert session_cookie_name() == "__Host-sh-session"
    assert isinstance(app.config["SETTINGS"], Settings)


def test_state_changing_requests_without_csrf_token_are_refused(signed_in):
    device = signed_in()
    response = device.client.post("/logout")  # no token
    assert response.status_code == 400 and "expired or was not sent" in response.get_data(
        as_text=True)
    assert device.client.get("/account").status_code == 200  # still signed in: nothing happened
    json_refused = device.client.post("/step-up/options", json={},
                                      headers={"X-CSRFToken": "forged"})
    assert json_refused.status_code == 400


def test_ceremony_endpoints_are_rate_limited(phone):
    device = phone()
    device.load_csrf()
    statuses = [device.post_json("/login/options").status_code for _ in range(35)]
    assert statuses[:30] == [200] * 30 and statuses[-1] == 429


def test_enrollment_is_rate_limited(phone):
    device = phone()
    statuses = [device.client.get(f"/enroll/guess-{i}").status_code for i in range(12)]
    assert statuses[0] == 410 and statuses[-1] == 429


def test_error_pages_do_not_echo_input(app):
    response = app.test_client().get("/no-such-page-<script>CANARY</script>")
    assert response.status_code in (302, 404)
    assert "CANARY" not in response.get_data(as_text=True)


def test_oversized_bodies_are_refused_before_anything_reads_them(signed_in):
    device = signed_in()
    response = device.post_form("/logout", {"padding": "x" * (1024 * 1024 + 10)})
    assert response.status_code == 413
    assert device.client.get("/account").status_code == 200  # nothing happened


@pytest.mark.parametrize(("data", "message"), [
    ({"email": "a\x00@example.com", "display_name": "X"}, "That is not an email address."),
    ({"email": "a@example.com", "display_name": "X\x00Y"}, "Use letters, spaces"),
])
def test_nul_bytes_in_form_fields_get_a_clear_message(session, signed_in, data, message):
    from sqlalchemy import select

    from webapp.auth.models import User

    admin = signed_in("boss@example.com", "admin")
    response = admin.post_form("/admin/users", {**data, "role": "agent"})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert session.scalar(select(User).where(User.email == "a@example.com")) is None


@pytest.mark.parametrize("path", ["/clients/%00", "/clients/a%00b/sections/notes",
                                  "/admin/devices/%00"])
def test_junk_path_values_are_404_before_any_query(signed_in, path):
    assert signed_in().client.get(path).status_code == 404
