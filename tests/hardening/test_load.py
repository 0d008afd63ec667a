"""The load test, short: gunicorn on a fresh PostgreSQL database takes a steady mix for 20 seconds without an error.

The full run (``python bench/load_test.py``, 5 minutes) is the one whose figures the README quotes; this one keeps it
from rotting and fails on any error, unexpected status or event not accepted.
"""

from __future__ import annotations

import re

import pytest

from bench import load_test
from tests.conftest import require_postgres

DURATION, RATE = 20, 8


def test_short_load_run_has_no_errors_and_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    """Every kind of request is made, none fails, and the report shows each with its latencies and rate."""
    require_postgres()
    status = load_test.main(["--duration", str(DURATION), "--rate", str(RATE), "--clients", "8", "--batch", "50"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"load test: {DURATION * RATE:,} requests in" in out
    rows = {
        match["kind"]: match
        for match in re.finditer(
            r"^(?P<kind>\w+) +(?P<requests>[\d,]+) +(?P<errors>[\d,]+) +(?P<p50>[\d.]+) +(?P<p95>[\d.]+) +"
            r"(?P<p99>[\d.]+) +(?P<rate>[\d.]+)$",
            out,
            re.MULTILINE,
        )
    }
    assert set(rows) == {*load_test.MIX, "all"}, out
    assert all(int(row["requests"]) > 0 and row["errors"] == "0" for row in rows.values()), out
    assert int(rows["all"]["requests"].replace(",", "")) == DURATION * RATE
    assert float(rows["all"]["rate"]) > RATE * 0.8, out
    assert "error:" not in out
