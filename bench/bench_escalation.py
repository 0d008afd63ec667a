"""Escalation sweep at scale on PostgreSQL.

1,000,000 claims of which --due are past their seller response deadline: the job must escalate every due claim at
>= 5,000 claims/s, and a run with nothing due must take < 50 ms. Each figure is printed beside a raw-SQL lower bound
for the same writes (the same UPDATE, timeline INSERT and audit INSERT done in SQL alone), measured in the same run.

    python bench/bench_escalation.py --claims 1000000 --due 50000
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Stopwatch, fresh_database
from marketplace import create_app
from marketplace.claims import jobs
from marketplace.claims.policy import DEFAULT_SLA
from marketplace.core.calendar import BusinessCalendar
from marketplace.db import create_db_engine
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

        raw_moved, raw_seconds = raw_lower_bound(engine)
        assert raw_moved == args.due, (raw_moved, args.due)

        clock_at = [NOW]
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "CLOCK": lambda: clock_at[0]})
        with app.app_context(), Stopwatch() as job:
            moved = jobs.escalate_silent_sellers(NOW)
        assert moved == args.due, (moved, args.due)
        rate, raw_rate = moved / job.seconds, raw_moved / raw_seconds
        print(
            f"escalation job: {moved:,} claims in {job.seconds:.2f}s = {rate:,.0f} claims/s "
            f"(raw SQL lower bound: {raw_seconds:.2f}s = {raw_rate:,.0f} claims/s)"
        )

        idle, raw_idle = nothing_due(app)
        print(
            f"run with nothing due (all claim jobs): {idle * 1000:.1f} ms median "
            f"(raw SQL due-row query: {raw_idle * 1000:.2f} ms)"
        )
        engine.dispose()
        app.extensions["marketplace.db"]["engine"].dispose()
    return {"claims_per_second": rate, "raw_claims_per_second": raw_rate, "idle_ms": idle * 1000}


if __name__ == "__main__":
    main()
