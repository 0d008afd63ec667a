"""Who may see and do what on a claim: outsiders get 404 everywhere, parties without the right get 403."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.claims.test_api import PROBLEM, Caller, Cast, audits, claims_count, state_of

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
MISSING_CLAIM = 999_999_999


def upload() -> dict[str, Any]:
    """A fresh multipart body with one PNG (a stream is consumed by the request that sends it)."""
    return {"data": {"evidence": (io.BytesIO(PNG), "사진.png")}, "content_type": "multipart/form-data"}


def call(caller: Caller, method: str, path: str, body: Any) -> Any:
    """Send ``body`` (JSON, or ``upload`` for evidence files) as ``caller``."""
    if method == "get":
        return caller.get(path)
    if body is upload:
        return caller.post(path, **upload())
    return caller.post(path, body)


def prepare(cast: Cast, claim_id: int, setup: str) -> int | None:
    """Put the claim where the action is legal for its rightful party; returns an evidence id if one was made."""
    path = f"/api/v1/claims/{claim_id}"
    if setup == "proposed":
        assert cast.seller.post(f"{path}/proposal", {"remedy": "refund", "message": "환불"}).status_code == 200
    if setup == "evidence":
        response = cast.buyer.post(f"{path}/evidence", **upload())
        assert response.status_code == 201
        return response.json["evidence"][0]["id"]
    return None


@pytest.fixture
def app(app: Flask, tmp_path: Any) -> Flask:
    """The app, keeping evidence files under the test's own directory."""
    app.config["EVIDENCE_DIR"] = str(tmp_path / "evidence")
    return app


@pytest.fixture
def cast(app: Flask, make_user: Any, make_api_key: Any, make_order: Any) -> Cast:
    """An order, its buyer and seller, staff and outsiders."""
    return Cast(app, make_user, make_api_key, make_order())


# Every endpoint that concerns one claim: the rightful party's request succeeds, an outsider's is a 404.
CLAIM_ENDPOINTS = [
    pytest.param("get", "", None, "awaiting", "seller", 200, id="read"),
    pytest.param("get", "/evidence/{evidence_id}", None, "evidence", "seller", 200, id="download-evidence"),
    pytest.param("post", "/proposal", {"remedy": "refund", "message": "환불"}, "awaiting", "seller", 200, id="propose"),
    pytest.param("post", "/accept", {}, "proposed", "buyer", 200, id="accept"),
    pytest.param("post", "/reject", {"reason": "부족해요"}, "proposed", "buyer", 200, id="reject"),
    pytest.param("post", "/withdraw", {"reason": "해결됨"}, "awaiting", "buyer", 200, id="withdraw"),
    pytest.param("post", "/escalate", {"reason": "확인 필요"}, "awaiting", "agent", 200, id="escalate"),
    pytest.param(
        "post", "/decision", {"decision": "for_seller", "reason": "근거 부족"}, "awaiting", "agent", 200, id="decide"
    ),
    pytest.param("post", "/notes", {"message": "통화함"}, "awaiting", "agent", 201, id="note"),
    pytest.param("post", "/evidence", upload, "awaiting", "seller", 201, id="upload-evidence"),
]


@pytest.mark.parametrize(("method", "suffix", "body", "setup", "rightful", "succeeds_with"), CLAIM_ENDPOINTS)
def test_outsiders_get_404_on_every_claim_endpoint_and_nothing_changes(
    cast: Cast,
    session: Session,
    method: str,
    suffix: str,
    body: Any,
    setup: str,
    rightful: str,
    succeeds_with: int,
) -> None:
    """Another seller's user and another buyer are told the claim does not exist, exactly as for a missing one."""
    claim_id = cast.file()["id"]
    evidence_id = prepare(cast, claim_id, setup)
    outsiders = {"another seller's user": cast.other_seller, "another buyer": cast.other_buyer}
    path = f"/api/v1/claims/{claim_id}{suffix.format(evidence_id=evidence_id)}"
    missing_path = f"/api/v1/claims/{MISSING_CLAIM}{suffix.format(evidence_id=evidence_id)}"
    not_found = call(cast.other_seller, method, missing_path, body)
    assert not_found.status_code == 404
    before = state_of(session, claim_id)
    for who, outsider in outsiders.items():
        response = call(outsider, method, path, body)
        assert response.status_code == 404, who
        assert response.mimetype == PROBLEM
        assert response.json == not_found.json, who
        assert state_of(session, claim_id) == before, who
    # The very same request from the rightful party goes through: the 404 was about who asked, not what.
    assert call(getattr(cast, rightful), method, path, body).status_code == succeeds_with


def test_outsiders_do_not_see_the_claim_in_lists(cast: Cast) -> None:
    """Lists are filtered too: another seller or buyer sees none of it, even filtering by the seller's id."""
    cast.file()
    seller_id = cast.order.seller.external_id
    for outsider in (cast.other_seller, cast.other_buyer):
        for query in ("", f"?seller={seller_id}"):
            assert outsider.get(f"/api/v1/claims{query}").json == {"items": [], "page": 1, "page_size": 20, "total": 0}
    assert cast.seller.get("/api/v1/claims").json["total"] == 1
    assert cast.buyer.get("/api/v1/claims").json["total"] == 1


# Parties (or staff) who can see the claim but whose role does not allow the action.
FORBIDDEN = [
    pytest.param(
        "buyer", "/proposal", {"remedy": "refund", "message": ""}, "awaiting", "claims.propose", id="buyer-propose"
    ),
    pytest.param(
        "agent", "/proposal", {"remedy": "refund", "message": ""}, "awaiting", "claims.propose", id="agent-propose"
    ),
    pytest.param("seller", "/accept", {}, "proposed", "claims.respond", id="seller-accept"),
    pytest.param("seller", "/reject", {"reason": "싫음"}, "proposed", "claims.respond", id="seller-reject"),
    pytest.param("seller", "/withdraw", {}, "awaiting", "claims.respond", id="seller-withdraw"),
    pytest.param("agent", "/withdraw", {}, "awaiting", "claims.respond", id="agent-withdraw"),
    pytest.param("buyer", "/escalate", {"reason": "빨리"}, "awaiting", "claims.escalate", id="buyer-escalate"),
    pytest.param("seller", "/escalate", {"reason": "빨리"}, "awaiting", "claims.escalate", id="seller-escalate"),
    pytest.param(
        "buyer",
        "/decision",
        {"decision": "for_buyer", "amount": 1, "reason": "내 편"},
        "awaiting",
        "claims.decide",
        id="buyer-decide",
    ),
    pytest.param(
        "seller",
        "/decision",
        {"decision": "for_seller", "reason": "내 편"},
        "awaiting",
        "claims.decide",
        id="seller-decide",
    ),
    pytest.param("buyer", "/notes", {"message": "메모"}, "awaiting", "claims.note", id="buyer-note"),
    pytest.param("seller", "/notes", {"message": "메모"}, "awaiting", "claims.note", id="seller-note"),
]


@pytest.mark.parametrize(("who", "suffix", "body", "setup", "permission"), FORBIDDEN)
def test_roles_without_the_permission_get_403_and_nothing_changes(
    cast: Cast, session: Session, who: str, suffix: str, body: dict, setup: str, permission: str
) -> None:
    """A party who may see the claim but not do this is told so, naming the permission."""
    claim_id = cast.file()["id"]
    prepare(cast, claim_id, setup)
    caller = getattr(cast, who)
    before = state_of(session, claim_id)
    response = caller.post(f"/api/v1/claims/{claim_id}{suffix}", body)
    assert response.status_code == 403 and response.mimetype == PROBLEM
    assert response.json["permission"] == permission
    assert response.json["detail"] == "현재 역할로는 이 작업을 할 수 없습니다."
    assert state_of(session, claim_id) == before


def test_seller_cannot_file_a_claim(cast: Cast, session: Session) -> None:
    """Claims are filed by buyers (or staff for them), never by the seller."""
    seller = cast.seller
    before = (claims_count(session), audits(session))
    response = seller.post(
        "/api/v1/claims", {"order_id": cast.order.external_id, "type": "damaged", "description": "x"}
    )
    assert response.status_code == 403 and response.json["permission"] == "claims.file"
    assert (claims_count(session), audits(session)) == before


def test_read_only_key_reads_but_cannot_act(cast: Cast, session: Session) -> None:
    """A claims:read key sees any claim and the list, but proposing or filing is 403."""
    claim_id = cast.file()["id"]
    reader = cast.key("claims:read")
    assert reader.get(f"/api/v1/claims/{claim_id}").status_code == 200
    assert reader.get("/api/v1/claims").json["total"] == 1
    before = state_of(session, claim_id)
    refused = reader.post(f"/api/v1/claims/{claim_id}/proposal", {"remedy": "refund", "message": ""})
    assert refused.status_code == 403 and refused.json["permission"] == "claims.propose"
    filing = reader.post(
        "/api/v1/claims", {"order_id": cast.order.external_id, "type": "wrong_item", "description": "x"}
    )
    assert filing.status_code == 403
    assert state_of(session, claim_id) == before


def test_key_without_a_claims_scope_cannot_even_read(cast: Cast) -> None:
    """An events:write key is for order events only."""
    claim_id = cast.file()["id"]
    events = cast.key("events:write")
    response = events.get(f"/api/v1/claims/{claim_id}")
    assert response.status_code == 403 and response.json["permission"] == "claims.read"
    assert events.get("/api/v1/claims").status_code == 403


def test_staff_api_keys_cannot_decide_or_escalate(cast: Cast, session: Session) -> None:
    """Deciding and escalating are people's calls: no key scope grants them."""
    claim_id = cast.file()["id"]
    writer = cast.key("claims:read", "claims:write")
    before = state_of(session, claim_id)
    assert writer.post(f"/api/v1/claims/{claim_id}/escalate", {"reason": "x"}).status_code == 403
    assert (
        writer.post(f"/api/v1/claims/{claim_id}/decision", {"decision": "for_seller", "reason": "x"}).status_code == 403
    )
    assert writer.post(f"/api/v1/claims/{claim_id}/notes", {"message": "x"}).status_code == 403
    assert state_of(session, claim_id) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/v1/claims"), ("get", "/api/v1/claims/1"), ("post", "/api/v1/claims/1/accept")],
)
def test_anonymous_callers_get_401(client: Any, method: str, path: str) -> None:
    """Without credentials nothing about claims is shown, not even whether one exists."""
    response = getattr(client, method)(path, json={} if method == "post" else None)
    assert response.status_code == 401 and response.mimetype == PROBLEM
