"""Escalation sweep at scale on PostgreSQL.

1,000,000 claims of which --due are past their seller response deadline: the job must escalate every due claim at
>= 5,000 claims/s, and a run with nothing due must take < 50 ms. Each figure is printed beside a raw-SQL lower bound
for the same writes, measured in the same run: the claim's own three writes (the same UPDATE, timeline INSERT and audit
INSERT done in SQL alone), and every row the job wrote (compensation, ledger, violation, sanction, standing, notices
and audit records besides), COPYed as the job wrote them into a copy of the seeded database by as many connections
as the job's runners, one transaction per 1,000 claims.

    python bench/bench_escalation.py --claims 1000000 --due 50000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CpuMeter, Stopwatch, copied_database, fresh_database, psycopg_dsn
from marketplace import create_app, models  # noqa: F401  (models: every table in Base.metadata)
from marketplace.claims import jobs
from marketplace.claims.policy import DEFAULT_SLA
from marketplace.core.calendar import BusinessCalendar
from marketplace.db import Base, create_db_engine
from marketplace.notifications.sweeps import reminder_time
from marketplace.scheduler import run_due

# Deadlines end at 23:59:59 KST = 14:59:59 UTC; the due ones spread over 30 past days, the rest over 60 future days.
NOW = datetime(2026, 10, 1, 15, 0, tzinfo=UTC)


def seed(engine: sa.Engine, claims: int, due: int) -> None:
    """Sellers, buyers, orders and claims, generated set-based in SQL."""
    open_future = min(claims - due, max(claims // 5, 1))
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO sellers (external_id, name, language, created_at) "
                "SELECT 'S-' || g, 'seller ' || g, 'ko', now() FROM generate_series(1, 1000) g"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO buyers (external_id, name, language, created_at) "
                "SELECT 'B-' || g, 'buyer ' || g, 'ko', now() FROM generate_series(1, 10000) g"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO orders (external_id, seller_id, buyer_id, amount, items, status, paid_at, created_at) "
                "SELECT 'O-' || g, 1 + g % 1000, 1 + g % 10000, 10000 + g % 90000, '[]'::jsonb, 'delivered', "
                ":now - (g % 90) * interval '1 day', :now FROM generate_series(1, :n) g"
            ),
            {"n": claims, "now": NOW},
        )
        # Claim i: the first `due` are awaiting the seller past their deadline, the next `open_future` awaiting
        # with a deadline ahead, the rest settled long ago (resolved or closed) — as in a live system.
        connection.execute(
            sa.text(
                """
                -- (CAST: psycopg sends small numbers as smallint, and their sum may not fit one.)
                INSERT INTO claims (type, status, order_id, seller_id, buyer_id, description, opened_at, opened_by,
                                    response_due_at, response_policy_version, resolved_at)
                SELECT 'damaged',
                       CASE WHEN o.id <= CAST(:due AS bigint) + :open_future THEN 'awaiting_seller'
                            WHEN o.id % 2 = 0 THEN 'resolved' ELSE 'closed' END,
                       o.id, o.seller_id, o.buyer_id, '', o.paid_at, 'bench',
                       CASE WHEN o.id <= :due THEN :deadline - (o.id % 30) * interval '1 day'
                            ELSE :deadline + (1 + o.id % 60) * interval '1 day' END,
                       0,
                       CASE WHEN o.id > CAST(:due AS bigint) + :open_future THEN o.paid_at + interval '3 days' END
                FROM orders o
                """
            ),
            {"due": due, "open_future": open_future, "deadline": NOW - timedelta(seconds=1)},
        )
        # As the app plans them when a claim opens: each awaiting claim's reminder time, one business day before
        # its deadline's day (a few distinct deadlines, so computed here and joined in).
        calendar = BusinessCalendar("Asia/Seoul")
        deadlines = connection.execute(
            sa.text("SELECT DISTINCT response_due_at FROM claims WHERE status = 'awaiting_seller'")
        ).scalars()
        times = [
            (deadline, reminder_time(calendar, deadline, DEFAULT_SLA["reminder_business_days_before"]))
            for deadline in deadlines
        ]
        connection.execute(
            sa.text(
                "INSERT INTO seller_reminders (claim_id, remind_at)"
                " SELECT c.id, t.remind_at FROM claims c"
                " JOIN unnest(CAST(:deadlines AS timestamptz[]), CAST(:times AS timestamptz[]))"
                " AS t(deadline, remind_at) ON c.response_due_at = t.deadline"
                " WHERE c.status = 'awaiting_seller' AND c.opened_at < t.remind_at"
            ),
            {"deadlines": [deadline for deadline, _at in times], "times": [at for _deadline, at in times]},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))


RAW_BATCH = sa.text(
    """
    WITH due AS (
        SELECT id, response_due_at FROM claims
        WHERE status = 'awaiting_seller' AND response_due_at < :now
        ORDER BY response_due_at, id LIMIT 1000 FOR UPDATE SKIP LOCKED
    ), moved AS (
        UPDATE claims c SET status = 'escalated', escalated_at = due.response_due_at,
               escalation_reason = 'seller_silent', queue = 'staff',
               staff_due_at = due.response_due_at + interval '2 days', staff_policy_version = 0
        FROM due WHERE c.id = due.id AND c.status = 'awaiting_seller'
        RETURNING c.id, due.response_due_at AS at
    ), timeline AS (
        INSERT INTO claim_events (claim_id, occurred_at, actor, kind, message, visibility, data)
        SELECT id, at, 'system:scheduler', 'escalated', '', 'parties', '{"reason": "seller_silent"}'::jsonb FROM moved
    )
    INSERT INTO audit_records (occurred_at, actor, action, entity_type, entity_id, before, after, prev_hash, hash)
    SELECT at, 'system:scheduler', 'claim.escalate', 'claim', id::text, '{"status": "awaiting_seller"}'::jsonb,
           '{"status": "escalated"}'::jsonb, md5(id::text) || md5(at::text), md5(random()::text) || md5(id::text)
    FROM moved
    """
)


def raw_lower_bound(engine: sa.Engine) -> tuple[int, float]:
    """The same writes in SQL alone (no hash chain, no calendar), batch by batch; rolled back afterwards."""
    moved = 0
    with engine.connect() as connection, Stopwatch() as watch:
        transaction = connection.begin()
        while True:
            count = connection.execute(RAW_BATCH, {"now": NOW}).rowcount
            if count <= 0:
                break
            moved += count
        transaction.rollback()
    return moved, watch.seconds


BATCH = 1000
TABLE_WRITES = sa.text("SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables")


def _table_writes(url: str) -> dict[str, tuple[int, int, int]]:
    """Rows inserted, updated and deleted so far, per table (the statistics of connections already closed)."""
    time.sleep(0.5)  # a closing backend reports its counts as it exits
    engine = create_db_engine(url)
    with engine.connect() as connection:
        writes = {name: (ins, upd, dele) for name, ins, upd, dele in connection.execute(TABLE_WRITES)}
    engine.dispose()
    return writes


def _grown_tables() -> list[sa.Table]:
    """The tables with an integer ``id`` key, parents before children: the ones whose new rows can be found by id."""
    return [table for table in Base.metadata.sorted_tables if [c.name for c in table.primary_key] == ["id"]]


def _max_ids(connection: sa.Connection) -> dict[str, int]:
    return {
        table.name: connection.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))
        for table in _grown_tables()
    }


class JobWrites:
    """Every row the escalation job wrote, read back from its database and split into the batches of its claims.

    Each new row goes to the batch of the claim it belongs to (through its foreign keys: a ledger entry to its
    transaction, to its compensation, to its claim), so a batch's rows only ever refer to rows of the same batch;
    rows tied to no claim (audit records, notices, stage changes) are spread evenly over the batches.
    """

    def __init__(self, url: str, due: list[tuple[int, int]], before: dict[str, int]) -> None:
        self.claims = [[claim for claim, _seller in due[i : i + BATCH]] for i in range(0, len(due), BATCH)]
        batches = len(self.claims)
        batch_of: dict[str, dict[int, int]] = {"claims": {claim: i // BATCH for i, (claim, _s) in enumerate(due)}}
        self.copies: list[list[tuple[str, list[str], list[str]]]] = [[] for _ in range(batches)]
        with psycopg.connect(psycopg_dsn(url)) as connection:
            for table in _grown_tables():
                with connection.cursor() as cursor:
                    cursor.execute(f'SELECT * FROM "{table.name}" LIMIT 0')  # nosec B608
                    columns = [column.name for column in cursor.description]
                    sql = f'COPY (SELECT * FROM "{table.name}" WHERE id > {before[table.name]:d} ORDER BY id) TO STDOUT'
                    with cursor.copy(sql) as copy:  # nosec B608 (table names from the metadata, an integer)
                        lines = b"".join(bytes(block) for block in copy).decode().splitlines(keepends=True)
                if not lines:
                    continue
                parents = [
                    (columns.index(fk.parent.name), fk.column.table.name)
                    for fk in table.foreign_keys
                    if fk.column.table.name in batch_of
                ]
                mine = batch_of[table.name] = {}
                split: list[list[str]] = [[] for _ in range(batches)]
                for position, line in enumerate(lines):
                    values = line.rstrip("\n").split("\t")
                    found = [
                        batch_of[parent].get(int(values[index])) for index, parent in parents if values[index] != "\\N"
                    ]
                    found = [batch for batch in found if batch is not None]
                    batch = max(found) if found else position * batches // len(lines)
                    mine[int(values[columns.index("id")])] = batch
                    split[batch].append(line)
                for batch, rows in enumerate(split):
                    if rows:
                        self.copies[batch].append((table.name, columns, rows))
            # Standings are rewritten, not appended: each batch upserts the final standing of its claims' sellers.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT seller_id, row_to_json(s)::text FROM seller_standings s WHERE seller_id = ANY(%s)",
                    ([seller for _claim, seller in due],),
                )
                standing = dict(cursor.fetchall())
                cursor.execute("SELECT * FROM seller_standings LIMIT 0")
                self.standing_columns = [column.name for column in cursor.description]
        self.standings = [
            [standing[seller] for seller in sorted({seller for _c, seller in due[i : i + BATCH]}) if seller in standing]
            for i in range(0, len(due), BATCH)
        ]

    def write(self, url: str, workers: int) -> float:
        """Seconds to write every batch, ``workers`` connections side by side, one transaction per batch."""
        assignments = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in self.standing_columns if c != "seller_id")
        upsert = (
            "INSERT INTO seller_standings SELECT * FROM json_populate_recordset(NULL::seller_standings, %s) "
            f"ON CONFLICT (seller_id) DO UPDATE SET {assignments}"  # nosec B608 (column names from the table)
        )

        def run(batches: range) -> None:
            with psycopg.connect(psycopg_dsn(url)) as connection:
                for batch in batches:
                    with connection.transaction(), connection.cursor() as cursor:
                        cursor.execute(ESCALATE_BATCH, {"ids": self.claims[batch], "now": NOW})
                        for table, columns, rows in self.copies[batch]:
                            names = ", ".join(f'"{c}"' for c in columns)
                            with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                                copy.write("".join(rows))
                        if self.standings[batch]:
                            cursor.execute(upsert, ("[" + ",".join(self.standings[batch]) + "]",))

        with Stopwatch() as watch, ThreadPoolExecutor(workers) as pool:
            for done in [pool.submit(run, range(w, len(self.claims), workers)) for w in range(workers)]:
                done.result()
        return watch.seconds


ESCALATE_BATCH = """
    WITH due AS (
        SELECT id, response_due_at FROM claims WHERE id = ANY(%(ids)s) AND status = 'awaiting_seller'
        ORDER BY response_due_at, id FOR UPDATE
    )
    UPDATE claims c SET status = 'escalated', escalated_at = due.response_due_at,
           escalation_reason = 'seller_silent', queue = 'staff',
           staff_due_at = due.response_due_at + interval '2 days', staff_policy_version = 0
    FROM due WHERE c.id = due.id
"""


def _difference(after: dict[str, tuple[int, int, int]], before: dict[str, tuple[int, int, int]]) -> dict:
    changes = {}
    for table, counts in after.items():
        delta = tuple(a - b for a, b in zip(counts, before.get(table, (0, 0, 0)), strict=True))
        if any(delta):
            changes[table] = delta
    return changes


def nothing_due(app, runs: int = 20) -> tuple[float, float]:
    """Median time of a full `jobs run-due` (every claim job) when nothing is due, and of the raw query."""
    run_due(app)  # settle whatever else fell due (the supervisor queue), as a live scheduler already has
    timings = []
    for _ in range(runs):
        with Stopwatch() as watch:
            results = run_due(app)
        assert all(result.ok and result.processed == 0 for result in results), results
        timings.append(watch.seconds)
    engine = create_db_engine(app.config["DATABASE_URL"])
    raw = []
    with engine.connect() as connection:
        for _ in range(runs):
            with Stopwatch() as watch:
                connection.execute(
                    sa.text(
                        "SELECT id FROM claims WHERE status = 'awaiting_seller' AND response_due_at < :now "
                        "ORDER BY response_due_at LIMIT 1000"
                    ),
                    {"now": NOW - timedelta(days=400)},
                ).all()
            raw.append(watch.seconds)
    engine.dispose()
    return statistics.median(timings), statistics.median(raw)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=50_000)
    args = parser.parse_args(argv)
    with fresh_database("bench_escalation") as url:
        engine = create_db_engine(url)
        with Stopwatch() as setup:
            seed(engine, args.claims, args.due)
        print(f"seeded {args.claims:,} claims ({args.due:,} past deadline) in {setup.seconds:.1f}s")
        with engine.connect() as connection:
            due = [
                (claim, seller)
                for claim, seller in connection.execute(
                    sa.text(
                        "SELECT id, seller_id FROM claims WHERE status = 'awaiting_seller' AND response_due_at < :now"
                        " ORDER BY response_due_at, id"
                    ),
                    {"now": NOW},
                )
            ]
            before_ids = _max_ids(connection)
        engine.dispose()
        with copied_database(url, "bench_escalation_raw") as raw_url:
            raw_moved, raw_seconds = raw_lower_bound(engine)
            assert raw_moved == args.due, (raw_moved, args.due)
            engine.dispose()

            clock_at = [NOW]
            app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "CLOCK": lambda: clock_at[0]})
            writes_before = _table_writes(url)
            with app.app_context(), CpuMeter() as cpu, Stopwatch() as job:
                moved = jobs.escalate_silent_sellers(NOW)
            assert moved == args.due, (moved, args.due)
            app.extensions["marketplace.db"]["engine"].dispose()
            job_writes = _difference(_table_writes(url), writes_before)

            written = JobWrites(url, due, before_ids)
            raw_before = _table_writes(raw_url)
            with CpuMeter() as full_cpu:
                full_seconds = written.write(raw_url, int(app.config["SWEEP_WORKERS"]))
            raw_writes = _difference(_table_writes(raw_url), raw_before)
            # The bound wrote what the job wrote: the same rows into the same tables (standings, upserted once per
            # seller and batch, may be written a different number of times).
            assert set(raw_writes) == set(job_writes), (raw_writes, job_writes)
            for table, (inserted, _updated, deleted) in job_writes.items():
                if table != "seller_standings":
                    assert raw_writes[table][0] == inserted and raw_writes[table][2] == deleted, (table, raw_writes)
        rows = sum(sum(counts) for counts in job_writes.values())
        rate, raw_rate, full_rate = moved / job.seconds, raw_moved / raw_seconds, moved / full_seconds
        print(
            f"escalation job: {moved:,} claims in {job.seconds:.2f}s = {rate:,.0f} claims/s "
            f"(raw SQL lower bound of the claim's own writes: {raw_seconds:.2f}s = {raw_rate:,.0f} claims/s; "
            f"of all {rows / moved:.1f} rows per claim the job wrote: {full_seconds:.2f}s = {full_rate:,.0f} claims/s; "
            f"job at {rate / full_rate:.0%} of it)"
        )
        print(f"  the job: {cpu.describe(moved, 'claim')}")
        print(f"  the bound of every row: {full_cpu.describe(moved, 'claim')}")
        print("rows per claim: " + ", ".join(f"{t} {sum(c) / moved:.2f}" for t, c in sorted(job_writes.items())))

        idle, raw_idle = nothing_due(app)
        print(
            f"run with nothing due (all claim jobs): {idle * 1000:.1f} ms median "
            f"(raw SQL due-row query: {raw_idle * 1000:.2f} ms)"
        )
        engine.dispose()
        app.extensions["marketplace.db"]["engine"].dispose()
    return {
        "claims_per_second": rate,
        "raw_claims_per_second": raw_rate,
        "full_raw_claims_per_second": full_rate,
        "idle_ms": idle * 1000,
        "app_cpu_us_per_claim": cpu.app / moved * 1e6,
        "cpu_ceiling_claims_per_second": cpu.ceiling(moved) or 0.0,
    }


if __name__ == "__main__":
    main()
