"""Load test: gunicorn serving the app on a fresh PostgreSQL database, driven at a fixed rate over HTTP.

Seeds a few hundred sellers, buyers, orders and claims (through the events API) and a handful of logins, starts
gunicorn on loopback, then sends a steady open-loop mix for --duration seconds at --rate requests/s: order-event
batches (POST /api/v1/events), claim reads by API key (GET /api/v1/claims/<id> and the list), and the portal pages
as logged-in people see them (the staff queue, the seller's and the buyer's claims). Requests are started on the
schedule whether or not earlier ones have finished, and each latency is measured from its scheduled start, so a
server that falls behind shows it in the figures instead of slowing the client down.

Prints, per kind: requests, errors, p50/p95/p99 latency and the achieved rate. Exits 1 on any error (a failed
connection, an unexpected status, an event batch not wholly accepted).

    python bench/load_test.py --duration 300 --rate 20
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import fresh_database
from marketplace import create_app
from marketplace.core.auth import Actor
from marketplace.core.models import Role
from marketplace.core.operations import create_api_key, create_user
from marketplace.extensions import db
from marketplace.orders.queries import get_buyer_by_external_id
from marketplace.sellers.queries import get_seller_by_external_id

SETUP = Actor.system("load-test")
PASSWORD = "load-test-password"  # noqa: S105 - the throwaway logins of a database dropped afterwards
SELLERS, BUYERS, ORDERS = 200, 300, 600
LOGINS = 5  # seller users and buyer logins each; one staff agent
# The mix of one second of traffic, by weight.
MIX = {
    "events": 10,
    "api_claim": 25,
    "api_claims": 20,
    "staff_queue": 15,
    "seller_claims": 15,
    "buyer_claims": 15,
}
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass
class Feed:
    """Order events for new orders, one in ``cancel_every`` cancelled by its seller (which opens a claim)."""

    run: str
    cancel_every: int = 10
    rng: random.Random = field(default_factory=lambda: random.Random(20260923))
    serial: itertools.count = field(default_factory=itertools.count)

    def batch(self, size: int) -> list[dict[str, Any]]:
        """``size`` events: payments of new orders, some followed in the same batch by a seller cancellation."""
        now = datetime.now(UTC)
        events: list[dict[str, Any]] = []
        while len(events) < size:
            n = next(self.serial)
            order_id = f"{self.run}-O{n}"
            amount = self.rng.randrange(5_000, 500_000, 100)
            paid_at = (now - timedelta(hours=2)).isoformat()
            events.append(
                {
                    "id": f"{self.run}-E{n}-paid",
                    "type": "order.paid",
                    "occurred_at": paid_at,
                    "order": {
                        "id": order_id,
                        "seller": {"id": f"S-{n % SELLERS}", "name": f"판매자 {n % SELLERS}"},
                        "buyer": {
                            "id": f"B-{n % BUYERS}",
                            "name": f"구매자 {n % BUYERS}",
                            "contact": f"b{n % BUYERS}@example.com",
                            "language": "ko",
                        },
                        "amount": amount,
                        "items": [{"sku": f"SKU-{n % 97}", "name": "상품", "quantity": 1, "price": amount}],
                        "paid_at": paid_at,
                    },
                }
            )
            if n % self.cancel_every == 1 and len(events) < size:
                events.append(
                    {
                        "id": f"{self.run}-E{n}-cancel",
                        "type": "order.cancelled",
                        "occurred_at": (now - timedelta(hours=1)).isoformat(),
                        "order": {"id": order_id},
                        "initiated_by": "seller",
                        "reason": "out_of_stock",
                    }
                )
        return events


@dataclass
class Seeded:
    """What the traffic needs: the keys, the logins and some claim ids."""

    events_key: str
    read_key: str
    logins: dict[str, list[str]]
    claim_ids: list[int]


def seed(url: str) -> Seeded:
    """Sellers, buyers, orders and claims through the events API (in process); keys and logins directly."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "load-test", "RATELIMIT_ENABLED": False})
    now = datetime.now(UTC)
    with app.app_context():
        _key, events_key = create_api_key(db.session, "load-events", scopes=["events:write"], actor=SETUP, now=now)
        _key, read_key = create_api_key(db.session, "load-read", scopes=["claims:read"], actor=SETUP, now=now)
        db.session.commit()
    client = app.test_client()
    feed = Feed("SEED", cancel_every=3)
    headers = {"Authorization": f"Bearer {events_key}"}
    orders = 0
    while orders < ORDERS:
        events = feed.batch(1000)
        response = client.post("/api/v1/events", json={"events": events}, headers=headers)
        assert response.status_code == 200 and response.json["rejected"] == 0, response.get_data(as_text=True)[:500]
        orders += sum(event["type"] == "order.paid" for event in events)
    with app.app_context():
        logins: dict[str, list[str]] = {"staff": [], "seller": [], "buyer": []}
        agent = create_user(db.session, "agent@load.example", name="agent", role=Role.AGENT, password=PASSWORD,
                            actor=SETUP, now=now)  # fmt: skip
        logins["staff"].append(agent.email)
        for n in range(LOGINS):
            seller = get_seller_by_external_id(db.session, f"S-{3 + 10 * n}")
            buyer = get_buyer_by_external_id(db.session, f"B-{3 + 10 * n}")
            for role, kwargs in (("seller", {"seller_id": seller.id}), ("buyer", {"buyer_id": buyer.id})):
                user = create_user(db.session, f"{role}{n}@load.example", name=f"{role} {n}", role=role,
                                   password=PASSWORD, actor=SETUP, now=now, **kwargs)  # fmt: skip
                logins[role].append(user.email)
        db.session.commit()
        claim_ids = [row[0] for row in db.session.execute(sa.text("SELECT id FROM claims ORDER BY id")).all()]
    app.extensions["marketplace.db"]["engine"].dispose()
    return Seeded(events_key, read_key, logins, claim_ids)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A gunicorn process and the loopback port it serves on."""

    port: int
    process: subprocess.Popen

    def wait_until_up(self, timeout: float = 90) -> None:
        """Wait for /healthz to answer 200."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if _get_status(self.port, "/healthz") == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not come up on port {self.port} (exit code {self.process.poll()})")
            time.sleep(0.2)


@contextmanager
def gunicorn(url: str, *, workers: int, threads: int) -> Iterator[Server]:
    """gunicorn serving the app on a loopback port, until the block ends (its workers boot meanwhile)."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "load-test-" + os.urandom(8).hex(),
        # The run must measure the server, not the limits: one client sends everything from one address and key.
        "API_RATE_LIMIT": "1000000 per minute",
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--threads", str(threads), "--worker-class", "gthread", "--keep-alive", "30", "--log-level", "warning",
        "marketplace:create_app()",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)  # noqa: S603 - a fixed command of our own
    try:
        yield Server(port, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get_status(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


class Session:
    """One logged-in browser: its cookies, sent with each page request."""

    def __init__(self, port: int, email: str) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        page = self.request("GET", "/login")
        token = CSRF.search(page[1].decode()).group(1)
        body = urlencode({"email": email, "password": PASSWORD, "csrf_token": token})
        status, _ = self.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"{email} could not log in (status {status})")

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        """A request with this browser's cookies, on a connection of its own (login only)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body, {**(headers or {}), **self.cookie_header()})
            response = connection.getresponse()
            data = response.read()
            self._keep(response)
            return response.status, data
        finally:
            connection.close()

    def cookie_header(self) -> dict[str, str]:
        """The Cookie header for this browser."""
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def _keep(self, response: http.client.HTTPResponse) -> None:
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]


@dataclass
class Job:
    """One request to make at a scheduled moment."""

    kind: str
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None
    expected_events: int = 0


@dataclass
class Result:
    """What became of one job."""

    kind: str
    latency: float
    error: str | None


class Traffic:
    """Builds the jobs of the mix: who calls, what, with which body."""

    def __init__(self, seeded: Seeded, sessions: dict[str, list[Session]], *, batch: int, seed: int = 7) -> None:
        self.seeded = seeded
        self.sessions = sessions
        self.batch = batch
        self.rng = random.Random(seed)
        self.feed = Feed(f"L{os.getpid()}")
        self.kinds = [kind for kind, weight in MIX.items() for _ in range(weight)]

    def job(self, at: float) -> Job:
        """The next job, of a kind drawn by the mix's weights."""
        kind = self.rng.choice(self.kinds)
        api = {"Authorization": f"Bearer {self.seeded.read_key}"}
        if kind == "events":
            events = self.feed.batch(self.batch)
            body = json.dumps({"events": events}, ensure_ascii=False).encode()
            headers = {"Authorization": f"Bearer {self.seeded.events_key}", "Content-Type": "application/json"}
            return Job(kind, at, "POST", "/api/v1/events", headers, body, expected_events=len(events))
        if kind == "api_claim":
            return Job(kind, at, "GET", f"/api/v1/claims/{self.rng.choice(self.seeded.claim_ids)}", api)
        if kind == "api_claims":
            page = self.rng.randint(1, 3)
            return Job(kind, at, "GET", f"/api/v1/claims?page={page}&page_size=20", api)
        role, path = {
            "staff_queue": ("staff", "/staff/claims/"),
            "seller_claims": ("seller", "/seller/claims/"),
            "buyer_claims": ("buyer", "/buyer/claims"),
        }[kind]
        session = self.rng.choice(self.sessions[role])
        return Job(kind, at, "GET", path, session.cookie_header())


def _worker(port: int, jobs: queue.Queue, results: list[Result]) -> None:
    """Take jobs off the queue and make them on one keep-alive connection (reopened after a failure)."""
    connection: http.client.HTTPConnection | None = None
    while True:
        job = jobs.get()
        if job is None:
            break
        delay = job.at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        error = None
        try:
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request(job.method, job.path, job.body, job.headers)
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                error = f"{job.method} {job.path}: status {response.status}: {data[:200]!r}"
            elif job.expected_events:
                answer = json.loads(data)
                if answer.get("accepted") != job.expected_events:
                    error = f"events: {answer.get('accepted')} of {job.expected_events} accepted: {data[:300]!r}"
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = f"{job.method} {job.path}: {type(exc).__name__}: {exc}"
            if connection is not None:
                connection.close()
            connection = None
        results.append(Result(job.kind, time.perf_counter() - job.at, error))
    if connection is not None:
        connection.close()


def drive(port: int, traffic: Traffic, *, rate: float, duration: float, clients: int) -> tuple[list[Result], float]:
    """Schedule ``rate`` requests a second for ``duration`` seconds; every result, and the seconds it took."""
    jobs: queue.Queue = queue.Queue()
    results: list[Result] = []
    threads = [threading.Thread(target=_worker, args=(port, jobs, results), daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    total = int(rate * duration)
    for n in range(total):
        at = started + n / rate
        # Build each job a little ahead of its moment (bodies take a moment to make), never far ahead.
        ahead = at - time.perf_counter() - 0.05
        if ahead > 0:
            time.sleep(ahead)
        jobs.put(traffic.job(at))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    # Nearest rank: the smallest value with at least ``fraction`` of all values at or below it.
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def report(results: list[Result], seconds: float, *, rate: float, batch: int) -> dict[str, dict[str, float]]:
    """Print the table of figures per kind of request and in all; return them."""
    figures: dict[str, dict[str, float]] = {}
    kinds = [*MIX, "all"]
    print(
        f"load test: {len(results):,} requests in {seconds:.1f}s at a target of {rate:g}/s (event batches of {batch})"
    )
    print(f"{'kind':<14} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'rate/s':>8}")
    for kind in kinds:
        chosen = [r for r in results if kind == "all" or r.kind == kind]
        latencies = sorted(r.latency * 1000 for r in chosen)
        row = {
            "requests": len(chosen),
            "errors": sum(r.error is not None for r in chosen),
            "p50": _percentile(latencies, 0.50),
            "p95": _percentile(latencies, 0.95),
            "p99": _percentile(latencies, 0.99),
            "rate": len(chosen) / seconds if seconds else 0.0,
        }
        figures[kind] = row
        print(
            f"{kind:<14} {row['requests']:>9,} {row['errors']:>7,} {row['p50']:>8.1f} {row['p95']:>8.1f} "
            f"{row['p99']:>8.1f} {row['rate']:>8.2f}"
        )
    errors = [r.error for r in results if r.error]
    for error in errors[:10]:
        print(f"error: {error}")
    if len(errors) > 10:
        print(f"… and {len(errors) - 10} more errors")
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the load test and print its figures; 0 when every request succeeded, else 1."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=300, help="seconds of traffic (default 300)")
    parser.add_argument("--rate", type=float, default=20, help="requests a second, all kinds together (default 20)")
    parser.add_argument("--batch", type=int, default=100, help="events in one POST /api/v1/events (default 100)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads in each worker (default 4)")
    parser.add_argument("--clients", type=int, default=32, help="client threads (default 32)")
    args = parser.parse_args(argv)
    with fresh_database("bench_load") as url, gunicorn(url, workers=args.workers, threads=args.threads) as server:
        # gunicorn boots its workers while the data is seeded in this process.
        started = time.perf_counter()
        seeded = seed(url)
        print(
            f"seeded {SELLERS} sellers, {BUYERS} buyers, {ORDERS} orders, {len(seeded.claim_ids)} claims and "
            f"{1 + 2 * LOGINS} logins in {time.perf_counter() - started:.1f}s"
        )
        server.wait_until_up()
        port = server.port
        sessions = {role: [Session(port, email) for email in emails] for role, emails in seeded.logins.items()}
        traffic = Traffic(seeded, sessions, batch=args.batch)
        results, seconds = drive(port, traffic, rate=args.rate, duration=args.duration, clients=args.clients)
        figures = report(results, seconds, rate=args.rate, batch=args.batch)
    return 1 if figures["all"]["errors"] or not results else 0


if __name__ == "__main__":
    sys.exit(main())
