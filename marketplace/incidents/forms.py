"""Forms of the incident pages; the rules live in the operations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateTimeLocalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from marketplace.compensation.labels import FORM_LABELS
from marketplace.compensation.models import CompensationForm

_REQUIRED = DataRequired(message=_l("This field is required."))
_WON = NumberRange(min=0, max=10**9, message=_l("Whole won from 0 to 1,000,000,000."))


class DeclareForm(FlaskForm):
    """A mass incident: what happened, whose fault, what buyers are told, and what each affected order gets."""

    title_ko = StringField(_l("Title (Korean)"), validators=[_REQUIRED, Length(max=200)])
    title_en = StringField(_l("Title (English)"), validators=[_REQUIRED, Length(max=200)])
    cause = TextAreaField(_l("Cause (internal)"), validators=[_REQUIRED, Length(max=4000)])
    platform_at_fault = BooleanField(_l("The platform is at fault (sellers are not penalised or charged)"))
    explanation_ko = TextAreaField(_l("Explanation to buyers (Korean)"), validators=[_REQUIRED, Length(max=4000)])
    explanation_en = TextAreaField(_l("Explanation to buyers (English)"), validators=[_REQUIRED, Length(max=4000)])
    form = SelectField(
        _l("Compensation form"),
        choices=[SelectChoice(form.value, FORM_LABELS[form]) for form in CompensationForm],
        validators=[_REQUIRED],
    )
    method = SelectField(
        _l("Amount"),
        choices=[
            SelectChoice("percent_of_order", _l("A percentage of each order")),
            SelectChoice("fixed", _l("A fixed amount per order")),
        ],
        validators=[_REQUIRED],
    )
    percent = StringField(_l("Percentage of the order"), validators=[Optional(), Length(max=10)])
    minimum = IntegerField(_l("Minimum (won)"), validators=[Optional(), _WON])
    cap = IntegerField(_l("Cap (won)"), validators=[Optional(), _WON])
    amount = IntegerField(_l("Fixed amount (won)"), validators=[Optional(), _WON])


class SelectionForm(FlaskForm):
    """Which orders the incident hit: every filter given must match; or an uploaded list of order ids."""

    sellers = StringField(_l("Seller ids (comma-separated)"), validators=[Length(max=4000)])
    skus = StringField(_l("SKUs (comma-separated)"), validators=[Length(max=4000)])
    paid_from = DateTimeLocalField(_l("Paid from (KST)"), validators=[Optional()])
    paid_to = DateTimeLocalField(_l("Paid before (KST)"), validators=[Optional()])
    coupon_code = StringField(_l("Coupon code"), validators=[Length(max=64)])
    campaign = StringField(_l("Campaign"), validators=[Length(max=64)])
    order_file = FileField(_l("Or a file of order ids (one per line, or CSV with the id first)"))
