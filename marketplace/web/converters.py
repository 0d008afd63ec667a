"""URL converters shared by pages and the API."""

from __future__ import annotations

from datetime import date

from werkzeug.routing import BaseConverter, IntegerConverter, ValidationError

from marketplace.db import MAX_BIGINT


class IsoDateConverter(BaseConverter):
    """A YYYY-MM-DD path segment; anything else is a 404, not a 500."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> date:
        """Parse the segment."""
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValidationError() from None

    def to_url(self, value: date) -> str:
        """Format the date."""
        return value.isoformat()


class IdConverter(IntegerConverter):
    """``<int:…>`` with an upper bound: an id no column can hold is a 404, not a database overflow (a 500)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_BIGINT)
        super().__init__(map, *args, **kwargs)
