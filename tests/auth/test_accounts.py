"""Users' passkeys, invites from the command line and from /admin/users."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.support.authenticator import SoftAuthenticator
from webapp.auth.models import AssistantLink, EnrollmentInvite, Passkey, User
from webapp.cli import users_cli

ENROLL_URL = re.compile(r"^http://localhost:5000/enroll/[A-Za-z0-9_-]{43}$")


def test_create_admin_prints_the_enrollment_url_alone_on_the_last_line(app, session):
    result = app.test_cli_runner().invoke(users_cli, ["create-admin", "Boss@Example.com"])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert ENROLL_URL.match(last)
    admin = session.scalar(select(User).where(User.email == "boss@example.com"))
    assert admin.role == "admin"
    invite = session.scalar(select(EnrollmentInvite))
    token = last.rsplit("/", 1)[1]
    assert token not in invite.token_hash  # stored hashed
    assert (invite.expires_at - invite.created_at).total_seconds() == 72 * 3600


def test_invite_an_assistant_for_an_agent(app, session):
    runner = app.test_cli_runner()
    runner.invoke(users_cli, ["invite", "agent@example.com", "--role", "agent"])
    result = runner.invoke(users_cli, ["invite", "help@example.com", "--role", "assistant",
                                       "--agent", "agent@example.com"])
    assert result.exit_code == 0, result.output
    assert ENROLL_URL.match(result.output.strip().splitlines()[-1])
    assert session.scalar(select(AssistantLink)) is not None


@pytest.mark.parametrize(("args", "message"), [
    (["invite", "x@example.com", "--role", "wizard"], "unknown role 'wizard'"),
    (["invite", "not-an-email", "--role", "agent"], "is not an email address"),
    (["invite", "h@example.com", "--role", "assistant", "--agent", "nobody@example.com"],
     "is not an agent"),
    (["invite", "a@example.com", "--role", "agent", "--agent", "b@example.com"],
     "is not an agent"),
    (["invite", "x@example.com"], "Missing option '--role'"),
])
def test_bad_invites_are_refused_clearly_and_change_nothing(app, session, args, message):
    result = app.test_cli_runner().invoke(users_cli, args)
    assert result.exit_code == 2 and message in result.output
    assert session.scalar(select(User)) is None


def test_admin_invites_from_the_page(session, signed_in):
    admin = signed_in("boss@example.com", "admin")
    page = admin.post_form("/admin/users", {"email": "new@example.com", "display_name": "New",
                                            "role": "compliance"})
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r"http://localhost:5000/enroll/[A-Za-z0-9_-]{43}", body)
    assert session.scalar(select(User).where(User.email == "new@example.com")).role == \
        "compliance"


@pytest.mark.parametrize(("data", "message"), [
    ({"email": "", "display_name": "X", "role": "agent"}, "Enter the person&#39;s work email."),
    ({"email": "nope", "display_name": "X", "role": "agent"}, "That is not an email address."),
    ({"email": "a@example.com", "display_name": "", "role": "agent"}, "Enter the person"),
    ({"email": "a@example.com", "display_name": "X", "role": "root"}, "Not a valid choice"),
    ({"email": "a@example.com", "display_name": "X", "role": "assistant"},
     "Choose the agents this assistant supports."),
])
def test_invite_form_errors_show_beside_the_field(session, signed_in, data, message):
    admin = signed_in("boss@example.com", "admin")
    page = admin.post_form("/admin/users", data)
    assert page.status_code == 422 and message in page.get_data(as_text=True)
    assert session.scalar(select(User).where(User.email == "a@example.com")) is None


def test_a_user_adds_names_and_removes_passkeys_but_not_the_last(app, session, clock, invite,
                                                                 signed_in, phone):
    device = signed_in("me@example.com")
    me = session.scalar(select(User).where(User.email == "me@example.com"))
    (only,) = me.passkeys
    refused = device.post_form(f"/account/passkeys/{only.id}/remove", follow_redirects=True)
    assert "only passkey" in refused.get_data(as_text=True)

    second_phone = phone(authenticator=SoftAuthenticator(backup_eligible=True))
    assert second_phone.enroll(invite("me@example.com")).status_code == 200  # a new invite
    session.expire_all()
    assert len(me.passkeys) == 2
    device.post_form(f"/account/passkeys/{only.id}/rename", {"name": "Work phone"})
    session.expire_all()
    assert session.get(Passkey, only.id).name == "Work phone"
    page = device.client.get("/account").get_data(as_text=True)
    assert "Work phone" in page and "synced" in page and "this device only" in page

    device.post_form(f"/account/passkeys/{only.id}/remove")
    session.expire_all()
    assert session.get(Passkey, only.id) is None
    assert device.client.get("/account").status_code == 302  # its session ended with it
    assert second_phone.client.get("/account").status_code == 200


def test_a_user_cannot_touch_someone_elses_passkey(session, signed_in):
    me = signed_in("me@example.com")
    signed_in("you@example.com")
    yours = session.scalar(select(Passkey).join(User).where(User.email == "you@example.com"))
    assert me.post_form(f"/account/passkeys/{yours.id}/rename", {"name": "x"}).status_code == 404
    assert me.post_form(f"/account/passkeys/{yours.id}/remove").status_code == 404
