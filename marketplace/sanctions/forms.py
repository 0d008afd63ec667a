"""The forms of the standing pages: a seller's plan of action, and what staff do about a seller.

The rules live in the operations; these only read what was typed.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from marketplace.sanctions.models import SANCTION_STAGES, STAGE_LABELS, AppealStatus
from marketplace.sanctions.operations import MAX_TEXT

_TEXT = Length(max=MAX_TEXT, message=_l("At most %(max)d characters."))


def _written(message: object) -> list[object]:
    return [DataRequired(message=message), _TEXT]


class AppealForm(FlaskForm):
    """The seller's plan of action: why it happened, what was done, how it will not happen again."""

    root_cause = TextAreaField(_l("Why it happened"), validators=_written(_l("Say why it happened.")))
    actions_taken = TextAreaField(_l("What you have done about it"), validators=_written(_l("Say what you did.")))
    prevention = TextAreaField(
        _l("How it will not happen again"), validators=_written(_l("Say how you will prevent it."))
    )


class ImposeForm(FlaskForm):
    """A supervisor imposes a stage on a seller."""

    stage = SelectField(
        _l("Stage"),
        choices=[SelectChoice(stage.value, STAGE_LABELS[stage]) for stage in SANCTION_STAGES],
        validators=[DataRequired(message=_l("Choose one."))],
    )
    ends_at = DateTimeLocalField(_l("Until (KST; empty: the policy's days)"), validators=[Optional()])
    reason = TextAreaField(_l("Reason, shown to the seller"), validators=_written(_l("Give a reason.")))


class LiftForm(FlaskForm):
    """A supervisor lifts a sanction now."""

    reason = TextAreaField(_l("Reason, shown to the seller"), validators=_written(_l("Give a reason.")))


class AppealDecisionForm(FlaskForm):
    """Staff accept or reject a seller's appeal."""

    outcome = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice(AppealStatus.ACCEPTED.value, _l("Accept")),
            SelectChoice(AppealStatus.REJECTED.value, _l("Reject")),
        ],
        validators=[DataRequired(message=_l("Choose accepted or rejected."))],
    )
    reason = TextAreaField(_l("Reason, shown to the seller"), validators=_written(_l("Give a reason.")))
