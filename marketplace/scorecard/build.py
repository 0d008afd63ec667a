"""Keeping the scorecard: the full rebuild, the incremental update from new events, and daily snapshots.

The rebuild reads every order once (seller by seller, with its claims) and writes its day rows with COPY. The
incremental update reads only the events recorded since the update before the last one, recomputes whole the day
rows of the (seller, day) pairs they touch, and snapshots: every seller once a day (the windows move at midnight),
else only the sellers touched. Both record what they did in the audit log.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims.models import Claim, ClaimEvent
from marketplace.core.audit import record_audit
from marketplace.core.auth import Actor
from marketplace.core.bulk import EncodedJSON, insert_rows, inserting
from marketplace.core.calendar import BusinessCalendar
from marketplace.core.queries import business_calendar
from marketplace.orders.models import Order, OrderEvent
from marketplace.sanctions.models import SellerStanding
from marketplace.scorecard.metrics import (
    CLAIM_COLUMNS,
    ORDER_COLUMNS,
    Figures,
    Grade,
    add_into,
    figures,
    grade,
    order_counters,
)
from marketplace.scorecard.models import (
    CLAIM_TYPES,
    COUNTERS,
    LEAD_BUCKETS,
    WINDOWS,
    ScorecardDay,
    ScorecardSnapshot,
    ScorecardState,
)
from marketplace.scorecard.policy import GradePolicy, current_grade_policy
from marketplace.sellers.models import Seller

days_table = ScorecardDay.__table__
snapshots_table = ScorecardSnapshot.__table__
orders_table = Order.__table__
claims_table = Claim.__table__

# Sellers read per statement by the rebuild, and (seller, day) pairs by the incremental update.
SELLER_CHUNK = 500
KEY_CHUNK = 500
# Sellers whose snapshots are computed while the previous ones are stored.
SNAPSHOT_CHUNK = 1000
# Days the update snapshots after downtime, at most (older days' snapshots are left as they were).
CATCH_UP_DAYS = 90
Progress = Callable[[int], None]


def _plain(column: sa.Column[Any], raw: bool) -> sa.ColumnElement[Any]:
    """``column`` as the driver returns it when ``raw``: psycopg's aware datetimes and enum values as text, without
    UTCDateTime's and Enum's per-value result processing (10 million calls in a rebuild of 2 million orders).
    ``order_counters`` reads both alike (aware instants in any zone; ``_text`` takes a str or an enum)."""
    if not raw:
        return column
    if isinstance(column.type, sa.TypeDecorator):
        return sa.type_coerce(column, sa.DateTime(timezone=True)).label(column.name)
    if isinstance(column.type, sa.Enum):
        return sa.type_coerce(column, sa.String()).label(column.name)
    return column


def _order_query(raw: bool = False) -> sa.Select[Any]:
    return sa.select(*(_plain(orders_table.c[name], raw) for name in ORDER_COLUMNS))


def _claim_query(raw: bool = False) -> sa.Select[Any]:
    return sa.select(*(_plain(claims_table.c[name], raw) for name in CLAIM_COLUMNS))


def _raw_rows(session: Session) -> bool:
    """PostgreSQL hands back aware datetimes itself (SQLite's are naive and need UTCDateTime)."""
    return session.get_bind().dialect.name == "postgresql"


def _day_rows(
    orders: Iterable[Sequence[Any]], claims: Iterable[Sequence[Any]], calendar: BusinessCalendar
) -> list[dict[str, Any]]:
    """The day rows of these orders (``claims`` holds their claims)."""
    claims_of: dict[int, list[Sequence[Any]]] = defaultdict(list)
    for claim in claims:
        claims_of[claim[0]].append(claim)
    totals: dict[tuple[int, str, date], list[int]] = {}
    for order in orders:
        key, counters = order_counters(order, claims_of.get(order[0], ()), calendar)
        total = totals.get(key)
        if total is None:
            totals[key] = counters
        else:
            add_into(total, counters)
    return [
        {"seller_id": seller_id, "category": category, "day": day, **dict(zip(COUNTERS, total, strict=True))}
        for (seller_id, category, day), total in totals.items()
    ]


def rebuild(session: Session, *, now: datetime, actor: Actor, progress: Progress | None = None) -> dict[str, int]:
    """Recompute every day row from all orders and claims, then today's snapshots; the update goes on from here.

    ``progress`` is called with the number of sellers done after each chunk.
    """
    calendar = business_calendar(session)
    _lock_state(session)
    marks = _event_marks(session)
    session.execute(sa.delete(days_table))
    seller_ids = list(session.scalars(sa.select(Seller.id).order_by(Seller.id)))
    raw = _raw_rows(session)
    order_query, claim_query = _order_query(raw), _claim_query(raw)
    rows_written = 0
    pending: list[dict[str, Any]] = []
    for start in range(0, len(seller_ids), SELLER_CHUNK):
        chunk = seller_ids[start : start + SELLER_CHUNK]
        low, high = chunk[0], chunk[-1]
        orders = session.execute(order_query.where(orders_table.c.seller_id.between(low, high))).all()
        claims = session.execute(claim_query.where(claims_table.c.seller_id.between(low, high))).all()
        # The previous chunk's day rows are stored while this chunk's are counted (the server's COPY overlaps).
        with inserting(session, days_table, pending):
            rows = _day_rows(orders, claims, calendar)
        pending = rows
        rows_written += len(rows)
        if progress is not None:
            progress(len(chunk))
    insert_rows(session, days_table, pending)
    today = calendar.local_date(now)
    snapshotted = snapshot_day(session, today, now=now)
    _save_state(session, marks, marks, today, now)
    summary = {"sellers": len(seller_ids), "day_rows": rows_written, "snapshots": snapshotted}
    record_audit(
        session,
        actor=actor,
        action="scorecard.rebuild",
        entity_type="scorecard",
        entity_id="all",
        before=None,
        after={**summary, "day": today.isoformat()},
        now=now,
    )
    return summary


def _tune(session: Session | sa.Connection) -> None:
    """PostgreSQL, for the rest of this transaction: enough memory for a night's groupings not to spill to disk
    (the default 4 MB does at 90,000 orders, and at the window sums' 30,000 groups), and no JIT compilation, which
    cost more (~150 ms a statement) than the statements it would speed up."""
    dialect = session.get_bind().dialect if isinstance(session, Session) else session.dialect
    if dialect.name == "postgresql":
        session.execute(sa.text("SET LOCAL work_mem = '64MB'"))
        session.execute(sa.text("SET LOCAL jit = off"))


def _event_marks(session: Session) -> tuple[int, int]:
    """The newest order-event and claim-event ids."""
    order_event = session.scalar(sa.select(sa.func.max(OrderEvent.id))) or 0
    claim_event = session.scalar(sa.select(sa.func.max(ClaimEvent.id))) or 0
    return int(order_event), int(claim_event)


def _lock_state(session: Session) -> ScorecardState | None:
    """The update's state row, locked (two schedulers take turns; SQLite has one writer anyway)."""
    return session.scalar(sa.select(ScorecardState).where(ScorecardState.id == 1).with_for_update())


def _save_state(
    session: Session, marks: tuple[int, int], previous: tuple[int, int], day: date | None, now: datetime
) -> None:
    values = {
        "order_event_id": marks[0],
        "claim_event_id": marks[1],
        "previous_order_event_id": previous[0],
        "previous_claim_event_id": previous[1],
        "snapshot_day": day,
        "updated_at": now,
    }
    updated = session.execute(sa.update(ScorecardState).where(ScorecardState.id == 1).values(**values)).rowcount
    if not updated:
        session.add(ScorecardState(id=1, **values))
        session.flush()


def refresh(session: Session, *, now: datetime, actor: Actor) -> dict[str, int]:
    """Bring the day rows up to date with the events recorded since the last updates, and snapshot.

    Before any rebuild there is nothing to go on from: the first run rebuilds.
    """
    state = _lock_state(session)
    if state is None:
        summary = rebuild(session, now=now, actor=actor)
        return {"touched": summary["day_rows"], "snapshots": summary["snapshots"]}
    _tune(session)
    calendar = business_calendar(session)
    marks = _event_marks(session)
    since = (state.previous_order_event_id, state.previous_claim_event_id)
    keys = _touched_keys(session, since, marks, calendar)
    today = calendar.local_date(now)
    moved = state.snapshot_day is None or state.snapshot_day < today
    # The windows moved: every seller, and each day missed while the update did not run.
    first = today - timedelta(days=CATCH_UP_DAYS - 1)
    if state.snapshot_day is not None:
        first = max(first, state.snapshot_day + timedelta(days=1))
    bind = session.get_bind()
    sums = None
    if moved and first == today and keys and isinstance(bind, sa.Engine) and bind.dialect.name == "postgresql":
        # The night's run: the window sums of the day rows it does not recompute are read on a second connection
        # (what is committed: the state row's lock keeps every other writer of day rows out) while this one
        # recomputes the rest, whose sums are then added from the recomputed rows. The two cores work at once.
        with ThreadPoolExecutor(max_workers=1) as pool:
            untouched = pool.submit(_untouched_bands, bind, today, sorted(keys))
            recomputed = _recompute(session, keys, calendar, bands_day=today)
            sums = _windows(_add_bands(untouched.result(), recomputed))
    else:
        _recompute(session, keys, calendar)
    touched_sellers = {seller_id for seller_id, _day in keys} | _standing_changes(session, state.updated_at)
    snapshotted = 0
    if moved:
        day = first
        while day <= today:
            snapshotted += snapshot_day(session, day, now=now, sums=sums if day == today else None)
            day += timedelta(days=1)
    elif touched_sellers:
        snapshotted = snapshot_day(session, today, now=now, sellers=touched_sellers)
    _save_state(session, marks, (state.order_event_id, state.claim_event_id), today, now)
    summary = {"touched": len(keys), "snapshots": snapshotted}
    if keys or snapshotted:
        record_audit(
            session,
            actor=actor,
            action="scorecard.refresh",
            entity_type="scorecard",
            entity_id=today.isoformat(),
            before={"order_event_id": since[0], "claim_event_id": since[1]},
            after={"order_event_id": marks[0], "claim_event_id": marks[1], **summary},
            now=now,
        )
    return summary


def _touched_keys(
    session: Session, since: tuple[int, int], marks: tuple[int, int], calendar: BusinessCalendar
) -> set[tuple[int, date]]:
    """(seller, day paid) of every order with an order event or a claim event recorded in the id ranges."""
    by_events = (
        sa.select(Order.seller_id, Order.paid_at)
        .join(OrderEvent, OrderEvent.order_external_id == Order.external_id)
        .where(OrderEvent.id > since[0], OrderEvent.id <= marks[0])
    )
    by_claims = (
        sa.select(Order.seller_id, Order.paid_at)
        .join(Claim, Claim.order_id == Order.id)
        .join(ClaimEvent, ClaimEvent.claim_id == Claim.id)
        .where(ClaimEvent.id > since[1], ClaimEvent.id <= marks[1])
    )
    keys: set[tuple[int, date]] = set()
    if session.get_bind().dialect.name == "postgresql":
        # The local day in SQL, each pair once: tens of thousands of events touch far fewer (seller, day) pairs.
        for query in (by_events, by_claims):
            local = sa.cast(sa.func.timezone(calendar.tz.key, query.selected_columns.paid_at), sa.Date)
            pairs = query.with_only_columns(Order.seller_id, local).distinct()
            keys.update((seller_id, day) for seller_id, day in session.execute(pairs))
        return keys
    for query in (by_events, by_claims):
        for seller_id, paid_at in session.execute(query):
            keys.add((seller_id, calendar.local_date(paid_at)))
    return keys


def _standing_changes(session: Session, since: datetime) -> set[int]:
    """Sellers whose standing (active points) changed since the last update."""
    return set(session.scalars(sa.select(SellerStanding.seller_id).where(SellerStanding.changed_at >= since)))


def _day_bounds(calendar: BusinessCalendar, day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=calendar.tz)
    return start, start + timedelta(days=1)


# PostgreSQL: the update's recompute is set-based. The orders of the (seller, day) pairs (given as two arrays, each
# joined to the orders by one index range; OFFSET 0 keeps the planner from flattening the subquery into a sort of all
# orders) go into a temporary table with their local days; their day rows are then one INSERT … SELECT … GROUP BY,
# with business days counted from a prefix sum the calendar computes over exactly the days the orders span. It
# counts what ``metrics.order_counters`` counts (the rebuild's Python path): tests and the benchmark compare the two
# row for row. (Every name in these statements is this module's constant.)
_WORK_TABLE = "scorecard_recompute"
_STANDS = "(cl.status <> 'withdrawn' AND cl.decision IS DISTINCT FROM 'for_seller')"
_SILENT = "(cl.escalation_reason = 'seller_silent')"
_COUNTED = ", ".join(f"'{claim_type}'" for claim_type in CLAIM_TYPES)


def _local_day(column: str) -> str:
    return f"CAST(o.{column} AT TIME ZONE :tz AS date)"


_COLLECT_ORDERS = sa.text(
    f"CREATE TEMPORARY TABLE {_WORK_TABLE} ON COMMIT DROP AS"  # noqa: S608  # nosec B608
    " SELECT o.id, k.seller_id, coalesce(o.category, '') AS category, k.day,"
    " (o.status = 'cancelled' AND o.cancel_initiated_by = 'seller') AS seller_cancel,"
    " coalesce(o.shipped_at > o.ship_by, false) AS shipped_late,"
    f" {_local_day('shipped_at')} AS shipped_day,"
    " CASE WHEN o.refunded_at IS NOT NULL AND o.cancelled_at IS NOT NULL"
    f" THEN {_local_day('cancelled_at')} END AS cancelled_day,"
    " CASE WHEN o.refunded_at IS NOT NULL AND o.cancelled_at IS NOT NULL"
    f" THEN {_local_day('refunded_at')} END AS refunded_day"
    " FROM unnest(CAST(:sellers AS bigint[]), CAST(:days AS date[])) AS k(seller_id, day)"
    " CROSS JOIN LATERAL (SELECT id, category, status, cancel_initiated_by, ship_by, shipped_at, cancelled_at,"
    " refunded_at FROM orders WHERE orders.seller_id = k.seller_id"
    " AND orders.paid_at >= CAST(k.day AS timestamp) AT TIME ZONE :tz"
    " AND orders.paid_at < CAST(k.day + 1 AS timestamp) AT TIME ZONE :tz OFFSET 0) o"
)
_SPAN = sa.text(
    f"SELECT least(min(day), min(shipped_day), min(cancelled_day), min(refunded_day)),"  # noqa: S608  # nosec B608
    f" greatest(max(day), max(shipped_day), max(cancelled_day), max(refunded_day)) FROM {_WORK_TABLE}"
)
# (Not least(lead, 10): PostgreSQL's least skips NULLs, so an unshipped order would count as 10 days.)
_LEAD_BUCKET_SUMS = ", ".join(
    f"count(*) FILTER (WHERE lead {'>=' if bucket == LEAD_BUCKETS - 1 else '='} {bucket})"
    for bucket in range(LEAD_BUCKETS)
)
_TYPE_FLAGS = ", ".join(f"bool_or(cl.type = '{claim_type}') AS has_{claim_type}" for claim_type in CLAIM_TYPES)
_TYPE_SUMS = ", ".join(f"count(*) FILTER (WHERE has_{claim_type})" for claim_type in CLAIM_TYPES)
_ROWS_TABLE = "scorecard_recomputed"
_DAY_COLUMNS = ", ".join(("seller_id", "category", "day", *COUNTERS))
_COUNT_DAY_ROWS = sa.text(
    f"INSERT INTO {_ROWS_TABLE} ({_DAY_COLUMNS})"  # noqa: S608  # nosec B608
    " WITH cal AS (SELECT CAST(:first AS date) + CAST(n - 1 AS integer) AS day, cum"
    " FROM unnest(CAST(:cum AS integer[])) WITH ORDINALITY AS t(cum, n)),"
    f" per_claim AS (SELECT cl.order_id, {_TYPE_FLAGS},"
    f" bool_or(cl.decision IN ('for_buyer', 'partial') OR ({_SILENT} AND {_STANDS})"
    f" OR (cl.type = 'counterfeit' AND {_STANDS})) AS claim_defect,"
    f" bool_or(cl.type = 'late_shipment' AND {_STANDS}) AS claim_late,"
    f" count(*) FILTER (WHERE cl.proposed_at IS NOT NULL OR {_SILENT}) AS due,"
    " count(*) FILTER (WHERE cl.proposed_at <= cl.response_due_at) AS met,"
    " count(*) FILTER (WHERE cl.refund_days_late <> 0) AS overdue,"
    " coalesce(sum(cl.refund_days_late) FILTER (WHERE cl.refund_days_late <> 0), 0) AS overdue_days"
    f" FROM claims cl WHERE cl.order_id IN (SELECT id FROM {_WORK_TABLE}) AND cl.type IN ({_COUNTED})"
    " GROUP BY cl.order_id),"
    " counted AS (SELECT w.seller_id, w.category, w.day, w.seller_cancel,"
    " w.shipped_late OR coalesce(c.claim_late, false) AS late,"
    " w.seller_cancel OR coalesce(c.claim_defect, false) AS defect,"
    " CASE WHEN w.shipped_day IS NOT NULL THEN greatest(0, shipped.cum - paid.cum) END AS lead,"
    " CASE WHEN w.refunded_day IS NOT NULL THEN greatest(0, refunded.cum - cancelled.cum) END AS refund_days, c.*"
    f" FROM {_WORK_TABLE} w JOIN cal paid ON paid.day = w.day"
    " LEFT JOIN cal shipped ON shipped.day = w.shipped_day"
    " LEFT JOIN cal cancelled ON cancelled.day = w.cancelled_day"
    " LEFT JOIN cal refunded ON refunded.day = w.refunded_day"
    " LEFT JOIN per_claim c ON c.order_id = w.id)"
    " SELECT seller_id, category, day, count(*), count(*) FILTER (WHERE seller_cancel),"
    " count(*) FILTER (WHERE late), count(lead), coalesce(sum(lead), 0), "
    f"{_LEAD_BUCKET_SUMS}, count(refund_days), coalesce(sum(refund_days), 0),"
    " coalesce(sum(overdue), 0), coalesce(sum(overdue_days), 0),"
    f" {_TYPE_SUMS}, count(order_id), count(*) FILTER (WHERE defect),"
    " coalesce(sum(due), 0), coalesce(sum(met), 0)"
    " FROM counted GROUP BY seller_id, category, day"
)
# Only rows that changed are written (some 40 % of a day's recomputed rows come out as they were): a stored row of a
# touched (seller, day) goes when no recomputed row equals it, and a recomputed row goes in where none is left.
_DELETE_CHANGED = sa.text(
    "DELETE FROM scorecard_days d"  # noqa: S608  # nosec B608
    " USING unnest(CAST(:sellers AS bigint[]), CAST(:days AS date[])) AS k(seller_id, day)"
    f" WHERE d.seller_id = k.seller_id AND d.day = k.day AND NOT EXISTS (SELECT FROM {_ROWS_TABLE} n"
    " WHERE n.seller_id = d.seller_id AND n.day = d.day AND n.category = d.category AND ROW(n.*) = ROW(d.*))"
)
_INSERT_CHANGED = sa.text(
    f"INSERT INTO scorecard_days ({_DAY_COLUMNS}) SELECT {_DAY_COLUMNS} FROM {_ROWS_TABLE} n"  # noqa: S608  # nosec B608
    " WHERE NOT EXISTS (SELECT FROM scorecard_days d"
    " WHERE d.seller_id = n.seller_id AND d.day = n.day AND d.category = n.category)"
)


def _business_day_prefix(calendar: BusinessCalendar, first: date, last: date) -> list[int]:
    """For each day from ``first`` to ``last``: the business days after ``first`` up to it (so that the business
    days between two of these days are the difference of their entries, as ``business_days_between`` counts)."""
    counts, seen, day = [], 0, first
    while day <= last:
        if day > first and calendar.is_business_day(day):
            seen += 1
        counts.append(seen)
        day += timedelta(days=1)
    return counts


def _recompute_postgresql(
    session: Session, keys: list[tuple[int, date]], calendar: BusinessCalendar, bands_day: date | None
) -> list[Sequence[Any]]:
    params = {"sellers": [key[0] for key in keys], "days": [key[1] for key in keys], "tz": calendar.tz.key}
    session.execute(sa.text(f"DROP TABLE IF EXISTS pg_temp.{_WORK_TABLE}, pg_temp.{_ROWS_TABLE}"))
    session.execute(_COLLECT_ORDERS, params)
    session.execute(sa.text(f"CREATE TEMPORARY TABLE {_ROWS_TABLE} (LIKE scorecard_days) ON COMMIT DROP"))
    first, last = session.execute(_SPAN).one()
    if first is not None:
        session.execute(sa.text(f"ANALYZE {_WORK_TABLE}"))
        session.execute(_COUNT_DAY_ROWS, {"first": first, "cum": _business_day_prefix(calendar, first, last)})
    session.execute(_DELETE_CHANGED, params)
    session.execute(_INSERT_CHANGED)
    bands: list[Sequence[Any]] = []
    if bands_day is not None:
        recomputed = sa.table(_ROWS_TABLE, *(sa.column(name) for name in ("seller_id", "day", *COUNTERS)))
        bands = list(session.execute(_bands_query(bands_day, recomputed)))
    session.execute(sa.text(f"DROP TABLE {_WORK_TABLE}, {_ROWS_TABLE}"))
    return bands


def _recompute(
    session: Session, keys: set[tuple[int, date]], calendar: BusinessCalendar, *, bands_day: date | None = None
) -> list[Sequence[Any]]:
    """Recompute whole the day rows (every category) of each (seller, day) in ``keys``; with ``bands_day``
    (PostgreSQL), return the window bands of the recomputed rows (see ``_bands_query``)."""
    ordered = sorted(keys)
    if not ordered:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _recompute_postgresql(session, ordered, calendar, bands_day)
    for start in range(0, len(ordered), KEY_CHUNK):
        chunk = ordered[start : start + KEY_CHUNK]
        windows = sa.or_(
            *(
                sa.and_(
                    orders_table.c.seller_id == seller_id,
                    orders_table.c.paid_at >= bounds[0],
                    orders_table.c.paid_at < bounds[1],
                )
                for seller_id, day in chunk
                for bounds in (_day_bounds(calendar, day),)
            )
        )
        orders = session.execute(_order_query().where(windows)).all()
        order_ids = [order[0] for order in orders]
        claims = []
        for id_start in range(0, len(order_ids), 5000):
            claims.extend(
                session.execute(
                    _claim_query().where(claims_table.c.order_id.in_(order_ids[id_start : id_start + 5000]))
                ).all()
            )
        session.execute(sa.delete(days_table).where(sa.tuple_(days_table.c.seller_id, days_table.c.day).in_(chunk)))
        insert_rows(session, days_table, _day_rows(orders, claims, calendar))
    return []


# The window sums read the longest window's day rows once, summed per key and per band between consecutive windows
# (the last 7 days, the 23 before, the 60 before those); each window is then the sum of its bands. Three queries of
# plain sums, one per window, read the short windows' rows again (~1.0 s against ~0.75 s at 1 M day rows); 105
# FILTERed sums in one pass cost ~0.95 s.
Bands = dict[Any, dict[int, list[int]]]


def _bands_query(
    day: date, table: sa.Table, *, sellers: Iterable[int] | None = None, by_category: bool = False
) -> sa.Select[Any]:
    group = [table.c.seller_id, table.c.category] if by_category else [table.c.seller_id]
    longest = max(WINDOWS)
    band = sa.case(*((table.c.day > day - timedelta(days=window), window) for window in WINDOWS[:-1]), else_=longest)
    query = (
        sa.select(*group, band.label("band"), *(sa.func.sum(table.c[name]) for name in COUNTERS))
        .where(table.c.day > day - timedelta(days=longest), table.c.day <= day)
        .group_by(*group, band)
    )
    if sellers is not None:
        query = query.where(table.c.seller_id.in_(sorted(sellers)))
    return query


def _add_bands(bands: Bands, rows: Iterable[Sequence[Any]], *, by_category: bool = False) -> Bands:
    """Add the rows of a bands query into ``bands``."""
    width = 2 if by_category else 1
    for row in rows:
        by_band = bands.setdefault((row[0], row[1]) if by_category else row[0], {})
        sums = by_band.get(row[width])
        if sums is None:
            by_band[row[width]] = [int(value or 0) for value in row[width + 1 :]]
        else:
            for position, value in enumerate(row[width + 1 :]):
                if value:
                    sums[position] += value
    return bands


_NOT_TOUCHED = sa.text(
    "NOT EXISTS (SELECT FROM unnest(CAST(:sellers AS bigint[]), CAST(:days AS date[])) AS k(seller_id, day)"
    " WHERE k.seller_id = scorecard_days.seller_id AND k.day = scorecard_days.day)"
)


def _untouched_bands(engine: sa.Engine, day: date, keys: list[tuple[int, date]]) -> Bands:
    """On a connection of its own: the window bands of the committed day rows outside the (seller, day) ``keys``."""
    with engine.connect() as connection:
        _tune(connection)
        # One core: the other is the recompute's, running meanwhile.
        connection.execute(sa.text("SET LOCAL max_parallel_workers_per_gather = 0"))
        query = _bands_query(day, days_table).where(
            _NOT_TOUCHED.bindparams(sellers=[key[0] for key in keys], days=[key[1] for key in keys])
        )
        bands = _add_bands({}, connection.execute(query))
        connection.rollback()
    return bands


def _windows(bands: Bands) -> dict[Any, dict[int, Figures]]:
    """Each key's figures over every window, from its bands."""
    none = (0,) * len(COUNTERS)
    result: dict[Any, dict[int, Figures]] = {}
    for key, by_band in bands.items():
        total = [0] * len(COUNTERS)
        by_window: dict[int, Figures] = {}
        for window in WINDOWS:
            for position, value in enumerate(by_band.get(window, none)):
                if value:
                    total[position] += value
            by_window[window] = Figures(window, dict(zip(COUNTERS, total, strict=True)))
        result[key] = by_window
    return result


def window_sums(
    session: Session, day: date, *, sellers: Iterable[int] | None = None, by_category: bool = False
) -> dict[Any, dict[int, Figures]]:
    """Each seller's (or seller and category's) figures over every window ending on ``day``."""
    query = _bands_query(day, days_table, sellers=sellers, by_category=by_category)
    return _windows(_add_bands({}, session.execute(query), by_category=by_category))


# A window's counts as canonical JSON (sorted keys, no blanks), spelled from a template: 30,000 of them a night
# cost a tenth of what the JSON encoder takes. Every value is an int (``figures`` makes them so).
_SORTED_COUNTERS = tuple(sorted(COUNTERS))
_COUNTS_TEMPLATE = "{" + ",".join(f'"{name}":%d' for name in _SORTED_COUNTERS) + "}"
_SORTED_VALUES = operator.itemgetter(*_SORTED_COUNTERS)


def _counts_json(counts: Mapping[str, int]) -> EncodedJSON:
    return EncodedJSON(_COUNTS_TEMPLATE % _SORTED_VALUES(counts))


def snapshot_row(
    seller_id: int,
    day: date,
    window: Figures,
    verdict: Grade,
    points: int,
    policy: GradePolicy,
    now: datetime,
) -> dict[str, Any]:
    """One window's snapshot row (``verdict`` is the seller's grade, from all its windows)."""
    return {
        "seller_id": seller_id,
        "day": day,
        "window_days": window.window_days,
        "orders": window.orders,
        "seller_cancel_rate": window.seller_cancel_rate,
        "late_shipment_rate": window.late_shipment_rate,
        "claim_rate": window.claim_rate,
        "defect_rate": window.defect_rate,
        "response_compliance": window.response_compliance,
        "lead_days_avg": window.lead_days_avg,
        "lead_days_p90": window.lead_days_p90,
        "refund_days_avg": window.refund_days_avg,
        "overdue_refund_days_avg": window.overdue_refund_days_avg,
        "counterfeit_claims": window.counterfeit_claims,
        "active_points": points,
        "grade": verdict.grade,
        "grade_reasons": verdict.reasons,
        "counts": _counts_json(window.counts),
        "policy_version": policy.version,
        "computed_at": now,
    }


def snapshot_day(
    session: Session,
    day: date,
    *,
    now: datetime,
    sellers: Iterable[int] | None = None,
    sums: dict[Any, dict[int, Figures]] | None = None,
) -> int:
    """Write the snapshots of ``day`` (every seller with orders in the longest window, or only ``sellers``);
    ``sums``, when given, are their window sums already read."""
    policy = current_grade_policy(session)
    wanted = None if sellers is None else set(sellers)
    if sums is None:
        sums = window_sums(session, day, sellers=wanted)
    # A seller whose orders all left the windows (or a touched one with none left) gets an empty card, so that no
    # old grade outlives its orders: those snapshotted the day before, or asked for.
    carried = set(
        session.scalars(sa.select(snapshots_table.c.seller_id).where(snapshots_table.c.day == day - timedelta(days=1)))
    )
    empty = [0] * len(COUNTERS)
    for seller_id in ((carried if wanted is None else carried & wanted) | (wanted or set())) - sums.keys():
        sums[seller_id] = {window: figures(window, empty) for window in WINDOWS}
    points_query = sa.select(SellerStanding.seller_id, SellerStanding.active_points)
    if wanted is not None:
        points_query = points_query.where(SellerStanding.seller_id.in_(sorted(wanted)))
    points = dict(session.execute(points_query).tuples().all())
    delete = sa.delete(snapshots_table).where(snapshots_table.c.day == day)
    if wanted is not None:
        delete = delete.where(snapshots_table.c.seller_id.in_(sorted(wanted)))
    session.execute(delete)
    # A chunk's rows are stored while the next chunk's are computed (the server's COPY overlaps).
    cards = list(sums.items())
    pending: list[dict[str, Any]] = []
    for start in range(0, len(cards), SNAPSHOT_CHUNK):
        with inserting(session, snapshots_table, pending):
            rows = [
                snapshot_row(seller_id, day, window, verdict, points.get(seller_id, 0), policy, now)
                for seller_id, by_window in cards[start : start + SNAPSHOT_CHUNK]
                for verdict in (grade(by_window, policy),)
                for window in by_window.values()
            ]
        pending = rows
    insert_rows(session, snapshots_table, pending)
    return len(sums)
