"""The relay benchmark still runs (a small size, so it cannot rot between real runs)."""

from __future__ import annotations

from bench import bench_relay
from tests.conftest import require_postgres


def test_relay_benchmark_runs_at_small_size() -> None:
    """Every notice reaches the receiver once, verified, and the lower bounds are measured."""
    require_postgres()
    figures = bench_relay.main(["--notices", "600"])
    assert figures["notices_per_second"] > 0 and figures["raw_http_per_second"] > 0
