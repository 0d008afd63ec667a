"""Claiming due rows for periodic jobs, safely with any number of job runners (DESIGN.md §9)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

DEFAULT_BATCH = 1000


def lock_due_rows(session: Session, stmt: sa.Select[Any], *, of: Any) -> Sequence[sa.Row[Any]]:
    """Run a bounded SELECT of due rows; on PostgreSQL lock them and skip rows another runner holds."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=of)
    # SQLite: every write transaction begins IMMEDIATE, so one runner at a time holds the database anyway.
    return session.execute(stmt).all()
