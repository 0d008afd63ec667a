"""The claim pages of the three portals, as each party sees them through the test client."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.claims.models import Claim, ClaimEvent, ClaimStatus, Evidence
from marketplace.claims.operations import file_claim, propose_remedy
from marketplace.core.auth import Actor
from marketplace.core.clock import FrozenClock
from marketplace.core.models import AuditRecord, User
from tests.conftest import START, csrf_token, login

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Party:
    """A logged-in person browsing the pages."""

    def __init__(self, app: Flask, user: User) -> None:
        self.user = user
        self.client: FlaskClient = app.test_client()
        login(self.client, user)

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def text(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)

    def post(self, path: str, data: dict[str, Any], *, page: str | None = None, **kwargs: Any) -> Any:
        token = csrf_token(self.text(page or path.rsplit("/", 1)[0]))
        return self.client.post(path, data={"csrf_token": token, **data}, **kwargs)


@pytest.fixture
def order(make_order: Any) -> Any:
    return make_order(amount=89_000)


@pytest.fixture
def buyer(app: Flask, make_user: Any, order: Any) -> Party:
    return Party(app, make_user("buyer", buyer=order.buyer, language="ko"))


@pytest.fixture
def seller(app: Flask, make_user: Any, order: Any) -> Party:
    return Party(app, make_user("seller", seller=order.seller, language="ko"))


@pytest.fixture
def agent(app: Flask, make_user: Any) -> Party:
    return Party(app, make_user("agent", name="정상담", language="ko"))


def _claim(session: Session, order: Any, buyer: Party) -> Claim:
    claim = file_claim(
        session, order, "damaged", description="상자가 찢겨 왔어요", actor=Actor.for_user(buyer.user), now=START
    )
    session.commit()
    return claim


def test_buyer_files_claim_with_photo_and_sees_its_deadline(buyer: Party, order: Any, session: Session) -> None:
    """The buyer files from their order; the claim page shows the seller's deadline (Chuseok skipped)."""
    response = buyer.post(
        f"/buyer/orders/{order.external_id}/claim",
        {"type": "damaged", "description": "모서리가 깨져 있어요", "evidence": (io.BytesIO(PNG), "box.png")},
        page=f"/buyer/orders/{order.external_id}/claim",
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    claim = session.scalars(sa.select(Claim)).one()
    assert response.headers["Location"].endswith(f"/buyer/claims/{claim.id}")
    page = buyer.text(f"/buyer/claims/{claim.id}")
    assert "파손되어 도착" in page or "Arrived damaged" in page
    assert "2026-09-30 23:59 KST" in page  # 3 business days after 2026-09-23, skipping Chuseok
    assert "box.png" in page and "모서리가 깨져 있어요" in page
    assert session.scalars(sa.select(Evidence)).one().filename == "box.png"


def test_filing_without_description_keeps_the_photo_and_what_was_typed(
    buyer: Party, order: Any, session: Session
) -> None:
    """A refused form shows the error beside the field, keeps the chosen type and the uploaded file."""
    path = f"/buyer/orders/{order.external_id}/claim"
    response = buyer.post(
        path,
        {"type": "wrong_item", "description": "  ", "evidence": (io.BytesIO(PNG), "wrong.png")},
        page=path,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="description-error"' in page
    assert '<option selected value="wrong_item">' in page
    assert "wrong.png" in page and 'name="kept"' in page
    assert session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 0
    token = page.split('name="kept" value="')[1].split('"')[0]
    response = buyer.post(path, {"type": "wrong_item", "description": "색상이 달라요", "kept": token}, page=path)
    assert response.status_code == 302
    claim = session.scalars(sa.select(Claim)).one()
    assert [evidence.filename for evidence in session.scalars(sa.select(Evidence))] == ["wrong.png"]
    assert claim.description == "색상이 달라요"


def test_seller_sees_countdown_and_answers_with_partial_refund(
    seller: Party, buyer: Party, order: Any, session: Session
) -> None:
    """The seller's list puts the claim first with time left; the answer reaches the buyer's page."""
    claim = _claim(session, order, buyer)
    listing = seller.text("/seller/claims/")
    assert f"/seller/claims/{claim.id}" in listing and 'class="countdown ok"' in listing
    response = seller.post(
        f"/seller/claims/{claim.id}/proposal",
        {"remedy": "partial_refund", "amount": "10000", "message": "10,000원 부분 환불해 드리겠습니다"},
        page=f"/seller/claims/{claim.id}",
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Claim, claim.id).status is ClaimStatus.SELLER_PROPOSED
    page = buyer.text(f"/buyer/claims/{claim.id}")
    assert "10,000원" in page and "10,000원 부분 환불해 드리겠습니다" in page
    assert "accept" in page


def test_seller_answer_with_bad_amount_shows_the_error_beside_the_amount(
    seller: Party, buyer: Party, order: Any, session: Session
) -> None:
    """A partial refund of the whole amount is refused by the rule, shown beside the amount field."""
    claim = _claim(session, order, buyer)
    response = seller.post(
        f"/seller/claims/{claim.id}/proposal",
        {"remedy": "partial_refund", "amount": "89000", "message": "전액"},
        page=f"/seller/claims/{claim.id}",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="amount-error"' in page and "부분 환불 금액은 0보다 크고 주문 금액보다 작아야 합니다." in page
    session.expire_all()
    assert session.get(Claim, claim.id).status is ClaimStatus.AWAITING_SELLER


def test_buyer_rejects_proposal_and_staff_see_it_in_the_queue(
    seller: Party, buyer: Party, agent: Party, order: Any, session: Session
) -> None:
    """A rejected proposal puts the claim on staff's desk with its deadline; the queue lists it."""
    claim = _claim(session, order, buyer)
    propose_remedy(session, claim, "refund", amount=None, message="", actor=Actor.for_user(seller.user), now=START)
    session.commit()
    response = buyer.post(
        f"/buyer/claims/{claim.id}/reject", {"reject-reason": "교환을 원해요"}, page=f"/buyer/claims/{claim.id}"
    )
    assert response.status_code == 302
    queue = agent.text("/staff/claims/")
    assert f"/staff/claims/{claim.id}" in queue and "상담원 검토 중" in queue
    case = agent.text(f"/staff/claims/{claim.id}")
    assert "교환을 원해요" in case and "상자가 찢겨 왔어요" in case


def test_staff_decide_for_buyer_and_both_parties_see_the_decision(
    buyer: Party, seller: Party, agent: Party, order: Any, session: Session
) -> None:
    """The decision and its reason appear on the buyer's and the seller's pages."""
    claim = _claim(session, order, buyer)
    response = agent.post(
        f"/staff/claims/{claim.id}/decision",
        {"decision-decision": "for_buyer", "decision-amount": "89000", "decision-reason": "사진으로 파손 확인"},
        page=f"/staff/claims/{claim.id}",
    )
    assert response.status_code == 302
    for party, path in ((buyer, f"/buyer/claims/{claim.id}"), (seller, f"/seller/claims/{claim.id}")):
        page = party.text(path)
        assert "사진으로 파손 확인" in page and "89,000원" in page


def test_staff_note_is_never_shown_to_the_parties(
    buyer: Party, seller: Party, agent: Party, order: Any, session: Session
) -> None:
    """An internal note is on the staff page only."""
    claim = _claim(session, order, buyer)
    agent.post(
        f"/staff/claims/{claim.id}/notes", {"note-message": "판매자에게 전화함"}, page=f"/staff/claims/{claim.id}"
    )
    assert "판매자에게 전화함" in agent.text(f"/staff/claims/{claim.id}")
    assert "판매자에게 전화함" not in buyer.text(f"/buyer/claims/{claim.id}")
    assert "판매자에게 전화함" not in seller.text(f"/seller/claims/{claim.id}")


def test_assign_to_me_filters_the_queue(agent: Party, buyer: Party, order: Any, session: Session) -> None:
    """Taking a claim puts it under "assigned to me"; the timeline says so to staff only."""
    claim = _claim(session, order, buyer)
    assert f"/staff/claims/{claim.id}" not in agent.text("/staff/claims/?agent=me")
    response = agent.post(
        f"/staff/claims/{claim.id}/assign", {"assignee": str(agent.user.id)}, page=f"/staff/claims/{claim.id}"
    )
    assert response.status_code == 302
    assert f"/staff/claims/{claim.id}" in agent.text("/staff/claims/?agent=me")
    audit = session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "claim.assign")).one()
    assert audit.after == {"assignee_id": agent.user.id}
    kinds = [entry.kind for entry in session.scalars(sa.select(ClaimEvent).where(ClaimEvent.claim_id == claim.id))]
    assert "assigned" in kinds
    assert "정상담" not in buyer.text(f"/buyer/claims/{claim.id}")


def test_queue_puts_overdue_claims_first(
    agent: Party, make_order: Any, make_user: Any, session: Session, clock: FrozenClock
) -> None:
    """The claim whose seller deadline has passed comes before the one with time left, and says so."""
    claims = []
    for opened in (START, START - timedelta(days=10)):
        order = make_order()
        buyer = make_user("buyer", buyer=order.buyer)
        claims.append(
            file_claim(session, order, "non_delivery", description="안 왔어요", actor=Actor.for_user(buyer), now=opened)
        )
    session.commit()
    queue = agent.text("/staff/claims/")
    recent, overdue = claims
    assert queue.index(f'/staff/claims/{overdue.id}"') < queue.index(f'/staff/claims/{recent.id}"')
    assert 'class="countdown overdue"' in queue


@pytest.mark.parametrize("who", ["other_buyer", "other_seller"])
def test_another_party_gets_404_on_a_claim_page(
    app: Flask, make_user: Any, buyer: Party, order: Any, session: Session, who: str
) -> None:
    """Someone else's claim does not exist, as far as a buyer or seller can tell."""
    claim = _claim(session, order, buyer)
    if who == "other_buyer":
        stranger, path = Party(app, make_user("buyer")), f"/buyer/claims/{claim.id}"
    else:
        stranger, path = Party(app, make_user("seller")), f"/seller/claims/{claim.id}"
    assert stranger.get(path).status_code == 404


def test_parties_cannot_open_the_staff_console(buyer: Party, seller: Party, order: Any, session: Session) -> None:
    """The staff queue and case pages refuse buyers and sellers."""
    claim = _claim(session, order, buyer)
    for party in (buyer, seller):
        assert party.get("/staff/claims/").status_code == 403
        assert party.get(f"/staff/claims/{claim.id}").status_code in (403, 404)


def test_agent_cannot_decide_a_claim_in_the_supervisors_queue(
    agent: Party, buyer: Party, order: Any, session: Session
) -> None:
    """A claim in the supervisors' queue shows no decision form to an agent, and a forged post is refused."""
    claim = _claim(session, order, buyer)
    claim.status, claim.queue = ClaimStatus.ESCALATED, "supervisor"
    claim.escalated_at, claim.staff_due_at, claim.staff_policy_version = START, START, 0
    session.commit()
    page = agent.text(f"/staff/claims/{claim.id}")
    assert "decision-decision" not in page
    response = agent.post(
        f"/staff/claims/{claim.id}/decision",
        {"decision-decision": "for_seller", "decision-reason": "근거 없음"},
        page=f"/staff/claims/{claim.id}",
    )
    assert response.status_code == 403
    session.expire_all()
    assert session.get(Claim, claim.id).status is ClaimStatus.ESCALATED


def test_form_without_csrf_token_changes_nothing(buyer: Party, order: Any, session: Session) -> None:
    """A post from another site (no token) is refused."""
    claim = _claim(session, order, buyer)
    response = buyer.client.post(f"/buyer/claims/{claim.id}/withdraw", data={"withdraw-reason": "x"})
    assert response.status_code == 400
    session.expire_all()
    assert session.get(Claim, claim.id).status is ClaimStatus.AWAITING_SELLER


def test_pages_in_english_when_chosen(buyer: Party, order: Any, session: Session) -> None:
    """The English switch turns the claim page into English."""
    claim = _claim(session, order, buyer)
    buyer.client.get("/language/en")
    page = buyer.text(f"/buyer/claims/{claim.id}")
    assert "Arrived damaged" in page and "The seller must answer by 2026-09-30 23:59 KST" in page
