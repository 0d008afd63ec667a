"""The standing benchmark still runs (a small size, so it cannot rot between real runs)."""

from __future__ import annotations

from bench import bench_standing
from tests.conftest import require_postgres


def test_standing_benchmark_runs_at_small_size() -> None:
    """Every request answers 200 and the percentiles are measured beside the raw lower bound."""
    require_postgres()
    figures = bench_standing.main(["--sellers", "2000", "--requests", "200"])
    assert figures["p95_ms"] >= figures["p50_ms"] > 0
    assert figures["raw_p95_ms"] > 0 and figures["query_p95_ms"] > 0
