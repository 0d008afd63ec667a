"""Forms of the compensation pages; the rules live in the operations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from marketplace.compensation.labels import FORM_LABELS
from marketplace.compensation.models import CompensationForm


class GrantForm(FlaskForm):
    """A supervisor's own compensation on a claim."""

    amount = IntegerField(
        _l("Amount (won)"), validators=[Optional(), NumberRange(min=1, max=10**12, message=_l("More than 0 won."))]
    )
    form = SelectField(
        _l("Form"),
        choices=[SelectChoice(form.value, FORM_LABELS[form]) for form in CompensationForm],
        validators=[DataRequired()],
    )
    recoverable = BooleanField(_l("Recover it from the seller"))
    reason = TextAreaField(_l("Reason, shown to the buyer"), validators=[Length(max=2000)])


class VoidForm(FlaskForm):
    """Reverse a compensation granted in error."""

    reason = TextAreaField(_l("Why it is voided"), validators=[Length(max=2000)])
