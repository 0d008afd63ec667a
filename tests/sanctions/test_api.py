"""The sanctions API as staff, sellers and the marketplace use it: standing, manual violations, overturning, impose /
shorten / lift, appeals, force-majeure pauses, the policy and its what-if, and the webhooks every change writes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace.notifications.models import OutboxMessage
from marketplace.sanctions.models import AppealStatus, Stage, ViolationState
from marketplace.sanctions.policy import DEFAULT_SANCTION_POLICY
from tests.claims.test_api import PROBLEM, Caller, api_client, person
from tests.claims.test_api import kst as kst_text
from tests.sanctions.conftest import Shop, escalate, kst, run_sweeps

PLAN = {"root_cause": "품절 상품 자동 연동 실패", "actions_taken": "재고 연동 복구", "prevention": "매일 재고 대조"}


@pytest.fixture
def shop(session: Session, make_shop, clock) -> Shop:
    """The issue's seller at warning since 10-02 23:59:59 (notice since 09-29), seen on 10-05 10:00."""
    shop = make_shop(name="품절상회")
    for day in range(14, 19):
        shop.paid(2, at=kst(2026, 9, day, 10, 0))
    shop.cancel(shop.orders[0], at=kst(2026, 9, 21, 10, 0))
    shop.cancel(shop.orders[1], at=kst(2026, 9, 22, 10, 0))
    for index, day in enumerate((22, 23, 29)):
        shop.complain(shop.orders[2 + index], at=kst(2026, 9, day, 11, 0))
    escalate(session, now=kst(2026, 10, 5, 9, 0))
    clock.set(kst(2026, 10, 5, 10, 0))
    return shop


@pytest.fixture
def seller(app: Flask, shop: Shop, make_user: Any) -> Caller:
    """A user of the shop."""
    return person(app, make_user("seller", seller=shop.seller))


@pytest.fixture
def agent(app: Flask, make_user: Any) -> Caller:
    """A trust-and-safety agent."""
    return person(app, make_user("agent"))


@pytest.fixture
def supervisor(app: Flask, make_user: Any) -> Caller:
    """A supervisor."""
    return person(app, make_user("supervisor"))


def _standing(caller: Caller, shop: Shop) -> dict[str, Any]:
    response = caller.get(f"/api/v1/sellers/{shop.seller.external_id}/standing")
    assert response.status_code == 200, response.json
    return response.json


def test_standing_shows_what_the_seller_may_do_and_why(app: Flask, shop: Shop, make_api_key: Any) -> None:
    """Warning: no new listings, selling allowed, 10 points over 10 orders, both sanctions in force."""
    _key, secret = make_api_key("standing:read")
    standing = _standing(api_client(app, secret), shop)
    assert standing["seller"] == {"id": shop.seller.external_id, "name": "품절상회"}
    assert (standing["stage"], standing["may_list"], standing["may_sell"]) == ("warning", False, True)
    assert (standing["active_points"], standing["orders_in_window"], standing["ratio_percent"]) == (10, 10, "100.0")
    assert standing["window_days"] == 30 and standing["changed_at"] == kst_text(2026, 10, 2, 23, 59, 59)
    warning, notice = standing["sanctions"]
    assert warning["stage"] == "warning" and warning["source"] == "rules" and warning["reason"] == "sanction_threshold"
    assert warning["starts_at"] == kst_text(2026, 10, 2, 23, 59, 59)
    assert warning["ends_at"] == kst_text(2026, 10, 9, 23, 59, 59)
    assert notice["stage"] == "notice" and notice["ends_at"] == kst_text(2026, 10, 29, 23, 59, 59)


def test_seller_with_no_violation_is_in_good_standing(app: Flask, make_shop, make_api_key: Any) -> None:
    """No row yet: stage none, may list and sell, nothing in force."""
    clean = make_shop(name="모범상점")
    _key, secret = make_api_key("standing:read")
    standing = _standing(api_client(app, secret), clean)
    assert (standing["stage"], standing["may_list"], standing["may_sell"], standing["active_points"]) == (
        "none",
        True,
        True,
        0,
    )
    assert standing["sanctions"] == [] and standing["orders_in_window"] is None


def test_every_standing_change_writes_one_webhook_in_order(shop: Shop, session: Session) -> None:
    """One webhook per change: each cancellation, then the catch-up sweep's three missed deadlines (one change:
    10 points and a warning, reached through a notice), keyed by revision, with the marketplace's seller id."""
    rows = session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.topic == "seller.standing_changed").order_by(OutboxMessage.id)
    ).all()
    bodies = [row.payload["data"] for row in rows if row.payload["data"]["seller_id"] == shop.seller.external_id]
    assert [(body["active_points"], body["stage"], body["may_list"]) for body in bodies] == [
        (2, "none", True),
        (4, "none", True),
        (10, "warning", False),
    ]
    keys = [row.dedupe_key for row in rows if row.payload["data"]["seller_id"] == shop.seller.external_id]
    assert keys == [f"seller.standing_changed:{shop.seller.id}:{revision}" for revision in range(1, 4)]
    assert bodies[-1]["changed_at"] == "2026-10-02T14:59:59+00:00"
    assert [sanction["stage"] for sanction in bodies[-1]["sanctions"]] == ["warning", "notice"]


def test_seller_sees_its_violations_with_their_deadlines_and_who_recorded_them(seller: Caller, shop: Shop) -> None:
    """Newest first, kinds labelled in Korean, recorded by the system, appealable until their deadline."""
    page = seller.get(f"/api/v1/sellers/{shop.seller.external_id}/violations").json
    assert page["total"] == 5
    newest = page["items"][0]
    assert newest["kind"] == "response_missed" and newest["kind_label"] == "응답 기한 미준수"
    assert newest["points"] == 2 and newest["state"] == "active" and newest["recorded_by"] == "system"
    assert newest["occurred_at"] == kst_text(2026, 10, 2, 23, 59, 59)
    assert newest["expires_at"] == kst_text(2026, 11, 1, 23, 59, 59)
    assert newest["order_id"] == shop.orders[4].external_id


def test_agent_records_a_manual_violation_that_moves_the_seller(agent: Caller, shop: Shop) -> None:
    """3 points during the warning: 13 points, one stage up to restricted, selling stopped."""
    response = agent.post(
        f"/api/v1/sellers/{shop.seller.external_id}/violations",
        {"points": 3, "reason": "허위 발송 처리", "order_id": shop.orders[6].external_id},
    )
    assert response.status_code == 201, response.json
    assert response.json["kind"] == "manual" and response.json["points"] == 3
    assert response.json["recorded_by"].startswith("user:") and response.json["reason"] == "허위 발송 처리"
    standing = _standing(agent, shop)
    assert (standing["stage"], standing["may_sell"], standing["active_points"]) == ("restricted", False, 13)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": 11, "reason": "x"}, "points"),
        ({"points": 0, "reason": "x"}, "points"),
        ({"points": 2, "reason": "x", "occurred_at": "2026-10-06T00:00:00+09:00"}, "occurred_at"),
        ({"points": 2, "reason": "x", "occurred_at": "2026-09-01T00:00:00+09:00"}, "occurred_at"),
        ({"points": 2, "reason": "   "}, "reason"),
        ({"points": 2, "reason": "x", "state": "active"}, "state"),
        ({"points": "2", "reason": "x"}, "points"),
    ],
)
def test_manual_violation_refuses_bad_input_naming_the_field(
    agent: Caller, shop: Shop, body: dict[str, Any], field: str
) -> None:
    """Points outside 1…10, a time in the future or outside the window, no reason, or an unknown field."""
    response = agent.post(f"/api/v1/sellers/{shop.seller.external_id}/violations", body)
    assert response.status_code == 422 and response.mimetype == PROBLEM
    assert response.json["field"] == field
    assert len(shop.violations()) == 5


def test_supervisor_overturns_a_violation_and_what_it_alone_justified_is_lifted(supervisor: Caller, shop: Shop) -> None:
    """Overturning the third missed deadline: 8 points, the warning it triggered is lifted, the notice stays."""
    third = shop.violations()[-1]
    response = supervisor.post(f"/api/v1/violations/{third.id}/overturn", {"reason": "택배사 전산 장애"})
    assert response.status_code == 200 and response.json["state"] == "overturned"
    standing = _standing(supervisor, shop)
    assert (standing["stage"], standing["may_list"], standing["active_points"]) == ("notice", True, 8)
    warning = shop.sanctions()[-1]
    assert warning.ended_how.value == "lifted" and warning.end_cause.value == "no_longer_justified"
    again = supervisor.post(f"/api/v1/violations/{third.id}/overturn", {"reason": "또"})
    assert again.status_code == 409 and again.json["current_status"] == "overturned"


def test_accepted_appeal_removes_the_points_and_lifts_what_is_no_longer_justified(
    seller: Caller, agent: Caller, shop: Shop
) -> None:
    """The first missed deadline appealed and accepted: 8 points, the notice (its trigger) and the warning
    (8 < 10 points at its start) are lifted; the seller may list again."""
    first_missed = next(v for v in shop.violations() if v.kind.value == "response_missed")
    filed = seller.post(f"/api/v1/violations/{first_missed.id}/appeals", PLAN)
    assert filed.status_code == 201, filed.json
    assert filed.json["status"] == "open" and filed.json["filed_by"] == "seller"
    decided = agent.post(f"/api/v1/appeals/{filed.json['id']}/decision", {"outcome": "accepted", "reason": "소명 인정"})
    assert decided.status_code == 200 and decided.json["status"] == "accepted"
    standing = _standing(seller, shop)
    assert (standing["stage"], standing["may_list"], standing["may_sell"]) == ("none", True, True)
    assert standing["active_points"] == 8 and standing["sanctions"] == []
    assert shop.violations()[2].state is ViolationState.OVERTURNED
    history = seller.get(f"/api/v1/sellers/{shop.seller.external_id}/stage-history").json["items"]
    assert (history[0]["from_stage"], history[0]["to_stage"], history[0]["cause"]) == (
        "warning",
        "none",
        "appeal_accepted",
    )


def test_rejected_appeal_changes_nothing_but_the_appeal(seller: Caller, agent: Caller, shop: Shop) -> None:
    """Rejected with a reason: the violation still counts, the seller still at warning."""
    warning = shop.sanctions()[-1]
    filed = seller.post(f"/api/v1/sanctions/{warning.id}/appeals", PLAN).json
    decided = agent.post(f"/api/v1/appeals/{filed['id']}/decision", {"outcome": "rejected", "reason": "근거 부족"})
    assert decided.json["status"] == "rejected" and decided.json["decision_reason"] == "근거 부족"
    assert _standing(seller, shop)["stage"] == "warning"


def test_accepted_appeal_of_a_sanction_lifts_it(seller: Caller, agent: Caller, shop: Shop) -> None:
    """The warning's appeal accepted: lifted, the seller back at notice."""
    warning = shop.sanctions()[-1]
    filed = seller.post(f"/api/v1/sanctions/{warning.id}/appeals", PLAN).json
    agent.post(f"/api/v1/appeals/{filed['id']}/decision", {"outcome": "accepted", "reason": "재발 방지책 확인"})
    shown = seller.get(f"/api/v1/sanctions/{warning.id}").json
    assert shown["in_force"] is False and shown["ended_how"] == "lifted" and shown["end_reason"] == "재발 방지책 확인"
    assert _standing(seller, shop)["stage"] == "notice"


def test_one_open_appeal_per_item(seller: Caller, shop: Shop) -> None:
    """A second appeal of the same violation while the first is open is a conflict."""
    violation = shop.violations()[-1]
    assert seller.post(f"/api/v1/violations/{violation.id}/appeals", PLAN).status_code == 201
    again = seller.post(f"/api/v1/violations/{violation.id}/appeals", PLAN)
    assert again.status_code == 409 and again.json["field"] == "item"


def test_appeal_after_its_deadline_is_refused(seller: Caller, shop: Shop) -> None:
    """The 09-21 cancellation could be appealed until 10-02 23:59:59 (7 business days); on 10-05 it is too late."""
    first = shop.violations()[0]
    assert first.appeal_due_at == kst(2026, 10, 2, 23, 59, 59)
    response = seller.post(f"/api/v1/violations/{first.id}/appeals", PLAN)
    assert response.status_code == 409 and "2026-10-02 23:59" in response.json["detail"]


def test_agent_cannot_accept_an_appeal_that_lifts_a_restriction(
    seller: Caller, agent: Caller, supervisor: Caller, shop: Shop, clock
) -> None:
    """Restricted after one more cancellation: an agent's acceptance is refused (403), a supervisor's goes through."""
    shop.cancel(shop.orders[5], at=kst(2026, 10, 5, 11, 0))
    clock.set(kst(2026, 10, 5, 12, 0))
    restricted = shop.sanctions()[-1]
    assert restricted.stage is Stage.RESTRICTED
    filed = seller.post(f"/api/v1/sanctions/{restricted.id}/appeals", PLAN).json
    refused = agent.post(f"/api/v1/appeals/{filed['id']}/decision", {"outcome": "accepted", "reason": "x"})
    assert refused.status_code == 403
    accepted = supervisor.post(
        f"/api/v1/appeals/{filed['id']}/decision", {"outcome": "accepted", "reason": "검토 완료"}
    )
    assert accepted.status_code == 200 and accepted.json["status"] == AppealStatus.ACCEPTED.value
    assert _standing(seller, shop)["may_sell"] is True


def test_supervisor_imposes_shortens_and_lifts_a_sanction(supervisor: Caller, shop: Shop, clock) -> None:
    """Restricted by hand (until review), shortened to 10-07, ended by the sweep as shortened; then lifted notice."""
    imposed = supervisor.post(
        f"/api/v1/sellers/{shop.seller.external_id}/sanctions",
        {"stage": "restricted", "reason": "반복 위반 조사", "violation_ids": [shop.violations()[0].id]},
    )
    assert imposed.status_code == 201, imposed.json
    assert imposed.json["ends_at"] is None and imposed.json["source"] == "staff"
    assert imposed.json["reason"] == "반복 위반 조사" and imposed.json["may_sell"] is False
    assert _standing(supervisor, shop)["may_sell"] is False
    shortened = supervisor.post(
        f"/api/v1/sanctions/{imposed.json['id']}/shorten",
        {"ends_at": "2026-10-07T00:00:00+09:00", "reason": "소명 확인"},
    )
    assert shortened.status_code == 200 and shortened.json["ends_at"] == kst_text(2026, 10, 7, 0, 0)
    run_sweeps(shop.session, now=kst(2026, 10, 7, 0, 0))
    ended = supervisor.get(f"/api/v1/sanctions/{imposed.json['id']}").json
    assert ended["ended_how"] == "shortened" and ended["ended_at"] == kst_text(2026, 10, 7, 0, 0)
    notice = shop.sanctions()[0]
    lifted = supervisor.post(f"/api/v1/sanctions/{notice.id}/lift", {"reason": "정상화"})
    assert lifted.status_code == 200 and lifted.json["in_force"] is False
    again = supervisor.post(f"/api/v1/sanctions/{notice.id}/lift", {"reason": "또"})
    assert again.status_code == 409


def test_imposing_a_stage_already_in_force_is_a_conflict(supervisor: Caller, shop: Shop) -> None:
    """The seller is at warning already: another warning by hand is refused, nothing is written."""
    before = len(shop.sanctions())
    response = supervisor.post(
        f"/api/v1/sellers/{shop.seller.external_id}/sanctions", {"stage": "warning", "reason": "중복"}
    )
    assert response.status_code == 409 and len(shop.sanctions()) == before


def test_shortening_to_later_or_to_the_past_is_refused(supervisor: Caller, shop: Shop) -> None:
    """The warning ends 10-09: shortening to 10-10, or to yesterday, names ends_at."""
    warning = shop.sanctions()[-1]
    for ends_at in ("2026-10-10T00:00:00+09:00", "2026-10-04T00:00:00+09:00"):
        response = supervisor.post(f"/api/v1/sanctions/{warning.id}/shorten", {"ends_at": ends_at, "reason": "x"})
        assert response.status_code == 422 and response.json["field"] == "ends_at"


def test_force_majeure_stops_late_shipment_points_but_not_seller_cancellation_points(
    app: Flask, supervisor: Caller, make_shop, session: Session, clock
) -> None:
    """A courier strike 10-05 … 10-09: late shipments in it count nothing (those recorded before are set aside),
    a seller cancellation in it still counts 2 points."""
    shop = make_shop(name="지연상점")
    before = shop.paid(1, at=kst(2026, 10, 1, 9, 0), ship_by=kst(2026, 10, 5, 23, 59, 59))
    shop.ship_late(before[0])
    assert shop.standing().active_points == 1
    clock.set(kst(2026, 10, 6, 9, 0))
    declared = supervisor.post(
        "/api/v1/pauses",
        {
            "starts_at": "2026-10-05T00:00:00+09:00",
            "ends_at": "2026-10-10T00:00:00+09:00",
            "kinds": ["late_shipment"],
            "reason": "택배 파업",
        },
    )
    assert declared.status_code == 201 and declared.json["set_aside_count"] == 1
    assert shop.standing().active_points == 0
    during = shop.paid(2, at=kst(2026, 10, 5, 9, 0), ship_by=kst(2026, 10, 7, 23, 59, 59))
    shop.ship_late(during[0])
    shop.cancel(during[1], at=kst(2026, 10, 7, 10, 0))
    states = [(v.kind.value, v.state.value) for v in shop.violations()]
    assert states == [
        ("late_shipment", "set_aside"),
        ("late_shipment", "set_aside"),
        ("seller_cancellation", "active"),
    ]
    assert shop.standing().active_points == 2
    run_sweeps(session, now=kst(2026, 10, 14, 0, 0))  # a set-aside late shipment is never raised either
    assert shop.standing().active_points == 2
    assert supervisor.get("/api/v1/pauses").json["items"][0]["set_aside_count"] == 2


def test_pause_refuses_kinds_it_cannot_cover(supervisor: Caller) -> None:
    """Counterfeits are never force majeure."""
    response = supervisor.post(
        "/api/v1/pauses",
        {
            "starts_at": "2026-10-05T00:00:00+09:00",
            "ends_at": "2026-10-10T00:00:00+09:00",
            "kinds": ["counterfeit"],
            "reason": "x",
        },
    )
    assert response.status_code == 422 and response.json["field"].startswith("kinds")


def test_policy_starts_at_the_design_defaults_and_supervisors_publish_versions(
    seller: Caller, supervisor: Caller
) -> None:
    """Version 0 is DESIGN.md §5; a supervisor publishes version 1; sellers read the rules too."""
    current = seller.get("/api/v1/policies/sanctions").json
    assert current["version"] == 0 and current["document"] == DEFAULT_SANCTION_POLICY
    document = copy.deepcopy(DEFAULT_SANCTION_POLICY)
    document["stage_days"]["warning"] = 14
    published = supervisor.put("/api/v1/policies/sanctions", {"document": document, "note": "경고 기간 연장"})
    assert published.status_code == 200 and published.json["version"] == 1
    versions = supervisor.get("/api/v1/policies/sanctions/versions").json
    assert [version["version"] for version in versions] == [1, 0]


def test_policy_with_a_bad_value_names_the_field(supervisor: Caller) -> None:
    """A window of 0 days is refused."""
    document = copy.deepcopy(DEFAULT_SANCTION_POLICY)
    document["window_days"] = 0
    response = supervisor.put("/api/v1/policies/sanctions", {"document": document, "note": "x"})
    assert response.status_code == 422 and "document.window_days" in response.json["errors"]


def test_simulation_endpoint_shows_counts_per_stage_and_who_changes(agent: Caller, shop: Shop) -> None:
    """A window of 3 days: the shop's old violations no longer count, so it would be at notice only."""
    document = copy.deepcopy(DEFAULT_SANCTION_POLICY)
    document["sanction_threshold"] = {"points": 20, "ratio_percent": 40}
    response = agent.post("/api/v1/policies/sanctions/simulation", {"document": document, "days": 30})
    assert response.status_code == 200, response.json
    result = response.json
    stages = {row["stage"]: (row["current"], row["candidate"]) for row in result["stages"]}
    assert stages["warning"] == (1, 0) and stages["notice"] == (0, 1)
    [change] = result["changed"]
    assert change["seller"]["id"] == shop.seller.external_id
    assert change["current"]["stage"] == "warning" and change["candidate"]["stage"] == "notice"
    assert result["changed_total"] == 1 and result["current_version"] == 0


def test_staff_list_sellers_by_stage(agent: Caller, shop: Shop) -> None:
    """The standings list filtered by stage finds the shop at warning."""
    page = agent.get("/api/v1/standings?stage=warning").json
    assert [item["seller"]["id"] for item in page["items"]] == [shop.seller.external_id]
    assert agent.get("/api/v1/standings?stage=restricted").json["total"] == 0


def test_staff_list_sanctions_in_force(agent: Caller, shop: Shop) -> None:
    """Both of the shop's sanctions are in force; the rule's reason is explained in the reader's language."""
    page = agent.get("/api/v1/sanctions?in_force=true").json
    assert [item["stage"] for item in page["items"]] == ["warning", "notice"]
    assert page["items"][0]["reason"] == "10점 / 주문 10건으로 제재 기준에 도달해 한 단계 올라갔습니다."
