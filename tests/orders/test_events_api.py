"""POST /api/v1/events: one event or a batch, idempotent by event id, each event judged on its own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.core.models import AuditRecord
from marketplace.orders.models import Buyer, CancelInitiator, OrderEvent, OrderStatus
from marketplace.sellers.models import Seller
from tests.conftest import csrf_token, login
from tests.orders.conftest import bearer, counts, order
from tests.orders.factory import cancelled_event, delivered_event, paid_event, refund_event, shipped_event

PROBLEM = "application/problem+json"


def test_paid_event_creates_the_order_with_its_seller_and_buyer(post_events, session: Session) -> None:
    """A single order.paid is stored (201) and creates the order, its seller and its buyer."""
    response = post_events(paid_event())
    assert response.status_code == 201
    assert response.json == {
        "id": "E-PAID-1",
        "type": "order.paid",
        "order_id": "O-1",
        "occurred_at": "2026-09-23T06:00:00+00:00",
        "received_at": "2026-09-23T06:00:00+00:00",
    }
    created = order(session)
    assert created.status is OrderStatus.PAID
    assert created.amount == 389_000
    assert created.items == [{"sku": "TV-43UHD", "name": "43인치 UHD TV", "quantity": 1, "price": 389_000}]
    assert created.paid_at == datetime(2026, 9, 23, 6, 0, tzinfo=UTC)
    assert (created.seller.external_id, created.seller.name) == ("S-1", "한빛전자")
    assert (created.buyer.external_id, created.buyer.contact, created.buyer.language) == (
        "B-1",
        "minjun.kim@example.com",
        "ko",
    )


def test_ship_by_defaults_to_three_business_days_with_the_policy_version(post_events, session: Session) -> None:
    """Paid Wednesday 2026-09-23 before Chuseok: ship by 2026-09-30 23:59:59 KST, computed by SLA version 0."""
    post_events(paid_event())
    created = order(session)
    assert created.ship_by == datetime(2026, 9, 30, 14, 59, 59, tzinfo=UTC)
    assert created.ship_by_policy_version == 0


def test_promised_ship_by_is_kept_and_has_no_policy_version(post_events, session: Session) -> None:
    """A ship-by the marketplace promised wins over the default."""
    post_events(paid_event(ship_by="2026-09-25T18:00:00+09:00"))
    created = order(session)
    assert created.ship_by == datetime(2026, 9, 25, 9, 0, tzinfo=UTC)
    assert created.ship_by_policy_version is None


def test_replayed_event_returns_the_same_body_and_changes_nothing(post_events, session: Session) -> None:
    """The same event again: 200 with the first answer's body; no row and no audit record added."""
    first = post_events(paid_event())
    before = counts(session)
    again = post_events(paid_event())
    assert again.status_code == 200
    assert again.json == first.json
    assert counts(session) == before


def test_replay_with_keys_in_another_order_is_the_same_event(post_events, session: Session) -> None:
    """The payload hash is over canonical JSON, so key order does not make a different event."""
    post_events(paid_event())
    before = counts(session)
    reordered = dict(reversed(list(paid_event().items())))
    assert post_events(reordered).status_code == 200
    assert counts(session) == before


def test_changed_payload_under_a_used_id_is_409_and_changes_nothing(post_events, session: Session) -> None:
    """A different event under a used id is refused with a problem naming the id; the first stands."""
    post_events(paid_event(amount=389_000))
    before = counts(session)
    response = post_events(paid_event(amount=1_000))
    assert response.status_code == 409
    assert response.mimetype == PROBLEM
    assert response.json["code"] == "conflict"
    assert response.json["field"] == "id"
    assert response.json["detail"].startswith("이벤트 E-PAID-1")
    assert counts(session) == before
    assert order(session).amount == 389_000


def test_conflict_is_explained_in_english_on_request(post_events, client: FlaskClient, events_key) -> None:
    """The 409's detail tells the sender what to do, in the language asked for."""
    post_events(paid_event())
    response = client.post(
        "/api/v1/events",
        json=paid_event(amount=1_000),
        headers={**bearer(events_key[1]), "Accept-Language": "en"},
    )
    assert response.json["detail"] == (
        "Event E-PAID-1 was already received with different content. "
        "Send a new event under a new id, or resend the original unchanged."
    )


def test_batch_reports_every_event_in_request_order(post_events, session: Session) -> None:
    """Good events are stored, bad ones are named with the reason, each on its own."""
    response = post_events(
        {
            "events": [
                paid_event("E-1", "O-1"),
                _with(paid_event("E-2", "O-2"), "order.amount", 12.5),
                shipped_event("E-3", "O-1"),
                {"id": "E-4", "type": "order.refunded", "occurred_at": "2026-09-24T10:00:00+09:00"},
                delivered_event("E-5", "O-9"),
            ]
        }
    )
    assert response.status_code == 200
    body = response.json
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 0, 2)
    assert [(item["index"], item["id"], item["status"]) for item in body["results"]] == [
        (0, "E-1", "accepted"),
        (1, "E-2", "rejected"),
        (2, "E-3", "accepted"),
        (3, "E-4", "rejected"),
        (4, "E-5", "accepted"),
    ]
    assert body["results"][1]["errors"] == {"order.amount": ["Not a valid integer."]}
    assert body["results"][1]["code"] == "validation-error"
    assert "order.amount" in body["results"][1]["detail"]
    assert list(body["results"][3]["errors"]) == ["type"]
    assert body["results"][4]["pending"] is True
    assert order(session, "O-1").status is OrderStatus.SHIPPED
    assert order(session, "O-2") is None
    stored = set(session.scalars(sa.select(OrderEvent.event_id)))
    assert stored == {"E-1", "E-3", "E-5"}


def test_event_that_is_not_an_object_is_rejected_by_its_position(post_events, session: Session) -> None:
    """A string among the events is refused as events.<index>; the others go through."""
    body = post_events({"events": [paid_event(), "order.paid"]}).json
    assert body["results"][1]["status"] == "rejected"
    assert body["results"][1]["errors"] == {"events.1": ["이벤트는 JSON 객체여야 합니다."]}
    assert body["results"][0]["status"] == "accepted"


def test_replayed_batch_marks_every_event_duplicate_and_changes_nothing(post_events, session: Session) -> None:
    """A batch sent twice is applied once."""
    batch = {"events": [paid_event("E-1", "O-1"), shipped_event("E-2", "O-1"), cancelled_event("E-3", "O-2")]}
    post_events(batch)
    before = counts(session)
    again = post_events(batch).json
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 3, 0)
    assert [item["status"] for item in again["results"]] == ["duplicate"] * 3
    assert counts(session) == before


def test_changed_payload_in_a_batch_is_a_conflict_item(post_events, session: Session) -> None:
    """In a batch a used id with other content is one rejected item with code conflict; the rest go through."""
    post_events(shipped_event("E-SHIP", "O-1"))
    body = post_events(
        {"events": [shipped_event("E-SHIP", "O-1", tracking_number="9999"), delivered_event("E-DEL", "O-1")]}
    ).json
    assert body["results"][0]["status"] == "rejected"
    assert body["results"][0]["code"] == "conflict"
    assert "E-SHIP" in body["results"][0]["detail"]
    assert body["results"][1]["status"] == "accepted"


def test_same_id_twice_in_one_batch_is_applied_once(post_events, session: Session) -> None:
    """A repeat inside the batch is a duplicate; a repeat with other content is a conflict."""
    body = post_events(
        {
            "events": [
                paid_event("E-1", "O-1"),
                paid_event("E-1", "O-1"),
                paid_event("E-1", "O-1", amount=5),
            ]
        }
    ).json
    assert [(item["status"], item.get("code")) for item in body["results"]] == [
        ("accepted", None),
        ("duplicate", None),
        ("rejected", "conflict"),
    ]
    assert counts(session)["order_events"] == 1


def test_second_payment_of_an_order_is_refused(post_events, session: Session) -> None:
    """An order has one order.paid: another under a new id is a 409 naming order.id."""
    post_events(paid_event("E-1", "O-1"))
    before = counts(session)
    response = post_events(paid_event("E-2", "O-1", amount=1))
    assert response.status_code == 409
    assert response.json["field"] == "order.id"
    assert counts(session) == before


def test_refund_above_the_amount_paid_is_refused(post_events, session: Session) -> None:
    """Refunds cannot add up to more than was paid."""
    post_events(paid_event(amount=50_000))
    post_events(refund_event("E-R1", amount=30_000))
    response = post_events(refund_event("E-R2", amount=30_000))
    assert response.status_code == 422
    assert response.json["field"] == "amount"
    assert "60,000" in response.json["detail"] and "50,000" in response.json["detail"]
    assert order(session).refunded_amount == 30_000


def test_cancelled_before_paid_is_pending_until_the_payment_arrives(post_events, session: Session) -> None:
    """A cancellation arriving first is stored; the order is created cancelled when its payment arrives."""
    early = post_events({"events": [cancelled_event("E-C", "O-1", occurred_at="2026-09-23T18:00:00+09:00")]})
    assert early.json["results"][0] == {
        "index": 0,
        "id": "E-C",
        "status": "accepted",
        "order_id": "O-1",
        "pending": True,
    }
    assert order(session) is None
    post_events(paid_event("E-P", "O-1"))
    created = order(session)
    assert created.status is OrderStatus.CANCELLED
    assert created.cancelled_at == datetime(2026, 9, 23, 9, 0, tzinfo=UTC)
    assert created.cancel_initiated_by is CancelInitiator.BUYER
    assert created.cancel_reason == "buyer_request"


def test_shipped_arriving_after_delivered_keeps_the_order_delivered(post_events, session: Session) -> None:
    """The state follows occurred_at, not arrival: a late shipped event only fills in shipped_at."""
    post_events(paid_event())
    post_events(delivered_event(occurred_at="2026-09-26T14:00:00+09:00"))
    post_events(shipped_event(occurred_at="2026-09-24T10:00:00+09:00"))
    stored = order(session)
    assert stored.status is OrderStatus.DELIVERED
    assert stored.shipped_at == datetime(2026, 9, 24, 1, 0, tzinfo=UTC)
    assert stored.delivered_at == datetime(2026, 9, 26, 5, 0, tzinfo=UTC)
    assert (stored.carrier, stored.tracking_number) == ("CJ대한통운", "6543-2109-8765")


def test_delivered_before_shipped_in_one_batch_ends_delivered(post_events, session: Session) -> None:
    """Within a batch too, arrival order does not matter."""
    post_events({"events": [delivered_event(), shipped_event(), paid_event()]})
    stored = order(session)
    assert stored.status is OrderStatus.DELIVERED
    assert stored.shipped_at is not None and stored.delivered_at is not None


def test_shipment_stamped_after_the_delivery_does_not_undo_it(post_events, session: Session) -> None:
    """A delivered order never goes back to shipped, even if a carrier's clock says otherwise."""
    post_events(paid_event())
    post_events(delivered_event(occurred_at="2026-09-26T14:00:00+09:00"))
    post_events(shipped_event(occurred_at="2026-09-26T15:00:00+09:00"))
    assert order(session).status is OrderStatus.DELIVERED


def test_every_created_or_changed_order_is_audited_as_the_api_client(post_events, session: Session, events_key):
    """One audit record per seller, buyer and order created, by the API client, with the order as it ended."""
    before = counts(session)["audit_records"]
    post_events({"events": [paid_event("E-1", "O-1"), paid_event("E-2", "O-2"), shipped_event("E-3", "O-1")]})
    new = session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id).offset(before)).all()
    assert {record.actor for record in new} == {f"api_client:{events_key[0].id}"}
    assert sorted(record.action for record in new) == ["buyer.create", "order.create", "order.create", "seller.create"]
    shipped = next(record for record in new if record.after.get("external_id") == "O-1")
    assert shipped.after["status"] == "shipped"
    assert shipped.after["shipped_at"] == "2026-09-24T01:00:00+00:00"


def test_order_update_audit_records_what_changed(post_events, session: Session) -> None:
    """A re-shipment under a new tracking number is audited with the old and new values only."""
    post_events({"events": [paid_event(), shipped_event()]})
    post_events(shipped_event("E-SHIP-2", occurred_at="2026-09-25T10:00:00+09:00", tracking_number="1111-2222"))
    record = session.scalars(sa.select(AuditRecord).order_by(AuditRecord.id.desc())).first()
    assert record.action == "order.update"
    assert record.entity_id == str(order(session).id)
    assert (record.before, record.after) == ({"tracking_number": "6543-2109-8765"}, {"tracking_number": "1111-2222"})


def test_event_that_changes_nothing_is_stored_but_not_audited(post_events, session: Session) -> None:
    """A second delivery report is kept as an event; the order does not change, so nothing is audited."""
    post_events({"events": [paid_event(), delivered_event()]})
    before = counts(session)
    response = post_events(delivered_event("E-DELIVER-2", occurred_at="2026-09-27T09:00:00+09:00"))
    assert response.status_code == 201
    after = counts(session)
    assert after["order_events"] == before["order_events"] + 1
    assert after["audit_records"] == before["audit_records"]


def test_first_name_of_a_seller_is_kept(post_events, session: Session) -> None:
    """Sellers are created once, from the first payment that names them; later names do not overwrite it."""
    renamed = paid_event("E-2", "O-2")
    renamed["order"]["seller"]["name"] = "다른 이름"
    post_events({"events": [paid_event("E-1", "O-1"), renamed]})
    later = paid_event("E-3", "O-3")
    later["order"]["seller"]["name"] = "또 다른 이름"
    post_events(later)
    assert session.scalars(sa.select(Seller.name)).all() == ["한빛전자"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Buyer)) == 1


def test_malformed_json_is_400_and_changes_nothing(client: FlaskClient, events_key, session: Session) -> None:
    """A body that is not JSON gets the API's usual 400 problem."""
    before = counts(session)
    response = client.post(
        "/api/v1/events",
        data='{"id": "E-1", "type": ',
        headers={**bearer(events_key[1]), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert response.json["detail"] == "요청 본문이 올바른 JSON이 아닙니다."
    assert counts(session) == before


def _parent(event: dict, path: str) -> tuple[Any, Any]:
    target: Any = event
    *parents, last = path.split(".")
    for name in parents:
        target = target[int(name)] if isinstance(target, list) else target[name]
    return target, int(last) if isinstance(target, list) else last


def _with(event: dict, path: str, value: object) -> dict:
    target, key = _parent(event, path)
    target[key] = value
    return event


def _without(event: dict, path: str) -> dict:
    target, key = _parent(event, path)
    del target[key]
    return event


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (_with(paid_event(), "occurred_at", "2026-09-23T15:00:00"), "occurred_at"),
        (_with(paid_event(), "order.paid_at", "2026-09-23 15:00"), "order.paid_at"),
        (_with(paid_event(), "order.amount", 389000.0), "order.amount"),
        (_with(paid_event(), "order.amount", "389000"), "order.amount"),
        (_with(paid_event(), "order.amount", True), "order.amount"),
        (_with(paid_event(), "order.amount", -1), "order.amount"),
        (_with(paid_event(), "status", "delivered"), "status"),
        (_with(paid_event(), "order.seller.rating", 5), "order.seller.rating"),
        (_without(paid_event(), "order.buyer.language"), "order.buyer.language"),
        (_with(paid_event(), "order.buyer.language", "jp"), "order.buyer.language"),
        (_with(paid_event(), "order.items", []), "order.items"),
        (_with(paid_event(), "order.items.0.quantity", 0), "order.items.0.quantity"),
        (_with(cancelled_event(), "initiated_by", "courier"), "initiated_by"),
        (_with(cancelled_event(), "reason", "changed_mind"), "reason"),
        (_without(shipped_event(), "tracking_number"), "tracking_number"),
        (_with(refund_event(), "amount", 0), "amount"),
        (_with(paid_event(), "id", "E" * 101), "id"),
        (_without(delivered_event(), "order"), "order"),
        (_with(delivered_event(), "type", ["order.delivered"]), "type"),
        (_with(delivered_event(), "order", "O-1"), "order"),
    ],
)
def test_malformed_event_is_422_naming_the_field(post_events, session: Session, event: dict, field: str) -> None:
    """Each kind of bad input names the field (a dotted path) and stores nothing."""
    before = counts(session)
    response = post_events(event)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert field in response.json["errors"]
    assert field in response.json["detail"]
    assert counts(session) == before


def test_more_than_1000_events_is_422_naming_events(post_events, session: Session) -> None:
    """A batch is at most 1,000 events; a bigger one is refused whole."""
    before = counts(session)
    response = post_events({"events": [paid_event(f"E-{n}", f"O-{n}") for n in range(1001)]})
    assert response.status_code == 422
    assert response.json["field"] == "events"
    assert counts(session) == before


def test_unknown_field_beside_events_is_named(post_events, session: Session) -> None:
    """A batch body takes only ``events``."""
    response = post_events({"events": [paid_event()], "source": "erp"})
    assert response.status_code == 422
    assert "source" in response.json["errors"]


def test_key_without_events_scope_is_403_and_changes_nothing(post_events, make_api_key, session: Session) -> None:
    """Only keys with events:write may send events."""
    _, secret = make_api_key("calendar:read")
    before = counts(session)
    response = post_events(paid_event(), secret=secret)
    assert response.status_code == 403
    assert response.json["permission"] == "orders.ingest"
    assert counts(session) == before


def test_no_credentials_is_401(client: FlaskClient, session: Session) -> None:
    """Anonymous callers are refused."""
    response = client.post("/api/v1/events", json=paid_event())
    assert response.status_code == 401
    assert counts(session)["order_events"] == 0


def test_staff_session_cannot_send_events(client: FlaskClient, make_user, session: Session) -> None:
    """Events come from the marketplace's systems only: even an administrator's session is refused."""
    login(client, make_user("admin"))
    token = csrf_token(client.get("/").get_data(as_text=True))
    response = client.post("/api/v1/events", json=paid_event(), headers={"X-CSRFToken": token})
    assert response.status_code == 403
    assert counts(session)["order_events"] == 0


def test_openapi_documents_the_events_endpoint(client: FlaskClient) -> None:
    """The endpoint is in the OpenAPI document with its batch response."""
    spec = client.get("/api/openapi.json").json
    post = spec["paths"]["/api/v1/events"]["post"]
    assert {"200", "201", "409", "422"} <= set(post["responses"])
    paid = spec["components"]["schemas"]["OrderPaidEvent"]
    assert paid["properties"]["type"]["enum"] == ["order.paid"]
    assert spec["components"]["schemas"]["PaidOrder"]["properties"]["amount"]["minimum"] == 0
