"""The forms of the claim pages. The rules themselves live in the operations; these only read what was typed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from marketplace.claims.labels import DECISION_LABELS, REMEDY_LABELS, TYPE_LABELS
from marketplace.claims.models import BUYER_FILED_TYPES, ClaimType, Decision, Remedy
from marketplace.claims.operations import MAX_TEXT

_TEXT = Length(max=MAX_TEXT, message=_l("At most %(max)d characters."))
_WON = NumberRange(min=0, max=10**12, message=_l("A whole number of won, zero or more."))
_CHOOSE = _l("Choose one.")


def _required(message: object) -> DataRequired:
    return DataRequired(message=message)


class FileClaimForm(FlaskForm):
    """A buyer's claim on one of their orders, with photos."""

    type = SelectField(
        _l("What went wrong"),
        choices=[SelectChoice(kind.value, TYPE_LABELS[kind]) for kind in ClaimType if kind in BUYER_FILED_TYPES],
        validators=[_required(_CHOOSE)],
    )
    description = TextAreaField(
        _l("What happened"), validators=[_required(_l("Write a few words about what happened.")), _TEXT]
    )
    evidence = MultipleFileField(_l("Photos or documents (JPEG, PNG, WebP, GIF, PDF)"))


class ProposalForm(FlaskForm):
    """The seller's answer to a claim."""

    remedy = SelectField(
        _l("Your remedy"),
        choices=[SelectChoice(remedy.value, REMEDY_LABELS[remedy]) for remedy in Remedy],
        validators=[_required(_CHOOSE)],
    )
    amount = IntegerField(_l("Amount to refund (won, partial refunds only)"), validators=[Optional(), _WON])
    message = TextAreaField(_l("Message to the buyer"), validators=[_TEXT])
    evidence = MultipleFileField(_l("Evidence (JPEG, PNG, WebP, GIF, PDF)"))


class EvidenceForm(FlaskForm):
    """More files for an open claim."""

    evidence = MultipleFileField(_l("Add files (JPEG, PNG, WebP, GIF, PDF)"))


class ReasonForm(FlaskForm):
    """Reject a proposal, withdraw a claim, escalate: each with the person's reason."""

    reason = TextAreaField(_l("Reason"), validators=[_TEXT])


class DecisionForm(FlaskForm):
    """Staff decide an escalated claim."""

    decision = SelectField(
        _l("Decision"),
        choices=[SelectChoice(decision.value, DECISION_LABELS[decision]) for decision in Decision],
        validators=[_required(_CHOOSE)],
    )
    amount = IntegerField(_l("Refund the buyer gets (won)"), validators=[Optional(), _WON])
    reason = TextAreaField(_l("Reason, shown to both parties"), validators=[_TEXT])


class NoteForm(FlaskForm):
    """An internal note, for staff only."""

    message = TextAreaField(_l("Internal note"), validators=[_TEXT])


class AssignForm(FlaskForm):
    """Take a claim, hand it to a colleague, or put it back in the common queue."""

    assignee = StringField(_l("Assignee"), validators=[Length(max=20)])
