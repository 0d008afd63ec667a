"""Fixtures for sanctions: a seller with orders, and the claim moves that record its violations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims import sweeps as claim_sweeps
from marketplace.claims.models import Claim
from marketplace.claims.operations import (
    decide_claim,
    file_claim,
    open_late_shipment_claim,
    open_seller_cancellation_claim,
    propose_remedy,
)
from marketplace.core.auth import Actor
from marketplace.orders.models import Order, OrderStatus
from marketplace.orders.operations import create_order
from marketplace.sanctions import sweeps
from marketplace.sanctions.models import Sanction, SellerStanding, Violation
from marketplace.sellers.models import Seller
from tests.conftest import SETUP

KST = ZoneInfo("Asia/Seoul")
SYSTEM = Actor.system("test")


def kst(*args: int) -> datetime:
    """An instant in Korean time."""
    return datetime(*args, tzinfo=KST)


class Shop:
    """One seller, its orders, and the things that go wrong with them."""

    def __init__(self, session: Session, seller: Seller, make_buyer: Any) -> None:
        self.session = session
        self.seller = seller
        self.make_buyer = make_buyer
        self.orders: list[Order] = []
        self._n = 0

    def paid(self, count: int, *, at: datetime, **kwargs: Any) -> list[Order]:
        """``count`` orders paid at ``at`` (one minute apart)."""
        made = []
        for index in range(count):
            self._n += 1
            order = create_order(
                self.session,
                f"O-{self.seller.external_id}-{self._n}",
                seller=self.seller,
                buyer=self.make_buyer(),
                amount=30_000,
                items=[{"sku": "SKU", "name": "상품", "quantity": 1}],
                paid_at=at + timedelta(minutes=index),
                actor=SETUP,
                now=at,
                **kwargs,
            )
            made.append(order)
        self.orders.extend(made)
        self.session.commit()
        return made

    def cancel(self, order: Order, *, at: datetime, reason: str = "out_of_stock") -> Claim:
        """The seller cancels ``order`` on its own (품절취소) and answers the claim with a refund at once."""
        order.status = OrderStatus.CANCELLED
        order.cancelled_at, order.cancel_initiated_by, order.cancel_reason = at, "seller", reason
        claim = open_seller_cancellation_claim(self.session, order, actor=SYSTEM, now=at)
        assert claim is not None
        propose_remedy(self.session, claim, "refund", amount=None, message="품절입니다", actor=SYSTEM, now=at)
        self.session.commit()
        return claim

    def complain(self, order: Order, *, at: datetime, claim_type: str = "damaged") -> Claim:
        """The buyer files a claim on ``order``; the seller will stay silent."""
        claim = file_claim(self.session, order, claim_type, description="문제가 있어요", actor=SYSTEM, now=at)
        self.session.commit()
        return claim

    def ship_late(self, order: Order) -> Claim | None:
        """The order is past its ship-by: the late-shipment claim opens."""
        claim = open_late_shipment_claim(self.session, order, actor=SYSTEM, now=order.ship_by)
        self.session.commit()
        return claim

    def decide_counterfeit(self, order: Order, *, at: datetime, staff: Actor) -> Claim:
        """A counterfeit claim decided for the buyer."""
        claim = self.complain(order, at=at, claim_type="counterfeit")
        decide_claim(self.session, claim, "for_buyer", amount=order.amount, reason="가품 확인", actor=staff, now=at)
        self.session.commit()
        return claim

    def standing(self) -> SellerStanding | None:
        """The materialised standing row."""
        self.session.expire_all()
        return self.session.get(SellerStanding, self.seller.id)

    def sanctions(self) -> list[Sanction]:
        """Every sanction of the seller, oldest first."""
        self.session.expire_all()
        return list(
            self.session.scalars(sa.select(Sanction).where(Sanction.seller_id == self.seller.id).order_by(Sanction.id))
        )

    def violations(self) -> list[Violation]:
        """Every violation of the seller, oldest first."""
        self.session.expire_all()
        return list(
            self.session.scalars(
                sa.select(Violation).where(Violation.seller_id == self.seller.id).order_by(Violation.id)
            )
        )


def escalate(session: Session, *, now: datetime) -> int:
    """Run the escalation sweep (silent sellers) at ``now`` and commit."""
    moved = claim_sweeps.escalate_silent_sellers(session, now=now)
    session.commit()
    return moved


def run_sweeps(session: Session, *, now: datetime, names: Iterable[str] = ("raise", "expire", "end")) -> None:
    """Run the sanction sweeps at ``now`` until nothing is due, and commit."""
    functions = {
        "raise": sweeps.raise_late_shipments,
        "expire": sweeps.expire_violations,
        "end": sweeps.end_sanctions,
    }
    for name in names:
        while functions[name](session, now=now):
            pass
    session.commit()


@pytest.fixture
def make_shop(session: Session, make_seller: Any, make_buyer: Any) -> Any:
    """A seller ready to have orders and violations."""

    def make(**kwargs: Any) -> Shop:
        shop = Shop(session, make_seller(**kwargs), make_buyer)
        session.commit()
        return shop

    return make
