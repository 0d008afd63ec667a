"""The marketplace's standing read at scale on PostgreSQL.

100,000 sellers, each with a materialised standing row (most in good standing, some at notice, warning or
restricted with their sanctions in force): ``GET /api/v1/sellers/<seller_id>/standing`` with a ``standing:read`` API
key must answer in <= 5 ms at the 95th percentile. Printed beside it: the same read through the ORM query alone,
and a raw-SQL lower bound (the same one indexed lookup through psycopg, no ORM, no HTTP), measured in the same run.

    python bench/bench_standing.py --sellers 100000 --requests 5000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Stopwatch, fresh_database
from marketplace import create_app
from marketplace.core.auth import Actor
from marketplace.core.operations import create_api_key
from marketplace.db import create_db_engine
from marketplace.extensions import db
from marketplace.sanctions import queries

NOW = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)


def seed(engine: sa.Engine, sellers: int) -> None:
    """Sellers and their standing rows, generated set-based in SQL: 90 % clean, then notice, warning, restricted."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO sellers (external_id, name, language, created_at) "
                "SELECT 'S-' || g, 'seller ' || g, 'ko', :now FROM generate_series(1, :n) g"
            ),
            {"n": sellers, "now": NOW},
        )
        connection.execute(
            sa.text(
                """
                INSERT INTO seller_standings (seller_id, stage, may_list, may_sell, active_points,
                                              orders_in_window, window_days, policy_version, sanctions,
                                              evaluated_at, changed_at, revision)
                SELECT s.id, st.stage, st.stage IN ('none', 'notice'), st.stage IN ('none', 'notice', 'warning'),
                       st.points, 10 + s.id % 200, 30, 0,
                       CASE WHEN st.stage = 'none' THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_object(
                           'id', s.id, 'stage', st.stage, 'source', 'rules', 'starts_at', '2026-10-02T14:59:59+00:00',
                           'ends_at', CASE WHEN st.stage = 'restricted' THEN NULL ELSE '2026-10-09T14:59:59+00:00' END,
                           'reason', 'sanction_threshold')) END,
                       :now, :now, 1 + s.id % 5
                FROM sellers s
                CROSS JOIN LATERAL (SELECT CASE WHEN s.id % 100 < 90 THEN 'none' WHEN s.id % 100 < 96 THEN 'notice'
                                                WHEN s.id % 100 < 99 THEN 'warning' ELSE 'restricted' END AS stage,
                                           (s.id % 100) / 8 AS points) st
                """
            ),
            {"now": NOW},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def raw_lower_bound(url: str, ids: list[str]) -> tuple[float, float]:
    """The same indexed lookup through psycopg alone (prepared after the first call)."""
    engine = create_db_engine(url)
    timings = []
    with engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        statement = (
            "SELECT s.id, s.external_id, s.name, st.* FROM sellers s"
            " LEFT JOIN seller_standings st ON st.seller_id = s.id WHERE s.external_id = %s"
        )
        for seller_id in ids:
            started = time.perf_counter()
            cursor.execute(statement, (seller_id,), prepare=True)
            cursor.fetchall()
            timings.append(time.perf_counter() - started)
    engine.dispose()
    return _percentiles(timings)


def query_only(app, ids: list[str]) -> tuple[float, float]:
    """The ORM read the endpoint makes (``queries.read_standing``), one short transaction each."""
    timings = []
    with app.app_context():
        for seller_id in ids:
            started = time.perf_counter()
            read = queries.read_standing(db.session, seller_id)
            db.session.rollback()
            timings.append(time.perf_counter() - started)
            assert read is not None
    return _percentiles(timings)


def endpoint(app, secret: str, ids: list[str]) -> tuple[float, float, float]:
    """The whole request: WSGI, API key, permission check, the read, the JSON. Also this process's CPU per request,
    which a busy machine disturbs less than the wall-clock percentiles."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    timings = []
    cpu = time.process_time()
    for seller_id in ids:
        started = time.perf_counter()
        response = client.get(f"/api/v1/sellers/{seller_id}/standing", headers=headers)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.get_data(as_text=True)
    cpu_ms = (time.process_time() - cpu) * 1000 / len(ids)
    return (*_percentiles(timings), cpu_ms)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sellers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=5_000)
    args = parser.parse_args(argv)
    rng = random.Random(4)
    with fresh_database("bench_standing") as url:
        engine = create_db_engine(url)
        with Stopwatch() as setup:
            seed(engine, args.sellers)
        print(f"seeded {args.sellers:,} sellers with standing rows in {setup.seconds:.1f}s")
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "CLOCK": lambda: NOW})
        with app.app_context():
            _key, secret = create_api_key(
                db.session, "bench", scopes=["standing:read"], actor=Actor.system("bench"), now=NOW
            )
            db.session.commit()
        ids = [f"S-{rng.randint(1, args.sellers)}" for _ in range(args.requests)]
        warm = ids[: min(200, len(ids))]
        endpoint(app, secret, warm)
        raw_p50, raw_p95 = raw_lower_bound(url, ids)
        query_p50, query_p95 = query_only(app, ids)
        http_p50, http_p95, cpu_ms = endpoint(app, secret, ids)
        print(
            f"GET /sellers/<id>/standing: p50 {http_p50:.2f} ms, p95 {http_p95:.2f} ms over {len(ids):,} requests, "
            f"{cpu_ms:.2f} ms of CPU each "
            f"(the ORM read alone: p50 {query_p50:.2f} ms, p95 {query_p95:.2f} ms; "
            f"raw SQL lower bound: p50 {raw_p50:.2f} ms, p95 {raw_p95:.2f} ms)"
        )
        engine.dispose()
        app.extensions["marketplace.db"]["engine"].dispose()
    return {
        "p50_ms": http_p50,
        "p95_ms": http_p95,
        "cpu_ms": cpu_ms,
        "query_p95_ms": query_p95,
        "raw_p50_ms": raw_p50,
        "raw_p95_ms": raw_p95,
    }


if __name__ == "__main__":
    main()
