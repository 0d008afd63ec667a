"""Logged-in people and the actor behind each request."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from marketplace.core import clock
from marketplace.core.auth import ANONYMOUS, Actor
from marketplace.core.errors import Unauthorized
from marketplace.core.models import User
from marketplace.core.operations import authenticate_api_key
from marketplace.extensions import csrf, db


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: only active users keep their session."""
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.is_active else None


def page_actor() -> Actor:
    """The actor behind a page request."""
    if current_user.is_authenticated:
        return Actor.for_user(current_user)
    return ANONYMOUS


def api_actor() -> Actor:
    """The actor behind an API request: a Bearer API key, else the logged-in session (with CSRF on writes)."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(_l("Send the API key as 'Authorization: Bearer <key>'."))
        key = authenticate_api_key(db.session, token, now=clock.now())
        # Authentication is its own step: keep last_used_at even if the request itself fails later.
        db.session.commit()
        return Actor.for_api_key(key)
    if current_user.is_authenticated:
        if request.method not in {"GET", "HEAD", "OPTIONS"} and current_app.config["WTF_CSRF_ENABLED"]:
            # A browser session can be ridden by another site; an API key cannot.
            csrf.protect()
        return Actor.for_user(current_user)
    return ANONYMOUS
