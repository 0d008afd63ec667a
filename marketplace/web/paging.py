"""Paging for every list page."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its number, its size and the total."""

    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        """Whether a previous page exists."""
        return self.number > 1

    @property
    def has_next(self) -> bool:
        """Whether a next page exists."""
        return self.number < self.pages


def page_number() -> int:
    """The requested page number; anything unreadable is page 1."""
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def page_url(number: int) -> str:
    """This list's address at page ``number``, keeping its filters."""
    args = request.args.to_dict(flat=False)
    args["page"] = [str(number)]
    return url_for(request.endpoint or "", **(request.view_args or {}), **args)
