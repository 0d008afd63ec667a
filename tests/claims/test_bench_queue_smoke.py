"""The staff queue benchmark still runs (a small size, so it cannot rot between real runs)."""

from __future__ import annotations

from bench import bench_queue
from tests.conftest import require_postgres


def test_queue_benchmark_runs_at_small_size() -> None:
    """Every page of the benchmark renders and is timed."""
    require_postgres()
    figures = bench_queue.main(["--claims", "2000", "--runs", "2"])
    assert set(figures) == {*bench_queue.PAGES, "raw"} and all(value > 0 for value in figures.values())
