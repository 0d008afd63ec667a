"""Forms for the pages every portal shares."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from marketplace.core.errors import Conflict, DomainError, ValidationFailed
from marketplace.extensions import db


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


def submit_form(
    form: FlaskForm, action: Callable[[], object], *, done: str, back: str, render: Callable[[], str]
) -> Response | tuple[str, int]:
    """Run one operation for a posted form: commit and go back, or show the form again with its errors.

    What the person can fix (a field, a state that moved on) is shown on the form; a refusal of who they are
    (403, 404) goes to the error page.
    """
    status = 422
    if form.validate_on_submit():
        try:
            action()
        except (ValidationFailed, Conflict) as exc:
            db.session.rollback()
            show_errors(form, exc)
            status = exc.status
        else:
            db.session.commit()
            flash(done, "success")
            return redirect(back)
    return render(), status
