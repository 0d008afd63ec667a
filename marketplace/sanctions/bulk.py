"""Set-based inserts and updates whose statements stay small: on PostgreSQL the whole batch is one JSON parameter.

An ``INSERT … VALUES`` of 1,000 rows with ``RETURNING`` (SQLAlchemy's insertmanyvalues) sends one placeholder per
value: 20,000 for a batch of violations, which psycopg parses anew each time (it caches statements of at most 50
parameters); arrays per column are better, but psycopg dumps a ``jsonb[]`` or ``timestamptz[]`` element by element in
Python. ``INSERT … SELECT … FROM jsonb_to_recordset(:rows)`` sends the batch as one JSON document (``json.dumps`` is C),
which the server unpacks into typed columns: one cached statement, one parameter, whatever the batch size. Measured
on a batch of 1,000 webhook rows on the shared machine: ~60–100 ms with arrays, ~10 ms as JSON. SQLite (one process,
small batches) takes the plain executemany.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session


def among(column: sa.ColumnElement[Any], values: Iterable[int]) -> sa.ColumnElement[bool]:
    """``column IN (…)`` for a batch of ids, written into the statement: a thousand ids are a thousand placeholders
    for the driver to parse otherwise (integers only, so nothing can be injected)."""
    return column.in_(sa.bindparam(None, [int(value) for value in values], expanding=True, literal_execute=True))


@lru_cache(maxsize=8192)
def utc_iso(value: datetime) -> str:
    """An aware instant in ISO 8601, in UTC (a batch repeats a few instants: the run's time, a deadline)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot send {value!r} as JSON")


def _batch(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(rows), default=_plain, ensure_ascii=False, separators=(",", ":"))


def _record(table: sa.Table, names: Sequence[str], dialect: sa.Dialect) -> str:
    """The column list of ``jsonb_to_recordset``: each column with its type in the table."""
    preparer = dialect.identifier_preparer
    return ", ".join(f"{preparer.quote(name)} {table.c[name].type.compile(dialect=dialect)}" for name in names)


def insert_rows_returning(
    session: Session,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str],
    returning: Sequence[str],
) -> list[sa.Row[Any]]:
    """Insert ``rows`` (plain values: enum values, aware datetimes, JSON-able documents), skipping those that clash on
    ``conflict``; returns ``returning`` of the rows inserted."""
    if not rows:
        return []
    dialect = session.connection().dialect
    if dialect.name != "postgresql":
        statement = (
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=[table.c[name] for name in conflict])
            .returning(*(table.c[name] for name in returning))
        )
        return list(session.execute(statement, list(rows)).all())
    preparer = dialect.identifier_preparer
    names = list(rows[0])
    quoted = ", ".join(preparer.quote(name) for name in names)
    keys = ", ".join(preparer.quote(name) for name in conflict)
    shown = ", ".join(preparer.quote(name) for name in returning)
    # Identifiers come from the table's own metadata, quoted by the dialect; the rows are one bound parameter.
    sql = (
        f"INSERT INTO {preparer.format_table(table)} ({quoted}) SELECT {quoted}"  # noqa: S608
        f" FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({_record(table, names, dialect)})"
        f" ON CONFLICT ({keys}) DO NOTHING RETURNING {shown}"
    )
    statement = sa.text(sql).columns(*(table.c[name] for name in returning))
    return list(session.execute(statement, {"rows": _batch(rows)}).all())


def update_rows(session: Session, table: sa.Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Set each row's columns where ``key`` equals its value (every row has the same keys)."""
    if not rows:
        return
    dialect = session.connection().dialect
    names = [name for name in rows[0] if name != key]
    if dialect.name != "postgresql":
        session.execute(
            sa.update(table)
            .where(table.c[key] == sa.bindparam(f"b_{key}"))
            .values({name: sa.bindparam(f"b_{name}") for name in names}),
            [{f"b_{name}": value for name, value in row.items()} for row in rows],
        )
        return
    preparer = dialect.identifier_preparer
    assignments = ", ".join(f"{preparer.quote(name)} = v.{preparer.quote(name)}" for name in names)
    # Identifiers from the table's metadata, quoted; the rows are one bound parameter.
    sql = (
        f"UPDATE {preparer.format_table(table)} AS t SET {assignments}"  # noqa: S608
        f" FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v({_record(table, [key, *names], dialect)})"
        f" WHERE t.{preparer.quote(key)} = v.{preparer.quote(key)}"
    )
    session.execute(sa.text(sql), {"rows": _batch(rows)})
