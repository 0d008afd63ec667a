"""POST /api/v1/settlement-events: payouts and deductions confirmed by the marketplace, idempotent by event id."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.claims import sweeps
from marketplace.compensation import ledger
from marketplace.compensation.models import Compensation, Recovery
from tests.orders.conftest import bearer, events_key, post_events
from tests.orders.factory import cancelled_event, paid_event

__all__ = ["events_key", "post_events"]

KST = ZoneInfo("Asia/Seoul")


@pytest.fixture
def granted(post_events, session: Session) -> Compensation:
    """The Gmarket story: a ₩19,450 points compensation granted and recovered from S-1."""
    post_events(paid_event(occurred_at="2026-09-23T10:00:00+09:00"))
    post_events(cancelled_event(initiated_by="seller", reason="out_of_stock", occurred_at="2026-09-23T15:00:00+09:00"))
    sweeps.escalate_silent_sellers(session, now=datetime(2026, 10, 1, 0, 0, tzinfo=KST))
    session.commit()
    return session.query(Compensation).one()


@pytest.fixture
def send(client: FlaskClient, make_api_key) -> Any:
    """POST to /api/v1/settlement-events with a settlements:write key."""
    _key, secret = make_api_key("settlements:write", name="settlement-system")

    def post(body: Any) -> Any:
        return client.post("/api/v1/settlement-events", json=body, headers=bearer(secret))

    return post


def _payout(compensation: Compensation, event_id: str = "P-1", **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "payout.completed",
        "occurred_at": "2026-10-01T09:00:00+09:00",
        "compensation_id": compensation.id,
        "amount": compensation.amount,
        **extra,
    }


def test_payout_completed_settles_the_buyers_payable(send, granted: Compensation, session: Session) -> None:
    """The compensation is paid out and the buyer's payable is back to zero."""
    response = send(_payout(granted))
    assert response.status_code == 201
    assert response.get_json()["compensation_status"] == "paid_out"
    session.expire_all()
    assert session.get(Compensation, granted.id).status.value == "paid_out"
    assert ledger.balances(session, party_type="buyer", party_id=granted.buyer_id) == {"buyer_payable": 0}


def test_same_event_sent_again_answers_the_same_and_changes_nothing(send, granted: Compensation) -> None:
    """Same id, same payload: 200 with the first receipt."""
    first = send(_payout(granted))
    again = send(_payout(granted))
    assert again.status_code == 200 and again.get_json() == first.get_json()


def test_used_event_id_with_different_payload_is_refused_naming_the_field(send, granted: Compensation) -> None:
    """Same id, another amount: 409 naming ``amount``."""
    send(_payout(granted))
    response = send(_payout(granted, occurred_at="2026-10-02T09:00:00+09:00"))
    assert response.status_code == 409
    assert response.get_json()["field"] == "occurred_at"


def test_payout_with_wrong_amount_is_refused(send, granted: Compensation, session: Session) -> None:
    """The marketplace cannot settle a different amount than was granted."""
    response = send(_payout(granted, amount=granted.amount + 1))
    assert response.status_code == 422 and response.get_json()["field"] == "amount"
    session.expire_all()
    assert session.get(Compensation, granted.id).status.value == "granted"


def test_failed_payout_keeps_the_buyer_owed_and_a_later_payout_settles_it(
    send, granted: Compensation, session: Session
) -> None:
    """payout.failed → failed (still owed); payout.completed afterwards → paid_out."""
    failed = {**_payout(granted, "P-F"), "type": "payout.failed", "reason": "account closed"}
    assert send(failed).status_code == 201
    session.expire_all()
    compensation = session.get(Compensation, granted.id)
    assert compensation.status.value == "failed" and compensation.failure_reason == "account closed"
    assert ledger.balances(session, party_type="buyer", party_id=granted.buyer_id) == {"buyer_payable": -19_450}
    assert send(_payout(granted, "P-2")).status_code == 201


def test_batch_reports_each_event_on_its_own(send, granted: Compensation) -> None:
    """A good event, a duplicate of it, a bad one and a second payout of the same compensation."""
    body = {
        "events": [
            _payout(granted),
            _payout(granted),
            {"id": "X", "type": "payout.completed"},
            _payout(granted, "P-9"),
        ]
    }
    result = send(body).get_json()
    assert [r["status"] for r in result["results"]] == ["accepted", "duplicate", "rejected", "rejected"]
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (1, 1, 2)
    assert result["results"][3]["code"] == "conflict"


def test_deduction_confirmed_settles_the_sellers_receivable(send, granted: Compensation, session: Session) -> None:
    """S-1's 2026-10 deduction of ₩19,450: the recovery is deducted and the receivable is zero."""
    event = {
        "id": "D-1",
        "type": "deduction.confirmed",
        "occurred_at": "2026-11-10T09:00:00+09:00",
        "seller_id": "S-1",
        "period": "2026-10",
        "amount": 19_450,
    }
    response = send(event)
    assert response.status_code == 201
    session.expire_all()
    recovery = session.query(Recovery).one()
    assert (recovery.status.value, recovery.deducted_period, recovery.deduction_event_id) == (
        "deducted",
        "2026-10",
        "D-1",
    )
    assert ledger.balances(session, party_type="seller", party_id=granted.seller_id) == {"seller_receivable": 0}


def test_deduction_with_the_wrong_total_is_refused(send, granted: Compensation) -> None:
    """The amount must be what the deduction list says."""
    event = {
        "id": "D-1",
        "type": "deduction.confirmed",
        "occurred_at": "2026-11-10T09:00:00+09:00",
        "seller_id": "S-1",
        "period": "2026-10",
        "amount": 1,
    }
    response = send(event)
    assert response.status_code == 422 and response.get_json()["field"] == "amount"


def test_settlement_events_need_the_scope(client: FlaskClient, make_api_key, granted: Compensation) -> None:
    """A key without settlements:write is refused."""
    _key, secret = make_api_key("compensations:read")
    response = client.post("/api/v1/settlement-events", json=_payout(granted), headers=bearer(secret))
    assert response.status_code == 403
