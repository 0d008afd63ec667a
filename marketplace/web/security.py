"""Security on every response (DESIGN.md §9): the headers that say what a browser may load, frame, sniff and send
along, and the API's rate limit (who is counted, and the 429 problem a caller gets)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user

API_PREFIX = "/api/v1/"

# Pages load only this site's own files: no inline script, no inline style, no framing by anyone.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
# The interactive API docs (Swagger UI) configure themselves with an inline script.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def add_security_headers(response: Response) -> Response:
    """Set the headers unless a view chose stricter ones (evidence downloads are sandboxed)."""
    headers = response.headers
    policy = DOCS_POLICY if request.path.startswith("/api/docs") else PAGE_POLICY
    headers.setdefault("Content-Security-Policy", policy)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure or _production():
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _production() -> bool:
    return current_app.config.get("MARKETPLACE_ENV") == "production"


def api_rate_limit() -> str:
    """The API's limit for the current app (``API_RATE_LIMIT``, e.g. ``6000 per minute``)."""
    return current_app.config["API_RATE_LIMIT"]


def outside_api() -> bool:
    """Whether the request is not for ``/api/v1`` (pages, the API docs and the OpenAPI document are not counted)."""
    return not request.path.startswith(API_PREFIX)


def api_rate_limit_key() -> str:
    """Whom the API limit counts: the API key, else the logged-in user, else the address.

    A Bearer token counts as its key only when it is a live key: made-up tokens would otherwise each get a budget
    of their own, so they are counted against the address that sends them.
    """
    # Imported here: marketplace.extensions imports this module to build the limiter.
    from marketplace.core.auth import hash_api_key
    from marketplace.core.queries import get_api_key_by_hash
    from marketplace.extensions import db

    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    try:
        if scheme.lower() == "bearer" and token.strip():
            key = get_api_key_by_hash(db.session, hash_api_key(token.strip()))
            if key is not None and not key.is_revoked:
                return f"api-key:{key.id}"
        elif current_user.is_authenticated:
            return f"user:{current_user.id}"
    except sa.exc.DBAPIError:
        # The database is down: count the address, and let the request itself answer 503. Raising here would make
        # the limiter take its own storage for dead.
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            db.session.rollback()
    return f"address:{get_remote_address()}"


def api_rate_limited() -> Response:
    """The 429 problem for a caller over the API limit: how many requests in how long, and when to try again."""
    from marketplace.core.errors import problem_response, problem_type
    from marketplace.extensions import limiter

    breached = limiter.current_limit
    amount, window, retry_after = 0, 60, 60
    if breached is not None:
        amount, window = breached.limit.amount, breached.limit.get_expiry()
        # The same arithmetic as the Retry-After header the limiter adds to the response.
        retry_after = max(int(breached.reset_at - time.time()), 0)
    body: dict[str, Any] = {
        "type": problem_type("rate-limited"),
        "title": _("Too many requests"),
        "status": 429,
        "detail": _(
            "Too many requests: at most %(amount)d in %(window)d seconds. Try again in %(seconds)d seconds.",
            amount=amount,
            window=window,
            seconds=max(retry_after, 1),
        ),
        "code": "rate-limited",
        "limit": amount,
        "window_seconds": window,
        "retry_after": retry_after,
    }
    response = problem_response(body, 429)
    response.headers["Retry-After"] = str(retry_after)
    return response


def register(app: Flask) -> None:
    """Install the headers on ``app``."""
    app.after_request(add_security_headers)
