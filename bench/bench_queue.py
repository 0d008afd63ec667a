"""The staff claim queue at scale on PostgreSQL.

--claims claims (of which a fifth are open, the rest settled), the queue page rendered as an agent sees it: the
first page, a later page, and filtered by type and by seller. Target: < 300 ms per page. Each figure is printed
beside a raw-SQL lower bound: the same page's claims read in SQL alone, measured in the same run.

    python bench/bench_queue.py --claims 1000000
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_escalation import NOW, seed
from bench.common import Stopwatch, fresh_database
from marketplace import create_app
from marketplace.core.auth import Actor
from marketplace.core.clock import FrozenClock
from marketplace.core.models import Role
from marketplace.core.operations import create_user
from marketplace.db import create_db_engine
from marketplace.extensions import db

PAGES = {
    "first page": "/staff/claims/",
    "page 40": "/staff/claims/?page=40",
    "type filter": "/staff/claims/?type=damaged&page=3",
    "seller filter": "/staff/claims/?seller=S-17",
}
RAW = sa.text(
    "SELECT c.id FROM claims c JOIN orders o ON o.id = c.order_id JOIN sellers s ON s.id = o.seller_id "
    "JOIN buyers b ON b.id = o.buyer_id WHERE c.status IN ('awaiting_seller', 'seller_proposed', 'escalated') "
    "ORDER BY c.due_at NULLS LAST, c.id LIMIT 25"
)


def _median_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    figures: dict[str, float] = {}
    with fresh_database("bench_queue") as url:
        engine = create_db_engine(url)
        with Stopwatch() as setup:
            # A fifth open: a tenth past its deadline, a tenth ahead of it.
            seed(engine, args.claims, args.claims // 10)
        print(f"seeded {args.claims:,} claims in {setup.seconds:.1f}s")
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "CLOCK": FrozenClock(NOW)})
        with app.app_context():
            create_user(
                db.session,
                "agent@bench.example",
                name="agent",
                role=Role.AGENT,
                password="bench-password",
                actor=Actor.system("bench"),
                now=NOW,
            )
            db.session.commit()
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/login", data={"email": "agent@bench.example", "password": "bench-password", "csrf_token": token})
        for name, path in PAGES.items():
            client.get(path)  # warm the plan and the cache, as a working console is
            samples = []
            for _ in range(args.runs):
                with Stopwatch() as watch:
                    response = client.get(path)
                assert response.status_code == 200, response.status_code
                samples.append(watch.seconds)
            median, p95 = _median_ms(samples)
            figures[name] = median
            print(f"queue {name}: median {median:.1f} ms, p95 {p95:.1f} ms")
        raw = []
        with engine.connect() as connection:
            for _ in range(args.runs):
                with Stopwatch() as watch:
                    connection.execute(RAW).all()
                raw.append(watch.seconds)
        raw_median, _ = _median_ms(raw)
        figures["raw"] = raw_median
        print(f"raw SQL lower bound (first page's claims with their parties): {raw_median:.1f} ms")
        engine.dispose()
        app.extensions["marketplace.db"]["engine"].dispose()
    return figures


if __name__ == "__main__":
    main()
