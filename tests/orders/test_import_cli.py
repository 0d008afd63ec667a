"""`marketplace orders import FILE.csv`: the API's validation and ingestion, bad rows reported by line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.core.models import AuditRecord
from marketplace.orders.importer import COLUMNS
from marketplace.orders.models import OrderEvent, OrderStatus
from tests.orders.conftest import counts, order

ITEMS = json.dumps([{"sku": "TV-43UHD", "name": "43인치 UHD TV", "quantity": 1}], ensure_ascii=False)


def _paid(event_id: str, order_id: str, **cells: str) -> dict[str, str]:
    return {
        "event_id": event_id,
        "type": "order.paid",
        "occurred_at": "2026-09-23T15:00:00+09:00",
        "order_id": order_id,
        "seller_id": "S-1",
        "seller_name": "한빛전자",
        "buyer_id": "B-1",
        "buyer_name": "김민준",
        "buyer_contact": "minjun.kim@example.com",
        "buyer_language": "ko",
        "amount": "389000",
        "items": ITEMS,
        "paid_at": "2026-09-23T15:00:00+09:00",
        **cells,
    }


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _import(app: Flask, path: Path | str):
    return app.test_cli_runner().invoke(args=["orders", "import", str(path)])


MIXED = [
    _paid("E-1", "O-1"),  # line 2
    _paid("E-2", "O-2", amount="12.5"),  # line 3
    {"event_id": "E-3", "type": "order.shipped", "occurred_at": "2026-09-24T10:00:00+09:00", "order_id": "O-1"}
    | {"carrier": "CJ대한통운", "tracking_number": "6543"},  # line 4
    {"event_id": "E-4", "type": "order.cancelled", "occurred_at": "2026-09-24 10:00", "order_id": "O-1"}
    | {"initiated_by": "buyer", "reason": "buyer_request"},  # line 5
    _paid("E-5", "O-5", items="[{"),  # line 6
    {"event_id": "E-6", "type": "order.delivered", "occurred_at": "2026-09-26T10:00:00+09:00", "order_id": "O-1"}
    | {"carrier": "CJ대한통운"},  # line 7
    _paid("E-7", "O-7", buyer_language="jp"),  # line 8
    {"event_id": "E-8", "type": "refund.completed", "occurred_at": "2026-09-25T10:00:00+09:00", "order_id": "O-1"}
    | {"refund_amount": "1000"},  # line 9
    _paid("E-9", "O-9", items=json.dumps([{"sku": "A", "name": "A", "quantity": 0}])),  # line 10
    {"event_id": "E-10", "type": "order.delivered", "occurred_at": "2026-09-26T10:00:00+09:00", "order_id": "O-404"},
]


def test_import_reports_bad_rows_by_line_and_stores_the_good_ones(app: Flask, session: Session, tmp_path) -> None:
    """Each bad row is one line naming the line, the column and the problem; the good rows are in."""
    result = _import(app, _write(tmp_path / "events.csv", MIXED))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "line 3: amount: Not a whole number of won." in lines
    assert "line 5: occurred_at: Not a valid aware datetime." in lines
    assert any(line.startswith("line 6: items: Not valid JSON") for line in lines)
    assert "line 7: carrier: Not used by order.delivered events; leave it empty." in lines
    assert "line 8: buyer_language: Must be one of: ko, en." in lines
    assert any(line.startswith("line 10: items.0.quantity:") for line in lines)
    assert (
        lines[-1] == "events.csv: 10 row(s): 4 imported (1 waiting for their order.paid), 0 imported before, 6 refused."
    )
    stored = order(session, "O-1")
    assert stored.status is OrderStatus.SHIPPED
    assert stored.refunded_amount == 1_000
    assert set(session.scalars(sa.select(OrderEvent.event_id))) == {"E-1", "E-3", "E-8", "E-10"}


def test_import_is_audited_as_the_import_system(app: Flask, session: Session, tmp_path) -> None:
    """Orders created by an import name the importer as their actor."""
    _import(app, _write(tmp_path / "events.csv", [_paid("E-1", "O-1")]))
    record = session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "order.create")).one()
    assert record.actor == "system:import"


def test_clean_file_exits_0(app: Flask, session: Session, tmp_path) -> None:
    """All rows good: exit code 0 and a summary."""
    result = _import(app, _write(tmp_path / "good.csv", [_paid("E-1", "O-1"), _paid("E-2", "O-2")]))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "good.csv: 2 row(s): 2 imported (0 waiting for their order.paid), 0 imported before, 0 refused."
    )


def test_importing_the_same_file_again_changes_nothing(app: Flask, session: Session, tmp_path) -> None:
    """Rows are recognised by event id: a second run imports nothing new."""
    path = _write(tmp_path / "events.csv", [_paid("E-1", "O-1"), _paid("E-2", "O-2")])
    _import(app, path)
    before = counts(session)
    result = _import(app, path)
    assert result.exit_code == 0
    assert "0 imported (0 waiting for their order.paid), 2 imported before" in result.output
    assert counts(session) == before


def test_line_numbers_count_quoted_newlines(app: Flask, session: Session, tmp_path) -> None:
    """A value spanning two lines shifts the rows after it, as an editor shows them."""
    pretty = json.dumps([{"sku": "A", "name": "A", "quantity": 1}], indent=1)
    path = _write(tmp_path / "events.csv", [_paid("E-1", "O-1", items=pretty), _paid("E-2", "O-2", amount="x")])
    result = _import(app, path)
    assert f"line {2 + pretty.count(chr(10)) + 1}: amount: Not a whole number of won." in result.output


def test_large_file_is_loaded_in_chunks(app: Flask, session: Session, tmp_path) -> None:
    """2,001 rows: three transactions of at most 1,000, all stored."""
    rows = [_paid(f"E-{n}", f"O-{n}", buyer_id=f"B-{n}") for n in range(2001)]
    result = _import(app, _write(tmp_path / "big.csv", rows))
    assert result.exit_code == 0, result.output
    assert counts(session)["orders"] == 2001


def test_missing_file_is_a_usage_error(app: Flask, tmp_path) -> None:
    """A path that does not exist: exit code 2 naming it."""
    result = _import(app, tmp_path / "nope.csv")
    assert result.exit_code == 2
    assert "nope.csv" in result.output


def test_unknown_column_is_refused_before_anything_is_loaded(app: Flask, session: Session, tmp_path) -> None:
    """A header this importer does not know: one line, exit 1, nothing stored."""
    path = tmp_path / "events.csv"
    path.write_text("event_id,type,occurred_at,order_id,colour\nE-1,order.delivered,2026-09-26T10:00:00Z,O-1,red\n")
    result = _import(app, path)
    assert result.exit_code == 1
    assert "Unknown column colour" in result.output
    assert counts(session)["order_events"] == 0


def test_missing_required_column_is_refused(app: Flask, tmp_path) -> None:
    """event_id, type, occurred_at and order_id must be in the header."""
    path = tmp_path / "events.csv"
    path.write_text("event_id,type,occurred_at\nE-1,order.delivered,2026-09-26T10:00:00Z\n")
    result = _import(app, path)
    assert result.exit_code == 1
    assert "no column order_id" in result.output


def test_row_with_more_cells_than_the_header_is_refused(app: Flask, session: Session, tmp_path) -> None:
    """An extra cell usually means a shifted row: refused rather than guessed."""
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,type,occurred_at,order_id\n"
        "E-1,order.delivered,2026-09-26T10:00:00Z,O-1,extra\n"
        "E-2,order.delivered,2026-09-26T10:00:00Z,O-2\n"
    )
    result = _import(app, path)
    assert result.exit_code == 1
    assert "line 2: _row: The row has more cells than the header." in result.output
    assert counts(session)["order_events"] == 1
