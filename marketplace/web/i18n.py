"""Which language and time zone a request is served in: Korean by default, English selectable."""

from __future__ import annotations

import os

from flask import current_app, has_request_context, request, session
from flask_login import current_user


def select_locale() -> str:
    """The request's language: an explicit choice, then the user's setting, then the browser's, then Korean."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        # Commands and jobs: follow the operator's terminal (LANG=ko_KR.UTF-8 gives Korean).
        return "ko" if os.environ.get("LANG", "").lower().startswith("ko") else "en"
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    user_language = getattr(current_user, "language", None)
    if user_language in languages:
        return user_language
    best = request.accept_languages.best_match(languages)
    return best or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    """Times are shown in the platform's business time zone."""
    return current_app.config["TIMEZONE"]
