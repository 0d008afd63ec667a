"""Who sees a seller's standing, violations, sanctions and appeals: its own users and staff; another seller's user
gets 404 everywhere, a buyer 403, and the marketplace reads standing with a scoped key."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.core.auth import Actor
from marketplace.sanctions.operations import file_appeal
from marketplace.sanctions.policy import DEFAULT_SANCTION_POLICY
from tests.claims.test_api import PROBLEM, Caller, api_client, person
from tests.sanctions.conftest import Shop, escalate, kst


@pytest.fixture
def shop(session: Session, make_shop, make_user, clock) -> Shop:
    """A seller at warning (the issue's scenario) with an open appeal of its warning."""
    shop = make_shop(name="품절상회")
    for day in range(14, 19):
        shop.paid(2, at=kst(2026, 9, day, 10, 0))
    shop.cancel(shop.orders[0], at=kst(2026, 9, 21, 10, 0))
    shop.cancel(shop.orders[1], at=kst(2026, 9, 22, 10, 0))
    for index, day in enumerate((22, 23, 29)):
        shop.complain(shop.orders[2 + index], at=kst(2026, 9, day, 11, 0))
    escalate(session, now=kst(2026, 10, 5, 9, 0))
    clock.set(kst(2026, 10, 5, 10, 0))
    seller_user = make_user("seller", seller=shop.seller)
    warning = shop.sanctions()[-1]
    shop.appeal = file_appeal(
        session,
        sanction=warning,
        root_cause="재고 연동 오류",
        actions_taken="재고 시스템 점검",
        prevention="매일 재고 확인",
        actor=Actor.for_user(seller_user),
        now=kst(2026, 10, 5, 10, 0),
    )
    session.commit()
    shop.user = seller_user
    return shop


def _paths(shop: Shop) -> list[str]:
    seller_id = shop.seller.external_id
    return [
        f"/api/v1/sellers/{seller_id}/standing",
        f"/api/v1/sellers/{seller_id}/violations",
        f"/api/v1/sellers/{seller_id}/sanctions",
        f"/api/v1/sellers/{seller_id}/stage-history",
        f"/api/v1/sellers/{seller_id}/appeals",
        f"/api/v1/violations/{shop.violations()[0].id}",
        f"/api/v1/sanctions/{shop.sanctions()[0].id}",
        f"/api/v1/appeals/{shop.appeal.id}",
    ]


def test_seller_user_sees_its_own_standing_violations_sanctions_and_appeals(app: Flask, shop: Shop) -> None:
    """Every read answers 200 for the seller's own user."""
    own = person(app, shop.user)
    for path in _paths(shop):
        assert own.get(path).status_code == 200, path


def test_another_sellers_user_gets_404_on_every_read(app: Flask, shop: Shop, make_user: Any) -> None:
    """Someone else's standing, violations, sanctions, history and appeals do not exist for them."""
    outsider = person(app, make_user("seller"))
    for path in _paths(shop):
        response = outsider.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == PROBLEM


def test_another_sellers_user_cannot_appeal_or_see_the_appeal_queue_entries(
    app: Flask, shop: Shop, make_user: Any
) -> None:
    """Appealing someone else's violation is a 404; the appeal list shows only its own (none)."""
    outsider = person(app, make_user("seller"))
    plan = {"root_cause": "a", "actions_taken": "b", "prevention": "c"}
    assert outsider.post(f"/api/v1/violations/{shop.violations()[0].id}/appeals", plan).status_code == 404
    assert outsider.get("/api/v1/appeals").json["items"] == []


def test_buyer_sees_none_of_it(app: Flask, shop: Shop, make_user: Any) -> None:
    """A buyer's role may not read standing or sanctions at all: 403 everywhere."""
    buyer = person(app, make_user("buyer"))
    for path in [*_paths(shop), "/api/v1/appeals", "/api/v1/sanctions", "/api/v1/standings"]:
        assert buyer.get(path).status_code == 403, path


def test_marketplace_reads_standing_with_a_standing_key(app: Flask, shop: Shop, make_api_key: Any) -> None:
    """standing:read answers the standing, but no violations or appeals."""
    _key, secret = make_api_key("standing:read")
    marketplace = api_client(app, secret)
    response = marketplace.get(f"/api/v1/sellers/{shop.seller.external_id}/standing")
    assert response.status_code == 200
    assert (response.json["stage"], response.json["may_list"], response.json["may_sell"]) == ("warning", False, True)
    assert marketplace.get(f"/api/v1/sellers/{shop.seller.external_id}/violations").status_code == 403


def test_key_without_a_sanctions_scope_cannot_read_standing(app: Flask, shop: Shop, make_api_key: Any) -> None:
    """A key for claims only is refused with 403."""
    _key, secret = make_api_key("claims:read")
    response = api_client(app, secret).get(f"/api/v1/sellers/{shop.seller.external_id}/standing")
    assert response.status_code == 403 and response.json["code"] == "forbidden"


def test_anonymous_caller_gets_401(client: Any, shop: Shop) -> None:
    """No credentials: 401 with the Bearer challenge."""
    response = client.get(f"/api/v1/sellers/{shop.seller.external_id}/standing")
    assert response.status_code == 401 and "Bearer" in response.headers["WWW-Authenticate"]


def test_unknown_seller_is_404(app: Flask, make_user: Any) -> None:
    """No seller has this id."""
    agent = person(app, make_user("agent"))
    assert agent.get("/api/v1/sellers/S-NOBODY/standing").status_code == 404


@pytest.mark.parametrize(
    ("role", "method", "path", "body"),
    [
        pytest.param(
            "seller", "post", "/api/v1/sellers/{seller}/violations", {"points": 1, "reason": "x"}, id="record"
        ),
        pytest.param("agent", "post", "/api/v1/violations/{violation}/overturn", {"reason": "x"}, id="overturn"),
        pytest.param(
            "agent", "post", "/api/v1/sellers/{seller}/sanctions", {"stage": "warning", "reason": "x"}, id="impose"
        ),
        pytest.param("agent", "post", "/api/v1/sanctions/{sanction}/lift", {"reason": "x"}, id="lift"),
        pytest.param(
            "agent",
            "post",
            "/api/v1/sanctions/{sanction}/shorten",
            {"ends_at": "2026-10-06T00:00:00+09:00", "reason": "x"},
            id="shorten",
        ),
        pytest.param(
            "agent",
            "post",
            "/api/v1/violations/{violation}/appeals",
            {"root_cause": "a", "actions_taken": "b", "prevention": "c"},
            id="staff-cannot-appeal",
        ),
        pytest.param(
            "seller", "post", "/api/v1/appeals/{appeal}/decision", {"outcome": "accepted", "reason": "x"}, id="decide"
        ),
        pytest.param(
            "agent",
            "post",
            "/api/v1/pauses",
            {
                "starts_at": "2026-10-01T00:00:00+09:00",
                "ends_at": "2026-10-02T00:00:00+09:00",
                "kinds": ["late_shipment"],
                "reason": "x",
            },
            id="pause",
        ),
        pytest.param(
            "agent",
            "put",
            "/api/v1/policies/sanctions",
            {"document": DEFAULT_SANCTION_POLICY, "note": "x"},
            id="policy",
        ),
    ],
)
def test_roles_without_the_permission_get_403_and_nothing_changes(
    app: Flask, shop: Shop, make_user: Any, session: Session, role: str, method: str, path: str, body: dict
) -> None:
    """Agents record and decide appeals; supervisors overturn, impose, lift, pause and publish; sellers appeal."""
    caller: Caller = person(app, shop.user if role == "seller" else make_user(role))
    before = (len(shop.violations()), [(s.id, s.ended_at, s.ends_at) for s in shop.sanctions()])
    target = path.format(
        seller=shop.seller.external_id,
        violation=shop.violations()[0].id,
        sanction=shop.sanctions()[-1].id,
        appeal=shop.appeal.id,
    )
    response = getattr(caller, method)(target, body)
    assert response.status_code == 403, response.json
    assert (len(shop.violations()), [(s.id, s.ended_at, s.ends_at) for s in shop.sanctions()]) == before
