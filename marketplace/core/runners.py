"""Batch work carried out by several runners side by side on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from marketplace.extensions import db


def side_by_side(run: Callable[[], int], workers: int, *, name: str) -> int:
    """Call ``run`` (batch after batch until nothing is left for it) in ``workers`` threads; the total done.

    Each runner has its own app context, so its own session and connection; SKIP LOCKED in the due-row query gives
    each its own rows, and one runner's Python overlaps the other's statements. SQLite takes one writer at a time and
    a session factory bound to one connection (the tests') serves one runner: there it is one. A runner's error is
    raised here. The last runner to finish may have skipped rows the other still held: a final pass takes them.
    """
    if workers <= 1 or not db.concurrent:
        return run()
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def runner() -> int:
        with app.app_context():
            return run()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        futures = [pool.submit(runner) for _ in range(workers)]
        totals = [future.result() for future in futures]
    return sum(totals) + run()
