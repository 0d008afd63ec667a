"""Object-level permissions: a seller sees its own, a buyer their own, staff and scoped keys all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from marketplace.core.auth import ANONYMOUS, Actor
from marketplace.core.errors import Forbidden, NotFound, Unauthorized
from marketplace.core.models import ApiKey, Role
from marketplace.core.permissions import EVERYONE, authorize, can, define_permission
from marketplace.orders.models import Order
from marketplace.orders.operations import create_order
from marketplace.orders.queries import recent_orders
from tests.conftest import SETUP, START

READ_ORDER = define_permission("test.order.read", roles=EVERYONE, scopes=("calendar:read",))
DECIDE = define_permission("test.order.decide", roles=(Role.SUPERVISOR, Role.ADMIN))


@pytest.fixture
def orders(session: Session, make_seller, make_buyer) -> dict[str, Order]:
    """Two sellers, two buyers, an order each way."""
    s1, s2 = make_seller(), make_seller()
    b1, b2 = make_buyer(), make_buyer()
    made = {}
    for name, seller, buyer, hours in (("s1b1", s1, b1, 1), ("s2b2", s2, b2, 2)):
        made[name] = create_order(
            session,
            f"O-{name}",
            seller=seller,
            buyer=buyer,
            amount=10_000,
            items=[],
            paid_at=START - timedelta(hours=hours),
            actor=SETUP,
            now=START,
        )
    return made


def _actor(make_user, role: str, **kwargs) -> Actor:
    return Actor.for_user(make_user(role, **kwargs))


def test_seller_user_sees_own_order_and_not_another_sellers(make_user, orders) -> None:
    """Another seller's order is reported as not found, never as forbidden."""
    seller_user = _actor(make_user, "seller", seller=orders["s1b1"].seller)
    authorize(seller_user, READ_ORDER, orders["s1b1"])
    with pytest.raises(NotFound):
        authorize(seller_user, READ_ORDER, orders["s2b2"])


def test_buyer_sees_own_order_only(make_user, orders) -> None:
    """A buyer's login reaches their own orders only."""
    buyer = _actor(make_user, "buyer", buyer=orders["s2b2"].buyer)
    assert can(buyer, READ_ORDER, orders["s2b2"])
    assert not can(buyer, READ_ORDER, orders["s1b1"])


def test_role_without_permission_is_forbidden(make_user, orders) -> None:
    """An agent may read but not decide; a supervisor may decide."""
    agent = _actor(make_user, "agent")
    authorize(agent, READ_ORDER, orders["s1b1"])
    with pytest.raises(Forbidden):
        authorize(agent, DECIDE, orders["s1b1"])
    authorize(_actor(make_user, "supervisor"), DECIDE, orders["s1b1"])


def test_anonymous_is_unauthorized() -> None:
    """Without credentials nothing is allowed."""
    with pytest.raises(Unauthorized):
        authorize(ANONYMOUS, READ_ORDER)


def test_api_key_needs_the_scope(orders) -> None:
    """A key with the scope sees every order; without it, nothing."""
    scoped = Actor.for_api_key(ApiKey(id=1, name="x", scopes=["calendar:read"]))
    unscoped = Actor.for_api_key(ApiKey(id=2, name="y", scopes=["calendar:write"]))
    assert can(scoped, READ_ORDER, orders["s2b2"])
    with pytest.raises(Forbidden):
        authorize(unscoped, READ_ORDER, orders["s2b2"])


def test_visible_to_filters_lists_per_party(session: Session, make_user, orders) -> None:
    """List queries return exactly what each party may see."""
    staff = _actor(make_user, "agent")
    seller_user = _actor(make_user, "seller", seller=orders["s1b1"].seller)
    buyer = _actor(make_user, "buyer", buyer=orders["s2b2"].buyer)
    assert [o.external_id for o in recent_orders(session, staff)[0]] == ["O-s1b1", "O-s2b2"]
    assert [o.external_id for o in recent_orders(session, seller_user)[0]] == ["O-s1b1"]
    assert [o.external_id for o in recent_orders(session, buyer)[0]] == ["O-s2b2"]
    assert recent_orders(session, ANONYMOUS) == ([], 0)


def test_home_page_lists_only_the_buyers_orders(client, make_user, orders) -> None:
    """Through the page as well, a buyer never sees someone else's order."""
    from tests.conftest import login

    user = make_user("buyer", buyer=orders["s1b1"].buyer)
    login(client, user)
    page = client.get("/").get_data(as_text=True)
    assert "O-s1b1" in page and "O-s2b2" not in page
    assert "10,000원" in page
