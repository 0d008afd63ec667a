"""REST: order events from the marketplace's systems."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.core import clock
from marketplace.core.permissions import authorize
from marketplace.extensions import db
from marketplace.orders.events import EventStatus, ingest_events
from marketplace.orders.permissions import INGEST_ORDER_EVENTS
from marketplace.orders.schemas import (
    EVENT_SCHEMA_NAMES,
    EVENT_SCHEMAS,
    EventBatchResultSchema,
    EventReceiptSchema,
    EventsBodySchema,
)
from marketplace.web.session import api_actor


class _EventsBlueprint(Blueprint):
    """Adds the event schemas to the OpenAPI document: the body takes any of them, so no decorator names them."""

    def register_views_in_doc(self, api: Any, app: Any, spec: Any, *, name: str, parameters: Any) -> None:
        """Register each event type's schema as a component, then the views."""
        for event_type, schema_name in EVENT_SCHEMA_NAMES.items():
            if schema_name not in spec.components.schemas:
                spec.components.schema(schema_name, schema=EVENT_SCHEMAS[event_type])
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)


blp = _EventsBlueprint("orders_api", __name__, description="Order events from the marketplace")

_receipt_schema = EventReceiptSchema()


@blp.route("/events")
class Events(MethodView):
    """Order events: paid, shipped, delivered, cancelled, refunded."""

    @blp.arguments(EventsBodySchema, description='One event object on its own, or {"events": [...]} (1–1,000)')
    @blp.response(200, EventBatchResultSchema, description="A batch: every event's result, in request order")
    @blp.alt_response(
        201, schema=EventReceiptSchema, description="One event, stored (sent again: 200 with the same body)"
    )
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(409, response="CONFLICT")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, body: dict[str, Any]) -> Response:
        """Receive one order event, or a batch of up to 1,000; the same event id twice is applied once."""
        actor = api_actor()
        authorize(actor, INGEST_ORDER_EVENTS)
        outcome = ingest_events(db.session, body["events"], actor=actor, now=clock.now())
        db.session.commit()
        if not body["single"]:
            # Already plain JSON in the documented shape: dumping it again through the schema costs ~5 % of a batch.
            return jsonify(outcome.as_dict())
        result = outcome.results[0]
        if result.error is not None:
            raise result.error
        response = jsonify(_receipt_schema.dump(result.receipt))
        response.status_code = 201 if result.status is EventStatus.ACCEPTED else 200
        return response
