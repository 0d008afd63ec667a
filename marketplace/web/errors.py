"""Error rendering: problem+json under /api, a page in the reader's language everywhere else."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from marketplace.core.errors import (
    DomainError,
    flatten_validation_messages,
    http_problem,
    log_unexpected,
    problem_response,
)
from marketplace.extensions import db, login_manager
from marketplace.web.forms import LoginForm
from marketplace.web.security import api_rate_limited

log = logging.getLogger(__name__)

# Seconds a client is asked to wait after the database could not be reached (a restart or failover takes a few).
DATABASE_RETRY_AFTER = 5


def is_api_request() -> bool:
    """Whether the request is for the JSON API."""
    return request.path.startswith("/api/")


def _titles() -> dict[int, str]:
    return {
        400: _("Bad request"),
        401: _("Authentication required"),
        403: _("Not allowed"),
        404: _("Not found"),
        405: _("Method not allowed"),
        409: _("Conflict with the current state"),
        413: _("Upload too large"),
        415: _("Unsupported media type"),
        422: _("Some fields are not valid"),
        429: _("Too many requests"),
        500: _("Something went wrong on our side"),
        503: _("Service temporarily unavailable"),
    }


def _page(status: int, detail: str) -> tuple[str, int]:
    title = _titles().get(status, _("Error"))
    return render_template("web/error.html", status=status, title=title, detail=detail), status


def handle_domain_error(exc: DomainError) -> Response | tuple[str, int]:
    """A business rule refused the request: nothing was changed."""
    db.session.rollback()
    if is_api_request():
        response = problem_response(exc.to_problem(), exc.status)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="marketplace"'
        return response
    return _page(exc.status, str(exc.detail))


def handle_csrf_error(exc: CSRFError) -> Response | tuple[str, int]:
    """A form arrived without a valid CSRF token: refuse it and say how to recover."""
    detail = _("The form has expired or did not come from this site. Reload the page and submit it again.")
    if is_api_request():
        return problem_response(http_problem(400, _("Bad request"), detail, code="csrf-failed"), 400)
    if request.endpoint == "auth_web.login":
        return render_template("auth/login.html", form=LoginForm(), login_error=detail), 400
    return _page(400, detail)


def handle_http_error(exc: HTTPException) -> Response | tuple[str, int]:
    """Plain HTTP errors (404, 405, 413, 429, parse errors) in the reader's format."""
    status = exc.code or 500
    if status == 429 and is_api_request():
        return api_rate_limited()
    if status == 429:
        detail = _("Too many attempts. Wait a few minutes and try again.")
    elif status == 404:
        detail = _("There is nothing at this address.")
    elif status == 405:
        detail = _("This address does not accept a %(method)s request.", method=request.method)
    elif status == 413:
        detail = _("The request is larger than the allowed size.")
    else:
        detail = exc.description or _titles().get(status, _("Error"))
    if is_api_request():
        body: dict[str, Any] = http_problem(status, _titles().get(status, exc.name), str(detail))
        messages = getattr(exc, "data", {}).get("messages") if hasattr(exc, "data") else None
        if messages:
            errors = flatten_validation_messages(messages)
            body["errors"] = errors
            if status == 400 and "_body" in errors:
                body["detail"] = _("The request body is not valid JSON.")
            else:
                fields = ", ".join(sorted(errors))
                body["detail"] = _("Check these fields: %(fields)s.", fields=fields)
                body["field"] = sorted(errors)[0]
            body["code"] = "validation-error" if status == 422 else "bad-request"
        response = problem_response(body, status)
        for name, value in exc.get_headers() if hasattr(exc, "get_headers") else []:
            if name.lower() in {"retry-after", "allow", "www-authenticate"}:
                response.headers[name] = value
        return response
    if status == 429 and request.endpoint == "auth_web.login":
        return render_template("auth/login.html", form=LoginForm(), login_error=str(detail)), 429
    return _page(status, str(detail))


def handle_unexpected(exc: Exception) -> Response | tuple[str, int]:
    """A bug: log it, roll back, and answer without leaking internals."""
    log_unexpected(exc)
    db.session.rollback()
    detail = _("The error has been logged. Try again later.")
    if is_api_request():
        return problem_response(http_problem(500, _("Something went wrong on our side"), detail), 500)
    return _page(500, detail)


def handle_database_error(exc: sa.exc.DBAPIError) -> Response | tuple[str, int]:
    """The database could not be reached (restarted, failed over, connection lost): 503, try again shortly.

    Any other database error is a bug and goes to ``handle_unexpected``. The pool checks each connection before
    use (``pool_pre_ping``), so once the database is back the next request gets a fresh connection.
    """
    if not isinstance(exc, sa.exc.OperationalError) and not exc.connection_invalidated:
        return handle_unexpected(exc)
    log.warning("database unavailable during %s %s: %s", request.method, request.path, str(exc.orig).strip())
    # The connection may be gone already; there is nothing to roll back then.
    with contextlib.suppress(sa.exc.SQLAlchemyError):
        db.session.rollback()
    # The error page must not ask the database who is logged in.
    g._login_user = login_manager.anonymous_user()
    detail = _("The service cannot reach its database at the moment. Try again in a few seconds.")
    if is_api_request():
        body = http_problem(503, _("Service temporarily unavailable"), detail, code="database-unavailable")
        response = problem_response(body, 503)
    else:
        html, status = _page(503, detail)
        response = Response(html, status=status, mimetype="text/html")
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def register(app: Flask) -> None:
    """Install the handlers (after flask-smorest's, which they replace)."""
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(sa.exc.DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
