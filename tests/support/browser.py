"""A "phone" for integration tests: Flask's test client plus a software authenticator, speaking
to the app exactly as app.js does (CSRF header from the page's meta tag, JSON ceremonies)."""

from __future__ import annotations

import json
import re

from tests.support.authenticator import SoftAuthenticator

ORIGIN = "http://localhost:5000"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Phone:
    def __init__(self, app, authenticator: SoftAuthenticator | None = None):
        self.app = app
        self.client = app.test_client()
        self.authenticator = authenticator or SoftAuthenticator()
        self.csrf_token: str | None = None

    # -- plumbing -------------------------------------------------------------------------------

    def load_csrf(self, path: str = "/login") -> None:
        page = self.client.get(path, follow_redirects=True).get_data(as_text=True)
        match = _CSRF.search(page)
        assert match, f"no csrf meta tag on {path}"
        self.csrf_token = match.group(1)

    def post_json(self, path: str, body: dict | None = None, **headers):
        if self.csrf_token is None:
            self.load_csrf()
        return self.client.post(path, json=body or {},
                                headers={"X-CSRFToken": self.csrf_token, **headers})

    def post_form(self, path: str, data: dict | None = None, **kwargs):
        if self.csrf_token is None:
            self.load_csrf()
        return self.client.post(path, data={"csrf_token": self.csrf_token, **(data or {})},
                                **kwargs)

    def session_cookie(self) -> str | None:
        cookie = self.client.get_cookie("sh-session")
        return cookie.value if cookie else None

    # -- ceremonies -----------------------------------------------------------------------------

    def enroll(self, token: str, **create_overrides):
        self.load_csrf(f"/enroll/{token}")
        options = self.post_json(f"/enroll/{token}/options")
        assert options.status_code == 200, options.get_data(as_text=True)
        credential = self.authenticator.create(json.dumps(options.json["options"]),
                                               origin=create_overrides.pop("origin", ORIGIN),
                                               **create_overrides)
        return self.post_json(f"/enroll/{token}/verify", {"credential": credential})

    def assertion(self, options_path: str, verify_path: str, **get_overrides):
        options = self.post_json(options_path)
        assert options.status_code == 200, options.get_data(as_text=True)
        credential = self.authenticator.get(json.dumps(options.json["options"]),
                                            origin=get_overrides.pop("origin", ORIGIN),
                                            **get_overrides)
        return self.post_json(verify_path, {"credential": credential}), credential

    def sign_in(self, **overrides):
        self.load_csrf("/login")
        response, _ = self.assertion("/login/options", "/login/verify", **overrides)
        if response.status_code == 200:
            self.load_csrf("/")
        return response

    def unlock(self, **overrides):
        response, _ = self.assertion("/unlock/options", "/unlock/verify", **overrides)
        return response

    def step_up(self, **overrides):
        response, _ = self.assertion("/step-up/options", "/step-up/verify", **overrides)
        return response

    def logout(self):
        return self.post_form("/logout")
