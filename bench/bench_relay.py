"""The relay at scale on PostgreSQL: 50,000 pending notices to a loopback gateway receiver, at >= 1,000/s.

The notices are buyers' ``claim.opened`` notices going by the gateway channel, so each delivery renders the notice
in Korean, signs the JSON with HMAC-SHA256 and POSTs it; the relay takes and records them in batches in their own
transactions. The receiver runs in another process (a threaded HTTP/1.1 server with keep-alive) and verifies every
signature; it counts the distinct message ids so that a duplicate would show.

Printed beside two lower bounds measured in the same run: the same number of signed POSTs of a pre-built body with
the same threads and connections and no database (the network and the receiver), and the relay's SQL alone (lease
and mark every row in batches, rolled back).

    python bench/bench_relay.py --notices 50000
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Stopwatch, fresh_database
from marketplace import create_app
from marketplace.db import create_db_engine
from marketplace.notifications.signing import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signed_headers,
    verify_signature,
)
from marketplace.scheduler import load_jobs

# Every job registered now, in JOB_MODULES order (the relay after the claim sweeps), whatever imports this first.
JOBS = load_jobs()
SECRET = "bench-shared-secret"  # noqa: S105 - shared with the receiver this benchmark starts
BATCH = 400
CONCURRENCY = 8
PAYLOAD = {
    "claim_id": 7,
    "claim_type": "seller_cancellation",
    "status": "awaiting_seller",
    "order_id": 11,
    "order_external_id": "O-30001",
    "order_amount": 389_000,
    "seller_id": 1,
    "buyer_id": 2,
    "paid_at": "2026-09-22T06:00:00+00:00",
    "opened_by": "system:scheduler",
    "description": "seller cancelled the order (out_of_stock)",
    "response_due_at": "2026-09-30T14:59:59+00:00",
    "refund_due_at": "2026-09-25T14:59:59+00:00",
    "cancel_reason": "out_of_stock",
    "ship_by": None,
    "at": "2026-09-23T06:00:00+00:00",
    "recipient_name": "김민준",
}


def _serve(port_pipe: Any) -> None:
    """The receiver process: verify, count, answer 200; GET /stats reports the counts."""
    lock = threading.Lock()
    seen: dict[str, int] = {}
    refused = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the second until the
        # client's delayed ACK (40 ms), and a kept-alive connection crawls.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            ok = verify_signature(
                SECRET, raw, self.headers.get(TIMESTAMP_HEADER), self.headers.get(SIGNATURE_HEADER), now=time.time()
            )
            with lock:
                if ok:
                    key = self.headers[MESSAGE_ID_HEADER]
                    seen[key] = seen.get(key, 0) + 1
                else:
                    refused[0] += 1
            self._answer(200 if ok else 401, b"ok")

        def do_GET(self) -> None:
            with lock:
                stats = {"distinct": len(seen), "total": sum(seen.values()), "refused": refused[0]}
                if self.path == "/reset":
                    seen.clear()
                    refused[0] = 0
            self._answer(200, json.dumps(stats).encode())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    port_pipe.send(server.server_port)
    server.serve_forever()


def _get(port: int, path: str) -> dict[str, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    stats = json.loads(connection.getresponse().read())
    connection.close()
    return stats


def seed(engine: sa.Engine, notices: int) -> None:
    """Pending notices to buyers by the gateway, written set-based."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                """
                INSERT INTO outbox_messages (dedupe_key, topic, audience, recipient_id, channel, language, address,
                                             payload, status, attempts, created_at, next_attempt_at)
                SELECT 'claim.opened:' || g || ':buyer:' || g, 'claim.opened', 'buyer', g, 'gateway', 'ko',
                       '010-0000-' || lpad((g % 10000)::text, 4, '0'), CAST(:payload AS JSONB), 'pending', 0,
                       :now - interval '1 minute', :now - interval '1 minute'
                FROM generate_series(1, :n) g
                """
            ),
            {"payload": json.dumps(PAYLOAD, ensure_ascii=False), "now": datetime.now(UTC), "n": notices},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE outbox_messages"))


def raw_http(port: int, notices: int) -> float:
    """Seconds to POST ``notices`` signed bodies of the same size with the relay's threads, no database."""
    body = json.dumps(
        {"id": "claim.opened:1:buyer:1", "subject": "x" * 80, "text": "본문 " * 150, "payload": PAYLOAD},
        ensure_ascii=False,
    ).encode()
    local = threading.local()

    def post(n: int) -> None:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {
            "Content-Type": "application/json",
            MESSAGE_ID_HEADER: f"raw:{n}",
            **signed_headers(SECRET, int(time.time()), body),
        }
        connection.request("POST", "/gateway", body=body, headers=headers)
        connection.getresponse().read()

    with ThreadPoolExecutor(CONCURRENCY) as pool, Stopwatch() as watch:
        list(pool.map(post, range(notices), chunksize=64))
    return watch.seconds


RAW_TAKE = sa.text(
    """
    WITH due AS (
        SELECT id FROM outbox_messages
        WHERE status IN ('pending', 'failed') AND next_attempt_at <= :now
        ORDER BY next_attempt_at, id LIMIT :batch FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox_messages o
    SET attempts = o.attempts + 1, lease = 'raw', next_attempt_at = :now + interval '10 minutes'
    FROM due WHERE o.id = due.id
    RETURNING o.id, o.dedupe_key, o.topic, o.audience, o.recipient_id, o.channel, o.language, o.address, o.payload
    """
)
RAW_MARK = sa.text("UPDATE outbox_messages SET status = 'sent', sent_at = :now, lease = NULL WHERE id = ANY(:ids)")


def raw_sql(engine: sa.Engine) -> tuple[int, float]:
    """The relay's SQL alone (take a batch, mark it sent), batch after batch; rolled back afterwards."""
    moved = 0
    now = datetime.now(UTC)
    with engine.connect() as connection, Stopwatch() as watch:
        transaction = connection.begin()
        while True:
            rows = connection.execute(RAW_TAKE, {"now": now, "batch": BATCH}).all()
            if not rows:
                break
            connection.execute(RAW_MARK, {"now": now, "ids": [row.id for row in rows]})
            moved += len(rows)
        transaction.rollback()
    return moved, watch.seconds


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notices", type=int, default=50_000)
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    receiver = context.Process(target=_serve, args=(child,), daemon=True)
    receiver.start()
    try:
        port = parent.recv()
        with fresh_database("bench_relay") as url:
            engine = create_db_engine(url)
            with Stopwatch() as setup:
                seed(engine, args.notices)
            print(f"seeded {args.notices:,} pending notices in {setup.seconds:.1f}s")

            raw_moved, raw_sql_seconds = raw_sql(engine)
            assert raw_moved == args.notices, (raw_moved, args.notices)
            raw_http_seconds = raw_http(port, args.notices)
            _get(port, "/reset")

            app = create_app(
                {
                    "DATABASE_URL": url,
                    "SECRET_KEY": "bench",
                    "NOTIFY_GATEWAY_URL": f"http://127.0.0.1:{port}/gateway",
                    "NOTIFY_GATEWAY_SECRET": SECRET,
                    "NOTIFY_BATCH_SIZE": BATCH,
                    "NOTIFY_CONCURRENCY": CONCURRENCY,
                }
            )
            deliver = JOBS["notifications.deliver"].func
            with app.app_context(), Stopwatch() as run:
                handled = deliver(datetime.now(UTC))
            stats = _get(port, "/stats")
            assert handled == args.notices, (handled, args.notices)
            assert stats == {"distinct": args.notices, "total": args.notices, "refused": 0}, stats
            with engine.connect() as connection:
                sent = connection.scalar(sa.text("SELECT count(*) FROM outbox_messages WHERE status = 'sent'"))
            assert sent == args.notices, sent
            rate = handled / run.seconds
            raw_http_rate = args.notices / raw_http_seconds
            raw_sql_rate = raw_moved / raw_sql_seconds
            print(
                f"relay: {handled:,} notices rendered, signed and delivered in {run.seconds:.2f}s = {rate:,.0f}/s "
                f"(lower bounds: raw signed POSTs {raw_http_seconds:.2f}s = {raw_http_rate:,.0f}/s; "
                f"relay SQL alone {raw_sql_seconds:.2f}s = {raw_sql_rate:,.0f}/s); "
                f"receiver: {stats['distinct']:,} distinct, {stats['total']:,} in all"
            )
            engine.dispose()
            app.extensions["marketplace.db"]["engine"].dispose()
    finally:
        receiver.terminate()
        receiver.join(timeout=10)
    return {"notices_per_second": rate, "raw_http_per_second": raw_http_rate, "raw_sql_per_second": raw_sql_rate}


if __name__ == "__main__":
    main()
