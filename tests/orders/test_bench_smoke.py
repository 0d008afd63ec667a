"""The ingestion benchmark still runs (a small size, so it cannot rot between real runs)."""

from __future__ import annotations

from bench import bench_ingest
from tests.conftest import require_postgres


def test_ingest_benchmark_runs_at_small_size() -> None:
    """Both runs go through the API, every event accepted, each beside its raw-SQL lower bound."""
    require_postgres()
    figures = bench_ingest.main(["--events", "2000"])
    assert figures["paid_events_per_second"] > 0 and figures["paid_raw_events_per_second"] > 0
    assert figures["mix_events_per_second"] > 0 and figures["mix_raw_events_per_second"] > 0
