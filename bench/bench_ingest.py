"""Order-event ingestion at scale on PostgreSQL.

--events order events go through POST /api/v1/events in batches of 1,000, through ``app.test_client()`` (in
process: the handler and the database are measured, not the network), in two runs: only ``order.paid`` for new
orders, then a realistic mix (70 % paid, 15 % shipped, 10 % delivered, 4 % buyer and 1 % seller cancellations).
Target: >= 5,000 events/s. Each figure is printed beside a raw-SQL lower bound for the same writes (the same rows
COPYed into order_events, sellers, buyers, orders, claims, claim_events and audit_records, the same order
UPDATEs, one transaction per batch), measured in the same run on a second fresh database.

    python bench/bench_ingest.py --events 100000
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CpuMeter, Stopwatch, fresh_database, psycopg_dsn
from marketplace import create_app
from marketplace.core.auth import Actor
from marketplace.core.clock import FrozenClock
from marketplace.core.operations import create_api_key
from marketplace.extensions import db

BATCH = 1000
SELLERS = 1000
# 2026-09-23 15:00 KST; events are spread over the following days.
NOW = datetime(2026, 9, 23, 6, 0, tzinfo=UTC)
MIX = (("order.paid", 700), ("order.shipped", 150), ("order.delivered", 100), ("buyer", 40), ("seller", 10))


def _iso(at: datetime) -> str:
    return at.isoformat()


@dataclass
class Feed:
    """Generates the marketplace's events batch by batch, remembering which orders can move on."""

    prefix: str
    rng: random.Random = field(default_factory=lambda: random.Random(20260923))
    serial: int = 0
    unshipped: list[str] = field(default_factory=list)
    shipped: list[str] = field(default_factory=list)

    def _id(self) -> int:
        self.serial += 1
        return self.serial

    def paid(self) -> dict[str, Any]:
        """A payment for a new order."""
        n = self._id()
        order_id = f"{self.prefix}O-{n}"
        seller = n % SELLERS
        buyer = self.rng.randrange(1, 40_000)
        amount = self.rng.randrange(5_000, 500_000, 100)
        at = NOW + timedelta(seconds=n)
        self.unshipped.append(order_id)
        return {
            "id": f"{self.prefix}E-{n}",
            "type": "order.paid",
            "occurred_at": _iso(at),
            "order": {
                "id": order_id,
                "seller": {"id": f"S-{seller}", "name": f"판매자 {seller}"},
                "buyer": {
                    "id": f"B-{buyer}",
                    "name": f"구매자 {buyer}",
                    "contact": f"b{buyer}@example.com",
                    "language": "ko",
                },
                "amount": amount,
                "items": [{"sku": f"SKU-{n % 5000}", "name": "상품", "quantity": 1, "price": amount}],
                "paid_at": _iso(at),
            },
        }

    def follow_up(self, kind: str) -> dict[str, Any]:
        """A shipment, delivery or cancellation of an order paid earlier."""
        n = self._id()
        at = _iso(NOW + timedelta(days=1, seconds=n))
        if kind == "order.delivered":
            order_id = self.shipped.pop(0)
            return {"id": f"{self.prefix}E-{n}", "type": kind, "occurred_at": at, "order": {"id": order_id}}
        order_id = self.unshipped.pop(0)
        if kind == "order.shipped":
            self.shipped.append(order_id)
            return {
                "id": f"{self.prefix}E-{n}",
                "type": kind,
                "occurred_at": at,
                "order": {"id": order_id},
                "carrier": "CJ대한통운",
                "tracking_number": f"{n:012d}",
            }
        reason = "buyer_request" if kind == "buyer" else "out_of_stock"
        return {
            "id": f"{self.prefix}E-{n}",
            "type": "order.cancelled",
            "occurred_at": at,
            "order": {"id": order_id},
            "initiated_by": kind,
            "reason": reason,
        }

    def batches(self, events: int, *, mix: bool) -> Iterator[list[dict[str, Any]]]:
        """``events`` events in batches of 1,000: all payments, or the mix (follow-ups of earlier payments)."""
        for start in range(0, events, BATCH):
            size = min(BATCH, events - start)
            if not mix:
                yield [self.paid() for _ in range(size)]
                continue
            batch = [self.paid() for _ in range(size * 70 // 100)]
            for kind, per_thousand in MIX[1:]:
                batch += [self.follow_up(kind) for _ in range(size * per_thousand // 1000)]
            batch += [self.paid() for _ in range(size - len(batch))]
            self.rng.shuffle(batch)
            yield batch


def run_api(url: str, batches: list[list[dict[str, Any]]]) -> tuple[float, list[float], list[float], CpuMeter]:
    """Post every batch through the API; seconds in all, per batch, CPU seconds of this process per batch, and the
    whole run's CPU time, the app's and the server's.

    The CPU time is the app's own work (the database's is not in it): a figure that other programs on a shared
    machine disturb far less than the wall-clock time.
    """
    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "CLOCK": FrozenClock(NOW), "RATELIMIT_ENABLED": False}
    )
    with app.app_context(), db.transaction() as session:
        _key, secret = create_api_key(session, "bench", scopes=["events:write"], actor=Actor.system("bench"), now=NOW)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    bodies = [json.dumps({"events": batch}, ensure_ascii=False).encode() for batch in batches]
    client = app.test_client()
    latencies = []
    cpu = []
    # The generated events (millions of small objects) are the benchmark's, not the server's: keep the garbage
    # collector from walking them again and again during the timed requests, as it never would in a server.
    gc.collect()
    gc.freeze()
    try:
        with CpuMeter() as meter, Stopwatch() as total:
            for body, batch in zip(bodies, batches, strict=True):
                started = time.process_time()
                with Stopwatch() as one:
                    response = client.post("/api/v1/events", data=body, headers=headers)
                cpu.append(time.process_time() - started)
                latencies.append(one.seconds)
                assert response.status_code == 200, response.get_data(as_text=True)[:500]
                assert response.json["accepted"] == len(batch), response.json
    finally:
        gc.unfreeze()
    app.extensions["marketplace.db"]["engine"].dispose()
    return total.seconds, latencies, cpu, meter


class RawWriter:
    """The same writes in SQL alone: rows precomputed, then COPY and executemany, one transaction per batch."""

    def __init__(self) -> None:
        self.sellers: dict[str, int] = {}
        self.buyers: dict[str, int] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.audits = 0
        self.claims = 0

    def _audit(self, rows: list[tuple], entity: str, entity_id: int, after: dict[str, Any]) -> None:
        self.audits += 1
        digest = hashlib.sha256(f"{self.audits}".encode()).hexdigest()
        rows.append(
            (NOW, "api_client:1", f"{entity}.create", entity, str(entity_id), None, json.dumps(after), "0" * 64, digest)
        )

    def rows_for(self, batch: list[dict[str, Any]]) -> dict[str, list[tuple]]:
        """The rows one API batch writes (as many per table as the API writes)."""
        out: dict[str, list[tuple]] = {name: [] for name in ("events", "sellers", "buyers", "orders", "updates")}
        out |= {"claims": [], "claim_events": [], "audits": []}
        created_here: dict[str, int] = {}  # order id -> its row in out["orders"]
        # Payments first: a shuffled batch may carry an order's shipment before its payment.
        for event in sorted(batch, key=lambda event: event["type"] != "order.paid"):
            payload = json.dumps(event, ensure_ascii=False)
            digest = hashlib.sha256(payload.encode()).hexdigest()
            order_id = event["order"]["id"]
            at = datetime.fromisoformat(event["occurred_at"])
            out["events"].append((event["id"], event["type"], order_id, at, NOW, payload, digest))
            if event["type"] == "order.paid":
                order = event["order"]
                for kind, registry in (("seller", self.sellers), ("buyer", self.buyers)):
                    ref = order[kind]
                    if ref["id"] not in registry:
                        registry[ref["id"]] = len(registry) + 1
                        out[f"{kind}s"].append((registry[ref["id"]], ref["id"], ref["name"], "ko", NOW))
                        self._audit(out["audits"], kind, registry[ref["id"]], ref)
                pk = len(self.orders) + 1
                row = {
                    "id": pk,
                    "seller": self.sellers[order["seller"]["id"]],
                    "buyer": self.buyers[order["buyer"]["id"]],
                }
                self.orders[order_id] = row
                ship_by = at + timedelta(days=5)
                items = json.dumps(order["items"])
                created_here[order_id] = len(out["orders"])
                out["orders"].append(
                    (pk, order_id, row["seller"], row["buyer"], order["amount"], items, "paid", at, ship_by, 0, NOW, 0)
                )
                self._audit(out["audits"], "order", pk, {"external_id": order_id, "status": "paid"})
                continue
            row = self.orders[order_id]
            status = {"order.shipped": "shipped", "order.delivered": "delivered"}.get(event["type"], "cancelled")
            if order_id in created_here:
                # Paid in the same batch: the API inserts the order already folded, with one audit record.
                created = out["orders"][created_here[order_id]]
                out["orders"][created_here[order_id]] = (*created[:6], status, *created[7:])
            else:
                out["updates"].append((status, at, event.get("carrier"), event.get("initiated_by"), row["id"]))
                self._audit(out["audits"], "order", row["id"], {"status": status})
            if event.get("initiated_by") == "seller":
                self.claims += 1
                out["claims"].append((self.claims, row["id"], row["seller"], row["buyer"], at, at + timedelta(days=3)))
                out["claim_events"].append((self.claims, at))
                self._audit(out["audits"], "claim", self.claims, {"status": "awaiting_seller"})
        return out

    @staticmethod
    def write(connection: psycopg.Connection, rows: dict[str, list[tuple]]) -> None:
        """One batch's writes, in one transaction."""
        copies = {
            "events": "COPY order_events (event_id, type, order_external_id, occurred_at, received_at, payload,"
            " payload_hash) FROM STDIN",
            "sellers": "COPY sellers (id, external_id, name, language, created_at) FROM STDIN",
            "buyers": "COPY buyers (id, external_id, name, language, created_at) FROM STDIN",
            "orders": "COPY orders (id, external_id, seller_id, buyer_id, amount, items, status, paid_at, ship_by,"
            " ship_by_policy_version, created_at, refunded_amount) FROM STDIN",
        }
        with connection.transaction(), connection.cursor() as cursor:
            for name, statement in copies.items():
                if rows[name]:
                    with cursor.copy(statement) as copy:
                        for row in rows[name]:
                            copy.write_row(row)
            if rows["updates"]:
                cursor.executemany(
                    "UPDATE orders SET status = %s, shipped_at = %s, carrier = %s, cancel_initiated_by = %s"
                    " WHERE id = %s",
                    rows["updates"],
                )
            if rows["claims"]:
                with cursor.copy(
                    "COPY claims (id, type, status, order_id, seller_id, buyer_id, description, opened_at, opened_by,"
                    " response_due_at, response_policy_version) FROM STDIN"
                ) as copy:
                    for pk, order_pk, seller, buyer, at, due in rows["claims"]:
                        kind = ("seller_cancellation", "awaiting_seller")
                        copy.write_row((pk, *kind, order_pk, seller, buyer, "", at, "bench", due, 0))
                with cursor.copy(
                    "COPY claim_events (claim_id, occurred_at, actor, kind, message, visibility) FROM STDIN"
                ) as copy:
                    for claim_pk, at in rows["claim_events"]:
                        copy.write_row((claim_pk, at, "api_client:1", "opened", "", "parties"))
            with cursor.copy(
                "COPY audit_records (occurred_at, actor, action, entity_type, entity_id, before, after, prev_hash,"
                " hash) FROM STDIN"
            ) as copy:
                for row in rows["audits"]:
                    copy.write_row(row)


def run_raw(url: str, runs: list[list[list[dict[str, Any]]]]) -> list[float]:
    """Seconds per run for the raw writes of each run's batches, into a database of their own."""
    writer = RawWriter()
    prepared = [[writer.rows_for(batch) for batch in batches] for batches in runs]
    dsn = psycopg_dsn(url)
    seconds = []
    with psycopg.connect(dsn) as connection:
        for run in prepared:
            with Stopwatch() as watch:
                for rows in run:
                    RawWriter.write(connection, rows)
            seconds.append(watch.seconds)
    return seconds


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        tables = ("order_events", "orders", "sellers", "buyers", "claims", "audit_records")
        result = {table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() for table in tables}
    engine.dispose()
    return result


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events per run (default 100,000)")
    args = parser.parse_args(argv)
    runs = {
        "order.paid for new orders": list(Feed("P").batches(args.events, mix=False)),
        "realistic mix": list(Feed("M").batches(args.events, mix=True)),
    }
    figures: dict[str, float] = {}
    with fresh_database("bench_ingest") as url, fresh_database("bench_ingest_raw") as raw_url:
        api_seconds = {name: run_api(url, batches) for name, batches in runs.items()}
        raw_seconds = run_raw(raw_url, list(runs.values()))
        api_rows, raw_rows = _counts(url), _counts(raw_url)
        for (name, (seconds, latencies, cpu, meter)), raw in zip(api_seconds.items(), raw_seconds, strict=True):
            rate, raw_rate = args.events / seconds, args.events / raw
            p50 = statistics.median(latencies) * 1000
            p95 = (statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0]) * 1000
            cpu_p50 = statistics.median(cpu) * 1000
            print(
                f"{name}: {args.events:,} events in {seconds:.2f}s = {rate:,.0f} events/s, batch of {BATCH:,} "
                f"p50 {p50:.0f} ms p95 {p95:.0f} ms, app CPU p50 {cpu_p50:.0f} ms "
                f"(raw SQL lower bound: {raw:.2f}s = {raw_rate:,.0f} events/s; API at {rate / raw_rate:.0%} of it)"
            )
            # One sender waits for each batch: the app's and the server's times add up; more senders could at best
            # fill the cores.
            print(f"  {meter.describe(args.events, 'event')}")
            key = "paid" if name.startswith("order.paid") else "mix"
            figures[f"{key}_events_per_second"] = rate
            figures[f"{key}_raw_events_per_second"] = raw_rate
            figures[f"{key}_app_cpu_ms_per_batch"] = cpu_p50
        print(f"rows written: API {api_rows}; raw {raw_rows}")
    return figures


if __name__ == "__main__":
    main()
