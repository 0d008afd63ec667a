"""Fixtures for compensation: orders (from the claims fixtures), and the ledger checked after every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from marketplace.compensation import ledger
from tests.claims.conftest import make_order

__all__ = ["ledger_is_balanced", "make_order"]


@pytest.fixture(autouse=True)
def ledger_is_balanced(session: Session) -> Iterator[None]:
    """After every test that moves money: every transaction balances and the balances match their documents."""
    yield
    if session.in_transaction() and not session.is_active:
        return  # the test left its transaction failed on purpose; nothing was kept
    session.expire_all()
    result = ledger.check(session)
    assert result.ok, f"ledger check failed after the test: {result.problem}"
