"""Add and edit forms for each section of the client card: contact details, plans, conditions,
medications, providers, claims, premiums. Thin over `webapp.crm.records`; behind the device gate
(PHI_BLUEPRINTS) like every client view, and only for clients `visible_client` lets through.

A form page is a full page, or for htmx a fragment that takes the place of its section on the
card; a save answers with the refreshed section (htmx) or a redirect back to the card.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    TelField,
)
from wtforms.fields.choices import SelectChoice

from ..access.policy import allowed_classes
from ..crm import records, service
from ..crm.records import RecordNotFound
from ..crm.service import ClientNotVisible, InvalidInput
from ..db import get_session
from .crm import actor, agency_zone
from .guard import clock, is_htmx

blueprint = Blueprint("records", __name__)

# Only these sections have forms: anything else in the URL is not a route (404).
SECTION = f"<any({', '.join(records.SECTIONS)}):section>"
NOUNS = {"enrollments": "plan", "conditions": "condition", "medications": "medication",
         "providers": "provider", "claims": "claim", "premiums": "premium"}


# -- forms ---------------------------------------------------------------------------------------

class _Parsed:
    """A typed field whose text the domain judges: an empty box is None, and text that does not
    parse stays text, which the field's rule then refuses with its own message."""

    def process_formdata(self, valuelist):
        if valuelist and not valuelist[0].strip():
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = valuelist[0]


class DayField(_Parsed, DateField):
    pass


class MoneyField(_Parsed, DecimalField):
    pass


class WholeNumberField(_Parsed, IntegerField):
    pass


class WriteOnlyField(StringField):
    """A text box that never renders a value: not pre-filled, not echoed after a refusal.

    NOTE: not a password input: a browser's password manager would offer to save what is typed
    there (an SSN) and sync it to the agent's account elsewhere.
    """

    def _value(self):
        return ""


class CardForm(FlaskForm):
    """A form for one kind of record. WTForms turns the text into types; the rules in
    `webapp.crm.records` judge the values, so a form and the service never disagree."""

    kind: ClassVar[str]

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        for name, rule in records.RULES[self.kind].items():
            if rule.type is str and not rule.choices:
                self[name].render_kw = {**(self[name].render_kw or {}),
                                        "maxlength": rule.max_length}

    def values(self) -> dict:
        return {name: self[name].data for name in records.RULES[self.kind]}

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        _cleaned, errors = records.clean(self.kind, self.values(), today=self.today)
        for name, message in errors.items():
            if not self[name].errors:
                self[name].errors.append(message)
        return valid and not errors


def _choices(values, labels) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in zip(values, labels, strict=True)]


_WORDS = {"autocapitalize": "words"}
_CODE = {"autocapitalize": "characters", "spellcheck": "false"}


class ContactForm(CardForm):
    kind = "client"
    first_name = StringField("First name", render_kw=_WORDS)
    last_name = StringField("Last name", render_kw=_WORDS)
    date_of_birth = DayField("Date of birth", format=["%Y-%m-%d", "%m/%d/%Y"])
    phone = TelField("Phone")
    email = EmailField("Email", render_kw={"autocapitalize": "off", "spellcheck": "false"})
    street = StringField("Street address", render_kw=_WORDS)
    city = StringField("City", render_kw=_WORDS)
    state = StringField("State", description="Two letters, like FL.", render_kw=_CODE)
    zip = StringField("ZIP code", description="5 digits, or ZIP+4.",
                      render_kw={"inputmode": "numeric"})
    medicare_id = StringField("Medicare id (MBI)", description="11 characters, like "
                              "1EG4-TE5-MK73.", render_kw=_CODE)
    ssn = WriteOnlyField("New Social Security number",
                        description="Leave empty to keep the one on file.",
                        render_kw={"inputmode": "numeric", "autocomplete": "off"})


class EnrollmentForm(CardForm):
    kind = "enrollment"
    carrier = StringField("Carrier", render_kw=_WORDS)
    plan_name = StringField("Plan name")
    plan_type = StringField("Plan type", description="Like Medicare Advantage, Part D or "
                                                     "Medigap Plan G.")
    member_id = StringField("Member id", render_kw=_CODE)
    effective_date = DayField("Effective date", format=["%Y-%m-%d", "%m/%d/%Y"])
    end_date = DayField("End date", format=["%Y-%m-%d", "%m/%d/%Y"])
    status = SelectField("Status", validate_choice=False, default="active",
                         choices=_choices(records.ENROLLMENT_STATUSES,
                                          ("Active", "Pending", "Ended")))


class ConditionForm(CardForm):
    kind = "condition"
    name = StringField("Condition")
    noted_on = DayField("Noted on", format=["%Y-%m-%d", "%m/%d/%Y"])


class MedicationForm(CardForm):
    kind = "medication"
    name = StringField("Medication")
    dosage = StringField("Dosage", description="Like 10 mg.")
    frequency = StringField("How often", description="Like twice a day.")


class ProviderForm(CardForm):
    kind = "provider"
    name = StringField("Name", render_kw=_WORDS)
    specialty = StringField("Specialty")
    phone = TelField("Phone")


class ClaimForm(CardForm):
    kind = "claim"
    claim_number = StringField("Claim number", render_kw=_CODE)
    service_date = DayField("Date of service", format=["%Y-%m-%d", "%m/%d/%Y"])
    description = StringField("Description")
    amount = MoneyField("Amount ($)", render_kw={"inputmode": "decimal", "min": "0",
                                                 "step": "0.01"})
    status = SelectField("Status", validate_choice=False, default="pending",
                         choices=_choices(records.CLAIM_STATUSES, ("Pending", "Paid", "Denied")))


class PremiumForm(CardForm):
    kind = "premium"
    premium_monthly = MoneyField("Monthly premium ($)",
                                 render_kw={"inputmode": "decimal", "min": "0", "step": "0.01"})
    payment_method = StringField("Payment method", description="Like bank draft or card.")
    billing_day = WholeNumberField("Billing day", description="Day of the month, 1 to 28.",
                                   render_kw={"inputmode": "numeric", "min": "1", "max": "28"})


FORMS: dict[str, type[CardForm]] = {
    "enrollments": EnrollmentForm, "conditions": ConditionForm, "medications": MedicationForm,
    "providers": ProviderForm, "claims": ClaimForm, "premiums": PremiumForm,
}


# -- helpers -------------------------------------------------------------------------------------

def _not_found():
    return render_template("errors/404.html"), 404


@blueprint.errorhandler(ClientNotVisible)
@blueprint.errorhandler(RecordNotFound)
def _not_visible(_error):
    # NOTE: keep the audited refusal: nothing else was written before a visibility check.
    get_session().commit()
    return _not_found()


def _client_or_404(client_id: str):
    return service.visible_client(get_session(), current_user, client_id, now=clock().now(),
                                  actor=actor())


def _today() -> date:
    """Today where the agency is: what "not in the future" means for a date of birth."""
    return clock().now().astimezone(agency_zone()).date()


def _inline() -> bool:
    """An htmx request for a piece of the card; a boosted navigation wants the whole page."""
    return is_htmx() and request.headers.get("HX-Boosted") != "true"


def _classes():
    return allowed_classes(current_user.role)


def _form_page(form: CardForm, *, client_id: str, section: str, title: str, action_url: str,
               delete_url: str | None = None, status: int = 200):
    template = "records/_form.html" if _inline() else "records/form.html"
    return render_template(template, form=form, client_id=client_id, section=section,
                           title=title, action_url=action_url, delete_url=delete_url,
                           noun=NOUNS.get(section, "record"), inline=_inline(),
                           cancel_url=url_for("crm.client", client_id=client_id) + f"#{section}"
                           ), status


def _refused(form: CardForm, error: InvalidInput) -> None:
    """A refusal from the service (a rule the form could not see) goes beside its field."""
    get_session().rollback()
    form[error.field].errors.append(error.message)


def _saved(client, section: str, message: str):
    """htmx: the refreshed section, to take the form's place. Otherwise back to the card."""
    if _inline():
        rows = service.section_projections(client, section, _classes())
        return render_template("crm/_section.html", name=section, rows=rows,
                               client_id=client.id)
    flash(message, "success")
    return redirect(url_for("crm.client", client_id=client.id) + f"#{section}")


# -- contact details -----------------------------------------------------------------------------

@blueprint.route("/clients/<client_id>/contact/edit", methods=["GET", "POST"])
def edit_contact(client_id: str):
    """Name, date of birth, phone, email, address, Medicare id, and a write-only SSN."""
    db = get_session()
    client = _client_or_404(client_id)
    shown = records.contact_projection(client, _classes())
    form = ContactForm(data=dict(shown), today=_today())
    if shown.get("ssn_last4"):
        form.ssn.description = f"On file: {shown['ssn_last4']}. {form.ssn.description}"

    def page(status: int = 200):
        return _form_page(form, client_id=client.id, section="contact",
                          title="Edit contact details",
                          action_url=url_for(".edit_contact", client_id=client.id),
                          status=status)

    if request.method == "GET":
        service.record_view(db, actor(), [client.id], "edit:contact")
        db.commit()
        return page()
    if not form.validate_on_submit():
        return page(422)
    try:
        records.update_contact(db, client=client, values=form.values(), today=form.today,
                               actor=actor())
    except InvalidInput as error:
        _refused(form, error)
        return page(422)
    db.commit()
    card_url = url_for("crm.client", client_id=client.id) + "#contact"
    if _inline():
        # The contact block is part of the card page, not a fragment of its own: reload it.
        return Response(status=200, headers={"HX-Redirect": card_url})
    flash("Contact details saved.", "success")
    return redirect(card_url)


# -- sections ------------------------------------------------------------------------------------

@blueprint.route(f"/clients/<client_id>/{SECTION}/new", methods=["GET", "POST"])
def new_record(client_id: str, section: str):
    """Add a plan, condition, medication, provider, claim or premium to the card."""
    db = get_session()
    client = _client_or_404(client_id)
    form = FORMS[section](today=_today())
    action_url = url_for(".new_record", client_id=client.id, section=section)

    def page(status: int = 200):
        return _form_page(form, client_id=client.id, section=section,
                          title=f"Add a {NOUNS[section]}", action_url=action_url, status=status)

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        return page(422)
    try:
        records.create_record(db, client=client, section=section, values=form.values(),
                              today=form.today, actor=actor())
    except InvalidInput as error:
        _refused(form, error)
        return page(422)
    db.commit()
    return _saved(client, section, f"{NOUNS[section].capitalize()} added.")


@blueprint.route(f"/clients/<client_id>/{SECTION}/<record_id>/edit", methods=["GET", "POST"])
def edit_record(client_id: str, section: str, record_id: str):
    """Edit one record of a section, pre-filled from what is stored."""
    db = get_session()
    client = _client_or_404(client_id)
    record = records.find_record(db, client=client, section=section, record_id=record_id,
                                 actor=actor())
    shown = records.record_projection(record, _classes())
    form = FORMS[section](data=dict(shown), today=_today())

    def page(status: int = 200):
        ids = {"client_id": client.id, "section": section, "record_id": shown.id}
        return _form_page(form, client_id=client.id, section=section,
                          title=f"Edit {NOUNS[section]}",
                          action_url=url_for(".edit_record", **ids),
                          delete_url=url_for(".delete_record", **ids), status=status)

    if request.method == "GET":
        service.record_view(db, actor(), [client.id], f"edit:{section}")
        db.commit()
        return page()
    if not form.validate_on_submit():
        return page(422)
    try:
        records.update_record(db, record=record, values=form.values(), today=form.today,
                              actor=actor())
    except InvalidInput as error:
        _refused(form, error)
        return page(422)
    db.commit()
    return _saved(client, section, f"{NOUNS[section].capitalize()} saved.")


@blueprint.post(f"/clients/<client_id>/{SECTION}/<record_id>/delete")
def delete_record(client_id: str, section: str, record_id: str):
    """Delete one record of a section (the form on its edit page)."""
    db = get_session()
    client = _client_or_404(client_id)
    record = records.find_record(db, client=client, section=section, record_id=record_id,
                                 actor=actor())
    records.delete_record(db, record=record, actor=actor())
    db.commit()
    return _saved(client, section, f"{NOUNS[section].capitalize()} deleted.")
