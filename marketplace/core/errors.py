"""Domain errors and their problem+json (RFC 9457) rendering."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, jsonify
from flask_babel import lazy_gettext as _l

PROBLEM_MIMETYPE = "application/problem+json"


class DomainError(Exception):
    """A rule of the business refused the request; it maps to a 4xx with a message a person can act on."""

    status: int = 400
    code: str = "bad-request"
    title: Any = _l("The request could not be processed")

    def __init__(
        self,
        detail: Any,
        *,
        field: str | None = None,
        errors: Mapping[str, list[Any]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(str(detail))
        self.detail = detail
        self.field = field
        self.errors = dict(errors) if errors else ({field: [detail]} if field else {})
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """The problem+json body for this error."""
        body: dict[str, Any] = {
            "type": problem_type(self.code),
            "title": str(self.title),
            "status": self.status,
            "detail": str(self.detail),
            "code": self.code,
        }
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = {key: [str(message) for message in messages] for key, messages in self.errors.items()}
        body.update({key: _plain(value) for key, value in self.extra.items()})
        return body


class ValidationFailed(DomainError):
    """Input is well-formed but breaks a rule (a field out of range, an unknown reference)."""

    status = 422
    code = "validation-error"
    title = _l("Some fields are not valid")


class Unauthorized(DomainError):
    """No valid credentials were given."""

    status = 401
    code = "unauthorized"
    title = _l("Authentication required")


class Forbidden(DomainError):
    """The caller is known but its role or scope does not allow this."""

    status = 403
    code = "forbidden"
    title = _l("Not allowed")


class NotFound(DomainError):
    """The object does not exist, or the caller may not know that it does."""

    status = 404
    code = "not-found"
    title = _l("Not found")


class Conflict(DomainError):
    """The request clashes with the current state (a duplicate, a used key)."""

    status = 409
    code = "conflict"
    title = _l("Conflict with the current state")


class IllegalTransition(Conflict):
    """A state machine refused a move; the body names the current state."""

    code = "illegal-transition"
    title = _l("This action is not possible in the current state")


def problem_type(code: str) -> str:
    """The problem type URI for ``code``."""
    return f"urn:marketplace:problem:{code}"


def problem_response(body: Mapping[str, Any], status: int) -> Response:
    """A problem+json response."""
    response = jsonify(dict(body))
    response.status_code = status
    response.mimetype = PROBLEM_MIMETYPE
    return response


def http_problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem body for a plain HTTP error (no domain code of its own)."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update(extra)
    return body


def flatten_validation_messages(messages: Any) -> dict[str, list[str]]:
    """Turn webargs' {location: {field: [msg]}} (possibly nested) into {"a.b": [msg]}."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and not any(isinstance(item, (Mapping, list)) for item in value):
            # Messages: plain or lazily translated strings.
            flat.setdefault(prefix or "_body", []).extend(str(item) for item in value)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(f"{prefix}.{index}" if prefix else str(index), inner)
        else:
            flat.setdefault(prefix or "_body", []).append(str(value))

    if isinstance(messages, Mapping):
        # The location (json, query, form…) is not part of the field's name for the client.
        for location_messages in messages.values():
            walk("", location_messages)
    else:
        walk("", messages)
    return flat


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def log_unexpected(exc: BaseException) -> None:
    """Log an error that was not a client's fault."""
    current_app.logger.exception("unhandled error", exc_info=exc)
