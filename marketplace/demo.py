"""Demo data: a few sellers, buyers, orders and a login for every role."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.claims.operations import file_claim, propose_remedy
from marketplace.core.auth import Actor
from marketplace.core.models import Role, User
from marketplace.core.operations import create_user
from marketplace.core.queries import business_calendar
from marketplace.orders.events import ingest_events
from marketplace.orders.models import CancelInitiator, Order, OrderStatus
from marketplace.orders.operations import create_buyer, create_order
from marketplace.scorecard.build import rebuild, snapshot_day
from marketplace.sellers.operations import create_seller
from marketplace.sellers.queries import get_seller_by_external_id

DEMO = Actor.system("demo")
DEMO_PASSWORD = "demo-password"  # noqa: S105 - printed on purpose: these are the demo's published logins  # nosec B105

SELLERS = [
    ("S-1001", "한빛전자", "cs@hanbit-electronics.example", "ko"),
    ("S-1002", "바른생활 리빙", "help@bareun-living.example", "ko"),
    ("S-1003", "Seoul Sneakers Co.", "support@seoul-sneakers.example", "en"),
]
BUYERS = [
    ("B-2001", "김민준", "minjun.kim@example.com", "ko"),
    ("B-2002", "이서연", "seoyeon.lee@example.com", "ko"),
    ("B-2003", "Alex Morgan", "alex.morgan@example.com", "en"),
]
# (order id, seller, buyer, amount in won, items, hours before now it was paid)
ORDERS = [
    ("O-30001", "S-1001", "B-2001", 389_000, [{"sku": "TV-43UHD", "name": "43인치 UHD TV", "quantity": 1}], 30),
    ("O-30002", "S-1001", "B-2002", 59_900, [{"sku": "KB-MECH", "name": "기계식 키보드", "quantity": 1}], 80),
    ("O-30003", "S-1002", "B-2001", 24_800, [{"sku": "TOWEL-6", "name": "호텔 수건 6장", "quantity": 2}], 5),
    ("O-30004", "S-1002", "B-2003", 132_000, [{"sku": "PAN-SET", "name": "Frying pan set", "quantity": 1}], 120),
    ("O-30005", "S-1003", "B-2003", 159_000, [{"sku": "RUN-270", "name": "Running shoes 270", "quantity": 1}], 48),
    ("O-30006", "S-1003", "B-2002", 89_000, [{"sku": "SLIP-250", "name": "Slip-on 250", "quantity": 1}], 2),
]
STAFF = [
    ("agent@demo.example", "정상담 (agent)", Role.AGENT),
    ("supervisor@demo.example", "박감독 (supervisor)", Role.SUPERVISOR),
    ("admin@demo.example", "최관리 (admin)", Role.ADMIN),
]
SELLER_LOGINS = [
    ("seller@hanbit.example", "한빛전자 담당자", "S-1001"),
    ("seller@sneakers.example", "Sneakers staff", "S-1003"),
]
BUYER_LOGINS = [("buyer@demo.example", "B-2001"), ("alex@demo.example", "B-2003")]

DEMO_LOGINS: list[tuple[str, str]] = [
    *((email, role.value) for email, _name, role in STAFF),
    *((email, f"seller user of {seller}") for email, _name, seller in SELLER_LOGINS),
    *((email, f"buyer {buyer}") for email, buyer in BUYER_LOGINS),
]


def load_demo(session: Session, *, now: datetime) -> bool:
    """Load the demo data unless it is there already; returns whether anything was created."""
    if get_seller_by_external_id(session, SELLERS[0][0]) is not None:
        return False
    sellers = {
        ref: create_seller(session, ref, name=name, contact_email=email, language=lang, actor=DEMO, now=now)
        for ref, name, email, lang in SELLERS
    }
    buyers = {
        ref: create_buyer(session, ref, name=name, contact=contact, language=lang, actor=DEMO, now=now)
        for ref, name, contact, lang in BUYERS
    }
    for ref, seller, buyer, amount, items, hours_ago in ORDERS:
        create_order(
            session,
            ref,
            seller=sellers[seller],
            buyer=buyers[buyer],
            amount=amount,
            items=items,
            paid_at=now - timedelta(hours=hours_ago),
            actor=DEMO,
            now=now,
        )
    for email, name, role in STAFF:
        create_user(session, email, name=name, role=role, password=DEMO_PASSWORD, actor=DEMO, now=now)
    for email, name, seller in SELLER_LOGINS:
        create_user(
            session,
            email,
            name=name,
            role=Role.SELLER,
            password=DEMO_PASSWORD,
            seller_id=sellers[seller].id,
            language=sellers[seller].language,
            actor=DEMO,
            now=now,
        )
    for email, buyer in BUYER_LOGINS:
        create_user(
            session,
            email,
            name=buyers[buyer].name,
            role=Role.BUYER,
            password=DEMO_PASSWORD,
            buyer_id=buyers[buyer].id,
            language=buyers[buyer].language,
            actor=DEMO,
            now=now,
        )
    _load_claims(session, sellers=sellers, buyers=buyers, now=now)
    _load_history(session, sellers=sellers, now=now)
    return True


# Each demo seller's last 75 days: orders a day, the share shipped late, the share the buyer cancelled, categories.
HISTORY = {
    "S-1001": (3, 0.02, 0.03, ("digital", "appliances")),
    "S-1002": (2, 0.08, 0.05, ("living",)),
    "S-1003": (2, 0.0, 0.02, ("fashion", None)),
}
HISTORY_DAYS = 75


def _load_history(session: Session, *, sellers: dict, now: datetime) -> None:
    """Delivered and cancelled orders of the last weeks (other buyers than the demo's logins), so that each seller's
    scorecard has figures, a grade and a trend; then the scorecard rebuilt with a snapshot for each of those days."""
    rng = random.Random(20261207)  # noqa: S311 - demo data, not secrets  # nosec B311
    buyer = create_buyer(session, "B-2999", name="과거 주문 고객", contact=None, language="ko", actor=DEMO, now=now)
    number = 0
    for seller_ref, (per_day, late_share, cancel_share, categories) in HISTORY.items():
        for days_ago in range(HISTORY_DAYS, 1, -1):
            for _ in range(rng.randint(per_day - 1, per_day + 1)):
                number += 1
                paid_at = now - timedelta(days=days_ago, hours=rng.randint(0, 12))
                category = rng.choice(categories)
                item = {"sku": f"H-{number}", "name": "지난 주문 상품", "quantity": 1}
                if category:
                    item["category"] = category
                order = create_order(
                    session,
                    f"O-H{number:05d}",
                    seller=sellers[seller_ref],
                    buyer=buyer,
                    amount=rng.randrange(10_000, 200_000, 100),
                    items=[item],
                    paid_at=paid_at,
                    actor=DEMO,
                    now=paid_at,
                )
                roll = rng.random()
                if roll < cancel_share:
                    order.status = OrderStatus.CANCELLED
                    order.cancel_initiated_by = CancelInitiator.BUYER
                    order.cancelled_at = order.refunded_at = paid_at + timedelta(hours=2)
                    continue
                late = roll < cancel_share + late_share
                order.ship_by = paid_at + timedelta(days=3)
                order.shipped_at = paid_at + (timedelta(days=5) if late else timedelta(hours=rng.randint(6, 60)))
                order.delivered_at = order.shipped_at + timedelta(days=1)
                order.status = OrderStatus.DELIVERED
                order.late_shipment_checked_at = order.ship_by
    session.flush()
    rebuild(session, now=now, actor=DEMO)
    for days_ago in range(HISTORY_DAYS - 30, 0, -1):
        snapshot_day(session, business_calendar(session).local_date(now - timedelta(days=days_ago)), now=now)


def _load_claims(session: Session, *, sellers: dict, buyers: dict, now: datetime) -> None:
    """A claim in each state a person meets first: the Gmarket case, a proposal to answer, a silent seller."""
    # The Gmarket case: the seller cancels a paid order for "out of stock" on its own; the claim opens by itself.
    outcome = ingest_events(
        session,
        [
            {
                "id": "demo-cancel-O-30002",
                "type": "order.cancelled",
                "occurred_at": (now - timedelta(hours=3)).isoformat(),
                "order": {"id": "O-30002"},
                "initiated_by": "seller",
                "reason": "out_of_stock",
            }
        ],
        actor=DEMO,
        now=now,
    )
    if outcome.results[0].error is not None:
        raise RuntimeError(f"demo cancellation refused: {outcome.results[0].error}")
    orders = {order.external_id: order for order in session.scalars(sa.select(Order))}
    users = {user.email: Actor.for_user(user) for user in session.scalars(sa.select(User))}
    damaged = file_claim(
        session,
        orders["O-30001"],
        "damaged",
        description="화면 모서리에 금이 가 있습니다. 상자도 찌그러져 왔어요.",
        actor=users["buyer@demo.example"],
        now=now - timedelta(hours=20),
    )
    propose_remedy(
        session,
        damaged,
        "partial_refund",
        amount=50_000,
        message="불편을 드려 죄송합니다. 50,000원 부분 환불로 해결해 드리고 싶습니다.",
        actor=users["seller@hanbit.example"],
        now=now - timedelta(hours=2),
    )
    # Filed five days ago and never answered: the scheduler escalates it on its first run.
    file_claim(
        session,
        orders["O-30004"],
        "non_delivery",
        description="It has been a week and the tracking page shows nothing.",
        actor=users["alex@demo.example"],
        now=now - timedelta(days=5),
    )
