"""Forms for the pages every portal shares."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from marketplace.core.errors import DomainError


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(_l("Enter your e-mail address.")), Length(max=254)],
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=1024)])
    next = HiddenField()


def show_errors(form: FlaskForm, exc: DomainError) -> None:
    """Put a refused operation's messages beside the fields they name; the rest above the form."""
    leftover: list[str] = []
    for name, messages in (exc.errors or {"": [exc.detail]}).items():
        field = form._fields.get(name.split(".")[0]) if name else None
        texts = [str(message) for message in messages]
        if field is None:
            leftover.extend(texts)
        else:
            field.errors = [*field.errors, *texts]
    form.form_errors = [*form.form_errors, *leftover]
