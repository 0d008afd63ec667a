"""Order events from a CSV file: one event per row, turned into the same JSON the API takes.

The rows go through the same validation and the same ingestion as the API's; what this module adds is the
mapping between the file's columns and the event's fields, so that every problem names a column and a line.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from marketplace.orders.events import EventResult

COLUMNS = (
    "event_id",
    "type",
    "occurred_at",
    "order_id",
    "seller_id",
    "seller_name",
    "buyer_id",
    "buyer_name",
    "buyer_contact",
    "buyer_language",
    "amount",
    "items",
    "paid_at",
    "ship_by",
    "carrier",
    "tracking_number",
    "initiated_by",
    "reason",
    "refund_amount",
    "refunded_at",
)
REQUIRED_COLUMNS = ("event_id", "type", "occurred_at", "order_id")

# The event field each column fills; problems with a field are reported under its column.
COLUMN_OF_FIELD = {
    "id": "event_id",
    "type": "type",
    "occurred_at": "occurred_at",
    "order.id": "order_id",
    "order.seller.id": "seller_id",
    "order.seller.name": "seller_name",
    "order.buyer.id": "buyer_id",
    "order.buyer.name": "buyer_name",
    "order.buyer.contact": "buyer_contact",
    "order.buyer.language": "buyer_language",
    "order.amount": "amount",
    "order.items": "items",
    "order.paid_at": "paid_at",
    "order.ship_by": "ship_by",
    "carrier": "carrier",
    "tracking_number": "tracking_number",
    "initiated_by": "initiated_by",
    "reason": "reason",
    "amount": "refund_amount",
    "refunded_at": "refunded_at",
}
# The columns only some types use.
TYPE_COLUMNS = {
    "order.paid": {
        "seller_id",
        "seller_name",
        "buyer_id",
        "buyer_name",
        "buyer_contact",
        "buyer_language",
        "amount",
        "items",
        "paid_at",
        "ship_by",
    },
    "order.shipped": {"carrier", "tracking_number"},
    "order.delivered": set(),
    "order.cancelled": {"initiated_by", "reason"},
    "refund.completed": {"refund_amount", "refunded_at"},
}
_TYPED_COLUMNS = set().union(*TYPE_COLUMNS.values())
_INTEGER = re.compile(r"-?[0-9]+")


class HeaderError(ValueError):
    """The file's first line is not a header this importer can read."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with one row, named by the file's line and column."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.message}"


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row: the event it describes, or why it describes none."""

    line: int
    event: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)


def count_rows(stream: TextIO) -> int:
    """How many lines follow the header (for the progress bar; a quoted newline makes it a slight overcount)."""
    return max(sum(1 for _line in stream) - 1, 0)


def read_event_rows(stream: TextIO) -> Iterator[EventRow]:
    """The rows of a CSV file with a header line, each as an event or its problems; line numbers as in the file.

    The header is checked at once (HeaderError), before any row is read.
    """
    reader = csv.DictReader(stream, restkey="_extra")
    check_header(reader.fieldnames)
    return _rows(reader)


def _rows(reader: csv.DictReader) -> Iterator[EventRow]:
    last_line = 1
    for row in reader:
        line = last_line + 1  # where the row starts: a quoted value may span several lines
        last_line = reader.line_num
        yield row_to_event(line, row)


def chunks(rows: Iterable[EventRow], size: int) -> Iterator[list[EventRow]]:
    """``rows`` in lists of ``size`` (the last may be shorter)."""
    chunk: list[EventRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def check_header(fieldnames: Iterable[str] | None) -> None:
    """Refuse a header that misses a required column or has one this importer does not know."""
    if not fieldnames:
        raise HeaderError("The file is empty: the first line must name the columns.")
    names = [name.strip() for name in fieldnames]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    unknown = [name for name in names if name not in COLUMNS]
    if missing:
        raise HeaderError(f"The header has no column {', '.join(missing)}.")
    if unknown:
        raise HeaderError(f"Unknown column {', '.join(unknown)}. Known columns: {', '.join(COLUMNS)}.")


def row_to_event(line: int, row: dict[str, Any]) -> EventRow:
    """The event one row describes, in the API's JSON form; validation proper is left to the ingestion."""
    if row.get("_extra"):
        return EventRow(line, None, [Problem(line, "_row", "The row has more cells than the header.")])
    cells = {name.strip(): (value or "").strip() for name, value in row.items() if name != "_extra" and name}
    problems: list[Problem] = []
    event_type = cells.get("type", "")
    if event_type in TYPE_COLUMNS:
        for column in sorted(_TYPED_COLUMNS - TYPE_COLUMNS[event_type]):
            if cells.get(column):
                problems.append(Problem(line, column, f"Not used by {event_type} events; leave it empty."))

    def integer(column: str) -> Any:
        value = cells.get(column, "")
        if not value:
            return None
        if not _INTEGER.fullmatch(value):
            problems.append(Problem(line, column, "Not a whole number of won."))
            return None
        return int(value)

    event: dict[str, Any] = {}
    _put(event, "id", cells.get("event_id"))
    _put(event, "type", event_type)
    _put(event, "occurred_at", cells.get("occurred_at"))
    order: dict[str, Any] = {}
    _put(order, "id", cells.get("order_id"))
    event["order"] = order
    if event_type == "order.paid":
        order["seller"] = _present({"id": cells.get("seller_id"), "name": cells.get("seller_name")})
        order["buyer"] = _present(
            {"id": cells.get("buyer_id"), "name": cells.get("buyer_name"), "language": cells.get("buyer_language")}
        )
        order["buyer"]["contact"] = cells.get("buyer_contact") or None
        _put(order, "amount", integer("amount"))
        _put(order, "items", _items(line, cells.get("items", ""), problems))
        _put(order, "paid_at", cells.get("paid_at"))
        _put(order, "ship_by", cells.get("ship_by"))
    elif event_type == "order.shipped":
        _put(event, "carrier", cells.get("carrier"))
        _put(event, "tracking_number", cells.get("tracking_number"))
    elif event_type == "order.cancelled":
        _put(event, "initiated_by", cells.get("initiated_by"))
        _put(event, "reason", cells.get("reason"))
    elif event_type == "refund.completed":
        _put(event, "amount", integer("refund_amount"))
        _put(event, "refunded_at", cells.get("refunded_at"))
    return EventRow(line, None if problems else event, problems)


def problems_of(line: int, result: EventResult) -> list[Problem]:
    """The ingestion's reasons for refusing a row's event, under the file's column names."""
    if result.error is None:
        return []
    errors = result.error.errors or {"_row": [result.error.detail]}
    return [
        Problem(line, column_of(name), str(message))
        for name, messages in sorted(errors.items())
        for message in messages
    ]


def column_of(field_name: str) -> str:
    """The column behind an event field (``order.items.0.quantity`` → ``items.0.quantity``)."""
    for prefix in sorted(COLUMN_OF_FIELD, key=len, reverse=True):
        if field_name == prefix or field_name.startswith(f"{prefix}."):
            return COLUMN_OF_FIELD[prefix] + field_name[len(prefix) :]
    return field_name


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    # An empty cell is a missing field: the schema then says which one is required.
    if value is not None and value != "":
        target[key] = value


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value}


def _items(line: int, value: str, problems: list[Problem]) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        problems.append(Problem(line, "items", f"Not valid JSON: {exc.msg} at character {exc.pos + 1}."))
        return None
