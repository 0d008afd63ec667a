"""Fixtures for order events: an API key with events:write and a way to post events with it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.core.models import AuditRecord
from marketplace.orders.models import Order, OrderEvent
from marketplace.sellers.models import Seller


@pytest.fixture
def events_key(make_api_key) -> Any:
    """An API key of the marketplace's order system, allowed to send events; returns (key, secret)."""
    return make_api_key("events:write", name="order-system")


@pytest.fixture
def post_events(client: FlaskClient, events_key) -> Any:
    """POST a body to /api/v1/events with the events key."""

    def post(body: Any, *, secret: str | None = None) -> Any:
        return client.post("/api/v1/events", json=body, headers=bearer(secret or events_key[1]))

    return post


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header for an API key."""
    return {"Authorization": f"Bearer {secret}"}


def counts(session: Session) -> dict[str, int]:
    """How many events, orders, sellers and audit records there are: what must not move on a refusal or replay."""
    session.expire_all()
    return {
        model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
        for model in (OrderEvent, Order, Seller, AuditRecord)
    }


def order(session: Session, external_id: str = "O-1") -> Order | None:
    """The order the marketplace knows as ``external_id``, as stored now."""
    session.expire_all()
    return session.scalar(sa.select(Order).where(Order.external_id == external_id))
