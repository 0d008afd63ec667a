"""Fixtures for incidents: orders, the ledger checked after every test, and a declared incident."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from marketplace.core.auth import Actor
from marketplace.incidents.operations import declare_incident
from tests.compensation.conftest import ledger_is_balanced, make_order
from tests.conftest import START

__all__ = ["declare", "ledger_is_balanced", "make_order"]

SUPERVISOR = Actor.system("test-supervisor")
MUSINSA_RULE = {"form": "coupon", "method": "percent_of_order", "percent": "10", "cap": 100_000}


@pytest.fixture
def declare(session: Session) -> Any:
    """Declare a platform-fault incident (10 % coupon capped at ₩100,000 unless another rule is given)."""

    def make(rule: dict[str, Any] | None = None, *, platform_at_fault: bool = True):
        incident = declare_incident(
            session,
            title_ko="쿠폰 오발급으로 인한 주문 취소",
            title_en="Orders cancelled after a coupon was issued to everyone",
            cause="A ₩100,000 voucher meant for 20 winners was issued to every member.",
            platform_at_fault=platform_at_fault,
            explanation_ko="저희 실수로 주문이 취소되었습니다. 사과의 뜻으로 쿠폰을 드립니다.",
            explanation_en="Your order was cancelled by our mistake. Please accept a coupon as an apology.",
            rule=rule or MUSINSA_RULE,
            actor=SUPERVISOR,
            now=START,
        )
        session.commit()
        return incident

    return make
