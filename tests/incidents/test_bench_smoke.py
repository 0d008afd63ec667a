"""The incident benchmark still runs (a small size, so it cannot rot between real runs)."""

from __future__ import annotations

from bench import bench_incident
from tests.conftest import require_postgres


def test_incident_benchmark_runs_at_small_size() -> None:
    """Every selected order is compensated, beside the raw-SQL lower bound."""
    require_postgres()
    figures = bench_incident.main(["--orders", "3000", "--batch", "1000"])
    assert figures["orders_per_second"] > 0 and figures["raw_orders_per_second"] > 0
    assert figures["app_cpu_us_per_order"] > 0
