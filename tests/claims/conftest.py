"""Fixtures for claims: an order with its seller and buyer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from marketplace.orders.models import Order
from marketplace.orders.operations import create_order
from tests.conftest import SETUP, START


@pytest.fixture
def make_order(session: Session, make_seller, make_buyer) -> Any:
    """Create a paid order (a new seller and buyer unless given)."""
    counter = iter(range(1, 1_000_000))

    def make(*, seller=None, buyer=None, amount: int = 100_000, paid_at=None, **kwargs: Any) -> Order:
        order = create_order(
            session,
            kwargs.pop("external_id", f"O-C{next(counter)}"),
            seller=seller or make_seller(),
            buyer=buyer or make_buyer(),
            amount=amount,
            items=kwargs.pop("items", [{"sku": "SKU-1", "name": "상품", "quantity": 1}]),
            paid_at=paid_at or START - timedelta(hours=1),
            actor=SETUP,
            now=START,
            **kwargs,
        )
        session.commit()
        return order

    return make
