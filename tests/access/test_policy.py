"""The field policy and projections: forbidden fields are absent, not hidden."""

from __future__ import annotations

import pytest
from jinja2 import Environment, StrictUndefined, Undefined

from webapp.access.policy import (
    FIELD_CLASSES,
    ROLE_CLASSES,
    DataClass,
    allowed_classes,
    may_open_client_card,
)
from webapp.access.projections import project
from webapp.auth.models import Role
from webapp.crm.models import CLIENT_RECORD_MODELS, Client


def test_every_encrypted_client_field_has_a_data_class():
    assert set(Client.__sealed_fields__) <= set(FIELD_CLASSES["client"])
    kinds = {"PlanEnrollment": "enrollment", "Condition": "condition", "Medication": "medication",
             "Provider": "provider", "Claim": "claim", "PremiumPayment": "premium",
             "Appointment": "appointment", "Note": "note", "Communication": "communication"}
    for model in CLIENT_RECORD_MODELS:
        assert set(model.__sealed_fields__) <= set(FIELD_CLASSES[kinds[model.__name__]]), model


def test_every_role_is_in_the_role_table():
    assert set(ROLE_CLASSES) == set(Role)


@pytest.mark.parametrize(("role", "expected"), [
    (Role.AGENT, set(DataClass)),
    (Role.ASSISTANT, {DataClass.SCHEDULE}),
    (Role.ADMIN, set()),
    (Role.COMPLIANCE, set()),
])
def test_role_table(role, expected):
    assert allowed_classes(role) == expected


def test_projection_holds_only_permitted_fields():
    values = {"first_name": "Ann", "ssn": "900-12-3456", "phone": "555", "medicare_id": "X"}
    schedule_only = project("client", values, {DataClass.SCHEDULE})
    assert dict(schedule_only) == {}
    contact = project("client", values, {DataClass.IDENTITY, DataClass.CONTACT},
                      always={"id": "c1"})
    assert dict(contact) == {"id": "c1", "first_name": "Ann", "phone": "555"}
    with pytest.raises(AttributeError, match="no field 'ssn'"):
        contact.ssn  # noqa: B018
    with pytest.raises(AttributeError):
        contact.first_name = "Bob"


def test_a_template_cannot_render_what_a_projection_lacks():
    values = {"first_name": "Ann", "ssn": "900-12-3456"}
    card = project("client", values, {DataClass.IDENTITY})
    template = Environment(undefined=Undefined).from_string("{{ c.first_name }}|{{ c.ssn }}")
    assert template.render(c=card) == "Ann|"
    strict = Environment(undefined=StrictUndefined).from_string("{{ c.ssn }}")
    with pytest.raises(Exception, match="ssn"):
        strict.render(c=card)


def test_projection_of_a_model_reads_only_permitted_attributes():
    class Spy:
        first_name = "Ann"

        @property
        def ssn(self):
            raise AssertionError("a forbidden field was read (decrypted)")

    assert dict(project("client", Spy(), {DataClass.IDENTITY})) == {"first_name": "Ann"}


@pytest.mark.parametrize(("role", "own", "grant", "expected"), [
    (Role.AGENT, True, False, True),
    (Role.AGENT, False, False, False),
    (Role.AGENT, False, True, True),
    (Role.ASSISTANT, True, False, False),
    (Role.ADMIN, False, True, False),
    (Role.COMPLIANCE, False, True, False),
])
def test_who_opens_a_client_card(role, own, grant, expected):
    class Viewer:
        id = "me"

    viewer = Viewer()
    viewer.role = role
    assert may_open_client_card(viewer, "me" if own else "other", emergency_grant=grant) is \
        expected
