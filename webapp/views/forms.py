"""Form validation (flask-wtf): clear messages beside each field."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Regexp, ValidationError

from ..auth.models import Role

ROLE_CHOICES = [SelectChoice(Role.AGENT.value, "Agent"),
                SelectChoice(Role.ASSISTANT.value, "Assistant"),
                SelectChoice(Role.ADMIN.value, "Admin"),
                SelectChoice(Role.COMPLIANCE.value, "Compliance officer")]


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[
        DataRequired("Enter the person's work email."),
        Email("That is not an email address.", check_deliverability=False),
        Length(max=254)])
    display_name = StringField("Name", validators=[
        DataRequired("Enter the person's name."), Length(max=120),
        Regexp(r"^[^\x00-\x1f\x7f]*$", message="Use letters, spaces and punctuation only.")])
    role = SelectField("Role", choices=ROLE_CHOICES)
    agents = SelectMultipleField("Supports agents", choices=[])

    def validate_agents(self, field):
        if field.data and self.role.data != Role.ASSISTANT.value:
            raise ValidationError("Only assistants support agents.")
        if self.role.data == Role.ASSISTANT.value and not field.data:
            raise ValidationError("Choose the agents this assistant supports.")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class PasskeyNameForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=60)])
