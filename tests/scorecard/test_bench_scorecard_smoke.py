"""The scorecard benchmark still runs (a small size, so it cannot rot between real runs)."""

from __future__ import annotations

from bench import bench_scorecard
from tests.conftest import require_postgres


def test_scorecard_benchmark_runs_at_small_size() -> None:
    """Rebuild, the day's update (equal to a rebuild) and the listings are all measured."""
    require_postgres()
    figures = bench_scorecard.main(["--sellers", "60", "--orders", "6000", "--runs", "3"])
    assert figures["matches_rebuild"] == 1.0
    assert figures["rebuild_seconds"] > 0 and figures["refresh_seconds"] > 0 and figures["day_rows"] > 0
    assert figures["snapshots"] == 60
    assert figures["listing_p95_ms"] >= figures["listing_median_ms"] > 0
