"""Mass incident run at scale on PostgreSQL.

--orders paid orders are hit by a platform-fault incident (10 % coupon capped at ₩100,000). The run must
compensate every one at >= 5,000 orders/s end to end: the incident claim and its timeline entry, the compensation,
its ledger transaction and entries, the payout webhook, the audit records and the buyer's notice (written by the
notifications domain from the ``incident.order_compensated`` signal, as in production). The figure is printed
beside a raw-SQL lower bound: the same rows written by INSERT ... SELECT statements alone (no hash chain, no
Python), batch by batch on as many connections as the run has runners, measured in the same run.

    python bench/bench_incident.py --orders 200000
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CpuMeter, Stopwatch, fresh_database
from marketplace import create_app
from marketplace.compensation import ledger
from marketplace.core.auth import Actor
from marketplace.db import create_db_engine
from marketplace.extensions import db
from marketplace.incidents import jobs, operations

NOW = datetime(2026, 10, 1, 15, 0, tzinfo=UTC)
ACTOR = Actor.system("bench")
RULE = {"form": "coupon", "method": "percent_of_order", "percent": "10", "cap": 100_000}


def seed(engine: sa.Engine, orders: int) -> None:
    """Sellers, buyers and paid orders, generated set-based in SQL."""
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
                "SELECT 'B-' || g, 'buyer ' || g, 'ko', now() FROM generate_series(1, :n) g"
            ),
            {"n": max(orders // 2, 1)},
        )
        connection.execute(
            sa.text(
                "INSERT INTO orders (external_id, seller_id, buyer_id, amount, items, status, paid_at, created_at) "
                "SELECT 'O-' || g, 1 + g % 1000, 1 + g % :buyers, 10000 + (g * 7919) % 2000000, "
                '\'[{"sku": "SKU-1", "name": "item", "quantity": 1}]\'::jsonb, \'cancelled\', '
                ":now - interval '1 day' + (g % 3600) * interval '1 second', :now FROM generate_series(1, :n) g"
            ),
            {"n": orders, "buyers": max(orders // 2, 1), "now": NOW},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))


RAW_BATCH = [
    """CREATE TEMP TABLE IF NOT EXISTS raw_batch (io_id bigint, order_id bigint, buyer_id bigint, seller_id bigint,
       amount bigint, claim_id bigint, comp_id bigint, txn_id bigint) ON COMMIT DELETE ROWS""",
    """INSERT INTO raw_batch (io_id, order_id, buyer_id, seller_id, amount, claim_id, comp_id, txn_id)
       SELECT id, order_id, buyer_id, seller_id, amount, nextval('claims_id_seq'), nextval('compensations_id_seq'),
              nextval('ledger_transactions_id_seq')
       FROM (SELECT * FROM incident_orders WHERE incident_id = :incident AND status = 'selected'
             ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED) due""",
    """INSERT INTO claims (id, type, status, order_id, seller_id, buyer_id, description, opened_at, opened_by,
                           response_due_at, response_policy_version, decision, decision_amount, decided_at,
                           decided_by, resolved_at)
       SELECT claim_id, 'platform_incident', 'resolved', order_id, seller_id, buyer_id, 'raw', :now, 'bench', :now,
              0, 'for_buyer', amount, :now, 'bench', :now FROM raw_batch""",
    """INSERT INTO claim_events (claim_id, occurred_at, actor, kind, message, visibility, data)
       SELECT claim_id, :now, 'bench', 'incident', 'explanation', 'parties', '{}'::jsonb FROM raw_batch""",
    """INSERT INTO compensations (id, idempotency_key, buyer_id, seller_id, order_id, claim_id, incident_id, amount,
                                  form, rule, calculation, recoverable, status, effective_at, granted_at)
       SELECT comp_id, 'raw:' || order_id, buyer_id, seller_id, order_id, claim_id, :incident, amount, 'coupon',
              'incident', '{}'::jsonb, false, 'granted', :now, :now FROM raw_batch WHERE amount > 0""",
    """INSERT INTO ledger_transactions (id, idempotency_key, kind, compensation_id, memo, effective_at, posted_at,
                                        posted_by)
       SELECT txn_id, 'raw:' || comp_id, 'grant', comp_id, 'incident', :now, :now, 'bench'
       FROM raw_batch WHERE amount > 0""",
    """INSERT INTO ledger_entries (transaction_id, account_id, party_type, party_id, amount)
       SELECT txn_id, 1, NULL, NULL, amount FROM raw_batch WHERE amount > 0
       UNION ALL SELECT txn_id, 2, 'buyer', buyer_id, -amount FROM raw_batch WHERE amount > 0""",
    """INSERT INTO outbox_messages (dedupe_key, topic, audience, recipient_id, channel, language, payload, status,
                                    attempts, created_at, next_attempt_at)
       SELECT 'raw-webhook:' || comp_id, 'compensation.granted', 'marketplace', NULL, 'webhook', 'ko',
              jsonb_build_object('compensation_id', comp_id, 'amount', amount), 'pending', 0, :now, :now
       FROM raw_batch WHERE amount > 0
       UNION ALL
       SELECT 'raw-notice:' || order_id, 'incident.order_compensated', 'buyer', buyer_id, 'email', 'ko',
              jsonb_build_object('order_id', order_id, 'amount', amount), 'pending', 0, :now, :now FROM raw_batch""",
    """INSERT INTO audit_records (occurred_at, actor, action, entity_type, entity_id, before, after, prev_hash, hash)
       SELECT :now, 'bench', action, entity, id::text, NULL, '{}'::jsonb, md5(id::text) || md5(action),
              md5(random()::text) || md5(id::text)
       FROM (SELECT claim_id AS id, 'claim.open' AS action, 'claim' AS entity FROM raw_batch
             UNION ALL SELECT comp_id, 'compensation.grant', 'compensation' FROM raw_batch WHERE amount > 0) a""",
    """UPDATE incident_orders SET status = 'compensated', processed_at = :now
       WHERE id IN (SELECT io_id FROM raw_batch)""",
]


def raw_lower_bound(engine: sa.Engine, incident_id: int, batch: int, workers: int) -> tuple[int, float]:
    """The same rows in SQL alone, batch by batch, each batch committed, on ``workers`` connections side by side
    (SKIP LOCKED shares the batches out, as it does between the job's runners); returns (orders, seconds)."""

    def run() -> int:
        done = 0
        with engine.connect() as connection:
            while True:
                with connection.begin():
                    params = {"incident": incident_id, "batch": batch, "now": NOW}
                    for statement in RAW_BATCH[:2]:
                        connection.execute(sa.text(statement), params)
                    count = connection.execute(sa.text("SELECT count(*) FROM raw_batch")).scalar_one()
                    if count == 0:
                        return done
                    for statement in RAW_BATCH[2:]:
                        connection.execute(sa.text(statement), params)
                done += count

    with ThreadPoolExecutor(workers) as pool, Stopwatch() as watch:
        done = sum(pool.map(lambda _worker: run(), range(workers)))
    return done, watch.seconds


def _incident(app, orders: int) -> tuple[int, int]:
    """Declare the incident and select every order paid in the window; returns (incident id, selected)."""
    with app.app_context(), db.transaction() as session:
        incident = operations.declare_incident(
            session,
            title_ko="가격 오류로 인한 주문 취소",
            title_en="Orders cancelled after a price error",
            cause="bench",
            platform_at_fault=True,
            explanation_ko="가격 오류로 주문이 취소되었습니다.",
            explanation_en="Your order was cancelled after a price error.",
            rule=RULE,
            actor=ACTOR,
            now=NOW,
        )
        selected = operations.select_orders(
            session, incident, paid_from=NOW - timedelta(days=2), paid_to=NOW, actor=ACTOR, now=NOW
        )["orders"]
        operations.start_incident(session, incident, actor=ACTOR, now=NOW)
        return incident.id, selected


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=operations.DEFAULT_BATCH)
    args = parser.parse_args(argv)
    with fresh_database("bench_incident") as url:
        engine = create_db_engine(url)
        with Stopwatch() as setup:
            seed(engine, args.orders)
        print(f"seeded {args.orders:,} paid orders in {setup.seconds:.1f}s")
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "CLOCK": lambda: NOW})

        raw_incident, selected = _incident(app, args.orders)
        assert selected == args.orders, (selected, args.orders)
        with CpuMeter() as raw_cpu:
            raw_done, raw_seconds = raw_lower_bound(
                engine, raw_incident, args.batch, int(app.config["INCIDENT_WORKERS"])
            )
        assert raw_done == args.orders, (raw_done, args.orders)

        incident_id, _selected = _incident(app, args.orders)
        with app.app_context(), CpuMeter() as cpu, Stopwatch() as run:
            done = jobs.run_incident(incident_id, NOW, actor=ACTOR, batch_size=args.batch)
            jobs.run_incident(incident_id, NOW, actor=ACTOR, batch_size=args.batch)  # marks it completed
        assert done == args.orders, (done, args.orders)
        rate, raw_rate = done / run.seconds, raw_done / raw_seconds
        print(
            f"incident run ({app.config['INCIDENT_WORKERS']} runners): {done:,} orders in {run.seconds:.2f}s"
            f" = {rate:,.0f} orders/s end to end "
            f"(raw SQL lower bound on as many connections: {raw_seconds:.2f}s = {raw_rate:,.0f} orders/s)"
        )
        print(f"  the run: {cpu.describe(done, 'order')}")
        print(f"  the raw bound: {raw_cpu.describe(raw_done, 'order')}")
        with app.app_context():
            from marketplace.incidents.queries import get_incident, incident_report

            report = incident_report(db.session, get_incident(db.session, incident_id))
            assert report["status"] == "completed" and report["orders"] == args.orders, report
            assert report["notices"]["written"] == args.orders, report["notices"]
            # Exactly once, whatever the runners did side by side: one claim and one grant per order, balanced.
            grants = db.session.execute(
                sa.text("SELECT count(*), count(DISTINCT order_id) FROM compensations WHERE incident_id = :incident"),
                {"incident": incident_id},
            ).one()
            claims = db.session.execute(
                sa.text("SELECT count(*), count(DISTINCT order_id) FROM claims WHERE type = 'platform_incident'")
            ).one()
            assert tuple(grants) == (args.orders, args.orders), grants
            assert tuple(claims) == (2 * args.orders, args.orders), claims  # the raw bound's claims too
            checked = ledger.check(db.session)
            assert checked.ok, checked.problem
        engine.dispose()
        app.extensions["marketplace.db"]["engine"].dispose()
    return {
        "orders_per_second": rate,
        "raw_orders_per_second": raw_rate,
        "app_cpu_us_per_order": cpu.app / done * 1e6,
        "cpu_ceiling_orders_per_second": cpu.ceiling(done) or 0.0,
    }


if __name__ == "__main__":
    main()
