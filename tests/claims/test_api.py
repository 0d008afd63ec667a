"""The claims API: filing and the whole lifecycle, as buyers, sellers and staff see it.

The helpers here (``Caller``, ``Cast``) are shared by the other claims API test modules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.claims import operations, sweeps
from marketplace.claims.models import Claim, ClaimEvent, Evidence
from marketplace.core.clock import FrozenClock
from marketplace.core.models import AuditRecord, User
from marketplace.orders.models import CancelInitiator, Order, OrderStatus
from tests.conftest import SETUP, START, csrf_token, login

KST = ZoneInfo("Asia/Seoul")
PROBLEM = "application/problem+json"


class Caller:
    """Someone calling the API: a logged-in person (sending the page's CSRF token) or an API key."""

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def get(self, path: str, **kwargs: Any) -> Any:
        """GET ``path``."""
        return self.client.get(path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        """POST JSON (or ``data=`` for a form) to ``path``."""
        if json is not None:
            kwargs["json"] = json
        return self.client.post(path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        """PUT JSON to ``path``."""
        return self.client.put(path, json=json, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)


def person(app: Flask, user: User) -> Caller:
    """A logged-in browser session for ``user``, with its CSRF token."""
    client = app.test_client()
    login(client, user)
    return Caller(client, {"X-CSRFToken": csrf_token(client.get("/").get_data(as_text=True))})


def api_client(app: Flask, secret: str) -> Caller:
    """One of the marketplace's systems, calling with an API key."""
    return Caller(app.test_client(), {"Authorization": f"Bearer {secret}"})


class Cast:
    """An order and everyone around it; each person is created (and logged in) when first used."""

    def __init__(self, app: Flask, make_user: Any, make_api_key: Any, order: Order) -> None:
        self.app = app
        self.make_user = make_user
        self.make_api_key = make_api_key
        self.order = order

    @cached_property
    def buyer(self) -> Caller:
        """The order's buyer."""
        return person(self.app, self.make_user("buyer", buyer=self.order.buyer))

    @cached_property
    def seller(self) -> Caller:
        """A user of the order's seller."""
        return person(self.app, self.make_user("seller", seller=self.order.seller))

    @cached_property
    def agent(self) -> Caller:
        """A trust-and-safety agent."""
        return person(self.app, self.make_user("agent"))

    @cached_property
    def supervisor(self) -> Caller:
        """A supervisor."""
        return person(self.app, self.make_user("supervisor"))

    @cached_property
    def other_seller(self) -> Caller:
        """A user of another seller."""
        return person(self.app, self.make_user("seller"))

    @cached_property
    def other_buyer(self) -> Caller:
        """A buyer who did not place the order."""
        return person(self.app, self.make_user("buyer"))

    def key(self, *scopes: str) -> Caller:
        """One of the marketplace's systems, with a key carrying ``scopes``."""
        _key, secret = self.make_api_key(*scopes)
        return api_client(self.app, secret)

    def file(
        self, claim_type: str = "damaged", description: str = "상자가 찢겨 왔어요", *, order: Order | None = None
    ) -> dict[str, Any]:
        """The buyer files a claim on the order (or another of theirs); returns the claim as the buyer sees it."""
        order_id = (order or self.order).external_id
        response = self.buyer.post(
            "/api/v1/claims", {"order_id": order_id, "type": claim_type, "description": description}
        )
        assert response.status_code == 201, response.json
        return response.json


def audits(session: Session) -> int:
    """How many audit records there are."""
    return session.scalar(sa.select(sa.func.count()).select_from(AuditRecord)) or 0


def claims_count(session: Session) -> int:
    """How many claims there are."""
    return session.scalar(sa.select(sa.func.count()).select_from(Claim)) or 0


def stored_claim(session: Session, claim_id: int) -> Claim:
    """The claim as the database has it now."""
    session.expire_all()
    return session.get(Claim, claim_id)


def state_of(session: Session, claim_id: int) -> tuple[Any, ...]:
    """Everything an action could change: the claim's columns, its timeline, its evidence and the audit log."""
    claim = stored_claim(session, claim_id)
    timeline = session.scalar(sa.select(sa.func.count()).where(ClaimEvent.claim_id == claim_id))
    evidence = session.scalar(sa.select(sa.func.count()).where(Evidence.claim_id == claim_id))
    return claim.snapshot(), claim.proposal_message, timeline, evidence, audits(session)


def kst(*args: int) -> str:
    """An ISO 8601 instant in KST, as the API shows it."""
    return datetime(*args, tzinfo=KST).isoformat()


@pytest.fixture
def app(app: Flask, tmp_path: Any) -> Flask:
    """The app, keeping evidence files under the test's own directory."""
    app.config["EVIDENCE_DIR"] = str(tmp_path / "evidence")
    return app


@pytest.fixture
def cast(app: Flask, make_user: Any, make_api_key: Any, make_order: Any, make_buyer: Any) -> Cast:
    """An order of ₩100,000 paid an hour ago, its buyer (with a contact), its seller, staff and outsiders."""
    buyer = make_buyer("김구매", contact="buyer@example.com")
    return Cast(app, make_user, make_api_key, make_order(buyer=buyer, amount=100_000))


def _kinds(claim: dict[str, Any]) -> list[str]:
    return [entry["kind"] for entry in claim["timeline"]]


def test_buyer_files_claim_and_sees_the_sellers_deadline_in_kst(cast: Cast) -> None:
    """Filed on 2026-09-23 15:00 KST, the seller must answer by 2026-09-30 23:59:59 KST (Chuseok skipped)."""
    claim = cast.file()
    assert claim["status"] == "awaiting_seller" and claim["type"] == "damaged"
    assert claim["deadlines"]["seller_response"] == {"due_at": kst(2026, 9, 30, 23, 59, 59), "policy_version": 0}
    assert claim["due_at"] == kst(2026, 9, 30, 23, 59, 59)
    assert claim["deadlines"]["staff_decision"] is None and claim["deadlines"]["refund"] is None
    assert claim["opened_at"] == kst(2026, 9, 23, 15, 0)
    assert claim["order"] == {
        "id": cast.order.external_id,
        "amount": 100_000,
        "paid_at": kst(2026, 9, 23, 14, 0),
        "status": "paid",
    }
    assert claim["seller"] == {"id": cast.order.seller.external_id, "name": cast.order.seller.name}
    assert claim["buyer"] == {"id": cast.order.buyer.external_id, "name": "김구매", "contact": "buyer@example.com"}
    assert claim["opened_by"] == "buyer" and claim["description"] == "상자가 찢겨 왔어요"
    [opened] = claim["timeline"]
    assert opened["kind"] == "opened" and opened["by"] == "buyer" and opened["message"] == "상자가 찢겨 왔어요"
    assert "actor" not in opened


def test_filed_claim_is_audited_as_the_buyer(cast: Cast, session: Session) -> None:
    """Filing writes one claim and its audit record, naming the buyer's login."""
    cast.buyer  # noqa: B018 - logged in (and its login audited) before counting
    before = audits(session)
    claim = cast.file()
    record = session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id.desc())).first()
    assert audits(session) == before + 1
    assert record.action == "claim.open" and record.entity_id == str(claim["id"])
    assert record.actor.startswith("buyer_user:")


def test_lifecycle_proposal_rejected_goes_to_staff_who_decide(cast: Cast, clock: FrozenClock) -> None:
    """File → propose → reject (escalated, staff deadline) → decide → resolved, as each party sees it."""
    claim = cast.file()
    path = f"/api/v1/claims/{claim['id']}"
    clock.advance(timedelta(hours=1))
    proposed = cast.seller.post(
        f"{path}/proposal", {"remedy": "partial_refund", "amount": 30_000, "message": "3만 원 환불해 드릴게요"}
    )
    assert proposed.status_code == 200
    assert proposed.json["status"] == "seller_proposed" and proposed.json["due_at"] is None
    assert proposed.json["proposal"] == {
        "remedy": "partial_refund",
        "amount": 30_000,
        "message": "3만 원 환불해 드릴게요",
        "proposed_at": kst(2026, 9, 23, 16, 0),
    }
    clock.advance(timedelta(hours=1))
    rejected = cast.buyer.post(f"{path}/reject", {"reason": "전액 환불을 원합니다"})
    assert rejected.status_code == 200
    body = rejected.json
    assert body["status"] == "escalated"
    # Staff have 2 business days: 9-24 to 9-27 are Chuseok and a weekend, so 9-28 and 9-29 count.
    assert body["deadlines"]["staff_decision"] == {"due_at": kst(2026, 9, 29, 23, 59, 59), "policy_version": 0}
    assert body["due_at"] == kst(2026, 9, 29, 23, 59, 59)
    assert body["escalation"] == {"escalated_at": kst(2026, 9, 23, 17, 0), "reason": "buyer_rejected"}
    assert "queue" not in body
    assert cast.agent.get(path).json["escalation"]["queue"] == "staff"
    clock.advance(timedelta(days=1))
    decided = cast.agent.post(f"{path}/decision", {"decision": "for_buyer", "amount": 100_000, "reason": "파손 확인"})
    assert decided.status_code == 200
    assert decided.json["status"] == "resolved" and decided.json["resolved_at"] == kst(2026, 9, 24, 17, 0)
    assert decided.json["decision"]["decided_by"].startswith("user:")
    seen_by_buyer = cast.buyer.get(path).json
    assert seen_by_buyer["decision"] == {
        "decision": "for_buyer",
        "amount": 100_000,
        "decided_at": kst(2026, 9, 24, 17, 0),
        "decided_by": "staff",
    }
    assert _kinds(seen_by_buyer) == ["opened", "proposed", "rejected", "escalated", "decided"]
    assert [entry["by"] for entry in seen_by_buyer["timeline"]] == ["buyer", "seller", "buyer", "buyer", "staff"]
    assert seen_by_buyer["timeline"][-1]["message"] == "파손 확인"


def test_lifecycle_proposal_accepted_resolves_the_claim(cast: Cast, clock: FrozenClock) -> None:
    """File → propose a replacement → the buyer accepts → resolved."""
    claim = cast.file("wrong_item", "다른 색상이 왔어요")
    path = f"/api/v1/claims/{claim['id']}"
    assert cast.seller.post(f"{path}/proposal", {"remedy": "replace", "message": "교환해 드릴게요"}).status_code == 200
    clock.advance(timedelta(hours=3))
    accepted = cast.buyer.post(f"{path}/accept", {})
    assert accepted.status_code == 200
    assert accepted.json["status"] == "resolved" and accepted.json["resolved_at"] == kst(2026, 9, 23, 18, 0)
    assert _kinds(cast.seller.get(path).json) == ["opened", "proposed", "accepted"]


def test_accept_needs_no_body_at_all(cast: Cast) -> None:
    """Accepting is the request itself: an empty POST is enough."""
    claim = cast.file()
    path = f"/api/v1/claims/{claim['id']}"
    cast.seller.post(f"{path}/proposal", {"remedy": "refund", "message": ""})
    response = cast.buyer.post(f"{path}/accept")
    assert response.status_code == 200 and response.json["status"] == "resolved"


def test_buyer_withdraws_an_open_claim(cast: Cast) -> None:
    """The buyer may drop the claim, saying why; it shows as withdrawn to the seller too."""
    claim = cast.file()
    path = f"/api/v1/claims/{claim['id']}"
    response = cast.buyer.post(f"{path}/withdraw", {"reason": "상품이 괜찮네요"})
    assert response.status_code == 200
    assert response.json["status"] == "withdrawn" and response.json["withdrawn_at"] == kst(2026, 9, 23, 15, 0)
    seen_by_seller = cast.seller.get(path).json
    assert seen_by_seller["status"] == "withdrawn"
    assert seen_by_seller["timeline"][-1] | {"id": 0} == {
        "id": 0,
        "occurred_at": kst(2026, 9, 23, 15, 0),
        "by": "buyer",
        "kind": "withdrawn",
        "message": "상품이 괜찮네요",
        "visibility": "parties",
        "data": None,
    }


def test_staff_escalate_a_claim_before_its_deadline(cast: Cast) -> None:
    """An agent takes a claim over with a reason; staff's deadline starts now."""
    claim = cast.file("counterfeit", "정품이 아닌 것 같아요")
    response = cast.agent.post(f"/api/v1/claims/{claim['id']}/escalate", {"reason": "위조품 신고 다수"})
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "escalated" and body["escalation"]["reason"] == "staff"
    assert body["deadlines"]["staff_decision"] == {"due_at": kst(2026, 9, 29, 23, 59, 59), "policy_version": 0}
    assert body["timeline"][-1]["message"] == "위조품 신고 다수" and body["timeline"][-1]["by"] == "staff"
    assert body["timeline"][-1]["actor"].startswith("user:")


KOREAN_STATUS = {
    "awaiting_seller": "판매자 응답 대기",
    "seller_proposed": "판매자 제안에 대한 구매자 응답 대기",
    "escalated": "상담원 검토",
    "withdrawn": "철회",
}


@pytest.mark.parametrize(
    ("setup", "who", "action", "body", "current"),
    [
        ("awaiting", "buyer", "accept", {}, "awaiting_seller"),
        ("awaiting", "buyer", "reject", {"reason": "싫어요"}, "awaiting_seller"),
        ("proposed", "seller", "proposal", {"remedy": "refund", "message": "다시"}, "seller_proposed"),
        ("withdrawn", "buyer", "withdraw", {}, "withdrawn"),
        ("withdrawn", "agent", "escalate", {"reason": "확인"}, "withdrawn"),
        ("withdrawn", "agent", "decision", {"decision": "for_seller", "reason": "확인"}, "withdrawn"),
        ("escalated", "agent", "escalate", {"reason": "다시"}, "escalated"),
    ],
)
def test_illegal_move_is_409_with_the_current_status_and_changes_nothing(
    cast: Cast, session: Session, setup: str, who: str, action: str, body: dict, current: str
) -> None:
    """A move the claim's state does not allow is refused by the model, naming the state; nothing is written."""
    claim_id = cast.file()["id"]
    path = f"/api/v1/claims/{claim_id}"
    if setup == "proposed":
        cast.seller.post(f"{path}/proposal", {"remedy": "refund", "message": ""})
    elif setup == "withdrawn":
        cast.buyer.post(f"{path}/withdraw", {})
    elif setup == "escalated":
        cast.agent.post(f"{path}/escalate", {"reason": "확인"})
    caller = getattr(cast, who)
    before = state_of(session, claim_id)
    response = caller.post(f"{path}/{action}", body)
    assert response.status_code == 409 and response.mimetype == PROBLEM
    assert response.json["code"] == "illegal-transition"
    assert response.json["current_status"] == current
    assert response.json["detail"] == f"클레임이 {KOREAN_STATUS[current]} 상태일 때는 이 작업을 할 수 없습니다."
    assert state_of(session, claim_id) == before


def test_agent_cannot_decide_a_claim_in_the_supervisors_queue(cast: Cast, session: Session, clock: FrozenClock):
    """Past staff's deadline the claim is a supervisor's: an agent gets 403 and the supervisor decides."""
    claim_id = cast.file()["id"]
    path = f"/api/v1/claims/{claim_id}"
    cast.agent.post(f"{path}/escalate", {"reason": "확인"})
    clock.set(datetime(2026, 9, 30, 9, 0, tzinfo=KST))
    assert sweeps.queue_overdue_for_supervisors(session, now=clock()) == 1
    session.commit()
    before = state_of(session, claim_id)
    refused = cast.agent.post(f"{path}/decision", {"decision": "for_seller", "reason": "근거 부족"})
    assert refused.status_code == 403
    assert refused.json["detail"] == "이 클레임은 감독자 대기열에 있습니다."
    assert state_of(session, claim_id) == before
    assert cast.supervisor.get(path).json["escalation"]["queue"] == "supervisor"
    decided = cast.supervisor.post(f"{path}/decision", {"decision": "for_seller", "reason": "근거 부족"})
    assert decided.status_code == 200 and decided.json["decision"]["decision"] == "for_seller"


def test_supervisor_queue_is_internal(cast: Cast, session: Session, clock: FrozenClock) -> None:
    """The move to the supervisors' queue is shown to staff only, on the timeline and in the claim."""
    claim_id = cast.file()["id"]
    path = f"/api/v1/claims/{claim_id}"
    cast.agent.post(f"{path}/escalate", {"reason": "확인"})
    sweeps.queue_overdue_for_supervisors(session, now=datetime(2026, 9, 30, 9, 0, tzinfo=KST))
    session.commit()
    assert "supervisor_queued" in _kinds(cast.agent.get(path).json)
    assert cast.agent.get(path).json["queue"] == "supervisor"
    for party in (cast.buyer, cast.seller):
        shown = party.get(path).json
        assert "supervisor_queued" not in _kinds(shown)
        assert "queue" not in shown and "queue" not in shown["escalation"]
        assert shown["status"] == "escalated"


def test_internal_notes_are_seen_by_staff_and_systems_only(cast: Cast) -> None:
    """A note is on staff's and API clients' timeline, never on the buyer's or the seller's."""
    claim_id = cast.file()["id"]
    path = f"/api/v1/claims/{claim_id}"
    added = cast.agent.post(f"{path}/notes", {"message": "판매자에게 전화함"})
    assert added.status_code == 201
    assert added.json["timeline"][-1]["visibility"] == "staff"
    assert "note" in _kinds(cast.supervisor.get(path).json)
    assert "note" in _kinds(cast.key("claims:read").get(path).json)
    for party in (cast.buyer, cast.seller):
        shown = party.get(path).json
        assert "note" not in _kinds(shown) and "판매자에게 전화함" not in str(shown)


def test_seller_sees_the_buyers_name_but_not_their_contact(cast: Cast) -> None:
    """The seller learns who complains, not how to reach them outside the platform."""
    claim_id = cast.file()["id"]
    path = f"/api/v1/claims/{claim_id}"
    assert cast.seller.get(path).json["buyer"] == {"name": "김구매"}
    assert cast.seller.get("/api/v1/claims").json["items"][0]["buyer"] == {"name": "김구매"}
    assert cast.agent.get(path).json["buyer"]["contact"] == "buyer@example.com"
    assert cast.buyer.get(path).json["buyer"]["contact"] == "buyer@example.com"


def test_staff_file_a_claim_on_a_buyers_behalf(cast: Cast) -> None:
    """An agent may file on any order; the timeline says staff opened it."""
    response = cast.agent.post(
        "/api/v1/claims", {"order_id": cast.order.external_id, "type": "non_delivery", "description": "전화 접수"}
    )
    assert response.status_code == 201
    assert response.json["opened_by"].startswith("user:")
    assert cast.buyer.get(f"/api/v1/claims/{response.json['id']}").json["opened_by"] == "staff"


def test_marketplace_key_with_claims_write_files_and_proposes(cast: Cast) -> None:
    """The marketplace's systems act for buyers and sellers with a claims:write key."""
    system = cast.key("claims:write")
    filed = system.post(
        "/api/v1/claims", {"order_id": cast.order.external_id, "type": "damaged", "description": "고객센터 접수"}
    )
    assert filed.status_code == 201 and filed.json["opened_by"].startswith("api_client:")
    proposed = system.post(f"/api/v1/claims/{filed.json['id']}/proposal", {"remedy": "ship_now", "message": ""})
    assert proposed.status_code == 200 and proposed.json["status"] == "seller_proposed"


def test_filing_on_someone_elses_order_is_404_like_a_missing_order(cast: Cast, session: Session) -> None:
    """Another buyer's order answers exactly like an order that does not exist; nothing is written."""
    intruder = cast.other_buyer
    before = (claims_count(session), audits(session))
    body = {"type": "damaged", "description": "파손"}
    foreign = intruder.post("/api/v1/claims", {**body, "order_id": cast.order.external_id})
    missing = intruder.post("/api/v1/claims", {**body, "order_id": "O-DOES-NOT-EXIST"})
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json == missing.json
    assert "field" not in foreign.json and cast.order.external_id not in foreign.get_data(as_text=True)
    assert (claims_count(session), audits(session)) == before


def test_second_open_claim_of_the_same_type_is_409_naming_type(cast: Cast, session: Session) -> None:
    """One open claim per order and type."""
    cast.file()
    count = claims_count(session)
    response = cast.buyer.post(
        "/api/v1/claims", {"order_id": cast.order.external_id, "type": "damaged", "description": "다시"}
    )
    assert response.status_code == 409 and response.json["field"] == "type"
    assert response.json["detail"] == "이 주문에는 같은 유형의 진행 중인 클레임이 이미 있습니다."
    assert claims_count(session) == count
    other_type = cast.buyer.post(
        "/api/v1/claims", {"order_id": cast.order.external_id, "type": "wrong_item", "description": "색상 다름"}
    )
    assert other_type.status_code == 201


@pytest.mark.parametrize("claim_type", ["seller_cancellation", "late_shipment", "lost"])
def test_buyer_cannot_file_platform_or_unknown_types(cast: Cast, session: Session, claim_type: str) -> None:
    """Only the five buyer claim types can be filed; the platform opens the others."""
    response = cast.buyer.post(
        "/api/v1/claims", {"order_id": cast.order.external_id, "type": claim_type, "description": "x"}
    )
    assert response.status_code == 422 and response.json["field"] == "type"
    assert claims_count(session) == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"status": "resolved"},
        {"seller_id": 1},
        {"buyer_id": 1},
        {"response_due_at": "2027-01-01T00:00:00+09:00"},
        {"response_policy_version": 9},
        {"decision_amount": 100},
    ],
)
def test_filing_refuses_fields_a_client_may_not_set(cast: Cast, session: Session, extra: dict) -> None:
    """Mass assignment: a status, a party, a deadline or an amount in the body is a 422 naming it."""
    cast.buyer  # noqa: B018 - logged in before counting
    before = (claims_count(session), audits(session))
    response = cast.buyer.post(
        "/api/v1/claims", {"order_id": cast.order.external_id, "type": "damaged", "description": "파손", **extra}
    )
    assert response.status_code == 422 and response.mimetype == PROBLEM
    [name] = extra
    assert response.json["field"] == name and response.json["errors"] == {name: ["Unknown field."]}
    assert (claims_count(session), audits(session)) == before


@pytest.mark.parametrize(
    ("who", "action", "body", "field"),
    [
        ("seller", "proposal", {"remedy": "refund", "message": "", "status": "resolved"}, "status"),
        ("seller", "proposal", {"remedy": "refund", "message": "", "response_due_at": "2027-01-01"}, "response_due_at"),
        ("seller", "proposal", {"remedy": "partial_refund", "amount": 1000.5, "message": ""}, "amount"),
        ("seller", "proposal", {"remedy": "partial_refund", "amount": "1000", "message": ""}, "amount"),
        ("seller", "proposal", {"remedy": "partial_refund", "amount": True, "message": ""}, "amount"),
        ("seller", "proposal", {"remedy": "partial_refund", "amount": -1, "message": ""}, "amount"),
        ("buyer", "accept", {"status": "resolved"}, "status"),
        ("buyer", "withdraw", {"withdrawn_at": "2026-09-01T00:00:00+09:00"}, "withdrawn_at"),
        ("agent", "decision", {"decision": "for_buyer", "amount": 5000.0, "reason": "x"}, "amount"),
        ("agent", "decision", {"decision": "for_buyer", "amount": 5000, "reason": "x", "seller_id": 3}, "seller_id"),
        ("agent", "escalate", {"reason": "x", "staff_due_at": "2027-01-01T00:00:00+09:00"}, "staff_due_at"),
        ("agent", "notes", {"message": "x", "visibility": "parties"}, "visibility"),
    ],
)
def test_actions_refuse_fields_a_client_may_not_set(
    cast: Cast, session: Session, who: str, action: str, body: dict, field: str
) -> None:
    """Statuses, deadlines and fractional or disguised amounts are refused naming the field; nothing changes."""
    claim_id = cast.file()["id"]
    caller = getattr(cast, who)
    before = state_of(session, claim_id)
    response = caller.post(f"/api/v1/claims/{claim_id}/{action}", body)
    assert response.status_code == 422 and response.json["field"] == field
    assert state_of(session, claim_id) == before


def test_partial_refund_above_the_order_amount_is_422_naming_amount(cast: Cast, session: Session) -> None:
    """The operation's own rules come back naming the field too."""
    claim_id = cast.file()["id"]
    seller = cast.seller
    before = state_of(session, claim_id)
    response = seller.post(
        f"/api/v1/claims/{claim_id}/proposal", {"remedy": "partial_refund", "amount": 150_000, "message": ""}
    )
    assert response.status_code == 422 and response.json["field"] == "amount"
    assert state_of(session, claim_id) == before


def test_missing_reason_is_422_naming_it(cast: Cast, session: Session) -> None:
    """Rejecting needs a reason."""
    claim_id = cast.file()["id"]
    cast.seller.post(f"/api/v1/claims/{claim_id}/proposal", {"remedy": "refund", "message": ""})
    response = cast.buyer.post(f"/api/v1/claims/{claim_id}/reject", {})
    assert response.status_code == 422 and response.json["errors"] == {"reason": ["Missing data for required field."]}
    assert stored_claim(session, claim_id).status.value == "seller_proposed"


def test_session_write_without_csrf_token_is_refused(cast: Cast, session: Session) -> None:
    """A browser session must send the CSRF token with API writes."""
    caller = cast.buyer
    response = caller.client.post(
        "/api/v1/claims", json={"order_id": cast.order.external_id, "type": "damaged", "description": "파손"}
    )
    assert response.status_code == 400 and response.json["code"] == "csrf-failed"
    assert claims_count(session) == 0


def test_problem_detail_in_english_when_asked(cast: Cast) -> None:
    """Clients that ask for English get English problem details."""
    claim_id = cast.file()["id"]
    response = cast.key("claims:write").post(f"/api/v1/claims/{claim_id}/accept", {}, headers={"Accept-Language": "en"})
    assert response.json["detail"] == "This action is not possible while the claim is awaiting the seller."


def test_openapi_documents_every_claim_endpoint(client: FlaskClient) -> None:
    """The claims API is in the OpenAPI document, each operation with a summary."""
    spec = client.get("/api/openapi.json").json
    expected = {
        "/api/v1/claims": {"get", "post"},
        "/api/v1/claims/{claim_id}": {"get"},
        "/api/v1/claims/{claim_id}/proposal": {"post"},
        "/api/v1/claims/{claim_id}/accept": {"post"},
        "/api/v1/claims/{claim_id}/reject": {"post"},
        "/api/v1/claims/{claim_id}/withdraw": {"post"},
        "/api/v1/claims/{claim_id}/escalate": {"post"},
        "/api/v1/claims/{claim_id}/decision": {"post"},
        "/api/v1/claims/{claim_id}/notes": {"post"},
        "/api/v1/claims/{claim_id}/evidence": {"post"},
        "/api/v1/claims/{claim_id}/evidence/{evidence_id}": {"get"},
        "/api/v1/policies/sla": {"get", "put"},
        "/api/v1/policies/sla/versions": {"get"},
    }
    for path, methods in expected.items():
        operations = {method for method in spec["paths"][path] if method != "parameters"}
        assert operations == methods, path
        assert all(spec["paths"][path][method]["summary"] for method in methods)
    filing = spec["paths"]["/api/v1/claims"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(filing)


def test_seller_cancellation_claim_shows_the_statutory_refund_deadline(
    app: Flask, session: Session, make_order: Any, make_user: Any
) -> None:
    """A claim the platform opened on a seller's cancellation shows the refund due within 3 business days of payment."""
    order = make_order()
    order.status = OrderStatus.CANCELLED
    order.cancelled_at = START
    order.cancel_initiated_by = CancelInitiator.SELLER
    order.cancel_reason = "out_of_stock"
    claim = operations.open_seller_cancellation_claim(session, order, actor=SETUP, now=START)
    session.commit()
    shown = person(app, make_user("buyer", buyer=order.buyer)).get(f"/api/v1/claims/{claim.id}").json
    assert shown["type"] == "seller_cancellation" and shown["order"]["status"] == "cancelled"
    # Paid 2026-09-23 14:00 KST: 3 business days (Chuseok skipped) end 2026-09-30 23:59:59 KST (전자상거래법 §18).
    assert shown["deadlines"]["refund"] == {"due_at": kst(2026, 9, 30, 23, 59, 59), "policy_version": 0}
    assert shown["refund"] == {
        "status": "pending",
        "due_at": kst(2026, 9, 30, 23, 59, 59),
        "policy_version": 0,
        "overdue_at": None,
        "refunded_at": None,
        "days_late": None,
    }
    assert shown["opened_by"] == "system" and shown["timeline"][0]["by"] == "system"
