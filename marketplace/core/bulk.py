"""Many rows into one table inside the session's transaction: COPY on PostgreSQL, a Core executemany elsewhere.

Measured on a batch of 1,000 order events: psycopg's pipelined executemany takes 15–60 ms and now and then stalls
for ~200 ms; COPY of the same rows takes 5–10 ms and does not stall. Values pass through each column type's own
bind processor first (UTC timestamps, JSON documents, enum values), so both paths store the same thing.

A JSON document the caller has already encoded (to hash it, say) goes in as ``EncodedJSON`` and is not encoded
a second time on the way to PostgreSQL.

COPY returns nothing, so a caller that needs the new rows' ids takes them first (``allocate_ids``) and inserts
them explicitly, rather than reading them back by a natural key afterwards.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from marketplace.db import UTCDateTime

# Below this, COPY's set-up costs more than it saves.
_COPY_FROM = 50

# Sorted keys, no blanks, UTF-8 as is: the same content always encodes to the same text, whatever its key order.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _reusable_encoder() -> Callable[[Any], str]:
    """``_CANONICAL.encode``, without building its C encoder anew on every call (half the cost of a snapshot).

    The C encoder is what ``json`` itself builds per call; built once here (no circular-reference check: what
    is encoded are plain snapshots and payloads), and used only if it encodes a sample exactly as ``json`` does.
    """
    try:
        from json.encoder import c_make_encoder  # type: ignore[attr-defined]

        encoder = c_make_encoder(None, _CANONICAL.default, encode_basestring, None, ":", ",", True, False, True)
    except (ImportError, TypeError):
        return _CANONICAL.encode

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    sample = {"b": [1, 2.5, None, True, '한 "글"\n'], "a": {"y": "x", "x": -3}, "c": ""}
    try:
        if encode(sample) == _CANONICAL.encode(sample) and encode("x") == _CANONICAL.encode("x"):
            return encode
    except TypeError:
        pass
    return _CANONICAL.encode


_encode = _reusable_encoder()


class EncodedJSON(str):
    """A JSON document already encoded: ``insert_rows`` stores it into a JSON column as it is."""

    __slots__ = ()


_NULL = EncodedJSON("null")


def canonical_json(value: Any) -> EncodedJSON:
    """``value`` as canonical JSON (sorted keys, no blanks, UTF-8 unescaped): what hashes are taken of."""
    return _NULL if value is None else EncodedJSON(_encode(value))


def allocate_ids(session: Session, table: sa.Table, count: int) -> list[int]:
    """``count`` unused ids for new rows of ``table`` (its integer primary key ``id``), in ascending order."""
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        # The column's own sequence, as its default would use it: nothing else can take these values.
        sequence = sa.select(sa.func.pg_get_serial_sequence(table.name, "id")).scalar_subquery()
        series = sa.func.generate_series(1, count).table_valued("n").render_derived()
        next_value = sa.func.nextval(sa.cast(sequence, postgresql.REGCLASS))
        return list(session.scalars(sa.select(next_value).select_from(series).order_by(series.c.n)))
    # SQLite gives a new row the largest id plus one; its write transactions run one at a time (BEGIN
    # IMMEDIATE), so nobody else can take these before our insert does.
    last = session.scalar(sa.select(sa.func.max(table.c.id))) or 0
    return list(range(last + 1, last + 1 + count))


def insert_new(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert rows the caller knows to be new (no unique key of theirs can be taken), with ids taken first; returns
    the ids in the order of ``rows``. COPY of a thousand rows costs a fraction of an INSERT … RETURNING of them; a
    taken unique key is refused by its index (an error, never a silent skip)."""
    ids = allocate_ids(session, table, len(rows))
    insert_rows(session, table, [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)])
    return ids


def insert_rows(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``; flushes nothing, commits nothing."""
    with inserting(session, table, rows):
        pass


@contextmanager
def inserting(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> Iterator[None]:
    """``insert_rows``, with the ``with`` block running while the database stores the rows.

    On PostgreSQL the rows are sent before the block runs and the COPY is finished after it, so that the server's
    work on them overlaps whatever the block computes (on two cores, a batch's next rows cost nothing extra). The
    block must not use the session: its connection is busy until the block ends.
    """
    if not rows:
        yield
        return
    connection = session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    impls = [table.c[name].type.dialect_impl(dialect) for name in names]
    json_names = [name for name, impl in zip(names, impls, strict=True) if isinstance(impl, sa.JSON)]
    if dialect.name != "postgresql" or len(rows) < _COPY_FROM:
        if json_names:
            # The column type encodes documents itself (each dialect in its own way): give it the value.
            rows = [{**row, **{name: _decoded(row[name]) for name in json_names}} for row in rows]
        session.execute(sa.insert(table), rows)
        yield
        return
    # Column by column: one type's processor over a list is cheaper than every processor on every row.
    columns = []
    for name, impl in zip(names, impls, strict=True):
        values = [row[name] for row in rows]
        process = impl.bind_processor(dialect)
        if isinstance(impl, postgresql.JSONB):
            # JSON goes in as text: already encoded as it is, else encoded here (the driver's own encoder costs
            # more per document); the column stores the parsed document either way. None as the type has it.
            values = [
                str(value) if type(value) is EncodedJSON else _encode(value) if value is not None else process(value)
                for value in values
            ]
        elif isinstance(impl, sa.JSON):
            values = [str(value) if type(value) is EncodedJSON else process(value) for value in values]
        elif isinstance(impl, UTCDateTime):
            values = _timestamps(values, process)
        elif process is not None and process(None) is None:
            values = [None if value is None else process(value) for value in values]
        elif process is not None:
            values = [process(value) for value in values]
        columns.append(values)
    preparer = dialect.identifier_preparer
    statement = f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(name) for name in names)}) FROM STDIN"
    driver_connection = connection.connection.driver_connection
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in zip(*columns, strict=True):
            copy.write_row(row)
        yield


def _timestamps(values: list[Any], process: Callable[[Any], Any]) -> list[str | None]:
    """UTC timestamps as COPY text, each distinct one spelled once.

    The driver takes some 1.5 µs to spell a datetime, and a batch repeats a few (its own time on every row). An
    aware one is spelled with its own offset (timestamptz stores the instant: the same as after UTCDateTime's
    conversion to UTC); anything else goes through the column type, which refuses naive times.
    """
    spelled = {value: _timestamp_text(value, process) for value in set(values)}
    return [spelled[value] for value in values]


def _timestamp_text(value: Any, process: Callable[[Any], Any]) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None:
        return value.isoformat()
    return process(value).isoformat()


def _decoded(value: Any) -> Any:
    return json.loads(value) if type(value) is EncodedJSON else value


def insert_returning(
    session: Session,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    returning: Sequence[str | sa.Column[Any]],
    conflict: Sequence[str] = (),
) -> list[sa.Row[Any]]:
    """Insert ``rows`` (plain values: enum values, aware datetimes, JSON-able documents), skipping those whose
    ``conflict`` columns are taken; returns ``returning`` of the rows inserted.

    On PostgreSQL the batch is one JSON parameter unpacked by ``json_to_recordset`` into typed columns: one cached
    statement whatever the batch size. A multi-row VALUES sends one placeholder per value (20,000 for a batch of
    violations, parsed anew each time); arrays per column are dumped element by element. Measured on 1,000 webhook
    rows: ~60–100 ms as arrays, ~10 ms as JSON. SQLite (one process, small batches) takes a plain executemany.
    """
    if not rows:
        return []
    columns = [table.c[name] if isinstance(name, str) else name for name in returning]
    if session.connection().dialect.name != "postgresql":
        return list(session.execute(_sqlite_insert(table, conflict).returning(*columns), list(rows)).all())
    preparer = session.connection().dialect.identifier_preparer
    shown = ", ".join(preparer.quote(column.name) for column in columns)
    sql, parameters = _pg_insert(session, table, rows, conflict)
    statement = sa.text(f"{sql} RETURNING {shown}").columns(*columns)
    return list(session.execute(statement, parameters).all())


def insert_skipping(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], *, conflict: Sequence[str], chunk: int = 10_000
) -> int:
    """Insert ``rows`` like ``insert_returning``, skipping taken ``conflict`` keys; returns how many were new.

    In chunks: one document of 200,000 outbox rows (~200 MB) took twice as long per row as chunks of 10,000.
    """
    if not rows:
        return 0
    if session.connection().dialect.name != "postgresql":
        statement = _sqlite_insert(table, conflict).returning(*table.primary_key.columns)
        return len(session.execute(statement, list(rows)).all())
    new = 0
    for start in range(0, len(rows), chunk):
        sql, parameters = _pg_insert(session, table, rows[start : start + chunk], conflict)
        new += session.execute(sa.text(sql), parameters).rowcount
    return new


def _sqlite_insert(table: sa.Table, conflict: Sequence[str]) -> Any:
    statement = sqlite.insert(table)
    if conflict:
        statement = statement.on_conflict_do_nothing(index_elements=[table.c[name] for name in conflict])
    return statement


def _pg_insert(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    """The INSERT of ``rows`` into ``table`` on PostgreSQL (skipping taken ``conflict`` keys), and its parameters.

    A batch of ``_COPY_FROM`` rows or more is COPYed into a temporary table of the same columns first, and the
    INSERT empties that table into ``table`` (``DELETE … RETURNING`` as its source: nothing is left for the next
    batch of the same transaction). Measured on 10,000 outbox rows: ~260 ms of CPU (app and server together)
    against ~340 ms as one JSON document, the server's share falling from ~250 to ~180 ms. Fewer rows go as JSON.
    """
    dialect = session.connection().dialect
    preparer = dialect.identifier_preparer
    names = list(rows[0])
    quoted = ", ".join(preparer.quote(name) for name in names)
    keys = ", ".join(preparer.quote(name) for name in conflict)
    on_conflict = f" ON CONFLICT ({keys}) DO NOTHING" if conflict else ""
    target = preparer.format_table(table)
    # Identifiers come from the table's own metadata, quoted by the dialect; the rows are COPYed or one parameter.
    if len(rows) >= _COPY_FROM:
        stage = _stage(session, table, names)
        insert_rows(session, stage, rows)
        return (
            f"WITH staged AS (DELETE FROM {preparer.quote(stage.name)} RETURNING *)"  # noqa: S608  # nosec B608
            f" INSERT INTO {target} ({quoted}) SELECT {quoted} FROM staged{on_conflict}",  # nosec B608
            {},
        )
    record = ", ".join(f"{preparer.quote(name)} {table.c[name].type.compile(dialect=dialect)}" for name in names)
    return (
        f"INSERT INTO {target} ({quoted}) SELECT {quoted}"  # noqa: S608  # nosec B608
        f" FROM json_to_recordset(CAST(:rows AS json)) AS r({record}){on_conflict}",
        {"rows": json_rows(rows)},
    )


def _stage(session: Session, table: sa.Table, names: Sequence[str]) -> sa.Table:
    """A temporary table of ``table``'s columns ``names`` (types as the table has them, no constraints), made on
    first use in this connection and emptied at every commit; as a Table whose columns carry ``table``'s types."""
    digest = hashlib.blake2s(",".join(names).encode(), digest_size=4).hexdigest()
    name = f"staged_{table.name}_{digest}"
    preparer = session.connection().dialect.identifier_preparer
    quoted = ", ".join(preparer.quote(column) for column in names)
    session.execute(
        sa.text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {preparer.quote(name)} ON COMMIT DELETE ROWS"  # noqa: S608  # nosec B608
            f" AS SELECT {quoted} FROM {preparer.format_table(table)} WITH NO DATA"  # nosec B608
        )
    )
    return sa.Table(name, sa.MetaData(), *[sa.Column(column, table.c[column].type) for column in names])


def update_rows(session: Session, table: sa.Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Set each row's columns where ``key`` equals its value (every row has the same keys), in one statement."""
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
    record = ", ".join(
        f"{preparer.quote(name)} {table.c[name].type.compile(dialect=dialect)}" for name in [key, *names]
    )
    # Identifiers from the table's metadata, quoted; the rows are one bound parameter.
    sql = (
        f"UPDATE {preparer.format_table(table)} AS t SET {assignments}"  # noqa: S608  # nosec B608
        f" FROM json_to_recordset(CAST(:rows AS json)) AS v({record})"
        f" WHERE t.{preparer.quote(key)} = v.{preparer.quote(key)}"
    )
    session.execute(sa.text(sql), {"rows": json_rows(rows)})


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


def _json_plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot send {value!r} as JSON")


def json_rows(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as one JSON document for ``jsonb_to_recordset`` (datetimes in UTC ISO 8601, enums by value)."""
    return json.dumps(list(rows), default=_json_plain, ensure_ascii=False, separators=(",", ":"))
