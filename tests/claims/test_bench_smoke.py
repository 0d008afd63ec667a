"""The escalation benchmark still runs (a small size, so it cannot rot between real runs)."""

from __future__ import annotations

from bench import bench_escalation
from tests.conftest import require_postgres


def test_escalation_benchmark_runs_at_small_size() -> None:
    """Every due claim is escalated, the bound rewrites every row the job wrote, and the idle run is measured."""
    require_postgres()
    figures = bench_escalation.main(["--claims", "3000", "--due", "300"])
    assert figures["claims_per_second"] > 0 and figures["idle_ms"] > 0
    assert figures["full_raw_claims_per_second"] > 0
    assert figures["app_cpu_us_per_claim"] > 0
