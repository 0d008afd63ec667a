"""Input no database can store, refused before any handler reads it: text with a NUL character."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l

from marketplace.core.errors import ValidationFailed

NUL = "\x00"
_JSON_NUL = b"\\u0000"
_FORMS = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def _nul_at(value: Any, path: str) -> str | None:
    """The path of the first string (or key) in ``value`` that holds a NUL, if any."""
    if isinstance(value, str):
        return path or "_body" if NUL in value else None
    if isinstance(value, Mapping):
        for key, inner in value.items():
            inner_path = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return inner_path
            found = _nul_at(inner, inner_path)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = _nul_at(inner, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def _first(fields: Iterable[tuple[str, list[str]]]) -> str | None:
    for name, values in fields:
        if NUL in name or any(NUL in value for value in values):
            return name
    return None


def refuse_nul_characters() -> None:
    """An API request whose query, JSON or form text holds a NUL is a 422 naming the field: PostgreSQL cannot
    store a NUL in text or JSON, and it was a 500 there (and a silently stored control character on SQLite)."""
    if not request.path.startswith("/api/"):
        return
    found = _first(request.args.lists())
    if found is None and request.mimetype in _FORMS:
        found = _first(request.form.lists())
    elif found is None and request.is_json and _JSON_NUL in request.get_data(cache=True):
        # JSON can carry a NUL only escaped: the bytes tell in one scan whether the (parsed, cached) document needs
        # walking at all, so a batch of a thousand events costs nothing here.
        found = _nul_at(request.get_json(silent=True), "")
    if found is not None:
        message = _l("Check these fields: %(fields)s.", fields=found)
        raise ValidationFailed(message, field=found, errors={found: [message]})
